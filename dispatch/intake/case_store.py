"""Registered cases in the database: numbering, registration, acceptance, merging, and the
repeats and look-alikes shown on the form. Functions take a Session; the caller owns the
transaction, so a registration either lands whole or not at all."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from asr import jobs
from dispatch.cases import case_numbers
from dispatch.cases.events import add_event
from dispatch.cases.handling_models import Assignment, Unit
from dispatch.cases.lifecycle import UNFINISHED, Action, IllegalTransition, Status, next_status
from dispatch.cases.models import Case, CaseNumberCounter, KnowledgeEntry
from dispatch.cases.registration import (
    Channel,
    Decision,
    FieldError,
    Invalid,
    Registration,
    normalise_phone,
    rejection_reply,
    valid_phone,
)
from dispatch.deadlines import stage_clocks
from dispatch.deadlines.stage_clocks import Rules
from dispatch.knowledge import entries, text_similarity
from ivr import call_store
from recordings import lookup


class AlreadyRegistered(ValueError):
    def __init__(self, case: Case) -> None:
        super().__init__(f"this call is registered already as case {case.number}")
        self.case_id, self.case_number = case.id, case.number


class NotFound(LookupError):
    pass


def allocate_number(session: Session, fmt: str, day: dt.date) -> str:
    """The next case number for ``day``. The counter row is locked by the update until the
    transaction ends, so concurrent registrations get distinct numbers."""
    key = case_numbers.counter_key(fmt, day)
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(
        insert(CaseNumberCounter)
        .values(key=key, value=0)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    while True:
        value = session.execute(
            update(CaseNumberCounter)
            .where(CaseNumberCounter.key == key)
            .values(value=CaseNumberCounter.value + 1)
            .returning(CaseNumberCounter.value)
        ).scalar_one()
        number = case_numbers.render(fmt, day, value)
        # A number can exist already only if the format was changed to an older shape.
        if session.scalar(select(Case.id).where(Case.number == number)) is None:
            return number


def _move(
    session: Session, case: Case, action: Action, actor: str, now: dt.datetime, note: str
) -> None:
    before = Status(case.status)
    case.status = next_status(action, before).value
    add_event(session, case, actor, action, now, note, before)


def case_for_call(session: Session, call_id: str) -> Case | None:
    return session.scalar(select(Case).where(Case.call_id == call_id))


def register(
    session: Session,
    reg: Registration,
    actor: str,
    now: dt.datetime,
    number_format: str,
    zone: ZoneInfo,
    call_id: str | None = None,
    rules: Rules | None = None,
) -> Case:
    """Create the case, number it, link it to its call, recording and transcript, write the
    first history entry and apply the acceptance decision, all in the caller's
    transaction."""
    entry = knowledge_entry(session, reg.knowledge_entry_id)
    case = Case(
        status=next_status(Action.REGISTER, None).value,
        received_at=reg.received_at,
        registered_at=now,
        registered_by=actor,
        channel=reg.channel.value,
        case_type=reg.case_type.value,
        complainant_name=reg.complainant_name,
        complainant_phone=reg.complainant_phone,
        complainant_address=reg.complainant_address,
        complainant_org=reg.complainant_org,
        anonymous=reg.anonymous,
        confidential=reg.confidential,
        identity_consent=reg.identity_consent,
        subject_unit=reg.subject_unit,
        subject_window=reg.subject_window,
        subject_person=reg.subject_person,
        title=reg.title,
        content=reg.content,
        request=reg.request,
        verified_with_caller=reg.verified_with_caller,
        transcript_text=reg.transcript_text,
    )
    if call_id is not None:
        _link_call(session, case, call_id)
    case.number = allocate_number(session, number_format, reg.received_at.astimezone(zone).date())
    session.add(case)
    session.flush()
    add_event(session, case, actor, Action.REGISTER, now, f"登记，编号 {case.number}")
    if reg.decision is not Decision.PENDING:
        decide(
            session,
            case,
            reg.decision,
            actor,
            now,
            reason=reg.decision_reason,
            refer_to=reg.refer_to,
            reply_text=reg.reply_text,
            entry=entry,
            rules=rules,
        )
    session.flush()
    return case


def knowledge_entry(session: Session, entry_id: str) -> KnowledgeEntry | None:
    """The active knowledge entry chosen on a form, None if none was chosen."""
    if not entry_id:
        return None
    entry = entries.active_entry(session, entry_id)
    if entry is None:
        raise Invalid(
            {
                "knowledge_entry_id": FieldError(
                    "所选知识库条目不存在或已停用", "no such knowledge entry"
                )
            }
        )
    return entry


def _link_call(session: Session, case: Case, call_id: str) -> None:
    call = call_store.get_call(session, call_id)
    if call is None:
        raise NotFound("call not found")
    existing = case_for_call(session, call_id)
    if existing is not None:
        raise AlreadyRegistered(existing)
    case.call_id = call.id
    recording = lookup.of_call(session, call.id)
    if recording is not None:
        case.recording_id = recording.id
        transcript = jobs.transcript_of(session, recording)
        if transcript is not None:
            case.transcript_id = transcript.id


def current_links(session: Session, case: Case) -> tuple[str | None, str | None]:
    """(recording id, transcript id) of the case. A case registered while its call was still
    up, or before the transcript was ready, gets them from its call once they exist."""
    recording_id, transcript_id = case.recording_id, case.transcript_id
    if case.call_id is None or (recording_id and transcript_id):
        return recording_id, transcript_id
    recording = lookup.of_call(session, case.call_id)
    if recording is not None:
        recording_id = recording_id or recording.id
        transcript = jobs.transcript_of(session, recording)
        transcript_id = transcript_id or (transcript.id if transcript else None)
    return recording_id, transcript_id


def decide(
    session: Session,
    case: Case,
    decision: Decision,
    actor: str,
    now: dt.datetime,
    reason: str = "",
    refer_to: str = "",
    reply_text: str = "",
    entry: KnowledgeEntry | None = None,
    rules: Rules | None = None,
) -> None:
    """受理, 不予受理 (with the reason, the body to turn to and the reply read to the
    citizen) or 即办 (answered from the knowledge base, and closed). Acceptance starts the
    转办 clock when ``rules`` are given."""
    if decision is Decision.PENDING:
        raise ValueError("no decision")
    case.decision = decision.value
    if decision is Decision.ACCEPT:
        _move(session, case, Action.ACCEPT, actor, now, reason)
        if rules is not None:
            stage_clocks.on_accepted(session, case.id, rules, now)
    elif decision is Decision.REJECT:
        if not reason or not refer_to:
            raise Invalid(
                {
                    "decision_reason": FieldError(
                        "请填写不予受理的理由和可以办理的机关", "reason and body required"
                    )
                }
            )
        case.decision_reason, case.refer_to = reason, refer_to
        case.reply_text = reply_text or rejection_reply(reason, refer_to, Channel(case.channel))
        _move(session, case, Action.REJECT, actor, now, f"{reason}；告知向{refer_to}反映")
    else:
        answer = reply_text or (entry.answer if entry else "")
        if not answer:
            raise Invalid(
                {
                    "reply_text": FieldError(
                        "即办须选择知识库条目或填写答复内容", "an answer is required"
                    )
                }
            )
        case.reply_text = answer
        case.knowledge_entry_id = entry.id if entry else None
        note = f"依据知识库“{entry.question}”当场答复" if entry else "当场答复"
        _move(session, case, Action.ANSWER_ON_SPOT, actor, now, note)


def merge(
    session: Session, case: Case, into: Case, reason: str, actor: str, now: dt.datetime
) -> None:
    """并单: ``case`` is handled as part of ``into`` from now on. ``into`` may be anywhere
    before closing, at a unit too (the commonest repeat is a citizen chasing a case at its
    unit): its history says what was merged into it, so whoever handles it sees it."""
    if not reason.strip():
        raise Invalid({"merge_reason": FieldError("请填写并单理由", "a reason is required")})
    if case.id == into.id:
        raise Invalid({"merge_into": FieldError("不能与自身并单", "cannot merge into itself")})
    if into.status not in UNFINISHED:
        raise IllegalTransition(Action.MERGE, Status(into.status))
    case.merged_into_id = into.id
    _move(session, case, Action.MERGE, actor, now, f"并入 {into.number}：{reason.strip()}")
    stage_clocks.cancel(session, case.id)  # handled as part of ``into`` from now on
    add_event(
        session,
        into,
        actor,
        Action.MERGE,
        now,
        f"{case.number}（{case.title}）并入本案：{reason.strip()}",
        Status(into.status),
    )


def merged_into(session: Session, case_id: str) -> list[Case]:
    """The cases merged into this one, oldest first."""
    return list(
        session.scalars(
            select(Case).where(Case.merged_into_id == case_id).order_by(Case.registered_at)
        )
    )


def get(session: Session, case_id: str) -> Case | None:
    return session.get(Case, case_id)


def same_phone(phone: str) -> ColumnElement[bool] | None:
    """Cases whose phone is this number, with or without an extension (None when ``phone``
    is no phone number). The extension's range keeps the column's index in use."""
    number = normalise_phone(phone)
    if not valid_phone(number):
        return None
    return or_(
        Case.complainant_phone == number,
        Case.complainant_phone.between(f"{number}转", f"{number}转:"),  # ':' follows '9'
    )


@dataclass(frozen=True)
class Repeat:
    """An unfinished case from the same number (重复来电), and who has it now: the units it
    is with (lead first), none while the centre has it."""

    case: Case
    units: list[str]


def unfinished_with_phone(
    session: Session, phone: str, exclude: str | None = None, limit: int = 20
) -> list[Repeat]:
    """Every unfinished case of this number, newest first: before dispatch, at a unit,
    replied or awaiting feedback; each with the units handling it."""
    where = same_phone(phone)
    if where is None:
        return []
    query = (
        select(Case)
        .where(where, Case.status.in_([s.value for s in UNFINISHED]))
        .order_by(Case.registered_at.desc())
        .limit(limit)
    )
    cases = [c for c in session.scalars(query) if c.id != exclude]
    units: dict[str, list[tuple[bool, str]]] = {}
    if cases:
        rows = session.execute(
            select(Assignment.case_id, Assignment.role, Unit.name)
            .join(Unit, Unit.id == Assignment.unit_id)
            .where(Assignment.case_id.in_([c.id for c in cases]), Assignment.active.is_(True))
        )
        for row in rows:
            units.setdefault(row.case_id, []).append((row.role != "lead", row.name))
    return [Repeat(c, [name for _assist, name in sorted(units.get(c.id, []))]) for c in cases]


@dataclass(frozen=True)
class Similar:
    case: Case
    score: float


def similar(
    session: Session,
    text: str,
    now: dt.datetime,
    days: int,
    exclude: str | None = None,
    threshold: float = 0.3,
    limit: int = 5,
) -> list[Similar]:
    """Cases registered in the last ``days`` days whose content is like ``text`` (bigram
    Dice), best first."""
    grams = text_similarity.bigrams(text)
    if len(grams) < 3:
        return []
    since = now - dt.timedelta(days=days)
    found = []
    for case in session.scalars(
        select(Case)
        .where(Case.registered_at >= since)
        .order_by(Case.registered_at.desc())
        .limit(2000)
    ):
        if case.id == exclude:
            continue
        score = text_similarity.dice(grams, text_similarity.bigrams(f"{case.title} {case.content}"))
        if score >= threshold:
            found.append(Similar(case, round(score, 3)))
    found.sort(key=lambda item: item.score, reverse=True)
    return found[:limit]
