"""How fast search is over a large centre: 200,000 cases (and a call with its transcript for
each phone case) on SQLite and on a real PostgreSQL server, searched as the console does
(``dispatch.search.case_search`` and ``custody.call_search``, the count and the page's rows
included). Prints p50/p95 per kind of search and database; the target is p95 <= 100 ms.

The text is real citizen messages (../shared/data/complaints), sentences of two messages
mixed per case so that the 5,600 messages make 200,000 different cases; statuses follow a
case's age (older ones are done but for a few), deadlines run for the unfinished ones.
PostgreSQL is the tests' server (``tests.conftest.running_postgres``). Each search is timed
on the wall clock and by the CPU it took (this process's and the PostgreSQL server
process's, from /proc): on a machine shared with other work the first includes waiting for
a core, so the load average is printed too.

    .venv/bin/python -m bench.search [--cases 200000] [--database sqlite|postgresql|both]
        [--repeat 3]
    .venv/bin/python -m bench.search --into URL      # build into this database, keep it
    .venv/bin/python -m bench.search --existing URL  # search a database built before
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import random
import re
import resource
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import insert, text
from sqlalchemy.orm import Session, sessionmaker

from accounts.models import Role, User
from asr.models import TranscriptRecord
from core.db import make_engine, make_session_factory, transaction
from core.ids import new_id
from core.settings import PROJECT_ROOT, Settings
from custody import call_search
from custody.models import ReplayReason
from custody.requester import Requester
from dispatch.cases.handling_models import Assignment, CaseDeadline, Unit
from dispatch.cases.models import Case
from dispatch.search import case_search, filters
from hotline import migrate
from ivr.models import Call
from recordings.models import Recording
from tests.conftest import new_postgres_database, running_postgres

COMPLAINTS = PROJECT_ROOT.parent / "shared" / "data" / "complaints"
ZONE = ZoneInfo("Asia/Shanghai")
SENTENCE_END = re.compile(r"(?<=[。！？!?；;])")
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"
    "余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯"
    "龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国建华玉兰志强海燕红梅"
# A case's status by its age: the last two months' cases are still at every step; older
# ones are done but for a few left behind (one in a hundred).
RECENT = [
    ("closed", 30),
    ("in_progress", 20),
    ("signed", 6),
    ("dispatched", 6),
    ("replied", 6),
    ("reviewed", 4),
    ("accepted", 8),
    ("registered", 6),
    ("rejected", 6),
    ("merged", 5),
    ("withdrawn", 3),
]
ENDED = [("closed", 70), ("archived", 20), ("rejected", 5), ("merged", 3), ("withdrawn", 2)]
LEFT_BEHIND = [("in_progress", 6), ("signed", 2), ("replied", 1), ("accepted", 1)]
AT_UNIT = {"dispatched", "signed", "in_progress", "replied", "reviewed", "closed", "archived"}
UNFINISHED = {
    "dispatched",
    "signed",
    "in_progress",
    "replied",
    "reviewed",
    "accepted",
    "registered",
}
# Words people search for: two-character words (most Chinese words), longer ones, places.
WORDS = [
    "噪音",
    "物业",
    "停车",
    "社保",
    "拆迁",
    "工资",
    "学校",
    "垃圾",
    "油烟",
    "公积金",
    "广场舞",
    "幼儿园",
    "出租车",
    "医保报销",
    "违章建筑",
    "小区 物业",
    "拖欠 工资",
]
OPERATORS = ["1001", "1002", "1003", "1004", "1005"]


@dataclass
class World:
    numbers: list[str]
    phones: list[str]
    unit_ids: list[str]
    categories: list[str]
    supervisor_id: str


def messages() -> list[tuple[str, str]]:
    with open(COMPLAINTS / "train.csv", encoding="utf-8", newline="") as handle:
        return [
            (row["text"], row["label"])
            for row in csv.DictReader(handle)
            if len(row["text"]) >= 20 and row["label"]
        ]


def sentences(message: str) -> list[str]:
    return [s for s in SENTENCE_END.split(message) if s.strip()]


def weighted(rng: random.Random, choices: list[tuple[str, int]]) -> str:
    total = sum(w for _, w in choices)
    pick = rng.uniform(0, total)
    for status, weight in choices:
        pick -= weight
        if pick <= 0:
            return status
    return choices[0][0]


def status_at(rng: random.Random, age: dt.timedelta) -> str:
    if age < dt.timedelta(days=60):
        return weighted(rng, RECENT)
    return weighted(rng, LEFT_BEHIND if rng.random() < 0.01 else ENDED)


def build(sessions: sessionmaker[Session], count: int, now: dt.datetime) -> World:
    """``count`` cases over the last two years; a call, recording and transcript for each
    phone case; units, assignments and running deadlines (some past) for dispatched ones."""
    rng = random.Random(16)
    corpus = messages()
    with transaction(sessions) as session:
        unit_ids = []
        for index in range(30):
            name = f"第{index + 1}承办单位"
            unit = Unit(id=new_id(), name=name, kind="department", created_at=now)
            session.add(unit)
            unit_ids.append(unit.id)
        supervisor = User(
            id=new_id(),
            username="sup-bench",
            display_name="督查",
            role=Role.SUPERVISOR.value,
            password_hash="-",
            created_at=now,
        )
        session.add(supervisor)
    numbers: list[str] = []
    phones: list[str] = []
    categories = sorted({label for _, label in corpus})
    batch = 5000
    for start in range(0, count, batch):
        cases, calls, recordings, transcripts, assignments, deadlines = [], [], [], [], [], []
        for index in range(start, min(count, start + batch)):
            body, label = corpus[rng.randrange(len(corpus))]
            other, _ = corpus[rng.randrange(len(corpus))]
            parts = sentences(body)[: rng.randint(1, 4)] + sentences(other)[: rng.randint(0, 1)]
            content = "".join(parts)[:600] or body[:600]
            registered = now - dt.timedelta(seconds=rng.uniform(0, 730 * 86400))
            day = registered.astimezone(ZONE).date()
            number = f"TS{day:%Y%m%d}{index:06d}"
            phone = f"1{rng.choice('3578')}{rng.randrange(10**9):09d}"
            status = status_at(rng, now - registered)
            case_id = new_id()
            phone_case = rng.random() < 0.7
            call_id = new_id() if phone_case else None
            cases.append(
                {
                    "id": case_id,
                    "number": number,
                    "status": status,
                    "received_at": registered,
                    "registered_at": registered,
                    "registered_by": f"op{rng.randint(1, 5)}",
                    "channel": "phone" if phone_case else rng.choice(["web", "letter", "walk_in"]),
                    "case_type": rng.choice(["complaint", "consultation", "help", "suggestion"]),
                    "complainant_name": rng.choice(SURNAMES) + rng.choice(GIVEN),
                    "complainant_phone": phone,
                    "complainant_address": f"A市A{rng.randint(1, 9)}区{rng.randint(1, 300)}号",
                    "title": sentences(body)[0][:40],
                    "content": content,
                    "request": "请尽快核实处理",
                    "call_id": call_id,
                    "category": label if status in AT_UNIT else "",
                }
            )
            numbers.append(number)
            phones.append(phone)
            if status in AT_UNIT:
                unit_id = rng.choice(unit_ids)
                assignments.append(
                    {
                        "id": new_id(),
                        "case_id": case_id,
                        "unit_id": unit_id,
                        "role": "lead",
                        "mode": "transfer",
                        "active": True,
                        "dispatched_at": registered,
                        "dispatched_by": "sup-bench",
                    }
                )
                deadlines.append(
                    {
                        "case_id": case_id,
                        "stage": "handling",
                        "unit_id": unit_id,
                        "started_on": day,
                        "due_on": day + dt.timedelta(days=15),
                        "provisional": False,
                        "cancelled": False,
                        "met_at": None if status in UNFINISHED else registered,
                    }
                )
            elif status == "accepted":  # 转办 within a working day
                deadlines.append(
                    {
                        "case_id": case_id,
                        "stage": "dispatch",
                        "unit_id": None,
                        "started_on": day,
                        "due_on": day + dt.timedelta(days=1),
                        "provisional": False,
                        "cancelled": False,
                        "met_at": None,
                    }
                )
            if call_id is not None:
                recording_id = new_id()
                sha = new_id() + new_id()
                started = registered - dt.timedelta(minutes=5)
                calls.append(
                    {
                        "id": call_id,
                        "asterisk_uniqueid": f"{index}.1",
                        "caller_number": phone,
                        "started_at": started,
                        "answered_at": started + dt.timedelta(seconds=20),
                        "ended_at": started + dt.timedelta(minutes=4),
                        "outcome": "answered",
                        "operator": rng.choice(OPERATORS),
                    }
                )
                recordings.append(
                    {
                        "id": recording_id,
                        "call_id": call_id,
                        "path": f"{day:%Y/%m/%d}/{recording_id}.wav",
                        "sha256": sha,
                        "size_bytes": 3_840_000,
                        "duration_seconds": 240.0,
                        "sample_rate": 8000,
                        "channels": 2,
                        "status": "stored",
                        "created_at": started + dt.timedelta(minutes=4),
                    }
                )
                spoken = f"您好，这里是市民热线。{content}好的，我们会记录下来转交相关部门处理。"
                transcripts.append(
                    {
                        "id": new_id(),
                        "recording_sha256": sha,
                        "model": "whisper-base",
                        "engine": "whisper",
                        "status": "ok",
                        "reason": "",
                        "resampling": "none",
                        "audio_seconds": 240.0,
                        "decode_seconds": 30.0,
                        "channels": ["caller", "operator"],
                        "segments": [],
                        "text": spoken,
                        "clean_text": spoken,
                        "created_at": started + dt.timedelta(minutes=5),
                    }
                )
        with transaction(sessions) as session:
            if calls:
                session.execute(insert(Call), calls)
                session.execute(insert(Recording), recordings)
                session.execute(insert(TranscriptRecord), transcripts)
            session.execute(insert(Case), cases)
            if assignments:
                session.execute(insert(Assignment), assignments)
            if deadlines:
                session.execute(insert(CaseDeadline), deadlines)
        print(f"  {min(count, start + batch)} cases", flush=True)
    with transaction(sessions) as session:
        reasoned = rng.sample(range(count), 50)
        ids = session.scalars(text("SELECT id FROM cases ORDER BY number")).all()
        for index in reasoned:
            session.add(
                ReplayReason(
                    id=new_id(),
                    case_id=ids[index],
                    user_id=supervisor.id,
                    username="sup-bench",
                    reason="核查",
                    given_at=now,
                    expires_at=now + dt.timedelta(hours=8),
                )
            )
    return World(numbers, phones, unit_ids, categories, supervisor.id)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def typed_badly(number: str, rng: random.Random) -> str:
    """A case number as people type it: lower case, spaces, sometimes full width."""
    spaced = f"{number[:2].lower()} {number[2:10]} {number[10:]}"
    if rng.random() < 0.5:
        return "".join(chr(ord(c) + 0xFEE0) if c != " " else "　" for c in spaced)
    return spaced


def searches(world: World, now: dt.datetime) -> Iterator[tuple[str, dict[str, str]]]:
    """(kind, query string) of the searches people run."""
    rng = random.Random(7)
    month_ago = (now - dt.timedelta(days=30)).astimezone(ZONE).date().isoformat()
    for word in WORDS:
        yield "case: a word from content", {"q": word}
    for _ in range(15):
        yield "case: a phone number", {"q": rng.choice(world.phones)}
    for _ in range(15):
        yield "case: a case number", {"q": typed_badly(rng.choice(world.numbers), rng)}
    for _ in range(5):
        yield (
            "case: filters",
            {
                "status": "at_unit",
                "unit": rng.choice(world.unit_ids),
                "from": month_ago,
                "type": "complaint",
            },
        )
        yield "case: filters", {"overdue": "1", "category": rng.choice(world.categories)}
        yield "case: filters", {"status": "unfinished", "channel": "phone", "page": "3"}
    for word in WORDS[:8]:
        yield "case: words and filters", {"q": word, "status": "ended", "type": "complaint"}
    for word in WORDS:
        yield "call: transcript words (operator)", {"q": word}
    for word in WORDS[:8]:
        yield "call: transcript words (supervisor)", {"q": word}


@dataclass
class Timing:
    """A search's wall-clock time and the CPU it took (this process's and, on PostgreSQL,
    the server process's): on a loaded machine the first includes waiting for a core."""

    wall: list[float]
    cpu: list[float]


def backend_cpu_ns(pid: int | None) -> int:
    """CPU time of the PostgreSQL server process serving the session (Linux schedstat)."""
    if pid is None:
        return 0
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


def run(
    sessions: sessionmaker[Session], world: World, now: dt.datetime, repeat: int
) -> dict[str, Timing]:
    today = now.astimezone(ZONE).date()
    operator = Requester(new_id(), "op1", Role.OPERATOR, "1001")
    supervisor = Requester(world.supervisor_id, "sup-bench", Role.SUPERVISOR)
    days = Settings().operator_replay_days
    timings: dict[str, Timing] = {}
    planned = list(searches(world, now))
    with sessions() as session:
        postgresql = session.get_bind().dialect.name == "postgresql"
    for _ in range(repeat):
        for kind, params in planned:
            with sessions() as session:
                pid = session.scalar(text("SELECT pg_backend_pid()")) if postgresql else None
                started, cpu, backend = time.perf_counter(), time.thread_time(), backend_cpu_ns(pid)
                if kind.startswith("call"):
                    who = supervisor if "supervisor" in kind else operator
                    found, paging = call_search.call_filters(params, ZONE)
                    call_search.search(session, found, paging, who, now, days)
                else:
                    wanted, page = filters.case_filters(params, ZONE)
                    case_search.search(session, wanted, page, today)
                wall = (time.perf_counter() - started) * 1000
                used = (time.thread_time() - cpu) * 1000
                used += (backend_cpu_ns(pid) - backend) / 1e6
            timing = timings.setdefault(kind, Timing([], []))
            timing.wall.append(wall)
            timing.cpu.append(used)
    return timings


def report(name: str, timings: dict[str, Timing]) -> None:
    everything = Timing(
        [t for v in timings.values() for t in v.wall], [t for v in timings.values() for t in v.cpu]
    )
    print(f"load average while searching: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)")
    for kind, timing in [*timings.items(), ("all searches", everything)]:
        print(
            f"{name:10} {kind:38} n={len(timing.wall):4d}  wall p50 "
            f"{statistics.median(timing.wall):7.1f} p95 {percentile(timing.wall, 0.95):7.1f} ms"
            f"  cpu p50 {statistics.median(timing.cpu):7.1f} p95 "
            f"{percentile(timing.cpu, 0.95):7.1f} ms"
        )


def existing_world(sessions: sessionmaker[Session]) -> World:
    """The world of a database a previous run built (``--existing``)."""
    with sessions() as session:
        numbers = list(session.scalars(text("SELECT number FROM cases ORDER BY id LIMIT 2000")))
        phones = list(
            session.scalars(text("SELECT complainant_phone FROM cases ORDER BY id LIMIT 2000"))
        )
        units = list(session.scalars(text("SELECT id FROM units")))
        categories = list(
            session.scalars(text("SELECT DISTINCT category FROM cases WHERE category <> ''"))
        )
        supervisor = session.scalar(text("SELECT id FROM users WHERE username = 'sup-bench'"))
    return World(numbers, phones, units, sorted(categories), str(supervisor))


def bench(name: str, url: str, count: int, repeat: int, existing: bool = False) -> None:
    migrate.upgrade(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    now = dt.datetime.now(dt.UTC)
    if existing:
        world = existing_world(sessions)
    else:
        started = time.perf_counter()
        world = build(sessions, count, now)
        print(f"{name}: {count} cases built in {time.perf_counter() - started:.0f} s", flush=True)
    if name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    run(sessions, world, now, 1)  # warm the caches once, as a running server has them
    report(name, run(sessions, world, now, repeat))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=200_000)
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--existing", default="", help="search a database an earlier run built (its URL)"
    )
    parser.add_argument("--into", default="", help="build into this (empty) database and keep it")
    args = parser.parse_args()
    if args.existing or args.into:
        url = args.existing or args.into
        name = "postgresql" if url.startswith("postgresql") else "sqlite"
        bench(name, url, args.cases, args.repeat, existing=bool(args.existing))
        return
    folder = Path(tempfile.mkdtemp(prefix="bench-search-"))
    print(f"databases in {folder} (SQLite's file stays for --existing)")
    if args.database in ("sqlite", "both"):
        bench("sqlite", f"sqlite:///{folder / 'bench.db'}", args.cases, args.repeat)
    if args.database in ("postgresql", "both"):
        with running_postgres() as server:
            bench("postgresql", new_postgres_database(server), args.cases, args.repeat)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory: {peak:.0f} MB")


if __name__ == "__main__":
    main()
