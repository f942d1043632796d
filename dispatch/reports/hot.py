"""热点诉求 (issue 17) as a ``tables.Report`` for the page, the .xlsx and the JSON twin: the
period's categories, places and terms (rising ones first, with 环比 and 同比), the clusters
of repeated appeals and the risk signals, each count linked to the cases behind it. The
rules and thresholds are ``dispatch.indicators.hot_topics``'s; the rows ``hot_data``'s."""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.cases.handling_models import Unit
from dispatch.cases.models import CaseEvent
from dispatch.indicators import hot_topics
from dispatch.indicators.figures import Change
from dispatch.indicators.hot_topics import Appeal, Cluster, HotTopics, Kind, Signal, Topic
from dispatch.indicators.periods import Period, previous, year_earlier
from dispatch.reports import hot_data, tables
from dispatch.reports.tables import Cell, Report, Table

TOPIC_TABLES = (
    (Kind.CATEGORY, "categories", "类别"),
    (Kind.PLACE, "places", "地点"),
    (Kind.TERM, "terms", "关键词"),
)


class Which(StrEnum):
    """Which period's cases a count stands for."""

    CURRENT = "current"  # 本期
    PREVIOUS = "previous"  # 上期 (环比)
    YEAR_EARLIER = "year_earlier"  # 去年同期 (同比)


class What(StrEnum):
    TOPIC = "topic"  # a category, place or term
    CLUSTER = "cluster"  # repeated appeals
    SIGNAL = "signal"  # a risk signal's busiest span


@dataclass(frozen=True)
class Target:
    """What a count on the page counts, so that its link can name it and the drill-down
    find its cases again: a topic (kind category, place or term) in one of the three
    periods, a cluster or a risk signal (kind place, subject or title), by key."""

    what: What
    kind: Kind
    key: str
    which: Which = Which.CURRENT


Link = Callable[[Target], str]


@dataclass(frozen=True)
class Hot:
    """The page's data: the hot topics, the appeals they were found in and the names their
    keys need."""

    topics: HotTopics
    appeals: Mapping[str, Appeal]  # by id: the three periods' appeals
    units: Mapping[str, str]  # unit id -> name
    as_of: dt.datetime
    zone: ZoneInfo

    @property
    def period(self) -> Period:
        return self.topics.period

    def topic_rows(self, kind: Kind, limit: int = hot_topics.TOP) -> list[Topic]:
        """The rising topics first (most cases first), then the others, at most ``limit``."""
        every = {
            Kind.CATEGORY: self.topics.categories,
            Kind.PLACE: self.topics.places,
            Kind.TERM: self.topics.terms,
        }[kind]
        return [*(t for t in every if t.rising), *(t for t in every if not t.rising)][:limit]

    def label(self, cluster: Cluster) -> str:
        """A cluster's name as people read it."""
        first = cluster.appeals[0]
        if cluster.kind is Kind.SUBJECT:
            if first.complained_unit_id:
                return self.units.get(first.complained_unit_id, first.complained_unit_id)
            return f"{first.subject_unit.strip()} {first.subject_window.strip()}".strip()
        if cluster.kind is Kind.TITLE:
            return first.title.strip()
        return cluster.key

    def cases_of(self, target: Target) -> tuple[str, ...]:
        """The ids behind a count (``LookupError`` when the page shows no such count)."""
        if target.what is What.TOPIC:
            every = {
                Kind.CATEGORY: self.topics.categories,
                Kind.PLACE: self.topics.places,
                Kind.TERM: self.topics.terms,
            }.get(target.kind, ())
            for topic in every:
                if topic.key == target.key:
                    return {
                        Which.CURRENT: topic.figure,
                        Which.PREVIOUS: topic.month_on_month.earlier,
                        Which.YEAR_EARLIER: topic.year_on_year.earlier,
                    }[target.which].ids
        elif target.what is What.CLUSTER:
            for cluster in self.topics.clusters:
                if (cluster.kind, cluster.key) == (target.kind, target.key):
                    return cluster.ids
        else:
            for signal in self.topics.signals:
                if (signal.cluster.kind, signal.cluster.key) == (target.kind, target.key):
                    return signal.ids
        raise LookupError(f"no {target.what} {target.kind} {target.key!r} in the period")


@dataclass
class Cache:
    """Periods computed before, kept in memory with the newest history entry's id at the
    time: every change to a case (its registration, dispatch, a correction…) writes one
    (``dispatch.cases.lifecycle``), so a repeat view costs one indexed query and any change
    shows at once. The least recently used periods go first beyond ``max_periods``.

    One per process, made where the application is wired, shared by the page and its JSON
    twin; safe from several threads (a period computed twice at once is kept once)."""

    max_periods: int = 24
    _kept: OrderedDict[Period, tuple[object, HotTopics, dict[str, Appeal]]] = field(
        default_factory=OrderedDict
    )
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, session: Session, period: Period) -> tuple[HotTopics, dict[str, Appeal]]:
        version = session.scalar(select(func.max(CaseEvent.id)))
        with self._lock:
            kept = self._kept.get(period)
            if kept is not None and kept[0] == version:
                self._kept.move_to_end(period)
                return kept[1], kept[2]
        found, by_id = compute(session, period)
        with self._lock:
            self._kept[period] = (version, found, by_id)
            self._kept.move_to_end(period)
            while len(self._kept) > self.max_periods:
                self._kept.popitem(last=False)
        return found, by_id


def compute(session: Session, period: Period) -> tuple[HotTopics, dict[str, Appeal]]:
    """The period's hot topics from the database, and the appeals they were found in."""
    rows = hot_data.appeals_around(session, period)
    return hot_topics.hot_topics(rows, period), {appeal.id: appeal for appeal in rows}


def hot(session: Session, period: Period, now: dt.datetime, cache: Cache | None = None) -> Hot:
    """The page's use case: the period's hot topics (as of ``now``), from ``cache`` when
    nothing changed since it computed them."""
    found, by_id = compute(session, period) if cache is None else cache.get(session, period)
    units: dict[str, str] = dict(session.execute(select(Unit.id, Unit.name)).all())
    return Hot(found, by_id, units, now, period.zone)


# -- the report ----------------------------------------------------------------------------------


def growth_text(change: Change) -> str:
    """+50.0%, -20.0%, 新出现 (none before, some now), or — (nothing to compare)."""
    now, then = change.current.value or 0.0, change.earlier.value or 0.0
    if then == 0:
        return "新出现" if now > 0 else "—"
    growth = change.growth or 0.0
    return f"{growth * 100:+.1f}%"


def trend_text(topic: Topic) -> str:
    found = []
    if topic.rising_month_on_month:
        found.append("环比上升")
    if topic.rising_year_on_year:
        found.append("同比上升")
    return "、".join(found) or "—"


def _count(ids: Sequence[str], target: Target, link: Link, title: str = "") -> Cell:
    return Cell(str(len(ids)), len(ids), link(target) if ids else "", title)


def _growth(change: Change) -> Cell:
    growth = change.growth
    return Cell(growth_text(change), growth, percent=growth is not None)


def _topic_table(data: Hot, kind: Kind, key: str, name: str, link: Link) -> Table:
    definition = {
        Kind.CATEGORY: hot_topics.CATEGORY,
        Kind.PLACE: hot_topics.PLACE,
        Kind.TERM: hot_topics.TERM,
    }[kind]
    formula = f"{definition.name}＝{definition.formula}"

    def target(topic: Topic, which: Which) -> Target:
        return Target(What.TOPIC, kind, topic.key, which)

    rows = tuple(
        (
            tables.text(t.key),
            _count(t.figure.ids, target(t, Which.CURRENT), link, formula),
            _count(t.month_on_month.earlier.ids, target(t, Which.PREVIOUS), link),
            _growth(t.month_on_month),
            _count(t.year_on_year.earlier.ids, target(t, Which.YEAR_EARLIER), link),
            _growth(t.year_on_year),
            tables.text(trend_text(t)),
        )
        for t in data.topic_rows(kind)
    )
    return Table(
        key,
        f"{name}（上升的在前）",
        (name, "本期件数", "上期件数", "环比增长", "去年同期件数", "同比增长", "趋势"),
        rows,
        (formula,),
    )


def _when(moment: dt.datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def report(data: Hot, link: Link) -> Report:
    """The page's tables; ``link`` names the list of the cases behind a count."""
    zone = data.zone
    period = data.period
    topics = [_topic_table(data, kind, key, name, link) for kind, key, name in TOPIC_TABLES]
    clusters = Table(
        "clusters",
        "重复诉求（同一地点、同一对象或相近标题）",
        ("类型", "地点/对象/标题", "件数", "不同来电号码", "首件时间", "末件时间"),
        tuple(
            (
                tables.text(hot_topics.KIND_LABELS[c.kind]),
                tables.text(data.label(c)),
                _count(c.ids, Target(What.CLUSTER, c.kind, c.key), link),
                tables.number(c.callers),
                tables.text(_when(c.first, zone)),
                tables.text(_when(c.last, zone)),
            )
            for c in data.topics.clusters[: hot_topics.TOP]
        ),
        (f"{hot_topics.CLUSTER.name}＝{hot_topics.CLUSTER.formula}",),
    )
    signals = Table(
        "signals",
        "风险苗头（短时间内多人反映同一事项）",
        ("类型", "地点/对象/标题", "不同来电号码", "件数", "首件时间", "末件时间"),
        tuple(_signal_row(data, s, link) for s in data.topics.signals),
        (f"{hot_topics.RISK.name}＝{hot_topics.RISK.formula}",),
    )
    notes = (
        f"本期：{period.label}；上期（环比）：{previous(period).label}；"
        f"去年同期（同比）：{year_earlier(period).label}",
        f"本期诉求共 {data.topics.appeals} 件（含并单件）；截至 {_when(data.as_of, zone)}",
    )
    return Report("热点诉求", period.label, (*topics, signals, clusters), notes)


def _signal_row(data: Hot, signal: Signal, link: Link) -> tuple[Cell, ...]:
    return (
        tables.text(hot_topics.KIND_LABELS[signal.cluster.kind]),
        tables.text(data.label(signal.cluster)),
        tables.number(signal.callers),
        _count(signal.ids, Target(What.SIGNAL, signal.cluster.kind, signal.cluster.key), link),
        tables.text(_when(signal.first, data.zone)),
        tables.text(_when(signal.last, data.zone)),
    )
