"""红旗窗口 (issue 17, seed 003): each window's standing for a year under the rule of
``dispatch.indicators.red_flag`` (2 complaints found true → 不得参评, 3 → a written
explanation owed), the complaints behind it, and the receipts of the written explanations
(``window_explanations``), as a ``tables.Report`` for the page, the .xlsx and the JSON twin.

The windows listed: every unit of kind ``window`` (服务窗口), complained about or not, and any
other unit a complaint of the year names. Each window is a unit (``complained_unit_id``, the
被投诉单位 the centre named at dispatch); what the citizen called the window
(``subject_window``, as typed at registration) is shown beside it.

The rows come from a narrow query of this module (the year's complaints with their
merge/withdraw/reject entries and their units' replies, as ``rows.CaseFile``): the reader
(``reader.load``) reads every row of every case of a window, far more than a year's
complaints need.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.cases.handling_models import Unit, UnitReply
from dispatch.cases.lifecycle import Action
from dispatch.cases.models import Case, CaseEvent
from dispatch.cases.registration import CaseType, FieldError, Invalid
from dispatch.handling.steps import FINDING_LABELS, Finding
from dispatch.indicators import periods, red_flag
from dispatch.indicators.red_flag import WindowStanding
from dispatch.indicators.rows import CaseEventRow, CaseFile, CaseRow, ReplyRow
from dispatch.reports import tables, window_explanations
from dispatch.reports.tables import Cell, Report, Table
from dispatch.reports.window_explanations import Explanation, Form
from dispatch.routing.units import UNIT_KIND_LABELS, UnitKind

FIRST_YEAR = 2000
PENDING_LABEL = "待审核"
# The history entries the rule reads: a merge or withdrawal (the complaint left), a rejection.
_RULE_ACTIONS = (Action.MERGE.value, Action.WITHDRAW.value, Action.REJECT.value)


@dataclass(frozen=True)
class Complaint:
    """One complaint behind a standing, as the details table shows it."""

    id: str
    number: str
    received_at: dt.datetime
    title: str
    subject_window: str
    window_id: str
    finding: str | None  # Finding value of the latest reviewed reply; None: not yet reviewed
    counted: bool  # found 属实 (含部分属实): counts for the rule

    @property
    def finding_label(self) -> str:
        return FINDING_LABELS[Finding(self.finding)] if self.finding else PENDING_LABEL


@dataclass(frozen=True)
class Window:
    """One window's year: its standing, its name, the explanation's receipt if recorded."""

    standing: WindowStanding
    name: str
    kind: str
    typed: tuple[str, ...]  # what the complaints called the window, as typed
    explanation: Explanation | None

    @property
    def id(self) -> str:
        return self.standing.window_id

    @property
    def kind_label(self) -> str:
        return UNIT_KIND_LABELS[UnitKind(self.kind)] if self.kind in set(UnitKind) else self.kind

    @property
    def explanation_status(self) -> str:
        if not self.standing.explanation_owed:
            return "无须"
        if self.explanation is None:
            return "待收到"
        return f"已收到（{self.explanation.received_on.isoformat()}）"


@dataclass(frozen=True)
class WindowsYear:
    year: int
    as_of: dt.datetime
    zone: ZoneInfo
    windows: tuple[Window, ...]
    complaints: dict[str, Complaint]  # by case id: every complaint behind a standing

    @property
    def owing(self) -> list[Window]:
        """The windows owing a written explanation, received or not."""
        return [window for window in self.windows if window.standing.explanation_owed]

    def complaints_of(self, window: Window) -> list[Complaint]:
        standing = window.standing
        ids = (*standing.substantiated, *standing.unsubstantiated, *standing.pending)
        return sorted((self.complaints[i] for i in ids), key=lambda c: (c.received_at, c.number))


# -- reading -------------------------------------------------------------------------------------


def check_year(year: int, now: dt.datetime, zone: ZoneInfo) -> int:
    """A year the page can show: from ``FIRST_YEAR`` to this one (local)."""
    this_year = now.astimezone(zone).year
    if not FIRST_YEAR <= year <= this_year:
        raise Invalid(
            {
                "year": FieldError(
                    f"年份须在{FIRST_YEAR}年至{this_year}年之间",
                    f"year must be from {FIRST_YEAR} to {this_year}",
                )
            }
        )
    return year


def complaint_files(
    session: Session, year: periods.Period, units: Collection[str] | None = None
) -> tuple[list[CaseFile], dict[str, str]]:
    """The complaints received in the year about a unit (of ``units`` when given), each with
    the history entries and replies the rule reads; and their titles by case id. The
    children are found through the complaints' own query as a subquery (a year's thousands
    of ids as bound parameters cost five times as much)."""
    chosen = [
        Case.case_type == CaseType.COMPLAINT.value,
        Case.complained_unit_id.is_not(None),
        Case.received_at >= year.start,
        Case.received_at < year.end,
    ]
    if units is not None:
        chosen.append(Case.complained_unit_id.in_(list(units)))
    complaints = select(Case.id).where(*chosen)
    query = select(
        Case.id,
        Case.number,
        Case.status,
        Case.received_at,
        Case.registered_at,
        Case.channel,
        Case.case_type,
        Case.subject_window,
        Case.complained_unit_id,
        Case.merged_into_id,
        Case.decision,
        Case.title,
    ).where(*chosen)
    cases: dict[str, CaseRow] = {}
    titles: dict[str, str] = {}
    for r in session.execute(query):
        cases[r[0]] = CaseRow(
            id=r[0],
            number=r[1],
            status=r[2],
            received_at=r[3],
            registered_at=r[4],
            channel=r[5],
            case_type=r[6],
            subject_window=r[7] or "",
            complained_unit_id=r[8],
            merged_into_id=r[9],
            decision=r[10] or "",
        )
        titles[r[0]] = r[11] or ""
    events: dict[str, list[CaseEventRow]] = {}
    history = (
        select(
            CaseEvent.case_id,
            CaseEvent.at,
            CaseEvent.action,
            CaseEvent.from_status,
            CaseEvent.to_status,
            CaseEvent.actor,
        )
        .where(CaseEvent.case_id.in_(complaints), CaseEvent.action.in_(_RULE_ACTIONS))
        .order_by(CaseEvent.id)
    )
    for case_id, at, action, from_status, to_status, actor in session.execute(history):
        if case_id in cases:  # a complaint received since the first query is not read
            events.setdefault(case_id, []).append(
                CaseEventRow(at, action, from_status or "", to_status or "", actor or "")
            )
    replies: dict[str, list[ReplyRow]] = {}
    answers = (
        select(
            UnitReply.case_id,
            UnitReply.id,
            UnitReply.unit_id,
            UnitReply.at,
            UnitReply.finding,
            UnitReply.review,
            UnitReply.reviewed_at,
        )
        .where(UnitReply.case_id.in_(complaints))
        .order_by(UnitReply.at, UnitReply.id)
    )
    for case_id, reply_id, unit_id, at, finding, review, reviewed_at in session.execute(answers):
        if case_id in cases:
            replies.setdefault(case_id, []).append(
                ReplyRow(reply_id, unit_id, at, finding, review or "", reviewed_at)
            )
    files = [
        CaseFile(cases[i], events=tuple(events.get(i, ())), replies=tuple(replies.get(i, ())))
        for i in sorted(cases)
    ]
    return files, titles


def _units(session: Session) -> dict[str, tuple[str, str]]:
    """Every unit's (name, kind) by id."""
    return {
        unit_id: (name, kind)
        for unit_id, name, kind in session.execute(select(Unit.id, Unit.name, Unit.kind))
    }


def windows_year(session: Session, year: int, now: dt.datetime, zone: ZoneInfo) -> WindowsYear:
    """The page's use case: every window's standing for ``year`` as of ``now``, the
    complaints behind each, the explanations received."""
    check_year(year, now, zone)
    files, titles = complaint_files(session, periods.year(year, zone))
    units = _units(session)
    listed = {u for u, (_, kind) in units.items() if kind == UnitKind.WINDOW.value}
    listed |= {f.case.complained_unit_id for f in files if f.case.complained_unit_id}
    standings = red_flag.standings(files, year, zone, sorted(listed), as_of=now)
    by_id = {f.id: f for f in files}
    received = window_explanations.of_year(session, year)
    complaints: dict[str, Complaint] = {}
    windows = []
    for standing in standings:
        counted = set(standing.substantiated)
        for case_id in (*standing.substantiated, *standing.unsubstantiated, *standing.pending):
            case = by_id[case_id].case
            complaints[case_id] = Complaint(
                case_id,
                case.number,
                case.received_at,
                titles.get(case_id, ""),
                case.subject_window,
                standing.window_id,
                red_flag.finding(by_id[case_id], now),
                case_id in counted,
            )
        typed = sorted(
            {
                by_id[i].case.subject_window.strip()
                for i in (*standing.substantiated, *standing.unsubstantiated, *standing.pending)
            }
            - {""}
        )
        name, kind = units.get(standing.window_id, (standing.window_id, ""))
        windows.append(Window(standing, name, kind, tuple(typed), received.get(standing.window_id)))
    # The most substantiated first (the rule's order), then by name.
    windows.sort(key=lambda w: (-w.standing.count, w.name))
    return WindowsYear(year, now, zone, tuple(windows), complaints)


def record_explanation(
    session: Session,
    unit_id: str,
    year: int,
    form: Form,
    actor: str,
    now: dt.datetime,
    zone: ZoneInfo,
) -> Explanation:
    """收到书面说明: the use case both doors call. ``LookupError`` for an unknown unit."""
    check_year(year, now, zone)
    if session.get(Unit, unit_id) is None:
        raise LookupError(f"no unit {unit_id!r}")
    files, _ = complaint_files(session, periods.year(year, zone), [unit_id])
    (standing,) = red_flag.standings(files, year, zone, [unit_id], as_of=now)
    return window_explanations.record(session, standing, form, actor, now, zone)


# -- the report ----------------------------------------------------------------------------------

Link = Callable[[Sequence[str]], str]


def _count(ids: Sequence[str], cases_link: Link, title: str = "") -> Cell:
    return Cell(str(len(ids)), len(ids), cases_link(ids) if ids else "", title)


def report(data: WindowsYear, case_link: Callable[[str], str], cases_link: Link) -> Report:
    """The page's tables: every window's standing, the explanations owed and received, and
    every complaint behind them. ``case_link`` names one case's page, ``cases_link`` the
    list of the cases behind a count."""
    rule = f"{red_flag.RULE.name}＝{red_flag.RULE.formula}"
    local = data.as_of.astimezone(data.zone).strftime("%Y-%m-%d %H:%M")
    standings = Table(
        "windows",
        f"{data.year}年红旗窗口评比资格",
        (
            "窗口",
            "单位类型",
            "登记所填窗口",
            "经查属实（含部分属实）",
            "经查不属实",
            "待审核",
            "评比资格",
            "书面说明",
        ),
        tuple(
            (
                tables.text(w.name),
                tables.text(w.kind_label),
                tables.text("、".join(w.typed) or "—"),
                _count(w.standing.substantiated, cases_link, rule),
                _count(w.standing.unsubstantiated, cases_link),
                _count(w.standing.pending, cases_link),
                tables.text(w.standing.verdict),
                tables.text(w.explanation_status),
            )
            for w in data.windows
        ),
        (rule,),
    )
    owing = Table(
        "explanations",
        "须书面说明的窗口（三次及以上）",
        ("窗口", "经查属实（次）", "收到日期", "说明人", "整改措施", "备注", "登记人", "登记时间"),
        tuple(_owing_row(w, data.zone, cases_link) for w in data.owing),
        (
            "被投诉三次以上（含三次）经查属实的，窗口负责人须向中心和本单位书面说明原因并提出整改措施。",
        ),
    )
    details = Table(
        "complaints",
        "投诉明细",
        ("窗口", "案件编号", "受理时间", "标题", "登记所填窗口", "调查结论", "是否计入"),
        tuple(
            (
                tables.text(w.name),
                Cell(c.number, href=case_link(c.id)),
                tables.text(c.received_at.astimezone(data.zone).strftime("%Y-%m-%d %H:%M")),
                tables.text(c.title),
                tables.text(c.subject_window or "—"),
                tables.text(c.finding_label),
                tables.text("计入" if c.counted else "不计"),
            )
            for w in data.windows
            for c in data.complaints_of(w)
        ),
        ("经查不属实及尚未审核的投诉不计；并单件只计一次，撤回、不予受理的投诉不计。",),
    )
    return Report(
        "红旗窗口评比资格",
        f"{data.year}年",
        (standings, owing, details),
        (f"截至 {local}",),
    )


def _owing_row(window: Window, zone: ZoneInfo, cases_link: Link) -> tuple[Cell, ...]:
    count = _count(window.standing.substantiated, cases_link)
    given = window.explanation
    if given is None:
        return (tables.text(window.name), count, tables.text("待收到"), *(tables.text("—"),) * 5)
    return (
        tables.text(window.name),
        count,
        tables.text(given.received_on.isoformat()),
        tables.text(given.submitted_by),
        tables.text(given.rectification),
        tables.text(given.note or "—"),
        tables.text(given.recorded_by_name),
        tables.text(given.recorded_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")),
    )
