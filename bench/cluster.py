"""Benchmark: the multi-node hotline (``hotline.cluster``) on this machine.

Starts a private cluster (PostgreSQL, SeaweedFS, two Asterisk+ivr nodes, Kamailio, the
recogniser, the pool, the API; free ports, loopback 127.0.5.1x) and prints:

1. calls handled at once, with both nodes and then with one (node b stopped and out of the
   router's rotation), in the same run: bursts of real SIPp callers through Kamailio, each
   leaving a short message, doubled until a call is lost or wrong (not ``message_left`` with a
   complete recording); the ratio of the two;
2. failover when a node dies: node a (then b, …) SIGKILLed (Asterisk and ivr) while callers
   keep dialling through Kamailio every ``--interval`` seconds; from the kill, the time until
   the router has the node out of rotation, until the first new call is answered by the other
   node, and the slowest call set-up of the calls placed in the first seconds (those the
   router first sent to the dead node wait for its time-out, then go to the other one).

Not a test: it asserts nothing, it measures. Both nodes share this machine's cores, so the
ratio says what the router and the nodes add on one machine; across machines each node brings
its own cores.

    .venv/bin/python -m bench.cluster [--start 4] [--max 64] [--rounds 3] [--interval 0.25]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import datetime as dt
import os
import shutil
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

from core.waiting import wait_for
from hotline import cluster
from ivr import prompts
from ivr.call_state import Outcome
from ivr.call_store import is_settled
from ivr.models import Call
from phones.sipp import DialError
from recordings.models import Recording
from tests.cluster.conftest import Cluster, start_cluster
from tests.e2e.test_faults import caller_ports

ADDRESSES = {"router": "127.0.5.11", "a": "127.0.5.12", "b": "127.0.5.13"}


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def node_of(call: Call) -> str:
    return call.node or call.asterisk_uniqueid.split("-", 1)[0]


def burst(hotline: Cluster, size: int, prefix: str, speak_after: float) -> tuple[int, str]:
    """``size`` callers at once through Kamailio; how many were handled (message_left with a
    complete recording) and a note of the rest."""
    callers = [f"{prefix}{index:05d}" for index in range(size)]
    ports = caller_ports(size)
    errors = 0
    with concurrent.futures.ThreadPoolExecutor(size) as pool:
        futures = [
            pool.submit(hotline.dial, caller, ports[index], wait_seconds=speak_after, timeout=120)
            for index, caller in enumerate(callers)
        ]
        for future in futures:
            try:
                errors += future.result().sipp_exit != 0
            except DialError:
                errors += 1

    def settled() -> list[Call] | None:
        calls = hotline.calls(callers)
        return calls if len(calls) == size and all(is_settled(c) for c in calls) else None

    try:
        calls = wait_for(settled, 180, f"{size} calls settled", 0.5)
    except TimeoutError:
        calls = hotline.calls(callers)
    with hotline.sessions() as session:
        complete = set(
            session.scalars(
                select(Recording.call_id).where(
                    Recording.call_id.in_([c.id for c in calls]), Recording.status == "complete"
                )
            )
        )
    handled = [c for c in calls if c.outcome == Outcome.MESSAGE_LEFT and c.id in complete]
    nodes: dict[str, int] = {}
    for call in handled:
        nodes[node_of(call)] = nodes.get(node_of(call), 0) + 1
    outcomes: dict[str, int] = {}
    for call in calls:
        if call not in handled:
            outcomes[str(call.outcome)] = outcomes.get(str(call.outcome), 0) + 1
    note = (
        f"per node {nodes}; not handled: {size - len(handled)} "
        f"({outcomes or 'none'}; {size - len(calls)} never logged); "
        f"{errors} SIPp callers saw SIP errors"
    )
    return len(handled), note


def largest_burst(
    hotline: Cluster, label: str, start: int, most: int, speak_after: float, prefix: str
) -> int:
    handled_all = 0
    size = start
    while size <= most:
        handled, note = burst(hotline, size, f"{prefix}{size:03d}", speak_after)
        print(f"  {label}: {size:3d} at once -> {handled} handled; {note}; {load_average()}")
        if handled < size:
            break
        handled_all = size
        size *= 2
    return handled_all


def failover(hotline: Cluster, victim: str, interval: float, seconds: float, prefix: str) -> str:
    """Kill ``victim`` while callers keep dialling; what the router and the callers saw."""
    other = next(node.name for node in hotline.layout.nodes if node.name != victim)
    count = int(seconds / interval)
    ports = caller_ports(count)
    callers = [f"{prefix}{index:04d}" for index in range(count)]
    placed: dict[str, dt.datetime] = {}
    with concurrent.futures.ThreadPoolExecutor(count + 1) as pool:
        hotline.kill_node(victim)
        killed = time.monotonic()
        killed_at = dt.datetime.now(dt.UTC)

        def out_of_rotation() -> float:
            wait_for(lambda: victim not in hotline.nodes_in_rotation(), 30, "out", 0.02)
            return time.monotonic() - killed

        detection = pool.submit(out_of_rotation)
        futures = []
        for index, caller in enumerate(callers):
            time.sleep(max(0.0, killed + index * interval - time.monotonic()))  # the pace
            placed[caller] = dt.datetime.now(dt.UTC)
            futures.append(
                pool.submit(hotline.dial, caller, ports[index], wait_seconds=1.0, timeout=60)
            )
        for future in futures:
            with contextlib.suppress(DialError):
                future.result()
        out_after = detection.result()
    calls = {call.caller_number: call for call in hotline.calls(callers)}
    at_other = [calls[c] for c in callers if c in calls and node_of(calls[c]) == other]
    first = min((c.started_at - killed_at).total_seconds() for c in at_other) if at_other else None
    setups = [
        (calls[c].started_at - placed[c]).total_seconds()
        for c in callers
        if c in calls and node_of(calls[c]) == other
    ]
    lost = [c for c in callers if c not in calls or node_of(calls[c]) != other]
    return (
        f"{victim} killed: out of rotation after {out_after:.2f} s; first new call answered at "
        f"{other} after {first if first is None else round(first, 2)} s; {len(at_other)} of "
        f"{count} new calls answered at {other}, slowest set-up {max(setups, default=0):.2f} s "
        f"(median {sorted(setups)[len(setups) // 2] if setups else 0:.2f} s); "
        f"{len(lost)} not answered"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--start", type=int, default=4, help="first burst size")
    parser.add_argument("--max", type=int, default=64, help="largest burst size")
    parser.add_argument("--rounds", type=int, default=3, help="failover rounds")
    parser.add_argument("--interval", type=float, default=0.25, help="seconds between calls")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="hotline-bench-cluster-"))
    hotline = start_cluster(
        root,
        cluster_nodes=f"a={ADDRESSES['a']},b={ADDRESSES['b']}",
        **{
            f"{part}_host": ADDRESSES["router"]
            for part in (
                "sip_router",
                "cluster_postgres",
                "cluster_object_store",
                "cluster_asr_live",
                "cluster_api",
            )
        },
    )
    layout = hotline.layout
    try:
        notice = prompts.prompt_path(hotline.node_settings("a").sounds_dir, "notice")
        speak_after = prompts.duration_seconds(notice) + 0.3
        nodes = ", ".join(f"{n.name} {n.address}" for n in layout.nodes)
        print(
            f"cluster up in {root}: nodes {nodes}"
            f", Kamailio {layout.base.sip_router_host}:{layout.base.sip_router_port}, OPTIONS "
            f"every {layout.base.sip_router_ping_seconds} s; {load_average()}"
        )
        print("calls handled at once (bursts through Kamailio, messages):")
        two = largest_burst(hotline, "two nodes", args.start, args.max, speak_after, "61")
        cluster.stop_node(layout, hotline.node("b"))
        wait_for(lambda: "b" not in hotline.nodes_in_rotation(), 30, "b out of rotation", 0.1)
        one = largest_burst(hotline, "one node ", args.start, args.max, speak_after, "62")
        ratio = f"{two / one:.2f}" if one else "n/a"
        print(f"largest burst without loss: two nodes {two}, one node {one}; ratio {ratio}")
        hotline.up()
        wait_for(lambda: hotline.nodes_in_rotation() == {"a", "b"}, 30, "both in rotation", 0.1)

        print("failover (SIGKILL of a node's Asterisk and ivr while callers dial):")
        for index in range(args.rounds):
            victim = "ab"[index % 2]
            print("  " + failover(hotline, victim, args.interval, 4.0, f"63{index}"))
            hotline.up()
            wait_for(lambda: hotline.nodes_in_rotation() == {"a", "b"}, 30, "both in rotation", 0.1)
    finally:
        hotline.engine.dispose()
        cluster.down(layout)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
