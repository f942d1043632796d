"""Two nodes (Asterisk + ivr) on one database, SQLite and real PostgreSQL: each call row
carries its node, and a node's reconciliation after a restart touches only its own calls,
its own spool and its own CDR — never another node's live calls or recordings."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.db import transaction
from hotline import ivr_service
from ivr import call_store
from ivr import events as ev
from ivr.call_state import CallState
from ivr.call_tracker import LOST_REASON, CallTracker, TrackerPaths
from ivr.models import Call
from recordings import lookup
from tests.builders import tone_wav

T0 = dt.datetime(2026, 11, 20, 1, 0, tzinfo=dt.UTC)
NOW = T0 + dt.timedelta(hours=1)


def node_tracker(sessions: sessionmaker[Session], root: Path, node: str) -> CallTracker:
    folder = root / node
    paths = TrackerPaths(folder / "spool", folder / "Master.csv", "hotline-in", "12345", node)
    return ivr_service.build_tracker(
        sessions, paths, folder / "store", lambda: NOW, ingest_timeout=2
    )


def stored(sessions: sessionmaker[Session], uid: str) -> Call:
    with sessions() as session:
        call = session.scalar(select(Call).where(Call.asterisk_uniqueid == uid))
        assert call is not None, f"call {uid} is not in the database"
        session.expunge(call)
        return call


def cdr_line(uid: str) -> str:
    return (
        '"","13600000000","12345","hotline-in","""钱七"" <13600000000>","PJSIP/callers-9","",'
        '"Playback","","2026-11-20 01:00:00","2026-11-20 01:00:00","2026-11-20 01:00:07",'
        f'7,7,"ANSWERED","DOCUMENTATION","{uid}",""\n'
    )


def test_calls_carry_their_node(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    a = node_tracker(sessions, tmp_path, "a")
    started = ev.CallStarted("a-1.1", T0, "a-1.1", "PJSIP/callers-1", "137", "", "12345")
    asyncio.run(a.handle(started))
    assert stored(sessions, "a-1.1").node == "a"
    with transaction(sessions) as session:  # the single machine's calls: node ""
        call_store.save_state(session, CallState("1.1", started_at=T0))
        # A later save of a's call from elsewhere does not move it.
        call_store.save_state(session, CallState("a-1.1", started_at=T0, caller_number="138"))
    assert stored(sessions, "1.1").node == ""
    assert stored(sessions, "a-1.1").node == "a"


def test_a_restarting_node_reconciles_only_its_own_calls_spool_and_cdr(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    a = node_tracker(sessions, tmp_path, "a")
    b = node_tracker(sessions, tmp_path, "b")
    # Node b: a live call recording into b's spool, and an ended call whose recording b has
    # not stored yet.
    b_live = tone_wav(tmp_path / "b" / "spool" / "2026-11-20" / "b-1.1.wav")
    b_ended = tone_wav(tmp_path / "b" / "spool" / "2026-11-20" / "b-1.2.wav")
    with transaction(sessions) as session:
        call_store.save_state(
            session, CallState("b-1.1", started_at=T0, recording_path=str(b_live)), "b"
        )
        call_store.save_state(
            session,
            CallState(
                "b-1.2",
                started_at=T0,
                recording_path=str(b_ended),
                ended_at=T0 + dt.timedelta(seconds=30),
            ),
            "b",
        )
        # Node a: a call that was live when a's ivr died and has gone since.
        call_store.save_state(session, CallState("a-1.1", started_at=T0), "a")
    # In a's spool: a recording nobody knows (a's own), and a file named after b's call.
    tone_wav(tmp_path / "a" / "spool" / "2026-11-20" / "a-1.3.wav")
    misplaced = tone_wav(tmp_path / "a" / "spool" / "2026-11-20" / "b-1.1.wav")
    # a's CDR: a call that began and ended while a's ivr was away.
    (tmp_path / "a" / "Master.csv").write_text(cdr_line("a-1.4"), encoding="utf-8")

    asyncio.run(a.reconcile([]))  # Asterisk a has no live calls
    asyncio.run(a.reconcile([]))  # safe twice

    lost = stored(sessions, "a-1.1")
    assert (lost.outcome, lost.failure_reason) == ("failed", LOST_REASON)
    adopted = stored(sessions, "a-1.3")
    assert adopted.node == "a" and adopted.outcome == "failed"
    with sessions() as session:
        assert lookup.of_call(session, adopted.id) is not None, "a's orphan is stored"
    assert stored(sessions, "a-1.4").node == "a", "a's CDR-only call is a's"
    # b's calls: untouched by a.
    live = stored(sessions, "b-1.1")
    assert live.ended_at is None and live.outcome is None and live.spool_path == str(b_live)
    ended = stored(sessions, "b-1.2")
    with sessions() as session:
        assert lookup.of_call(session, ended.id) is None, "b's recording is b's to store"
    assert b_live.exists() and b_ended.exists() and misplaced.exists()
    assert not a.active

    # Node b restarts too: its live call is taken up, its ended call's recording stored.
    asyncio.run(b.reconcile(["b-1.1"]))
    assert stored(sessions, "b-1.1").ended_at is None
    assert "b-1.1" in b.active
    with sessions() as session:
        assert lookup.of_call(session, ended.id) is not None
    assert not b_ended.exists()
    assert stored(sessions, "a-1.1").node == "a", "b never adopted a's calls"
    with sessions() as session:
        rows = session.execute(select(Call.asterisk_uniqueid, Call.node)).all()
    nodes = dict(rows)
    assert nodes == {"a-1.1": "a", "a-1.3": "a", "a-1.4": "a", "b-1.1": "b", "b-1.2": "b"}
