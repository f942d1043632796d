"""Faults in the multi-node hotline (``hotline.cluster``: PostgreSQL, SeaweedFS, two real
Asterisk+ivr nodes, Kamailio, the recogniser, the pool and the API), with real SIPp callers
through Kamailio leaving short messages:

- a node SIGKILLed (its Asterisk and its ivr) in the middle of a burst: the router takes it out
  of rotation within its OPTIONS interval and new calls go to the other node; the calls that
  were on the dead node end ``failed`` with their partial recordings kept, and those are
  stored in the bucket once the node is back; nothing else is lost;
- the object store stopped in the middle of a burst: the recordings wait on the nodes' disks,
  ``hotline recordings verify`` stays clean, and they are stored once it is back; an object
  then altered in the bucket is named by ``verify``.

A table of what happened is printed and written to ``test-artifacts/cluster-fault-table.md``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial

import pytest
from sqlalchemy import select

from asr.models import JobStatus, TranscriptionJob
from core.settings import PROJECT_ROOT, Settings
from core.waiting import wait_for
from hotline import object_store_process
from ivr import prompts
from ivr.call_state import Outcome
from ivr.call_store import is_settled
from ivr.models import Call
from phones.sipp import DialResult
from recordings import manifest
from recordings.models import Recording
from recordings.objects import SHA256_META, S3Store, read_credentials
from recordings.store import sha256_file
from tests.cluster.conftest import Burst, Cluster

pytestmark = pytest.mark.asterisk

WAVE = 6
SPOKEN = 1.5  # seconds a caller at node a has spoken into their message when it is killed
TABLE = PROJECT_ROOT / "test-artifacts" / "cluster-fault-table.md"


@dataclass
class Row:
    fault: str
    placed: int = 0
    settled: int = 0
    per_node: str = ""
    failed: int = 0
    recordings: int = 0
    in_bucket: int = 0
    measured: str = ""
    result: str = "did not finish"

    def line(self) -> str:
        return (
            f"| {self.fault} | {self.placed} | {self.settled} | {self.per_node} | {self.failed} "
            f"| {self.in_bucket}/{self.recordings} | {self.measured} | {self.result} |"
        )


HEADER = (
    "| fault | calls placed | calls settled | per node (outcome) | failed | recordings in the "
    "bucket, hash checked | measured | result |\n|---|---|---|---|---|---|---|---|"
)


@pytest.fixture(scope="module")
def table(request: pytest.FixtureRequest) -> Iterator[list[Row]]:
    rows: list[Row] = []
    yield rows
    TABLE.parent.mkdir(exist_ok=True)
    TABLE.write_text(
        f"Cluster fault test ({dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC): two nodes behind "
        f"Kamailio, real SIPp calls ({WAVE} or a few more in progress at the fault, {WAVE} "
        f"placed after it).\n\n{HEADER}\n" + "".join(row.line() + "\n" for row in rows)
    )
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        print("\n" + TABLE.read_text(), flush=True)  # noqa: T201 (the table is the result)


# --- helpers --------------------------------------------------------------------------------


def node_of(call: Call) -> str:
    """The node that took the call: its row says so; its Asterisk id starts with it too."""
    return call.node or call.asterisk_uniqueid.split("-", 1)[0]


def speak_after(hotline: Cluster) -> float:
    """Seconds a caller waits before speaking: the notice, and a little more."""
    notice = prompts.prompt_path(hotline.node_settings("a").sounds_dir, "notice")
    return prompts.duration_seconds(notice) + 0.3


def in_message(hotline: Cluster, callers: list[str], node: str | None = None) -> list[Call]:
    return [
        call
        for call in hotline.calls(callers)
        if call.message_started_at is not None
        and call.ended_at is None
        and (node is None or node_of(call) == node)
    ]


def logged(hotline: Cluster, callers: list[str]) -> list[Call] | None:
    calls = hotline.calls(callers)
    return calls if len(calls) == len(callers) else None


def settled(hotline: Cluster, callers: list[str]) -> list[Call] | None:
    calls = hotline.calls(callers)
    if len(calls) < len(callers) or not all(is_settled(call) for call in calls):
        return None
    return calls


def recordings_of(hotline: Cluster, callers: list[str]) -> list[tuple[Call, Recording]]:
    with hotline.sessions() as session:
        found = session.execute(
            select(Call, Recording)
            .join(Recording, Recording.call_id == Call.id)
            .where(Call.caller_number.in_(callers))
        ).all()
    return [(call, recording) for call, recording in found]


def bucket(hotline: Cluster) -> S3Store:
    settings = hotline.layout.service_settings("api")
    return S3Store(
        settings.object_store_url,
        settings.object_store_bucket,
        read_credentials(settings.object_store_credentials_file),
    )


def key_of(recording: Recording) -> str:
    return manifest.data_path(manifest.RECORDING, recording.path)


def in_bucket(store: S3Store, recordings: list[Recording]) -> list[Recording]:
    """The recordings whose object is in the bucket with the recording's own hash and size."""
    found = []
    for recording in recordings:
        info = store.stat(key_of(recording))
        if (
            info is not None
            and info.sha256 == recording.sha256
            and info.size == recording.size_bytes
        ):
            found.append(recording)
    return found


def verify(settings: Settings) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PROJECT_ROOT / ".venv/bin/hotline"), "recordings", "verify"],
        env={**os.environ, **settings.to_env()},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def per_node(calls: list[Call]) -> str:
    counts: dict[tuple[str, str], int] = {}
    for call in calls:
        key = (node_of(call), str(call.outcome))
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{node} {outcome} {n}" for (node, outcome), n in sorted(counts.items()))


# --- the faults -----------------------------------------------------------------------------


def test_a_node_killed_during_a_burst(hotline_cluster: Cluster, table: list[Row]) -> None:
    hotline = hotline_cluster
    row = Row("node a SIGKILLed (Asterisk and ivr)")
    table.append(row)
    pause = speak_after(hotline)
    burst = Burst(hotline, "5510", 3 * WAVE)
    first = burst.wave(WAVE, pause)
    # The router spreads the calls by weight; should none of the wave reach node a, a few
    # more callers dial (each goes to a as likely as to b).
    for _ in range(WAVE // 2):
        calls = wait_for(partial(logged, hotline, first), 60, "the wave's calls logged", 0.1)
        if any(node_of(call) == "a" for call in calls):
            break
        first += burst.wave(2, pause)

    # The kill comes while a caller at node a has been speaking into their message for a
    # while: Asterisk writes a recording in blocks of about a second, so one cut sooner may
    # hold no audio at all.
    def speaking_a_while() -> list[Call]:
        since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=SPOKEN)
        return [
            call
            for call in in_message(hotline, first, "a")
            if call.message_started_at is not None and call.message_started_at <= since
        ]

    speaking = wait_for(speaking_a_while, 90, "a caller speaking at node a for a while", 0.05)
    hotline.kill_node("a")
    killed = time.monotonic()
    killed_at = dt.datetime.now(dt.UTC)
    second = burst.wave(WAVE, pause)
    wait_for(lambda: "a" not in hotline.nodes_in_rotation(), 30, "node a out of rotation", 0.05)
    out_after = time.monotonic() - killed
    results = burst.finish()
    interval = hotline.base.sip_router_ping_seconds

    # The calls placed after the kill all went to node b and were taken there.
    late = wait_for(lambda: settled(hotline, second), 120, "the second wave settled", 0.5)
    first_answer = min(call.started_at for call in late) - killed_at
    row.measured = (
        f"node a out of rotation {out_after:.1f} s after the kill (OPTIONS every {interval} s); "
        f"first new call at node b {first_answer.total_seconds():.1f} s after it"
    )
    assert {node_of(call) for call in late} == {"b"}, per_node(late)
    assert all(call.outcome == Outcome.MESSAGE_LEFT for call in late), per_node(late)
    after = [burst.callers.index(caller) for caller in second]
    assert all(isinstance(results[index], DialResult) for index in after), results
    # Out of rotation within the ping interval plus the probe's own time-out (a few seconds).
    assert out_after < 3 * interval + 5

    # Node a back: its calls end failed, their partial recordings kept and stored.
    hotline.up()
    calls = wait_for(lambda: settled(hotline, burst.callers), 120, "every call settled", 0.5)
    row.placed, row.settled, row.per_node = len(burst.callers), len(calls), per_node(calls)
    on_a = [call for call in calls if node_of(call) == "a"]
    assert on_a, "no call of the first wave was at node a"
    assert all(call.outcome == Outcome.FAILED and call.failure_reason for call in on_a), per_node(
        on_a
    )
    assert all(call.outcome == Outcome.MESSAGE_LEFT for call in calls if node_of(call) == "b"), (
        per_node(calls)
    )
    begun = {call.id for call in calls if call.recording_started_at is not None}

    def ingested() -> tuple[dict[str, Recording], list[Call]] | None:
        """Every recording begun is stored, or its call says why there is none."""
        stored = {call.id: recording for call, recording in recordings_of(hotline, burst.callers)}
        now = [call for call in hotline.calls(burst.callers) if call.id in begun]
        done = all(call.id in stored or call.recording_problem for call in now)
        return (stored, [call for call in now if call.id not in stored]) if done else None

    try:
        stored, without = wait_for(ingested, 120, "every recording begun to be stored", 0.5)
    except TimeoutError:
        have = {call.id for call, _ in recordings_of(hotline, burst.callers)}
        lost = [
            (call.caller_number, node_of(call), call.outcome, call.recording_problem)
            for call in hotline.calls(burst.callers)
            if call.id in begun and call.id not in have
        ]
        raise AssertionError(f"recordings begun, neither stored nor explained: {lost}") from None
    # Every message at b is stored, and so are the cut ones of those who had spoken a while
    # at a; a recording begun at a just before the kill may hold nothing: its call says so.
    must = {call.id for call in calls if node_of(call) == "b"} | {c.id for c in speaking}
    unstored = [
        (call.caller_number, node_of(call), call.outcome, call.recording_problem)
        for call in without
        if call.id in must or node_of(call) != "a" or not call.recording_problem
    ]
    assert unstored == [], f"recordings begun but not stored: {unstored}"
    kept = {call.id: stored[call.id].status for call in on_a if call.id in stored}
    assert kept and set(kept.values()) == {"partial"}, kept
    row.failed = len(on_a)
    row.measured += f"; {len(kept)} partial recordings of node a kept" + (
        f", {len(without)} begun just before the kill with nothing to keep (the call says why)"
        if without
        else ""
    )
    store = bucket(hotline)
    recordings = list(stored.values())
    row.recordings = len(recordings)
    in_the_bucket = wait_for(
        lambda: len(found := in_bucket(store, recordings)) == len(recordings) and found,
        120,
        "every recording stored in the bucket",
        0.5,
    )
    row.in_bucket = len(in_the_bucket)
    row.result = "pass"


def test_the_object_store_stopped_during_a_burst(
    hotline_cluster: Cluster, table: list[Row]
) -> None:
    hotline = hotline_cluster
    row = Row("object store stopped")
    table.append(row)
    store_dir = hotline.layout.object_store_dir
    pause = speak_after(hotline)
    burst = Burst(hotline, "5520", 2 * WAVE)
    first = burst.wave(WAVE, pause)
    wait_for(lambda: in_message(hotline, first), 90, "a caller speaking", 0.1)
    object_store_process.stop(store_dir)
    assert not object_store_process.running(store_dir)
    burst.wave(WAVE, pause)
    results = burst.finish()
    assert all(isinstance(r, DialResult) and r.sipp_exit == 0 for r in results), results

    calls = wait_for(lambda: settled(hotline, burst.callers), 120, "every call settled", 0.5)
    row.placed, row.settled, row.per_node = len(burst.callers), len(calls), per_node(calls)
    assert all(call.outcome == Outcome.MESSAGE_LEFT for call in calls), per_node(calls)
    pairs = wait_for(
        lambda: len(found := recordings_of(hotline, burst.callers)) == len(calls) and found,
        60,
        "every recording stored",
        0.5,
    )
    row.recordings = len(pairs)
    # They wait on their node's disk, whole.
    for call, recording in pairs:
        local = hotline.node_settings(node_of(call)).data_dir / key_of(recording)
        assert sha256_file(local) == recording.sha256, local
    for node in hotline.layout.nodes:
        checked = verify(hotline.layout.node_settings(node))
        assert checked.returncode == 0, checked.stdout + checked.stderr

    # The store back: every recording is stored and checked there.
    hotline.up()
    store = bucket(hotline)
    recordings = [recording for _, recording in pairs]
    stored = wait_for(
        lambda: len(found := in_bucket(store, recordings)) == len(recordings) and found,
        120,
        "every recording stored in the bucket",
        0.5,
    )
    row.in_bucket = len(stored)
    # verify from a host that has none of the files: it reads them all from the bucket.
    api = hotline.layout.service_settings("api")
    checked = verify(api)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    # The transcription pool, in a folder of its own, has none of the nodes' files: it
    # transcribes every recording from the bucket.
    ids = [recording.id for recording in recordings]

    def transcribed() -> bool:
        with hotline.sessions() as session:
            states = session.scalars(
                select(TranscriptionJob.status).where(TranscriptionJob.recording_id.in_(ids))
            ).all()
        return len(states) == len(ids) and set(states) == {JobStatus.DONE}

    wait_for(transcribed, 180, "every recording transcribed from the bucket", 0.5)

    # Other bytes under one key (its metadata still claims the old hash): named by verify.
    altered = recordings[0]
    data = b"RIFF not the recording"
    store.client.put_object(
        store.bucket,
        key_of(altered),
        io.BytesIO(data),
        len(data),
        metadata={SHA256_META: altered.sha256},
    )
    checked = verify(api)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "ALTERED" in checked.stdout and altered.path in checked.stdout, checked.stdout
    row.measured = (
        "verify clean while waiting and after; all transcribed from the bucket by the pool; "
        "the altered object named ALTERED"
    )
    row.result = "pass"
