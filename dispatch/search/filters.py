"""A list's filters read from a query string: the page's form and the JSON route's
parameters are the same names, read by the same code, so the two doors cannot differ.
Every wrong field gets an English and a Chinese message. Pure.

Dates are the service's local dates (the period ``from``–``to`` includes both days);
paging is ``page`` (from 1) and ``limit`` (rows per page).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from core.ids import is_id
from dispatch.cases.lifecycle import AT_UNIT, FINAL, OPEN, UNFINISHED, Status
from dispatch.cases.registration import CaseType, Channel
from dispatch.search import terms
from dispatch.search.paging import Paging
from dispatch.search.terms import Query

MAX_PAGE = 1000
MAX_LIMIT = 200
DEFAULT_LIMIT = 50
TRUE = frozenset({"1", "true", "on", "yes"})
FALSE = frozenset({"", "0", "false", "off", "no"})
FIRST_YEAR, LAST_YEAR = 2000, 2100
MAX_RAW_QUERY = 200

# Statuses that go together on a list: not yet with a unit, with a unit, not finished, ended.
STATUS_GROUPS: dict[str, frozenset[Status]] = {
    "open": OPEN,
    "at_unit": AT_UNIT,
    "unfinished": UNFINISHED,
    "ended": FINAL | {Status.ARCHIVED},
}
STATUS_GROUP_LABELS = {
    "open": "未交办",
    "at_unit": "单位办理中",
    "unfinished": "全部未办结",
    "ended": "已结束",
}
SORTS = ("", "relevance", "newest", "oldest")
SORT_LABELS = {"": "默认", "newest": "最新在前", "oldest": "最早在前"}


@dataclass(frozen=True)
class Problem:
    en: str
    zh: str


class BadFilters(ValueError):
    """Some filters are wrong: a message per field (by parameter name)."""

    def __init__(self, problems: dict[str, Problem]) -> None:
        super().__init__("; ".join(f"{name}: {p.en}" for name, p in problems.items()))
        self.problems = problems


class Reader:
    """Reads a query string's fields, collecting what is wrong with them."""

    def __init__(self, params: Mapping[str, str]) -> None:
        self.params = params
        self.problems: dict[str, Problem] = {}

    def raw(self, name: str) -> str:
        return str(self.params.get(name) or "").strip()

    def wrong(self, name: str, en: str, zh: str) -> None:
        self.problems.setdefault(name, Problem(en, zh))

    def text(self, name: str, max_chars: int = 64) -> str:
        value = self.raw(name)
        if len(value) > max_chars:
            self.wrong(name, f"at most {max_chars} characters", f"最多 {max_chars} 个字")
            return ""
        return value

    def choice(self, name: str, allowed: Collection[str]) -> str:
        value = self.raw(name)
        if value and value not in allowed:
            self.wrong(name, f"one of: {', '.join(sorted(a for a in allowed if a))}", "无此选项")
            return ""
        return value

    def flag(self, name: str) -> bool:
        value = self.raw(name).lower()
        if value in TRUE:
            return True
        if value not in FALSE:
            self.wrong(name, "1 or 0", "应为“是”或“否”")
        return False

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        value = self.raw(name)
        if not value:
            return default
        if not value.isascii() or not value.isdigit() or not low <= int(value) <= high:
            self.wrong(name, f"a whole number from {low} to {high}", f"应为 {low}–{high} 的整数")
            return default
        return int(value)

    def date(self, name: str) -> dt.date | None:
        value = self.raw(name)
        if not value:
            return None
        try:
            day = dt.date.fromisoformat(value) if len(value) == 10 else None
        except ValueError:
            day = None
        if day is None or not FIRST_YEAR <= day.year <= LAST_YEAR:
            self.wrong(
                name,
                f"a date as YYYY-MM-DD ({FIRST_YEAR}-{LAST_YEAR})",
                "日期格式应为 年-月-日",
            )
            return None
        return day

    def identifier(self, name: str) -> str:
        value = self.raw(name)
        if value and not is_id(value):
            self.wrong(name, "not an id", "无此选项")
            return ""
        return value

    def phone(self, name: str) -> frozenset[str]:
        value = self.raw(name)
        if not value:
            return frozenset()
        forms = terms.phone_forms(value)
        if not forms:
            self.wrong(
                name,
                "a whole phone number: an 11-digit mobile or a landline with its area code",
                "请输入完整的电话号码（11 位手机号或带区号的固定电话）",
            )
        return forms

    def done(self) -> None:
        if self.problems:
            raise BadFilters(self.problems)


@dataclass(frozen=True)
class Period:
    """From the start of ``first`` to the end of ``last`` (local dates), as UTC instants
    (``end`` excluded); None where open."""

    first: dt.date | None = None
    last: dt.date | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None


def period(reader: Reader, zone: ZoneInfo) -> Period:
    first, last = reader.date("from"), reader.date("to")
    if first and last and first > last:
        reader.wrong("to", "not before 'from'", "结束日期不能早于开始日期")
    start = dt.datetime.combine(first, dt.time(), zone).astimezone(dt.UTC) if first else None
    end = (
        dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), zone).astimezone(dt.UTC)
        if last
        else None
    )
    return Period(first, last, start, end)


def paging(reader: Reader, default_limit: int = DEFAULT_LIMIT) -> Paging:
    return Paging(
        reader.integer("page", 1, 1, MAX_PAGE),
        reader.integer("limit", default_limit, 1, MAX_LIMIT),
    )


@dataclass(frozen=True)
class CaseFilters:
    """What a case list is narrowed to. ``statuses`` empty: any; ``sort`` empty: by
    relevance when there are terms, else newest first."""

    query: Query = field(default_factory=Query)
    period: Period = field(default_factory=Period)
    statuses: frozenset[str] = frozenset()
    unit_id: str = ""
    category: str = ""
    case_type: str = ""
    channel: str = ""
    phone_forms: frozenset[str] = frozenset()
    operator: str = ""
    overdue: bool = False
    sort: str = ""


STATUSES = frozenset(s.value for s in Status) | frozenset(STATUS_GROUPS)


def case_filters(params: Mapping[str, str], zone: ZoneInfo) -> tuple[CaseFilters, Paging]:
    """The filters of a case list (``q``, ``from``, ``to``, ``status`` (a status or a group
    of ``STATUS_GROUPS``), ``unit``, ``category``, ``type``, ``channel``, ``phone``,
    ``operator``, ``overdue``, ``sort``) and its page; BadFilters if any is wrong."""
    reader = Reader(params)
    status = reader.choice("status", STATUSES)
    statuses = (
        frozenset(s.value for s in STATUS_GROUPS[status])
        if status in STATUS_GROUPS
        else frozenset({status})
        if status
        else frozenset()
    )
    found = CaseFilters(
        query=terms.parse(reader.text("q", MAX_RAW_QUERY)),
        period=period(reader, zone),
        statuses=statuses,
        unit_id=reader.identifier("unit"),
        category=reader.text("category"),
        case_type=reader.choice("type", {t.value for t in CaseType}),
        channel=reader.choice("channel", {c.value for c in Channel}),
        phone_forms=reader.phone("phone"),
        operator=reader.text("operator"),
        overdue=reader.flag("overdue"),
        sort=reader.choice("sort", SORTS),
    )
    pages = paging(reader)
    reader.done()
    return found, pages
