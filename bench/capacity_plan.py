"""The capacity plan for a city: calls a day, the peak hour, operators, nodes, recogniser cores
and five years of recordings, from the figures measured on this machine.

Everything below is arithmetic over named inputs; each input is either measured here (by the
benchmark named beside it) or an assumption stated with its source. The README's "Scaling out"
section prints the plan for a city of ten million made with the defaults:

    .venv/bin/python -m bench.capacity_plan [--population 10000000] [--core-per-call 0.65] ...

Operators are sized with Erlang C (calls arrive at random, wait in one queue, are served by N
seats): the fewest seats that answer ``--answer-share`` of calls within ``--answer-seconds``
(GB/T 33358-2016: a person answers within 15 s; the line's 接通率 at least 95 %).
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

SECONDS_PER_HOUR = 3600
DAYS_PER_YEAR = 365


def erlang_c(traffic: float, seats: int) -> float:
    """The share of calls that must wait, with ``traffic`` Erlangs offered to ``seats``
    servers (1.0 when the seats cannot keep up). Erlang B's recurrence, then C from B: stable
    for hundreds of seats, where factorials overflow."""
    if seats <= traffic:
        return 1.0
    blocking = 1.0
    for n in range(1, seats + 1):
        blocking = traffic * blocking / (n + traffic * blocking)
    return seats * blocking / (seats - traffic * (1 - blocking))


def answered_within(traffic: float, seats: int, handle_seconds: float, wait: float) -> float:
    """The share of calls answered within ``wait`` seconds (Erlang C's service level)."""
    if seats <= traffic:
        return 0.0
    waiting = erlang_c(traffic, seats)
    return 1 - waiting * math.exp(-(seats - traffic) * wait / handle_seconds)


def seats_needed(traffic: float, handle_seconds: float, wait: float, share: float) -> int:
    """The fewest seats answering ``share`` of the calls within ``wait`` seconds."""
    seats = max(1, math.floor(traffic) + 1)
    while answered_within(traffic, seats, handle_seconds, wait) < share:
        seats += 1
    return seats


def mean_queue_seconds(traffic: float, seats: int, handle_seconds: float) -> float:
    """The mean wait of all calls (Erlang C's average speed of answer)."""
    return erlang_c(traffic, seats) * handle_seconds / (seats - traffic)


@dataclass(frozen=True)
class Inputs:
    population: int
    contacts_per_resident_year: float  # Beijing 12345, 2024: ~25 million for ~22 million people
    phone_share: float  # assumption: the share of those contacts that are phone calls
    peak_hour_share: float  # assumption: the busiest hour's share of a day's calls
    talk_seconds: float  # assumption: mean talk time of an answered call
    wrap_seconds: float  # assumption: after-call work (the live transcript leaves little)
    answer_seconds: float  # GB/T 33358-2016
    answer_share: float
    shrinkage: float  # assumption: breaks, training, absence: rostered / on the phones
    notice_seconds: float  # measured: the notice prompt's length (bench prints it)
    core_per_live_call: float  # measured: bench.live_capacity
    calls_per_node: int  # measured: bench.cluster (calls one node held at once here, at least)
    node_cores_here: int  # the cores of the machine calls_per_node was measured on
    node_cores: int  # assumption: cores of a production node
    recorder_bytes_per_second: int  # measured: a stored recording (2 channels, 8 kHz, 16 bit)
    retention_years: int
    headroom: float  # spare capacity kept on every tier at the peak


@dataclass(frozen=True)
class Plan:
    calls_per_day: float
    peak_hour_calls: float
    traffic_erlangs: float
    seats: int
    answered_share: float
    mean_wait_seconds: float
    rostered_operators: int
    peak_concurrent_calls: int
    recogniser_cores: int
    nodes: int
    recorded_seconds_per_call: float
    storage_per_day_gb: float
    storage_per_year_tb: float
    storage_retained_tb: float
    peak_write_mb_per_second: float


def plan(i: Inputs) -> Plan:
    calls_per_day = i.population * i.contacts_per_resident_year * i.phone_share / DAYS_PER_YEAR
    peak_calls = calls_per_day * i.peak_hour_share
    handle = i.talk_seconds + i.wrap_seconds
    traffic = peak_calls * handle / SECONDS_PER_HOUR
    seats = seats_needed(traffic, handle, i.answer_seconds, i.answer_share)
    wait = mean_queue_seconds(traffic, seats, handle)
    # A call occupies a node from the notice to hang-up: talking, plus those queued, plus
    # those hearing the notice (Little's law over the peak hour's arrival rate).
    arrivals_per_second = peak_calls / SECONDS_PER_HOUR
    talking = peak_calls * i.talk_seconds / SECONDS_PER_HOUR
    concurrent = talking + arrivals_per_second * (wait + i.notice_seconds)
    live_calls = talking  # both parties streamed only while they talk
    cores = math.ceil(live_calls * i.core_per_live_call * (1 + i.headroom))
    per_node = i.calls_per_node * i.node_cores / i.node_cores_here
    nodes = max(2, math.ceil(concurrent * (1 + i.headroom) / per_node))  # two: one may die
    recorded = i.notice_seconds + wait + i.talk_seconds
    per_day = calls_per_day * recorded * i.recorder_bytes_per_second
    return Plan(
        calls_per_day=calls_per_day,
        peak_hour_calls=peak_calls,
        traffic_erlangs=traffic,
        seats=seats,
        answered_share=answered_within(traffic, seats, handle, i.answer_seconds),
        mean_wait_seconds=wait,
        rostered_operators=math.ceil(seats / (1 - i.shrinkage)),
        peak_concurrent_calls=math.ceil(concurrent),
        recogniser_cores=cores,
        nodes=nodes,
        recorded_seconds_per_call=recorded,
        storage_per_day_gb=per_day / 1e9,
        storage_per_year_tb=per_day * DAYS_PER_YEAR / 1e12,
        storage_retained_tb=per_day * DAYS_PER_YEAR * i.retention_years / 1e12,
        peak_write_mb_per_second=peak_calls * recorded * i.recorder_bytes_per_second / 3600e6,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--population", type=int, default=10_000_000)
    add("--contacts-per-resident-year", type=float, default=25e6 / 22e6)
    add("--phone-share", type=float, default=0.7)
    add("--peak-hour-share", type=float, default=0.10)
    add("--talk-seconds", type=float, default=240)
    add("--wrap-seconds", type=float, default=30)
    add("--answer-seconds", type=float, default=15)
    add("--answer-share", type=float, default=0.95)
    add("--shrinkage", type=float, default=0.30)
    add("--notice-seconds", type=float, default=5.5)
    add("--core-per-call", dest="core_per_live_call", type=float, default=0.65)
    add("--calls-per-node", type=int, default=64)
    add("--node-cores-here", type=int, default=2)
    add("--node-cores", type=int, default=16)
    add("--recorder-bytes-per-second", type=int, default=32_000)
    add("--retention-years", type=int, default=5)
    add("--headroom", type=float, default=0.3)
    args = vars(parser.parse_args())
    inputs = Inputs(**args)
    result = plan(inputs)
    print("| input | value |\n|---|---|")
    for name, value in args.items():
        print(f"| {name.replace('_', ' ')} | {value:g} |")
    print()
    print("| figure | value |\n|---|---|")
    rows = [
        ("calls a day", f"{result.calls_per_day:,.0f}"),
        ("calls in the peak hour", f"{result.peak_hour_calls:,.0f}"),
        ("offered traffic at the peak (Erlangs)", f"{result.traffic_erlangs:.1f}"),
        (
            f"operator seats answering {inputs.answer_share:.0%} within "
            f"{inputs.answer_seconds:g} s",
            f"{result.seats} (answers {result.answered_share:.1%}; mean wait "
            f"{result.mean_wait_seconds:.1f} s)",
        ),
        ("operators on the peak shift's roster", f"{result.rostered_operators}"),
        ("calls at once at the peak (notice, queue, talk)", f"{result.peak_concurrent_calls}"),
        ("recogniser cores (two live streams a call)", f"{result.recogniser_cores}"),
        (f"Asterisk nodes of {inputs.node_cores} cores (at least two)", f"{result.nodes}"),
        ("recorded seconds per call", f"{result.recorded_seconds_per_call:.0f}"),
        ("recordings per day", f"{result.storage_per_day_gb:,.1f} GB"),
        ("recordings per year", f"{result.storage_per_year_tb:,.1f} TB"),
        (
            f"recordings kept ({inputs.retention_years} years, one copy)",
            f"{result.storage_retained_tb:,.0f} TB",
        ),
        ("writes to the object store at the peak", f"{result.peak_write_mb_per_second:.1f} MB/s"),
    ]
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
