"""The reader: the rows of ``dispatch.indicators.rows`` loaded from the database for a time
window, in a few bulk SQLAlchemy Core queries (one per table, no query per case), the same
on SQLite and PostgreSQL.

What a window ``[since, until)`` holds, so that every indicator of ``dispatch.indicators``
computes right for any period inside it (``period.start >= since``, ``period.end <= until``)
and any ``as_of`` from the period's start up to ``Data.as_of`` (``until`` unless given):

- ``calls``: the calls that started in the window, and those of the 7 days before it
  (``calls.REPEAT_WINDOW``: 重复来电率 looks back) as their id, start and caller's number
  alone, but in full when they joined the queue inside the window (they count in the
  worst 24 hours). Filter by period (the indicators do).
- ``callbacks``: the 漏接回拨 made in the window, each with all its attempts.
- ``files``: every case with something in the window, each with its whole stored history
  and child rows (so that cohort rates follow the cases to any later ``as_of``): received
  in the window; a history entry the indicators count (``COUNTED``: 受理, 办结, 回访…), a
  dispatch, a decided extension, a supervision record or a feedback row in it; a running
  or met clock of a judged stage (``JUDGED``) due on a day of it (local dates: the UTC
  dates of the window widened by a day each side, so any zone is covered); a handling
  clock fallen due by the window's end and not met before its start (当前超期件 at any
  ``as_of`` in it); and, when ``as_of`` is after ``until``, the
  cases overdue at ``as_of`` and, as their case rows alone (no history: nothing of theirs
  falls in a period inside the window), the cases received from then up to ``as_of`` from
  the phones of the cases above (再信访率 looks forward).
- ``units``, ``unit_kinds``: every unit's name and kind (``dispatch.routing.units.UnitKind``
  values: ``window`` for the 红旗窗口 list); ``operators``: every user's display name by
  username (their username when they have none).

同比 and 环比: load each period's window separately (``load`` three times for a month, its
previous month and the same month a year earlier), which reads far fewer rows than one
window spanning thirteen months; a figure is computed from the ``Data`` of its own period.
``load_many`` reads several windows in one go (their union), e.g. a month and its 环比.

Speed (``bench.reports`` on a year of 100,000 cases and 300,000 calls): a month's window is
read in about 1.3 s of CPU, most of it making the rows, so the pages go through a ``Cache``
(one per process): a repeat view with nothing written since costs the ``data_version``
check, 10-20 ms, and ``Cache.remember`` keeps what a page computed from the rows.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar, cast

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, union
from sqlalchemy import case as when
from sqlalchemy.orm import Session

from accounts.models import User
from dispatch.cases.handling_models import (
    Assignment,
    CaseDeadline,
    Extension,
    Feedback,
    SupervisionRecord,
    Unit,
)
from dispatch.cases.lifecycle import Action
from dispatch.cases.models import CallbackAttempt, Case, CaseEvent
from dispatch.deadlines.stage_clocks import Stage
from dispatch.indicators.calls import REPEAT_WINDOW
from dispatch.indicators.rows import ACCEPTING, CLOSING, CallbackRow, CallRow, CaseFile
from dispatch.reports import reader_rows as rows
from dispatch.reports.reader_rows import Reading
from ivr.models import Call, CallbackRequest

Window = tuple[dt.datetime, dt.datetime]
# The history entries the indicators count by their own time (``dispatch.indicators``:
# 受理, 即办, 不予受理, 并单, 撤回, 办结, 回访, 审核通过): a case with one in a window is
# read. An indicator that counts another action by its time adds it here.
COUNTED = tuple(
    sorted(
        {
            *ACCEPTING,
            *CLOSING,
            Action.REJECT,
            Action.MERGE,
            Action.WITHDRAW,
            Action.FEEDBACK,
            Action.PASS_REVIEW,
        }
    )
)
# The clocks the indicators judge on their due dates (按时转办率, 按时办结率, 按时反馈率).
JUDGED = (Stage.DISPATCH.value, Stage.HANDLING.value, Stage.FEEDBACK.value)
_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Data:
    """The rows of one or more windows (see the module's docstring for what they hold)."""

    calls: tuple[CallRow, ...]
    callbacks: tuple[CallbackRow, ...]
    files: tuple[CaseFile, ...]
    units: Mapping[str, str]  # unit id -> name, every unit
    operators: Mapping[str, str]  # username -> display name, every user
    unit_kinds: Mapping[str, str]  # unit id -> kind, every unit
    windows: tuple[Window, ...] = ()
    as_of: dt.datetime | None = None
    # ``data_version`` of what was read, when it came through a ``Cache`` (else empty): a
    # key for what is computed from the rows (``Cache.remember``).
    version: tuple[object, ...] = ()

    def unit_name(self, unit_id: str | None) -> str:
        return self.units.get(unit_id or "", unit_id or "")

    def operator_name(self, username: str) -> str:
        return self.operators.get(username, username)

    def windows_of_kind(self, kind: str) -> tuple[str, ...]:
        """The ids of the units of ``kind`` (e.g. ``window``), by name."""
        found = [unit for unit, unit_kind in self.unit_kinds.items() if unit_kind == kind]
        return tuple(sorted(found, key=lambda unit: self.units[unit]))


def load(
    session: Session, since: dt.datetime, until: dt.datetime, as_of: dt.datetime | None = None
) -> Data:
    """The rows for ``[since, until)`` (aware instants), complete for figures as of any
    moment up to ``as_of`` (default ``until``)."""
    return load_many(session, [(since, until)], as_of)


def load_many(
    session: Session, windows: Sequence[Window], as_of: dt.datetime | None = None
) -> Data:
    """The rows of several windows at once (each as ``load`` would read it, once each)."""
    if not windows:
        raise ValueError("at least one window is needed")
    for since, until in windows:
        if since.tzinfo is None or until.tzinfo is None:
            raise ValueError("a window's bounds must be aware datetimes")
        if until < since:
            raise ValueError(f"a window cannot end ({until}) before it starts ({since})")
    latest = max(until for _, until in windows)
    as_of = latest if as_of is None else as_of
    units, kinds = _units(session)
    reading = rows.Reading(session.connection())
    with rows.no_collection():
        return Data(
            calls=_calls(reading, windows),
            callbacks=_callbacks(reading, windows),
            files=_files(reading, windows, latest, as_of),
            units=units,
            operators=_operators(session),
            unit_kinds=kinds,
            windows=tuple(windows),
            as_of=as_of,
        )


# -- helpers ---------------------------------------------------------------------------------


def _within(column: Any, windows: Iterable[Window]) -> ColumnElement[bool]:
    return or_(*(and_(column >= since, column < until) for since, until in windows))


def _dates(windows: Iterable[Window]) -> list[tuple[dt.date, dt.date]]:
    """Each window's days in any zone: its UTC dates widened by one day each side."""
    return [
        (since.astimezone(dt.UTC).date() - _DAY, until.astimezone(dt.UTC).date() + _DAY)
        for since, until in windows
    ]


def _units(session: Session) -> tuple[dict[str, str], dict[str, str]]:
    names, kinds = {}, {}
    for unit_id, name, kind in session.execute(select(Unit.id, Unit.name, Unit.kind)):
        names[unit_id] = name
        kinds[unit_id] = kind
    return names, kinds


def _operators(session: Session) -> dict[str, str]:
    return {
        username: display or username
        for username, display in session.execute(select(User.username, User.display_name))
    }


# -- calls -------------------------------------------------------------------------------------


def _calls(reading: Reading, windows: Sequence[Window]) -> tuple[CallRow, ...]:
    """The windows' calls in full; those of the week before each as their number and start
    alone (what 重复来电率 reads), but in full when queued inside the window."""
    before = [(since - REPEAT_WINDOW, since) for since, _ in windows]
    queued_in = or_(
        *(
            and_(Call.started_at >= start, Call.started_at < since, Call.queued_at >= since)
            for start, since in before
        )
    )
    full = rows.calls(reading, or_(_within(Call.started_at, windows), queued_in))
    seen = {call.id for call in full}
    light = [
        call
        for call in rows.caller_times(reading, _within(Call.started_at, before))
        if call.id not in seen
    ]
    if not light:
        return full
    return tuple(sorted((*full, *light), key=lambda call: (call.started_at, call.id)))


def _callbacks(reading: Reading, windows: Sequence[Window]) -> tuple[CallbackRow, ...]:
    return rows.callbacks(reading, _within(CallbackRequest.created_at, windows))


# -- cases -------------------------------------------------------------------------------------


def _handling_due(last_day: dt.date) -> ColumnElement[bool]:
    return and_(
        CaseDeadline.stage == Stage.HANDLING.value,
        CaseDeadline.cancelled.is_(False),
        CaseDeadline.due_on <= last_day,
    )


def _case_ids(windows: Sequence[Window], latest: dt.datetime, as_of: dt.datetime) -> Select[str]:
    """The ids of the cases with something in the windows (see the module's docstring)."""
    dates = _dates(windows)
    earliest = min(since for since, _ in windows)
    last_day = max(last for _, last in dates)
    due = and_(
        CaseDeadline.stage.in_(JUDGED),
        CaseDeadline.cancelled.is_(False),
        or_(*(and_(CaseDeadline.due_on >= a, CaseDeadline.due_on <= b) for a, b in dates)),
    )
    handling_due = _handling_due(last_day)
    parts: list[Select[str]] = [
        select(Case.id).where(_within(Case.received_at, windows)),
        select(CaseEvent.case_id).where(
            _within(CaseEvent.at, windows), CaseEvent.action.in_(COUNTED)
        ),
        select(Assignment.case_id).where(_within(Assignment.dispatched_at, windows)),
        select(Extension.case_id).where(_within(Extension.decided_at, windows)),
        select(SupervisionRecord.case_id).where(_within(SupervisionRecord.at, windows)),
        select(Feedback.case_id).where(_within(Feedback.at, windows)),
        select(CaseDeadline.case_id).where(due),
        select(CaseDeadline.case_id).where(handling_due, CaseDeadline.met_at.is_(None)),
        select(CaseDeadline.case_id).where(handling_due, CaseDeadline.met_at >= earliest),
    ]
    if as_of > latest:  # overdue at as_of too
        late = _handling_due(as_of.astimezone(dt.UTC).date() + _DAY)
        parts.append(select(CaseDeadline.case_id).where(late, CaseDeadline.met_at.is_(None)))
        parts.append(select(CaseDeadline.case_id).where(late, CaseDeadline.met_at > as_of))
    return select(union(*parts).subquery().c[0])


def _files(
    reading: Reading, windows: Sequence[Window], latest: dt.datetime, as_of: dt.datetime
) -> tuple[CaseFile, ...]:
    ids = set(rows.values(reading, _case_ids(windows, latest, as_of)))
    files = rows.case_files(reading, sorted(ids)) if ids else ()
    later = _later_cases(reading, ids, latest, as_of) - ids if as_of > latest and ids else set()
    if not later:
        return files
    # Received after the windows: nothing of theirs falls in a period inside them, so
    # their case rows alone (再信访率 reads the phone, category and received time).
    files += rows.case_files(reading, sorted(later), whole=False)
    return tuple(sorted(files, key=lambda file: (file.case.received_at, file.id)))


def _later_cases(
    reading: Reading, ids: set[str], since: dt.datetime, until: dt.datetime
) -> set[str]:
    """Cases received in ``[since, until]`` from the phones of the cases ``ids``."""
    phones = set(
        rows.values(
            reading,
            select(Case.complainant_phone).where(
                reading.among(Case.id, ids), Case.complainant_phone != ""
            ),
        )
    )
    return set(
        rows.values(
            reading,
            select(Case.id).where(
                Case.received_at >= since,
                Case.received_at <= until,
                reading.among(Case.complainant_phone, phones),
            ),
        )
    )


# -- the cache -------------------------------------------------------------------------------


def data_version(session: Session, windows: Sequence[Window]) -> tuple[object, ...]:
    """A cheap fingerprint of what a load of ``windows`` reads, that changes with any write
    to it: the newest history entry, clock, supervision record, feedback and callback
    attempt (every step on a case writes a history entry: ``dispatch.cases.lifecycle``);
    and, for the calls, which change in place, counts over the windows' calls read from the
    calls' listing index (how many, ended, answered, failed; new callback requests) and the
    times filled in on the calls still up; the units' and users' names (a few rows)."""
    widened = [(since - REPEAT_WINDOW, until) for since, until in windows]
    newest = select(
        select(func.max(CaseEvent.id)).scalar_subquery(),
        select(func.max(CaseDeadline.id)).scalar_subquery(),
        select(func.max(SupervisionRecord.id)).scalar_subquery(),
        select(func.max(Feedback.id)).scalar_subquery(),
        select(func.max(CallbackAttempt.id)).scalar_subquery(),
        select(func.count())
        .select_from(CallbackRequest)
        .where(_within(CallbackRequest.created_at, windows))
        .scalar_subquery(),
    )
    ended = select(
        func.count(),
        func.count(Call.outcome),
        func.count(Call.operator),
        func.sum(when((Call.outcome == "failed", 1), else_=0)),
        func.max(Call.started_at),
    ).where(_within(Call.started_at, widened))
    up = select(
        func.count(),
        func.count(Call.queued_at),
        func.count(Call.answered_at),
        func.count(Call.message_started_at),
        func.count(Call.ended_at),
    ).where(Call.outcome.is_(None))
    names = (
        *session.execute(select(Unit.id, Unit.name, Unit.kind).order_by(Unit.id)),
        *session.execute(select(User.username, User.display_name).order_by(User.username)),
    )
    return (
        *session.execute(newest).one(),
        *session.execute(ended).one(),
        *session.execute(up).one(),
        hash(tuple(tuple(row) for row in names)),
    )


MEMOS = 64
T = TypeVar("T")


@dataclass
class _Kept:
    version: tuple[object, ...]
    reach: dt.datetime  # the moment the rows were read for (past the windows' end, as_of)
    data: Data
    size: int


@dataclass
class Cache:
    """Windows read before, kept in memory with the data version they were read at
    (``data_version``): a repeat view of the same window costs the version's few indexed
    queries, and any write shows at once (the version changed: the window is read again).
    The least recently used windows go first once the rows kept pass ``max_rows`` (a row
    is about 0.5 kB in memory: a month's window of a centre taking 100,000 cases a year is
    some 180,000 rows, so the default keeps a dashboard's three windows a few times over
    in about half a gigabyte).

    ``as_of`` up to the windows' end does not change what is read. Past it (a past month
    seen as of now) the rows read for one moment serve any later moment of the same UTC
    day while nothing is written: what a later moment adds is a case received or a clock
    met since (a write), or a clock fallen due on a later day.

    One per process, made where the application is wired (never at import) and shared by
    the report pages; safe to use from several threads (a window read twice at once is
    read twice, and the last read kept)."""

    max_rows: int = 1_000_000
    _kept: OrderedDict[tuple[object, ...], _Kept] = field(default_factory=OrderedDict)
    _memos: OrderedDict[Hashable, object] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    hits: int = 0
    misses: int = 0

    def load(
        self,
        session: Session,
        since: dt.datetime,
        until: dt.datetime,
        as_of: dt.datetime | None = None,
    ) -> Data:
        """As ``load``, from the cache when nothing was written since."""
        return self.load_many(session, [(since, until)], as_of)

    def load_many(
        self, session: Session, windows: Sequence[Window], as_of: dt.datetime | None = None
    ) -> Data:
        latest = max((until for _, until in windows), default=None)
        if latest is None:
            raise ValueError("at least one window is needed")
        # The rows depend on as_of only past the windows' end (see the class docstring).
        reach = latest if as_of is None or as_of <= latest else as_of
        key = (tuple(windows), reach.astimezone(dt.UTC).date() if reach > latest else latest)
        version = data_version(session, windows)
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None and kept.version == version and kept.reach <= reach:
                self._kept.move_to_end(key)
                self.hits += 1
                return replace(kept.data, as_of=as_of or latest)
            self.misses += 1
        data = replace(load_many(session, windows, as_of), version=version)
        size = (
            len(data.calls)
            + len(data.callbacks)
            + sum(1 + len(f.events) + len(f.deadlines) for f in data.files)
        )
        with self._lock:
            self._kept[key] = _Kept(version, reach, data, size)
            self._kept.move_to_end(key)
            while len(self._kept) > 1 and sum(k.size for k in self._kept.values()) > self.max_rows:
                self._kept.popitem(last=False)
        return data

    def remember(self, key: Hashable, make: Callable[[], T]) -> T:
        """What ``make`` computes, kept under ``key`` (the ``MEMOS`` most recent): for a
        result computed from rows this cache gave, e.g. a page's report. The key must
        hold everything the result depends on: the ``Data.version`` of each window it was
        computed from (so that a write makes a new key) and the rest, e.g. the period and
        the local date of ``as_of`` (figures as of a later moment of the same day differ
        only when something was written: ``dispatch.indicators`` read the rows up to
        ``as_of`` and today's date)."""
        with self._lock:
            if key in self._memos:
                self._memos.move_to_end(key)
                self.hits += 1
                return cast(T, self._memos[key])
        made = make()
        with self._lock:
            self._memos[key] = made
            while len(self._memos) > MEMOS:
                self._memos.popitem(last=False)
        return made

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()
            self._memos.clear()
