"""Request and response bodies for dispatch, handling, supervision and the unit portal."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from dispatch.feedback.scale import Level
from dispatch.feedback.visits import Method
from dispatch.handling.steps import Finding, Mode


class UnitIn(BaseModel):
    name: str = Field(max_length=128)
    kind: str = Field(description="centre | department | window | office")


class UnitPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    kind: str
    active: bool


class MemberIn(BaseModel):
    username: str


class CatalogueIn(BaseModel):
    unit_id: str


class CataloguePublic(BaseModel):
    category: str
    unit_id: str
    unit_name: str


class SuggestionPublic(BaseModel):
    category: str
    confidence: float
    unit_id: str | None
    unit_name: str


class RoutingPublic(BaseModel):
    suggestions: list[SuggestionPublic]
    model_error: str = ""


class ApprovalIn(BaseModel):
    action: str = Field(description="submit | approve | deny")
    note: str = ""


class DispatchIn(BaseModel):
    lead_unit_id: str
    mode: Mode = Mode.TRANSFER
    assist_unit_ids: list[str] = []
    instructions: str = ""
    category: str = Field(
        default="",
        description="The category the dispatcher confirms; "
        "kept as training data for the routing model",
    )
    complex_case: bool = False
    complained_unit_id: str = Field(
        default="",
        description="The unit complained about (or "
        "the unit of the person complained about): it never "
        "sees who complained nor their evidence",
    )


class ReasonIn(BaseModel):
    reason: str = ""


class ReassignIn(BaseModel):
    """改派: the case goes from its unit to another lead unit; the dispatch's mode, the
    complexity and the unit complained about stay as they were."""

    reason: str = Field(description="Why the case leaves its unit (the history keeps it)")
    lead_unit_id: str
    category: str = Field(description="The category the dispatcher confirms for the new unit")
    instructions: str = ""


class ReviewIn(BaseModel):
    passed: bool
    note: str = ""


class ExtensionIn(BaseModel):
    days: int
    reason: str


class ExtensionDecisionIn(BaseModel):
    approve: bool
    note: str = ""


class ReplyBody(BaseModel):
    facts: str
    finding: Finding
    measures: str
    responsible_handling: str = ""


class FeedbackIn(BaseModel):
    method: Method
    told_at: dt.datetime | None = None
    note: str = ""
    satisfaction: Level | None = None


class CloseIn(BaseModel):
    note: str = ""


class AssignmentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    unit_id: str
    role: str
    mode: str
    active: bool
    dispatched_at: dt.datetime
    signed_at: dt.datetime | None
    returned_at: dt.datetime | None
    return_reason: str
    recalled_at: dt.datetime | None
    recall_reason: str


class DeadlinePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    stage: str
    unit_id: str | None
    started_on: dt.date
    due_on: dt.date
    provisional: bool
    met_at: dt.datetime | None
    cancelled: bool


class ExtensionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    unit_id: str
    requested_by: str
    requested_at: dt.datetime
    days: int
    reason: str
    old_due_on: dt.date
    new_due_on: dt.date
    status: str
    decided_by: str
    decision_reason: str
    notice_text: str


class ReplyPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    unit_id: str
    at: dt.datetime
    by: str
    facts: str
    finding: str
    measures: str
    responsible_handling: str
    review: str
    review_note: str


class FeedbackPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: dt.datetime
    actor: str
    method: str
    note: str
    satisfaction: str


class SupervisionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    case_id: str
    deadline_id: int
    unit_id: str | None
    kind: str
    due_on: dt.date
    at: dt.datetime
    message: str
    issued_by: str = Field(description="The supervisor who issued a 催办; empty for the job's")
    reason: str


class HandlingPublic(BaseModel):
    case_id: str
    status: str
    category: str
    satisfaction: str
    reopen_review: bool
    assignments: list[AssignmentPublic]
    deadlines: list[DeadlinePublic]
    extensions: list[ExtensionPublic]
    replies: list[ReplyPublic]
    feedback: list[FeedbackPublic]
    supervision: list[SupervisionPublic]


class OverduePublic(BaseModel):
    case_id: str
    case_number: str
    title: str
    stage: str
    unit: str
    due_on: dt.date
    provisional: bool
    card: str
    days_late: int


class IssuedPublic(BaseModel):
    case_number: str
    stage: str
    kind: str
    unit: str


class UnitCaseSummary(BaseModel):
    id: str
    number: str
    status: str
    title: str
    role: str
    due_on: dt.date | None
    provisional: bool


class UnitCaseView(UnitCaseSummary):
    """What a handling unit sees: the identity only with consent, never for 举报 or the
    unit complained about; then the evidence is withheld too."""

    case_type: str
    received_at: dt.datetime
    complainant_name: str
    complainant_phone: str
    complainant_address: str
    identity_shown: bool
    subject_unit: str
    subject_window: str
    subject_person: str
    content: str
    request: str
    instructions: str
    attachments: list[str] = Field(description="Evidence attachment ids the unit may read")
    evidence_withheld: bool
    return_allowed_until: dt.date | None
    reminders: list[str]
