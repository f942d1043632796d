"""Kamailio in front of two real nodes (Asterisk + ivr each, ``start_hotline`` with node names
"a" and "b"), one PostgreSQL database, SIPp citizens and an operator's phone: calls spread over
both nodes, operators registered through the router answer their own node's calls, and a node
whose Asterisk stops is out of rotation within the health check's interval.

One cluster for the module (the tests run in this order; the last one stops node b). Addresses
are this part's own loopback range (127.0.4.x), ports free ones."""

from __future__ import annotations

import concurrent.futures
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from core.db import make_engine, make_session_factory
from core.secrets import load as load_secrets
from core.settings import Settings
from core.waiting import wait_for
from hotline import sip_router
from hotline.cli.control import router_part
from ivr import asterisk_process, call_store, node_models, prompts
from ivr.models import Call
from ivr.sip_router_config import REPLY_MS, Node, RouterFiles, parse_nodes
from phones.sipp import DialError, DialResult, OperatorPhone, free_udp_port, place_call
from recordings import lookup
from tests.conftest import SAMPLES, new_postgres_database
from tests.e2e.conftest import Hotline, start_hotline
from tests.e2e.test_faults import caller_ports

pytestmark = [pytest.mark.asterisk, pytest.mark.postgres]

ROUTER, NODE_A, NODE_B = "127.0.4.1", "127.0.4.2", "127.0.4.3"
SHORT_CLIP = SAMPLES / "aishell2_IT0011W0001.wav"  # 1.99 s
CLIP = SAMPLES / "magicdata_cs_insurance_000012.wav"  # 6.76 s
PING_SECONDS = 1
OVERFLOW_SECONDS = 4


@dataclass
class Routed:
    router: Settings
    folder: Path
    a: Hotline
    b: Hotline
    engine: Engine

    @property
    def files(self) -> RouterFiles:
        return RouterFiles(self.folder)

    @property
    def nodes(self) -> tuple[Node, ...]:
        return parse_nodes(self.router.sip_router_nodes)

    @property
    def sessions(self) -> sessionmaker[Session]:
        return make_session_factory(self.engine)

    def dial(
        self, caller: str, ports: tuple[int, int] | None = None, **options: object
    ) -> DialResult:
        signal_port, media_port = ports if ports is not None else (None, None)
        return place_call(
            audio=options.pop("audio", SHORT_CLIP),  # type: ignore[arg-type]
            number=self.router.hotline_number,
            sip_host=ROUTER,
            sip_port=self.router.sip_router_port,
            caller=caller,
            signal_port=signal_port,
            media_port=media_port,
            timeout=60,
            **options,  # type: ignore[arg-type]
        )

    def settled_calls(self, callers: list[str], timeout: float = 60) -> list[Call]:
        def settled() -> list[Call] | None:
            with self.sessions() as session:
                calls = list(session.scalars(select(Call).where(Call.caller_number.in_(callers))))
            done = [call for call in calls if call_store.is_settled(call)]
            return done if len(done) == len(callers) else None

        return wait_for(settled, timeout, f"the calls of {len(callers)} callers to be settled")


@pytest.fixture(scope="module")
def routed(tmp_path_factory: pytest.TempPathFactory, postgres_server: str) -> Iterator[Routed]:
    root = tmp_path_factory.mktemp("sip-router")
    database = new_postgres_database(postgres_server)
    port_a, port_b, router_port = free_udp_port(), free_udp_port(), free_udp_port()
    router = Settings(
        data_dir=root / "router",
        database_url=database,
        sip_router_host=ROUTER,
        sip_router_port=router_port,
        sip_router_nodes=f"a={NODE_A}:{port_a},b={NODE_B}:{port_b}",
        sip_router_operators="8001=a,8002=b",
        sip_router_ping_seconds=PING_SECONDS,
        sip_router_weight_seconds=0.5,
        node_down_seconds=5,
    )
    folder = root / "router"
    # The prompts synthesised once, copied to each node. (The nodes start one after the other:
    # alembic's migration context is process-global, two threads cannot migrate at once.)
    sounds = root / "sounds"
    prompts.ensure_prompts(sounds, router.prompts.as_dict())
    nodes: list[Hotline] = []

    def start(name: str, host: str, port: int, rtp_base: int, operator: str) -> Hotline:
        shutil.copytree(sounds, root / name / "sounds")
        node = start_hotline(
            root / name,
            database,
            rtp_base=rtp_base,
            node_name=name,
            sip_host=host,
            sip_port=port,
            sip_router=f"{ROUTER}:{router_port}",
            operators=[operator],
            node_heartbeat_seconds=0.5,
            overflow_seconds=OVERFLOW_SECONDS,
            asr_live_capacity=0,  # no live transcription: the tier stays light
        )
        nodes.append(node)
        return node

    try:
        a = start("a", NODE_A, port_a, 37000, "8001")
        b = start("b", NODE_B, port_b, 38000, "8002")
        sip_router.start(router, folder)
        engine = make_engine(database)
        yield Routed(router, folder, a, b, engine)
        engine.dispose()
    finally:
        sip_router.stop(folder)
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            list(pool.map(Hotline.close, nodes))


def in_rotation(routed: Routed) -> set[str]:
    return sip_router.nodes_up(routed.files, routed.nodes)


def test_citizens_calls_through_the_router_spread_over_both_nodes(routed: Routed) -> None:
    wait_for(lambda: in_rotation(routed) == {"a", "b"}, 15, "both nodes to answer the pings")
    callers = [f"1371000{i:04d}" for i in range(12)]
    ports = caller_ports(len(callers))
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(routed.dial, callers, ports))
    assert all(result.sipp_exit == 0 for result in results), [r.output for r in results]

    calls = routed.settled_calls(callers)
    by_node = Counter(call.node for call in calls)
    # Equal weights (no operator free anywhere): twelve calls all on one node would happen
    # once in 2,000 runs with a fair spread, and every time with no spread at all.
    print(f"\ncalls per node: {dict(sorted(by_node.items()))}")  # noqa: T201 (a figure)
    assert set(by_node) == {"a", "b"}, by_node
    assert all(call.dialled_number == "12345" for call in calls)

    # Straight to a node, not through the router: not a citizen's call (no trunk header, and
    # only the router's address may bring one), so it is challenged and never reaches the flow.
    direct = place_call(
        audio=SHORT_CLIP,
        number="12345",
        sip_host=NODE_A,
        sip_port=routed.a.settings.sip_port,
        caller="13710009999",
        timeout=20,
    )
    assert direct.sipp_exit != 0
    with routed.sessions() as session:
        assert session.scalar(select(Call).where(Call.caller_number == "13710009999")) is None


def test_operators_registered_through_the_router_answer_their_own_nodes_calls(
    routed: Routed, tmp_path: Path
) -> None:
    operators = {"a": ("8001", routed.a), "b": ("8002", routed.b)}
    traces = {node: tmp_path / f"phone-{name}.log" for node, (name, _) in operators.items()}
    phones = [
        OperatorPhone(
            name=name,
            password=load_secrets(hotline.settings.data_dir).operator_password(name),
            sip_host=ROUTER,
            sip_port=routed.router.sip_router_port,
            audio=CLIP,
            message_log=traces[node],
        )
        for node, (name, hotline) in operators.items()
    ]
    with phones[0], phones[1]:
        # Each registered at its own node: both nodes' ivr count one phone free.
        def both_free() -> bool:
            with routed.sessions() as session:
                free = {node.name: node.operators_free for node in node_models.all_nodes(session)}
            return free.get("a", 0) >= 1 and free.get("b", 0) >= 1

        wait_for(both_free, 20, "each node to count its operator's phone free")
        answered: dict[str, Call] = {}
        for attempt in range(10):
            caller = f"1372000{attempt:04d}"
            result = routed.dial(caller, audio=CLIP, wait_seconds=routed.a.notice_seconds + 1)
            assert result.sipp_exit == 0, result.output
            (call,) = routed.settled_calls([caller])
            answered.setdefault(call.node, call)
            if len(answered) == 2:
                break
        assert set(answered) == {"a", "b"}, f"calls answered only at {set(answered)}"
        for node, call in answered.items():
            assert call.outcome == "answered"
            assert call.operator == operators[node][0], (node, call.operator)
    # A phone the router knows no node for is turned away by the router itself.
    stranger = OperatorPhone(
        name="8009",
        password="guess",
        sip_host=ROUTER,
        sip_port=routed.router.sip_router_port,
        audio=None,
        answer=False,
    )
    try:
        with pytest.raises(DialError, match="could not register"):
            stranger.register(60)
    finally:
        stranger.stop()
    # Each node reached its phone through the router (the phone's Path).
    for node, trace in traces.items():
        invites = [
            block
            for block in trace.read_text(errors="replace").split("\n\n")
            if "INVITE sip:" in block
        ]
        assert invites, f"the trace of node {node}'s phone holds no INVITE"
        assert f"Via: SIP/2.0/UDP {ROUTER}:{routed.router.sip_router_port}" in invites[0]


def test_a_caller_nobody_answers_at_one_node_overflows_to_the_others_operator(
    routed: Routed,
) -> None:
    caller = "13740000001"
    nodes = {"a": routed.a, "b": routed.b}
    operators = {"a": "8001", "b": "8002"}
    wait = routed.a.notice_seconds + OVERFLOW_SECONDS + 5
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        # No operator anywhere: the call lands on either node.
        dialling = pool.submit(routed.dial, caller, audio=CLIP, wait_seconds=wait)

        def first_node() -> str | None:
            with routed.sessions() as session:
                return session.scalar(select(Call.node).where(Call.caller_number == caller))

        first = wait_for(first_node, 20, "the call to reach a node")
        other = "b" if first == "a" else "a"
        phone = OperatorPhone(
            name=operators[other],
            password=load_secrets(nodes[other].settings.data_dir).operator_password(
                operators[other]
            ),
            sip_host=ROUTER,
            sip_port=routed.router.sip_router_port,
            audio=CLIP,
        )
        with phone:
            result = dialling.result(timeout=90)
    assert result.sipp_exit == 0, result.output
    calls = {call.node: call for call in routed.settled_calls([caller, caller])}
    print(f"\noverflow: {first} -> {other}")  # noqa: T201 (what happened)
    assert set(calls) == {first, other}
    # The first node kept the call: its notice, its recording, answered by the other node's
    # operator (named from the other node's row).
    kept = calls[first]
    assert kept.outcome == "answered" and kept.operator == operators[other]
    assert kept.recording_started_at is not None and routed_recording(routed, kept)
    # The other node's row: a leg of the first node's call (named by the overflow header),
    # its operator answered; no second notice, no second recording.
    taken = calls[other]
    assert taken.overflow_of == kept.asterisk_uniqueid
    assert taken.outcome == "overflow_answered" and taken.operator == operators[other]
    assert taken.recording_started_at is None and taken.notice_finished_at is None
    assert taken.started_at > kept.started_at
    with routed.sessions() as session:
        listed = [c.id for c in call_store.list_calls(session) if c.caller_number == caller]
    assert listed == [kept.id]


def test_status_shows_the_router_and_the_nodes_in_rotation(routed: Routed) -> None:
    wait_for(lambda: in_rotation(routed) == {"a", "b"}, 10, "both nodes in rotation")
    part = router_part(routed.router, routed.folder)
    assert part is not None and part.running
    assert part.line().endswith("nodes in rotation: a, b (of a, b)")


def routed_recording(routed: Routed, call: Call) -> bool:
    with routed.sessions() as session:
        return lookup.of_call(session, call.id) is not None


def test_a_node_whose_asterisk_stops_is_out_of_rotation_within_the_ping_interval(
    routed: Routed,
) -> None:
    wait_for(lambda: in_rotation(routed) == {"a", "b"}, 15, "both nodes in rotation")
    asterisk_process.kill_hard(routed.b.dirs)
    stopped = time.monotonic()
    wait_for(lambda: in_rotation(routed) == {"a"}, 15, "node b to leave the rotation", 0.05)
    out_after = time.monotonic() - stopped
    print(f"\nnode b out of rotation after {out_after:.2f} s")  # noqa: T201 (a figure)
    # One ping interval to send the next OPTIONS, the reply time-out for it to fail.
    assert out_after <= PING_SECONDS + REPLY_MS / 1000 + 1.0

    callers = [f"1373000{i:04d}" for i in range(4)]
    ports = caller_ports(len(callers))
    results = [routed.dial(caller, held) for caller, held in zip(callers, ports, strict=True)]
    assert all(result.sipp_exit == 0 for result in results), [r.output for r in results]
    calls = routed.settled_calls(callers)
    assert {call.node for call in calls} == {"a"}
