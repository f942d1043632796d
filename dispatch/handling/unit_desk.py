"""What a handling unit's desk shows beyond the case itself: the time left on each case (in
the deadline profile's days), what is new and what was sent back, the counts a handler sees
at log-in, the case's history as the unit may read it, and the unit's own replies with the
centre's review (退回重办: the reviewer's note, the earlier reply to start again from).

The history a unit reads is a filtered view of the case's history: nothing from before the
case reached the unit but its registration and acceptance, nothing about other units, and
every note through the same masking as the case's text (``unit_portal.visible``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from dispatch.cases.handling_models import Assignment, CaseDeadline, UnitReply
from dispatch.cases.lifecycle import AT_UNIT, Action, Status
from dispatch.cases.models import Attachment, Case, CaseEvent
from dispatch.deadlines.policy import DayUnit
from dispatch.deadlines.stage_clocks import Rules, Stage
from dispatch.deadlines.working_calendar import WorkingCalendar
from dispatch.handling import disclosure, unit_portal
from dispatch.routing import units

DUE_SOON = 2  # days left (in the profile's unit) from which a case is flagged as due soon
RECENT_DONE = 50  # finished cases listed below the open ones
CENTRE = "热线中心"


# -- time left (pure) ------------------------------------------------------------------------


@dataclass(frozen=True)
class TimeLeft:
    """Where a running deadline stands today: ``days`` left after today up to and including
    the due date, or, when ``overdue``, days past it (working or calendar days, as the
    profile counts them)."""

    due_on: dt.date
    days: int
    overdue: bool
    working_days: bool
    provisional: bool = False

    @property
    def level(self) -> str:
        """``overdue``, ``due-soon`` or ``ok``: the row's highlight."""
        if self.overdue:
            return "overdue"
        return "due-soon" if self.days <= DUE_SOON else "ok"

    @property
    def label(self) -> str:
        unit = "个工作日" if self.working_days else "天"
        if self.overdue:
            return f"已超期{self.days}{unit}" if self.days else "已超期"
        if self.days == 0:
            return "今日到期"
        return f"剩余{self.days}{unit}"


def time_left(
    calendar: WorkingCalendar,
    day_unit: DayUnit,
    today: dt.date,
    due_on: dt.date,
    provisional: bool = False,
) -> TimeLeft:
    working = day_unit is DayUnit.WORKING
    if due_on >= today:
        days = (
            calendar.working_days_between(today, due_on).days if working else (due_on - today).days
        )
        return TimeLeft(due_on, days, False, working, provisional)
    late = calendar.working_days_between(due_on, today).days if working else (today - due_on).days
    return TimeLeft(due_on, late, True, working, provisional)


def left_on(rules: Rules, now: dt.datetime, deadline: CaseDeadline | None) -> TimeLeft | None:
    """The time left on a running (not met, not cancelled) deadline; None otherwise."""
    if deadline is None or deadline.cancelled or deadline.met_at is not None:
        return None
    return time_left(
        rules.calendar,
        rules.profile.ordinary.unit,
        rules.local_date(now),
        deadline.due_on,
        deadline.provisional,
    )


# -- the history a unit may read (pure) ------------------------------------------------------


class EventLike(Protocol):
    @property
    def at(self) -> dt.datetime: ...
    @property
    def actor(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def note(self) -> str: ...


@dataclass(frozen=True)
class Seat:
    """Where the unit sits on the case: since when, as lead or assisting, what it may see."""

    since: dt.datetime
    lead: bool
    instructions: str
    evidence_shown: bool
    own_people: frozenset[str]


@dataclass(frozen=True)
class HistoryEntry:
    at: dt.datetime
    action: str
    actor: str
    note: str


BEFORE_THE_UNIT = frozenset({Action.REGISTER, Action.ACCEPT})
UNIT_STEPS = frozenset({Action.SIGN, Action.START, Action.REPLY, Action.REQUEST_EXTENSION})
# Notes every unit on the case may read, and those only the lead unit reads (they are about
# the lead's own deadline and requests).
NOTES_FOR_ALL = frozenset(
    {Action.REPLY, Action.PASS_REVIEW, Action.RETURN_REPLY, Action.MERGE, Action.CORRECT}
)
NOTES_FOR_LEAD = frozenset(
    {
        Action.REQUEST_EXTENSION,
        Action.DECIDE_EXTENSION,
        Action.REMIND,
        Action.YELLOW_CARD,
        Action.RED_CARD,
        Action.SATISFACTION,
    }
)
SHOWN_AFTER = (
    UNIT_STEPS
    | NOTES_FOR_ALL
    | NOTES_FOR_LEAD
    | {Action.DISPATCH, Action.ATTACH, Action.FEEDBACK, Action.CLOSE, Action.ARCHIVE}
)


def _actor(event: EventLike, action: Action, seat: Seat) -> str:
    if event.actor in seat.own_people:
        return event.actor
    if action in UNIT_STEPS:
        return "本单位" if seat.lead else "主办单位"
    return CENTRE


def unit_history(events: Iterable[EventLike], seat: Seat) -> list[HistoryEntry]:
    """The entries of a case's history (oldest first) a unit in ``seat`` may read; the
    notes as written (the caller masks them)."""
    shown: list[HistoryEntry] = []
    dispatched = False
    for event in events:
        try:
            action = Action(event.action)
        except ValueError:
            continue  # an action this view does not know is not shown
        if event.at < seat.since:
            if action in BEFORE_THE_UNIT:
                shown.append(HistoryEntry(event.at, action.value, CENTRE, ""))
            continue
        if action not in SHOWN_AFTER:
            continue
        note = ""
        if action is Action.DISPATCH:
            if dispatched:
                continue
            dispatched = True
            note = f"交本单位{'主办' if seat.lead else '协办'}" + (
                f"：{seat.instructions.strip()}" if seat.instructions.strip() else ""
            )
        elif action is Action.ATTACH:
            if event.actor not in seat.own_people and not seat.evidence_shown:
                continue
            note = event.note
        elif action in NOTES_FOR_ALL or (action in NOTES_FOR_LEAD and seat.lead):
            note = event.note
        shown.append(HistoryEntry(event.at, action.value, _actor(event, action, seat), note))
    return shown


# -- reading from the database ---------------------------------------------------------------


def seat_of(session: Session, case: Case, unit_id: str) -> Seat:
    """The unit's seat on the case; ``steps.Refused`` if the case is not the unit's."""
    view = unit_portal.view(session, case, unit_id)
    return Seat(
        since=view.assignment.dispatched_at,
        lead=view.assignment.role == "lead",
        instructions=view.assignment.instructions,
        evidence_shown=not view.evidence_withheld,
        own_people=frozenset(u.username for u in units.members(session, unit_id)),
    )


def history(session: Session, case: Case, unit_id: str) -> list[HistoryEntry]:
    """The case's history as the unit may read it, notes masked like the case's text."""
    seat = seat_of(session, case, unit_id)
    shown = disclosure.for_unit(unit_portal.parties(case), unit_id)
    events = session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
    )
    return [
        HistoryEntry(e.at, e.action, e.actor, unit_portal.visible(case, shown, e.note))
        for e in unit_history(events, seat)
    ]


@dataclass(frozen=True)
class OwnReply:
    """One of the unit's replies on the case, with the centre's review and its files."""

    reply: UnitReply
    attachments: list[Attachment]
    review_note: str  # masked like the case's text

    @property
    def sent_back(self) -> bool:
        return self.reply.review == "returned"


def own_replies(session: Session, case: Case, unit_id: str) -> list[OwnReply]:
    """The unit's replies on the case, newest first (another unit's are not shown)."""
    shown = disclosure.for_unit(unit_portal.parties(case), unit_id)
    rows = list(
        session.scalars(
            select(UnitReply)
            .where(UnitReply.case_id == case.id, UnitReply.unit_id == unit_id)
            .order_by(UnitReply.at.desc())
        )
    )
    files = reply_files(session, [r.id for r in rows])
    return [
        OwnReply(r, files.get(r.id, []), unit_portal.visible(case, shown, r.review_note))
        for r in rows
    ]


def reply_files(session: Session, reply_ids: Sequence[str]) -> dict[str, list[Attachment]]:
    if not reply_ids:
        return {}
    found: dict[str, list[Attachment]] = {}
    for attachment in session.scalars(
        select(Attachment)
        .where(Attachment.reply_id.in_(reply_ids))
        .order_by(Attachment.created_at, Attachment.id)
    ):
        found.setdefault(attachment.reply_id or "", []).append(attachment)
    return found


def sent_back(case: Case, seat: Seat, replies: Sequence[OwnReply]) -> OwnReply | None:
    """The reply the centre sent back (退回重办) that the unit has still to answer again."""
    if not seat.lead or case.status != Status.IN_PROGRESS or not replies:
        return None
    latest = replies[0]
    return latest if latest.sent_back and latest.reply.at >= seat.since else None


def readable_attachments(session: Session, case: Case, unit_id: str) -> list[Attachment]:
    """Every attachment of the case the unit may open (see :func:`readable_attachment`)."""
    shown = disclosure.for_unit(unit_portal.parties(case), unit_id)
    own = set(
        session.scalars(
            select(UnitReply.id).where(UnitReply.case_id == case.id, UnitReply.unit_id == unit_id)
        )
    )
    return [
        a
        for a in case.attachments
        if (a.reply_id is None and shown.evidence) or (a.reply_id is not None and a.reply_id in own)
    ]


def readable_attachment(
    session: Session, case: Case, unit_id: str, attachment_id: str
) -> Attachment | None:
    """An attachment of the case the unit may open: the complainant's evidence where the
    disclosure allows it, and the files of the unit's own replies (never another unit's);
    ``steps.Refused`` if the case is not the unit's."""
    unit_portal.view(session, case, unit_id)  # refuses another unit's case
    readable = readable_attachments(session, case, unit_id)
    return next((a for a in readable if a.id == attachment_id), None)


# -- the desk: the unit's list and its counts ------------------------------------------------


@dataclass(frozen=True)
class DeskRow:
    case: Case
    assignment: Assignment
    title: str
    due_on: dt.date | None
    provisional: bool
    left: TimeLeft | None
    new: bool  # dispatched to the unit, not signed yet
    sent_back: bool  # the reply was sent back and awaits a new one


@dataclass(frozen=True)
class Counts:
    new: int
    sent_back: int
    overdue: int
    due_soon: int

    @property
    def waiting(self) -> int:
        """What asks for the handler's attention at log-in: new and sent back."""
        return self.new + self.sent_back


@dataclass(frozen=True)
class Desk:
    open: list[DeskRow]  # at the unit or awaiting the review, most urgent first
    done: list[DeskRow]  # finished lately, newest first
    counts: Counts


OPEN_AT_UNIT = frozenset({*AT_UNIT, Status.REPLIED})


def _handling_deadlines(session: Session, case_ids: Sequence[str]) -> dict[str, CaseDeadline]:
    if not case_ids:
        return {}
    latest = (
        select(func.max(CaseDeadline.id))
        .where(
            CaseDeadline.case_id.in_(case_ids),
            CaseDeadline.stage == Stage.HANDLING.value,
            CaseDeadline.cancelled.is_(False),
        )
        .group_by(CaseDeadline.case_id)
    )
    return {
        d.case_id: d
        for d in session.scalars(select(CaseDeadline).where(CaseDeadline.id.in_(latest)))
    }


def _returned_replies(
    session: Session, unit_id: str, case_ids: Sequence[str]
) -> dict[str, dt.datetime]:
    """For each case, when the unit's last sent-back reply was written."""
    if not case_ids:
        return {}
    rows = session.execute(
        select(UnitReply.case_id, func.max(UnitReply.at))
        .where(
            UnitReply.unit_id == unit_id,
            UnitReply.review == "returned",
            UnitReply.case_id.in_(case_ids),
        )
        .group_by(UnitReply.case_id)
    )
    return {row[0]: row[1] for row in rows}


def _rows(
    session: Session,
    unit_id: str,
    rules: Rules,
    now: dt.datetime,
    statuses: Iterable[Status],
    done: bool,
) -> list[DeskRow]:
    query = (
        select(Case, Assignment)
        .join(Assignment, and_(Assignment.case_id == Case.id, Assignment.unit_id == unit_id))
        .where(Assignment.active, Case.status.in_([s.value for s in statuses]))
        .order_by(Assignment.dispatched_at.desc())
    )
    if done:
        query = query.limit(RECENT_DONE)
    pairs = [(row[0], row[1]) for row in session.execute(query)]
    ids = [case.id for case, _ in pairs]
    deadlines = _handling_deadlines(session, ids)
    returned = _returned_replies(session, unit_id, ids)
    rows = []
    for case, assignment in pairs:
        deadline = deadlines.get(case.id)
        back_at = returned.get(case.id)
        rows.append(
            DeskRow(
                case=case,
                assignment=assignment,
                title=unit_portal.title_for(case, unit_id),
                due_on=deadline.due_on if deadline else None,
                provisional=deadline.provisional if deadline else False,
                left=None if done else left_on(rules, now, deadline),
                new=assignment.signed_at is None and case.status == Status.DISPATCHED,
                sent_back=assignment.role == "lead"
                and case.status == Status.IN_PROGRESS
                and back_at is not None
                and back_at >= assignment.dispatched_at,
            )
        )
    return rows


def _urgency(row: DeskRow) -> tuple[int, int, str]:
    if row.left is None:
        return (3, 0, "")
    rank = {"overdue": 0, "due-soon": 1, "ok": 2}[row.left.level]
    days = -row.left.days if row.left.overdue else row.left.days
    return (rank, days, row.left.due_on.isoformat())


def desk(session: Session, unit_id: str, rules: Rules, now: dt.datetime) -> Desk:
    """The unit's cases: the open ones most urgent first (overdue, then due soon, then by
    time left), and the lately finished ones; with the counts shown at log-in."""
    open_rows = sorted(_rows(session, unit_id, rules, now, OPEN_AT_UNIT, False), key=_urgency)
    done_statuses = [s for s in Status if s not in OPEN_AT_UNIT]
    done_rows = _rows(session, unit_id, rules, now, done_statuses, True)
    return Desk(open_rows, done_rows, counts_of(open_rows))


def counts_of(rows: Iterable[DeskRow]) -> Counts:
    listed = list(rows)
    return Counts(
        new=sum(r.new for r in listed),
        sent_back=sum(r.sent_back for r in listed),
        overdue=sum(1 for r in listed if r.left is not None and r.left.level == "overdue"),
        due_soon=sum(1 for r in listed if r.left is not None and r.left.level == "due-soon"),
    )
