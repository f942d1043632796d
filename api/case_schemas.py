"""Request and response schemas for cases, the work queue and the knowledge base."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from api.schemas import CallPublic
from dispatch.cases.registration import CaseType, Channel, Decision
from dispatch.intake import case_store


class RegistrationIn(BaseModel):
    """The registration form (登记表). Checked field by field; errors name the field."""

    received_at: str = Field(description="Local date and time, e.g. 2026-11-21T09:30")
    channel: Channel
    case_type: CaseType
    complainant_name: str = ""
    complainant_phone: str = ""
    complainant_address: str = ""
    complainant_org: str = ""
    anonymous: bool = False
    confidential: bool = False
    identity_consent: bool = Field(
        default=False,
        description="The complainant agrees that the handling unit sees who "
        "they are (never for 举报, confidential or anonymous cases)",
    )
    subject_unit: str = ""
    subject_window: str = ""
    subject_person: str = ""
    title: str
    content: str
    request: str = ""
    verified_with_caller: bool = False
    transcript_text: str = ""
    decision: Decision = Decision.PENDING
    decision_reason: str = ""
    refer_to: str = ""
    reply_text: str = ""
    knowledge_entry_id: str = ""
    merge_into: str = Field(
        default="",
        description="并单 as it is registered: the number or id of an unfinished case (one "
        "at a unit too) this one joins; the decision is then left to that case",
    )
    merge_reason: str = Field(default="", description="Why it is merged (needed with merge_into)")
    call_id: str | None = Field(default=None, description="The call this case comes from")


class CaseCorrectionIn(BaseModel):
    """更正登记: the fields to correct (those left out keep their values) and why. Checked as
    at registration; a phone case stays a phone case."""

    reason: str = Field(description="Why the registration is corrected (in the history)")
    received_at: str | None = Field(default=None, description="Local date and time")
    channel: Channel | None = None
    case_type: CaseType | None = None
    complainant_name: str | None = None
    complainant_phone: str | None = None
    complainant_address: str | None = None
    complainant_org: str | None = None
    anonymous: bool | None = None
    confidential: bool | None = None
    identity_consent: bool | None = None
    subject_unit: str | None = None
    subject_window: str | None = None
    subject_person: str | None = None
    title: str | None = None
    content: str | None = None
    request: str | None = None
    verified_with_caller: bool | None = None


class PhoneCheckIn(BaseModel):
    value: str = Field(max_length=64, description="A contact phone as typed")


class PhoneCheck(BaseModel):
    """The one rule for a contact phone (the form's check asks it)."""

    valid: bool
    phone: str = Field(description="As a case would hold it ('' when not valid)")
    message: str = Field(description="Why not, in English ('' when valid)")
    message_zh: str = Field(description="Why not, for the console ('' when valid)")


class DecisionIn(BaseModel):
    decision: Decision
    reason: str = ""
    refer_to: str = ""
    reply_text: str = ""
    knowledge_entry_id: str = ""


class MergeIn(BaseModel):
    into: str = Field(description="Number or id of the case to merge into")
    reason: str


class AttachmentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    uploaded_by: str
    created_at: dt.datetime


class CaseEventPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: dt.datetime
    actor: str
    action: str
    from_status: str
    to_status: str
    note: str


class CaseSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    number: str
    status: str
    registered_at: dt.datetime
    channel: str
    case_type: str
    title: str
    complainant_phone: str


class CasePublic(CaseSummary):
    received_at: dt.datetime
    registered_by: str
    complainant_name: str
    complainant_address: str
    complainant_org: str
    anonymous: bool
    confidential: bool
    subject_unit: str
    subject_window: str
    subject_person: str
    content: str
    request: str
    verified_with_caller: bool
    call_id: str | None
    recording_id: str | None
    # The transcript's text is not repeated here: it is read through its own door,
    # GET /api/calls/{call_id}/transcript, which applies the replay rules and logs the read.
    transcript_id: str | None
    decision: str
    decision_reason: str
    refer_to: str
    reply_text: str
    knowledge_entry_id: str | None
    merged_into_id: str | None
    history: list[CaseEventPublic]
    attachments: list[AttachmentPublic]


class SimilarCase(BaseModel):
    case: CaseSummary
    score: float


class RepeatCase(CaseSummary):
    """An unfinished case of the same number, with the units that have it now."""

    units: list[str] = Field(description="The units handling it, lead first; empty at the centre")

    @classmethod
    def of(cls, repeat: case_store.Repeat) -> RepeatCase:
        return cls(**CaseSummary.model_validate(repeat.case).model_dump(), units=repeat.units)


class Related(BaseModel):
    """Repeats and look-alikes shown on the form."""

    same_phone_unfinished: list[RepeatCase] = Field(
        description="Every case of this number not yet closed (before dispatch, at a unit, "
        "awaiting review or feedback), newest first: candidates for 并单"
    )
    similar: list[SimilarCase]


class RegistrationContext(Related):
    """What the form for a call is pre-filled with, and why."""

    call: CallPublic
    form: dict[str, str]
    transcript_withheld: str | None = Field(
        default=None,
        description="Why nothing was drawn from the call's transcript (you "
        "may not read it); null when the form used it",
    )
    type_reason: str
    subjects: list[str]
    numbers: list[str]
    earlier_calls: list[CallPublic]
    earlier_cases: list[CaseSummary]


class WaitingCallPublic(BaseModel):
    call: CallPublic
    known_name: str
    real_name: bool


class CallbackAttemptPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: dt.datetime
    actor: str
    outcome: str
    note: str


class CallbackPublic(BaseModel):
    id: str
    status: str
    created_at: dt.datetime
    call: CallPublic
    attempts: list[CallbackAttemptPublic]


class CallbackAttemptIn(BaseModel):
    outcome: str = Field(description="reached, no_answer, busy, wrong_number or declined")
    note: str = ""


class DismissalIn(BaseModel):
    reason: str


class KnowledgeIn(BaseModel):
    question: str
    answer: str
    keywords: str = ""
    owner_unit: str = ""


class KnowledgePublic(KnowledgeIn):
    model_config = ConfigDict(from_attributes=True)

    id: str
    updated_by: str
    updated_at: dt.datetime
    active: bool


class KnowledgeHit(BaseModel):
    entry: KnowledgePublic
    score: float


class WaveformPublic(BaseModel):
    duration_seconds: float
    channels: list[list[float]]
