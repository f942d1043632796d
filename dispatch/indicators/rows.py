"""The indicators' inputs: rows as the database gives them, one frozen dataclass per table,
with the columns' own names (``ivr.models``, ``dispatch.cases.models``,
``dispatch.cases.handling_models``), so a reader fills them from plain queries. Text columns
stay text (a status is ``"closed"``, compared with the enums, which are ``str``); instants
are aware datetimes, dates are local dates in the configured zone, as stored.

A case comes with the rows hanging from it as one :class:`CaseFile`; its child rows leave
out ``case_id``. ``CaseFile.events`` is the history in its order (``case_events.id``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

from dispatch.cases.lifecycle import Action, Status

CLOSING = frozenset({Action.CLOSE, Action.ANSWER_ON_SPOT})
ACCEPTING = frozenset({Action.ACCEPT, Action.ANSWER_ON_SPOT})


# -- calls -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallRow:
    """``calls``: one incoming call. ``outcome`` is ``ivr.call_state.Outcome``'s value
    (``None`` while the call is up)."""

    id: str
    started_at: dt.datetime
    caller_number: str = ""
    queued_at: dt.datetime | None = None
    answered_at: dt.datetime | None = None
    message_started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    outcome: str | None = None
    operator: str | None = None


@dataclass(frozen=True, slots=True)
class CallbackAttemptRow:
    """``callback_attempts``: one try at calling back (``CallbackOutcome`` value)."""

    at: dt.datetime
    outcome: str
    case_id: str | None = None


@dataclass(frozen=True, slots=True)
class CallbackRow:
    """``callback_requests`` (漏接回拨) with its ``callback_attempts`` in order."""

    id: str
    call_id: str
    created_at: dt.datetime
    status: str = "pending"
    attempts: tuple[CallbackAttemptRow, ...] = ()


# -- cases -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CaseRow:
    """``cases``: the columns the indicators read."""

    id: str
    number: str
    status: str
    received_at: dt.datetime
    registered_at: dt.datetime
    channel: str
    case_type: str
    registered_by: str = ""
    category: str = ""
    complex_case: bool = False
    complainant_phone: str = ""
    anonymous: bool = False
    subject_window: str = ""
    complained_unit_id: str | None = None
    merged_into_id: str | None = None
    decision: str = ""


@dataclass(frozen=True, slots=True)
class CaseEventRow:
    """``case_events``: one history entry (``Action`` and ``Status`` values)."""

    at: dt.datetime
    action: str
    from_status: str = ""
    to_status: str = ""
    actor: str = ""


@dataclass(frozen=True, slots=True)
class AssignmentRow:
    """``assignments``: the case sent to a unit as ``lead`` (主办) or ``assist`` (协办)."""

    id: str
    unit_id: str
    role: str
    mode: str
    dispatched_at: dt.datetime
    active: bool = True
    signed_at: dt.datetime | None = None
    returned_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class DeadlineRow:
    """``case_deadlines``: one stage's clock (``Stage`` value), due on a local date."""

    id: int
    stage: str
    started_on: dt.date
    due_on: dt.date
    unit_id: str | None = None
    met_at: dt.datetime | None = None
    cancelled: bool = False
    provisional: bool = False


@dataclass(frozen=True, slots=True)
class ExtensionRow:
    """``extensions``: 延期 asked by a unit; ``status`` pending | approved | refused."""

    id: str
    deadline_id: int
    unit_id: str
    requested_at: dt.datetime
    days: int
    old_due_on: dt.date
    new_due_on: dt.date
    status: str = "pending"
    decided_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class SupervisionRow:
    """``supervision_records``: a 催办 (``reminder``), 黄牌 (``yellow``) or 红牌 (``red``);
    ``issued_by`` empty for the supervision job's own."""

    id: int
    deadline_id: int
    kind: str
    due_on: dt.date
    at: dt.datetime
    unit_id: str | None = None
    issued_by: str = ""


@dataclass(frozen=True, slots=True)
class ReplyRow:
    """``unit_replies``: the unit's answer, ``finding`` true | partly_true | untrue, and the
    centre's ``review`` ("" | passed | returned)."""

    id: str
    unit_id: str
    at: dt.datetime
    finding: str
    review: str = ""
    reviewed_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class FeedbackRow:
    """``feedback``: what the citizen was told, and their ``satisfaction`` (a
    ``dispatch.feedback.scale.Level`` value, or "" when they gave none)."""

    id: int
    at: dt.datetime
    method: str
    satisfaction: str = ""


@dataclass(frozen=True, slots=True)
class CaseFile:
    """One case with every row hanging from it."""

    case: CaseRow
    events: tuple[CaseEventRow, ...] = ()
    assignments: tuple[AssignmentRow, ...] = ()
    deadlines: tuple[DeadlineRow, ...] = ()
    extensions: tuple[ExtensionRow, ...] = ()
    supervision: tuple[SupervisionRow, ...] = ()
    replies: tuple[ReplyRow, ...] = ()
    feedback: tuple[FeedbackRow, ...] = ()

    @property
    def id(self) -> str:
        return self.case.id

    def events_of(
        self, actions: Collection[str], until: dt.datetime | None = None
    ) -> list[CaseEventRow]:
        """The history entries of ``actions`` (up to ``until``), in order."""
        return [
            event
            for event in self.events
            if event.action in actions and (until is None or event.at <= until)
        ]

    def first_of(
        self, actions: Collection[str], until: dt.datetime | None = None
    ) -> CaseEventRow | None:
        found = self.events_of(actions, until)
        return found[0] if found else None

    def leaving(self, until: dt.datetime | None = None) -> CaseEventRow | None:
        """The entry by which the case was merged into another (并单) or withdrawn (撤回),
        up to ``until``: from then on it is nobody's to handle (a merged case lives on in the
        case it joined). The case a merge joined gets a 并单 entry too, keeping its status:
        that one is no leaving."""
        for event in self.events_of({Action.MERGE, Action.WITHDRAW}, until):
            if event.action == Action.WITHDRAW or event.to_status == Status.MERGED:
                return event
        return None

    def left_by(self, as_of: dt.datetime | None = None) -> bool:
        """Merged away or withdrawn by ``as_of`` (ever, if ``None``)."""
        return self.leaving(as_of) is not None

    def closed_by(self, as_of: dt.datetime) -> bool:
        """Closed (办结, 即办 included) by ``as_of`` and not reopened (重办) since."""
        closed = False
        for event in self.events:
            if event.at > as_of:
                continue
            if event.action in CLOSING:
                closed = True
            elif event.action == Action.REOPEN:
                closed = False
        return closed

    def lead_unit(self, at: dt.datetime | None = None) -> str | None:
        """The unit of the latest lead (主办) assignment made by ``at`` (any time if
        ``None``): who answers for the case then."""
        leads = [
            row
            for row in self.assignments
            if row.role == "lead" and (at is None or row.dispatched_at <= at)
        ]
        return max(leads, key=lambda row: row.dispatched_at).unit_id if leads else None

    def lead_units(self) -> set[str]:
        """Every unit that was ever lead on the case."""
        return {row.unit_id for row in self.assignments if row.role == "lead"}
