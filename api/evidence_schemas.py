"""Schemas for recordings as evidence: replay reasons, holds, grants, the access log and
integrity checks."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field


class ReasonBody(BaseModel):
    reason: str = Field(description="调听事由 / why: at least 4 characters")


class GrantBody(BaseModel):
    unit_id: str
    reason: str


class ReplayReasonPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    case_id: str
    username: str
    reason: str
    given_at: dt.datetime
    expires_at: dt.datetime


class HoldPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    case_id: str
    reason: str
    placed_by: str
    placed_at: dt.datetime
    released_by: str | None
    released_at: dt.datetime | None
    release_reason: str


class GrantPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    case_id: str
    unit_id: str
    reason: str
    granted_by: str
    granted_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None


class AccessPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    accessed_at: dt.datetime
    actor: str
    role: str
    client: str
    action: str
    outcome: str
    recording_id: str | None
    case_id: str | None
    reason: str
    byte_range: str
    prev_hash: str
    entry_hash: str


class AccessLogPublic(BaseModel):
    chain_intact: bool
    chain_problems: list[str]
    entries: list[AccessPublic]


class RecordingRef(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    sha256: str
    size_bytes: int
    duration_seconds: float


class CaseEvidencePublic(BaseModel):
    case_id: str
    case_number: str
    recordings: list[RecordingRef]
    reason: ReplayReasonPublic | None
    holds: list[HoldPublic]
    grants: list[GrantPublic]
    access: list[AccessPublic]


class ProblemPublic(BaseModel):
    kind: str
    name: str
    detail: str


class IntegrityPublic(BaseModel):
    checked_at: dt.datetime | None
    ok: bool | None
    files_checked: int
    problems: list[ProblemPublic]
