"""The reader's queries, one per table, and the quick way from their rows to the frozen rows
of ``dispatch.indicators.rows``.

Speed: a month's window is a few hundred thousand rows, so each one costs as little as it
can. The queries run on the session's connection as Core statements (no ORM layer per
row), fetched whole; instants are read as the driver gives them: PostgreSQL's
``timestamptz`` as aware datetimes (put in ``datetime.UTC``, see ``_utc_instant``),
SQLite's stored UTC text (``YYYY-MM-DD HH:MM:SS.ffffff``, as ``core.db.UTCDateTime`` writes
it) through ``datetime.fromisoformat`` with a UTC offset, several times quicker than the
column type's own processing; SQLite's dates are parsed once per distinct day. The child
rows of the cases are read in one query per table, the case ids passed as one parameter
(``Reading.among``), in the order of the table's case index, and grouped by case. Python's
cycle collector is held off while the rows are made (``no_collection``).
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from functools import cache
from typing import Any, cast

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Connection,
    Date,
    DateTime,
    Integer,
    String,
    and_,
    any_,
    bindparam,
    func,
    select,
    type_coerce,
)

from dispatch.cases.handling_models import (
    Assignment,
    CaseDeadline,
    Extension,
    Feedback,
    SupervisionRecord,
    UnitReply,
)
from dispatch.cases.models import CallbackAttempt, Case, CaseEvent
from dispatch.indicators.rows import (
    AssignmentRow,
    CallbackAttemptRow,
    CallbackRow,
    CallRow,
    CaseEventRow,
    CaseFile,
    CaseRow,
    DeadlineRow,
    ExtensionRow,
    FeedbackRow,
    ReplyRow,
    SupervisionRow,
)
from ivr.models import Call, CallbackRequest

_UTC = "+00:00"
_fromisoformat = dt.datetime.fromisoformat


def _sqlite_instant(text: str | None) -> dt.datetime | None:
    return None if text is None else _fromisoformat(text + _UTC)


@cache
def _sqlite_day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _utc_instant(moment: dt.datetime | None) -> dt.datetime | None:
    """PostgreSQL's instant in ``datetime.UTC``, as ``core.db.UTCDateTime`` gives it (the
    driver's is in the session's zone, a ``ZoneInfo``): instants of one ``tzinfo`` object
    compare without asking each for its offset, and the indicators compare them with the
    periods' UTC bounds millions of times (measured: 28 ns a comparison, 216 ns with the
    driver's ``ZoneInfo("Etc/UTC")``)."""
    return None if moment is None else moment.astimezone(dt.UTC)


def _same(value: Any) -> Any:
    return value


class Reading:
    """How one database's values are read: the column as selected, and the function that
    makes the Python value of what the driver gives."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.sqlite = connection.dialect.name == "sqlite"
        self.instant: Callable[[Any], Any] = _sqlite_instant if self.sqlite else _utc_instant
        self.day: Callable[[Any], Any] = _sqlite_day if self.sqlite else _same

    def at(self, column: Any) -> ColumnElement[Any]:
        """An instant column, as the driver gives it (no type processing)."""
        return type_coerce(column, String if self.sqlite else DateTime(timezone=True))

    def on(self, column: Any) -> ColumnElement[Any]:
        """A date column, as the driver gives it."""
        return type_coerce(column, String if self.sqlite else Date)

    def flag(self, column: Any) -> ColumnElement[Any]:
        """A boolean column (0/1 on SQLite: made ``bool`` in Python)."""
        return type_coerce(column, Integer) if self.sqlite else column

    def rows(self, query: Any) -> Sequence[Any]:
        return self.connection.execute(query).fetchall()

    def among(self, column: Any, ids: Collection[str]) -> ColumnElement[bool]:
        """``column`` is one of ``ids``, the list passed as one parameter (SQLite: a JSON
        array read by ``json_each``; PostgreSQL: an array), so that a long list neither
        expands into as many placeholders nor is split into several queries."""
        if self.sqlite:
            listed = json.dumps(list(ids))
            values = func.json_each(bindparam(None, listed, String)).table_valued("value")
            return cast(ColumnElement[bool], column.in_(select(values.c.value)))
        return cast(ColumnElement[bool], column == any_(bindparam(None, list(ids), ARRAY(String))))


class _Collection:
    """Python's cycle collector held off while rows are made. A load makes hundreds of
    thousands of objects, none in a reference cycle (frozen rows of values and tuples), and
    each collection the allocations set off walks every object the process holds, so that
    a year's load took ten times longer with it than without (measured on a year of
    generated data). Reference counting still frees everything. Nested and concurrent
    loads count themselves in; the last one out turns the collector back on, if it was."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._was_enabled = False

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._lock:
            if self._depth == 0:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0 and self._was_enabled:
                    gc.enable()


_COLLECTION = _Collection()


def no_collection() -> AbstractContextManager[None]:
    """Hold the cycle collector off while rows are made (see ``_Collection``)."""
    return _COLLECTION.held()


# -- calls -------------------------------------------------------------------------------------


def citizens_calls(where: ColumnElement[bool]) -> ColumnElement[bool]:
    """``where``, among the citizens' calls only: a caller passed on to another node
    (overflow, Issue 18) is one call, its first node's row; the other node's row for it
    (``Call.overflow_of``) is a leg of that call, never counted again."""
    return and_(where, Call.overflow_of.is_(None))


def calls(reading: Reading, where: ColumnElement[bool]) -> tuple[CallRow, ...]:
    r, t = reading, reading.instant
    query = (
        select(
            Call.id,
            r.at(Call.started_at),
            Call.caller_number,
            r.at(Call.queued_at),
            r.at(Call.answered_at),
            r.at(Call.message_started_at),
            r.at(Call.ended_at),
            Call.outcome,
            Call.operator,
        )
        .where(citizens_calls(where))
        .order_by(Call.started_at, Call.id)
    )
    return tuple(
        CallRow(c[0], t(c[1]), c[2], t(c[3]), t(c[4]), t(c[5]), t(c[6]), c[7], c[8])
        for c in r.rows(query)
    )


def caller_times(reading: Reading, where: ColumnElement[bool]) -> list[CallRow]:
    """Calls as their id, start and caller's number alone (from the calls' listing index)."""
    query = select(Call.id, reading.at(Call.started_at), Call.caller_number).where(
        citizens_calls(where)
    )
    t = reading.instant
    return [CallRow(c[0], t(c[1]), c[2]) for c in reading.rows(query)]


def callbacks(reading: Reading, where: ColumnElement[bool]) -> tuple[CallbackRow, ...]:
    r, t = reading, reading.instant
    made = select(CallbackRequest.id).where(where)
    attempts: dict[str, list[CallbackAttemptRow]] = {}
    query = (
        select(
            CallbackAttempt.request_id,
            r.at(CallbackAttempt.at),
            CallbackAttempt.outcome,
            CallbackAttempt.case_id,
        )
        .where(CallbackAttempt.request_id.in_(made))
        .order_by(CallbackAttempt.at, CallbackAttempt.id)
    )
    for request_id, at, outcome, case_id in r.rows(query):
        attempts.setdefault(request_id, []).append(CallbackAttemptRow(t(at), outcome, case_id))
    requests = (
        select(
            CallbackRequest.id,
            CallbackRequest.call_id,
            r.at(CallbackRequest.created_at),
            CallbackRequest.status,
        )
        .where(where)
        .order_by(CallbackRequest.created_at, CallbackRequest.id)
    )
    return tuple(
        CallbackRow(request_id, call_id, t(created), status, tuple(attempts.get(request_id, ())))
        for request_id, call_id, created, status in r.rows(requests)
    )


# -- cases -------------------------------------------------------------------------------------


def _children(
    reading: Reading,
    ids: Sequence[str],
    case_id: Any,
    columns: Sequence[Any],
    order: Sequence[Any],
    make: Callable[[Any], Any],
) -> dict[str, list[Any]]:
    """The rows of a child table for the cases ``ids``, each made by ``make`` from the
    selected row (its case id last), grouped by case in ``order``."""
    found: dict[str, list[Any]] = {}
    query = select(*columns, case_id).where(reading.among(case_id, ids)).order_by(case_id, *order)
    for row in reading.rows(query):
        made = make(row)
        group = found.get(row[-1])
        if group is None:
            found[row[-1]] = [made]
        else:
            group.append(made)
    return found


def case_files(reading: Reading, ids: Sequence[str], whole: bool = True) -> tuple[CaseFile, ...]:
    """The cases ``ids`` with every row hanging from them (with ``whole``; else their case
    rows alone), by received time."""
    r, t, d = reading, reading.instant, reading.day
    if not whole:
        return tuple(CaseFile(case) for case in _cases(r, ids))
    events = _children(
        r,
        ids,
        CaseEvent.case_id,
        (
            r.at(CaseEvent.at),
            CaseEvent.action,
            CaseEvent.from_status,
            CaseEvent.to_status,
            CaseEvent.actor,
        ),
        (CaseEvent.id,),
        lambda e: CaseEventRow(t(e[0]), e[1], e[2], e[3], e[4]),
    )
    assignments = _children(
        r,
        ids,
        Assignment.case_id,
        (
            Assignment.id,
            Assignment.unit_id,
            Assignment.role,
            Assignment.mode,
            r.at(Assignment.dispatched_at),
            r.flag(Assignment.active),
            r.at(Assignment.signed_at),
            r.at(Assignment.returned_at),
        ),
        (Assignment.dispatched_at, Assignment.id),
        lambda a: AssignmentRow(a[0], a[1], a[2], a[3], t(a[4]), bool(a[5]), t(a[6]), t(a[7])),
    )
    deadlines = _children(
        r,
        ids,
        CaseDeadline.case_id,
        (
            CaseDeadline.id,
            CaseDeadline.stage,
            r.on(CaseDeadline.started_on),
            r.on(CaseDeadline.due_on),
            CaseDeadline.unit_id,
            r.at(CaseDeadline.met_at),
            r.flag(CaseDeadline.cancelled),
            r.flag(CaseDeadline.provisional),
        ),
        (CaseDeadline.id,),
        lambda c: DeadlineRow(c[0], c[1], d(c[2]), d(c[3]), c[4], t(c[5]), bool(c[6]), bool(c[7])),
    )
    extensions = _children(
        r,
        ids,
        Extension.case_id,
        (
            Extension.id,
            Extension.deadline_id,
            Extension.unit_id,
            r.at(Extension.requested_at),
            Extension.days,
            r.on(Extension.old_due_on),
            r.on(Extension.new_due_on),
            Extension.status,
            r.at(Extension.decided_at),
        ),
        (Extension.requested_at, Extension.id),
        lambda x: ExtensionRow(x[0], x[1], x[2], t(x[3]), x[4], d(x[5]), d(x[6]), x[7], t(x[8])),
    )
    supervision = _children(
        r,
        ids,
        SupervisionRecord.case_id,
        (
            SupervisionRecord.id,
            SupervisionRecord.deadline_id,
            SupervisionRecord.kind,
            r.on(SupervisionRecord.due_on),
            r.at(SupervisionRecord.at),
            SupervisionRecord.unit_id,
            SupervisionRecord.issued_by,
        ),
        (SupervisionRecord.id,),
        lambda s: SupervisionRow(s[0], s[1], s[2], d(s[3]), t(s[4]), s[5], s[6]),
    )
    replies = _children(
        r,
        ids,
        UnitReply.case_id,
        (
            UnitReply.id,
            UnitReply.unit_id,
            r.at(UnitReply.at),
            UnitReply.finding,
            UnitReply.review,
            r.at(UnitReply.reviewed_at),
        ),
        (UnitReply.at, UnitReply.id),
        lambda p: ReplyRow(p[0], p[1], t(p[2]), p[3], p[4], t(p[5])),
    )
    feedback = _children(
        r,
        ids,
        Feedback.case_id,
        (Feedback.id, r.at(Feedback.at), Feedback.method, Feedback.satisfaction),
        (Feedback.id,),
        lambda f: FeedbackRow(f[0], t(f[1]), f[2], f[3]),
    )
    none: tuple[()] = ()
    files = [
        CaseFile(
            case,
            tuple(events.get(case.id, none)),
            tuple(assignments.get(case.id, none)),
            tuple(deadlines.get(case.id, none)),
            tuple(extensions.get(case.id, none)),
            tuple(supervision.get(case.id, none)),
            tuple(replies.get(case.id, none)),
            tuple(feedback.get(case.id, none)),
        )
        for case in _cases(r, ids)
    ]
    files.sort(key=lambda file: (file.case.received_at, file.id))
    return tuple(files)


def _cases(reading: Reading, ids: Sequence[str]) -> list[CaseRow]:
    r, t = reading, reading.instant
    query = select(
        Case.id,
        Case.number,
        Case.status,
        r.at(Case.received_at),
        r.at(Case.registered_at),
        Case.channel,
        Case.case_type,
        Case.registered_by,
        Case.category,
        r.flag(Case.complex_case),
        Case.complainant_phone,
        r.flag(Case.anonymous),
        Case.subject_window,
        Case.complained_unit_id,
        Case.merged_into_id,
        Case.decision,
    ).where(r.among(Case.id, ids))
    return [
        CaseRow(
            c[0],
            c[1],
            c[2],
            t(c[3]),
            t(c[4]),
            c[5],
            c[6],
            c[7],
            c[8],
            bool(c[9]),
            c[10],
            bool(c[11]),
            c[12],
            c[13],
            c[14],
            c[15],
        )
        for c in r.rows(query)
    ]


def values(reading: Reading, query: Any) -> Iterable[Any]:
    """The first column of each row."""
    return (row[0] for row in reading.rows(query))
