"""How fast the reports read and compute over a year of a centre's work (issue 17): 300,000
calls, 100,000 cases, 40 units (``bench.report_data``), on SQLite and on a real PostgreSQL
server (the tests' server, ``tests.conftest.running_postgres``).

Timed, each over ``--repeat`` runs (p50, p95, max, on the wall clock and in CPU: this
process's and, on PostgreSQL, the server process's):

- ``reader.load`` for the last day, ISO week, month, quarter and 365 days before the end;
- the dashboard of the last month: its three windows read (the month, 环比 and 同比) and
  every indicator computed for the month with its 环比 and 同比, and the per-unit
  breakdown (40 units) of the handling and feedback figures; the computation alone too;
- the same through the reader's cache (``reader.cached``): the first view (cold) and the
  repeat views (warm), and a repeat view after a write.

Peak memory: tracemalloc's peak over one dashboard (read and computed) and over a year's
load, and the process's ru_maxrss at the end. The load average is printed with the figures:
on a shared machine the wall clock includes waiting for a core. The goal is p95 <= 300 ms.

    .venv/bin/python -m bench.reports [--scale 1] [--database sqlite|postgresql|both]
        [--repeat 20] [--end 2026-12-01T00:00+08:00]
    .venv/bin/python -m bench.reports --existing URL --end ...   # a database built before
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import resource
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from bench.report_data import generate
from core.db import make_engine, make_session_factory
from dispatch.cases.lifecycle import Action
from dispatch.cases.models import CaseEvent
from dispatch.deadlines.policy import DayUnit
from dispatch.deadlines.working_calendar import WorkingCalendar
from dispatch.indicators import (
    periods,
)
from dispatch.indicators.periods import Period, PeriodKind
from dispatch.reports import bulletins, overview, ranking, reader, tables, xlsx
from dispatch.reports.overview import Basis, Names
from hotline import migrate
from tests.conftest import new_postgres_database, running_postgres

ZONE = ZoneInfo("Asia/Shanghai")
CALENDAR = WorkingCalendar(warn_unknown_years=False)


# -- what is timed -------------------------------------------------------------------------


def windows_before(end: dt.datetime) -> dict[str, Period]:
    """The day, ISO week, month and quarter that ended last before ``end`` and the 365
    days up to its local midnight."""
    today = end.astimezone(ZONE).date()
    yesterday = today - dt.timedelta(days=1)
    week = periods.previous(periods.week(today, ZONE))
    month = periods.previous(periods.month(today.year, today.month, ZONE))
    quarter = periods.previous(periods.period_of(PeriodKind.QUARTER, today, ZONE))
    return {
        "day": periods.day(yesterday, ZONE),
        "week": week,
        "month": month,
        "quarter": quarter,
        "365 days": periods.custom(today - dt.timedelta(days=365), yesterday, ZONE),
    }


def three_windows(period: Period) -> list[Period]:
    return [period, periods.previous(period), periods.year_earlier(period)]


Loader = Callable[[Session, Period, dt.datetime], reader.Data]


def plain_load(session: Session, period: Period, as_of: dt.datetime) -> reader.Data:
    return reader.load(session, period.start, period.end, as_of)


def loader(period: Period, as_of: dt.datetime) -> Callable[[Session], reader.Data]:
    return lambda session: plain_load(session, period, as_of)


# -- timing ----------------------------------------------------------------------------------


@dataclass
class Timing:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


def backend_cpu_ns(pid: int | None) -> int:
    """CPU time of the PostgreSQL server process serving the session (Linux schedstat)."""
    if pid is None:
        return 0
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


def timed(
    sessions: sessionmaker[Session], work: Callable[[Session], object], repeat: int
) -> Timing:
    timing = Timing()
    for _ in range(repeat):
        with sessions() as session:
            postgresql = session.get_bind().dialect.name == "postgresql"
            pid = session.scalar(text("SELECT pg_backend_pid()")) if postgresql else None
            gc.collect()
            started, cpu, backend = time.perf_counter(), time.thread_time(), backend_cpu_ns(pid)
            work(session)
            timing.wall.append((time.perf_counter() - started) * 1000)
            used = (time.thread_time() - cpu) * 1000 + (backend_cpu_ns(pid) - backend) / 1e6
            timing.cpu.append(used)
    return timing


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def line(name: str, what: str, timing: Timing) -> None:
    wall, cpu = timing.wall, timing.cpu
    print(
        f"{name:10} {what:44} n={len(wall):3d}  wall p50 {statistics.median(wall):7.1f} "
        f"p95 {percentile(wall, 0.95):7.1f} max {max(wall):7.1f} ms  cpu p50 "
        f"{statistics.median(cpu):7.1f} p95 {percentile(cpu, 0.95):7.1f} ms  "
        f"(load {os.getloadavg()[0]:.1f})",
        flush=True,
    )


def peak_mb(work: Callable[[], object]) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def sizes(sessions: sessionmaker[Session], named: dict[str, Period], end: dt.datetime) -> None:
    with sessions() as session:
        for name, period in named.items():
            data = plain_load(session, period, end)
            events = sum(len(f.events) for f in data.files)
            print(
                f"           {name:9} window: {len(data.calls):7d} calls, "
                f"{len(data.callbacks):6d} callbacks, {len(data.files):7d} cases "
                f"({events} history entries)"
            )


def page_load(cache: reader.Cache | None) -> Loader:
    """A period's rows as the report pages read them (as of now: past the period's end,
    the later moment too), through the cache or not."""

    def load(session: Session, period: Period, as_of: dt.datetime) -> reader.Data:
        later = as_of if as_of > period.end else None
        if cache is None:
            return reader.load(session, period.start, period.end, later)
        return cache.load(session, period.start, period.end, later)

    return load


Page = Callable[[Session, Period, dt.datetime, Loader], object]


def viewed(
    page: Page, period: Period, as_of: dt.datetime, load: Loader
) -> Callable[[Session], object]:
    return lambda session: page(session, period, as_of, load)


def overview_page(
    session: Session, period: Period, as_of: dt.datetime, loader: Loader
) -> tables.Report:
    """The dashboard as ``api.report_pages.overview_of`` makes it: three windows read, the
    report built."""
    current, before, last_year = (loader(session, p, as_of) for p in three_windows(period))
    return overview.build(
        current,
        before,
        last_year,
        period,
        Basis(as_of, CALENDAR, DayUnit.WORKING),
        Names(current.units, current.operators),
    )


def remembered_overview(cache: reader.Cache) -> Page:
    """The dashboard with its report kept by ``Cache.remember`` under its windows' data
    versions, the period and the local date of as_of: a repeat view with nothing written
    since costs the three windows' version checks."""

    def page(session: Session, period: Period, as_of: dt.datetime, loader: Loader) -> object:
        current, before, last_year = (loader(session, p, as_of) for p in three_windows(period))
        key = (
            "overview",
            period,
            as_of.astimezone(ZONE).date(),
            current.version,
            before.version,
            last_year.version,
        )
        return cache.remember(
            key,
            lambda: overview.build(
                current,
                before,
                last_year,
                period,
                Basis(as_of, CALENDAR, DayUnit.WORKING),
                Names(current.units, current.operators),
            ),
        )

    return page


def ranking_page(
    session: Session, period: Period, as_of: dt.datetime, loader: Loader
) -> tables.Report:
    """部门办理排名 as ``api.report_pages.ranking_of`` makes it."""
    data = loader(session, period, as_of)
    limits = ranking.Thresholds()
    graded = ranking.assess(
        data, period, Basis(as_of, CALENDAR, DayUnit.WORKING), data.units, limits
    )
    return ranking.report(graded, period, limits)


def bench(name: str, url: str, end: dt.datetime, repeat: int) -> None:
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    named = windows_before(end)
    month = named["month"]
    sizes(sessions, named, end)
    for what, period in named.items():
        times = repeat if period.days <= 31 else max(3, repeat // 4)
        with sessions() as session:
            plain_load(session, period, end)  # warm the database's caches once
        line(name, f"load {what}", timed(sessions, loader(period, end), times))
    cold, cache = page_load(None), reader.Cache()
    pages: list[tuple[str, Page]] = [
        ("dashboard (统计总览) of a month", overview_page),
        ("部门办理排名 of a month", ranking_page),
    ]
    warm = page_load(cache)
    for what, page in pages:
        line(name, f"{what}, read cold", timed(sessions, viewed(page, month, end, cold), repeat))
        with sessions() as session:
            page(session, month, end, warm)  # the first view fills the cache
        line(name, f"{what}, repeat view", timed(sessions, viewed(page, month, end, warm), repeat))
    remembered = remembered_overview(cache)
    with sessions() as session:
        remembered(session, month, end, warm)
    line(
        name,
        "dashboard, repeat view, report remembered",
        timed(sessions, viewed(remembered, month, end, warm), repeat),
    )
    with sessions() as session:
        current, before, last_year = (plain_load(session, p, end) for p in three_windows(month))
    compute = Timing()
    for _ in range(repeat):
        gc.collect()
        started, cpu = time.perf_counter(), time.thread_time()
        overview.build(
            current,
            before,
            last_year,
            month,
            Basis(end, CALENDAR, DayUnit.WORKING),
            Names(current.units, current.operators),
        )
        compute.wall.append((time.perf_counter() - started) * 1000)
        compute.cpu.append((time.thread_time() - cpu) * 1000)
    line(name, "dashboard's report built alone (rows read)", compute)
    line(
        name,
        "cache: the version check alone",
        timed(sessions, lambda s: reader.data_version(s, [(month.start, month.end)]), repeat),
    )
    written = Timing()
    for _ in range(max(3, repeat // 4)):
        write_one(sessions, end)
        step = timed(sessions, lambda s: overview_page(s, month, end, page_load(cache)), 1)
        written.wall += step.wall
        written.cpu += step.cpu
    line(name, "dashboard after a write (its windows read again)", written)
    maker = bulletins.Maker("热线中心", ranking.Thresholds(), ZONE, lambda: CALENDAR)
    with sessions() as session:
        gc.collect()
        started, cpu = time.perf_counter(), time.thread_time()
        made = bulletins.compute(session, maker, month, end)
        made_in = ((time.perf_counter() - started) * 1000, (time.thread_time() - cpu) * 1000)
    started, cpu = time.perf_counter(), time.thread_time()
    book = xlsx.workbook(made)
    print(
        f"{name:10} monthly bulletin: computed in {made_in[0]:.0f} ms ({made_in[1]:.0f} ms CPU), "
        f".xlsx in {(time.perf_counter() - started) * 1000:.0f} ms "
        f"({(time.thread_time() - cpu) * 1000:.0f} ms CPU, {len(book) / 1024:.0f} KiB)",
        flush=True,
    )
    with sessions() as session:
        memory = peak_mb(lambda: overview_page(session, month, end, cold))
        year = peak_mb(lambda: plain_load(session, named["365 days"], end))
    print(f"{name:10} peak (tracemalloc): dashboard {memory:.0f} MB, 365 days' load {year:.0f} MB")
    engine.dispose()


def write_one(sessions: sessionmaker[Session], end: dt.datetime) -> None:
    """A supervisor's step on a case: one new history entry (what every step writes)."""
    with sessions() as session, session.begin():
        row = session.execute(
            select(CaseEvent.case_id, CaseEvent.to_status).order_by(CaseEvent.id.desc()).limit(1)
        ).one()
        session.execute(
            insert(CaseEvent).values(
                case_id=row[0],
                at=end - dt.timedelta(minutes=1),
                actor="sup1",
                action=Action.REMIND.value,
                from_status=row[1],
                to_status=row[1],
                note="bench",
            )
        )


def build(name: str, url: str, end: dt.datetime, scale: float) -> None:
    migrate.upgrade(url)
    engine = make_engine(url)
    summary = generate(make_session_factory(engine), end, scale, quiet=True)
    print(
        f"{name}: {summary.calls} calls, {summary.cases} cases, {summary.rows} rows "
        f"built in {summary.seconds:.0f} s",
        flush=True,
    )
    if name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--end", default="", help="ISO instant the year ends at (default now)")
    parser.add_argument("--existing", default="", help="a database built before (its URL)")
    args = parser.parse_args()
    end = dt.datetime.fromisoformat(args.end) if args.end else dt.datetime.now(dt.UTC)
    if end.tzinfo is None:
        parser.error("--end needs a time zone (e.g. +08:00)")
    end = end.astimezone(dt.UTC)
    print(f"year up to {end.astimezone(ZONE):%Y-%m-%d %H:%M} (Beijing), {os.cpu_count()} cores")
    if args.existing:
        name = "postgresql" if args.existing.startswith("postgresql") else "sqlite"
        bench(name, args.existing, end, args.repeat)
    else:
        folder = Path(tempfile.mkdtemp(prefix="bench-reports-"))
        print(f"databases in {folder} (SQLite's file stays for --existing)")
        if args.database in ("sqlite", "both"):
            url = f"sqlite:///{folder / 'reports.db'}"
            build("sqlite", url, end, args.scale)
            bench("sqlite", url, end, args.repeat)
        if args.database in ("postgresql", "both"):
            with running_postgres() as server:
                url = new_postgres_database(server)
                build("postgresql", url, end, args.scale)
                bench("postgresql", url, end, args.repeat)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (ru_maxrss): {peak:.0f} MB")


if __name__ == "__main__":
    main()
