"""The capacity plan's arithmetic: Erlang C against textbook values, and the plan's sums."""

from __future__ import annotations

import dataclasses

import pytest

from bench import capacity_plan as cp


def test_erlang_c_matches_the_textbook_table() -> None:
    # 10 Erlangs on 11, 12 and 15 seats: 68.2 %, 44.9 % and 10.2 % of calls wait (the
    # closed form with factorials gives the same).
    assert cp.erlang_c(10, 11) == pytest.approx(0.6821, abs=1e-4)
    assert cp.erlang_c(10, 12) == pytest.approx(0.4494, abs=1e-4)
    assert cp.erlang_c(10, 15) == pytest.approx(0.1020, abs=1e-4)
    assert cp.erlang_c(10, 10) == 1.0  # the queue grows without end


def test_erlang_c_stays_finite_for_hundreds_of_seats() -> None:
    waiting = cp.erlang_c(400, 430)
    assert 0 < waiting < 1


def test_service_level_and_seats() -> None:
    # 10 Erlangs, 180 s calls, 12 seats: 1 - 0.4494 * exp(-2 * 20 / 180) = 64.0 % within 20 s.
    assert cp.answered_within(10, 12, 180, 20) == pytest.approx(0.6397, abs=1e-3)
    seats = cp.seats_needed(10, 180, 20, 0.80)
    assert cp.answered_within(10, seats, 180, 20) >= 0.80
    assert cp.answered_within(10, seats - 1, 180, 20) < 0.80


INPUTS = cp.Inputs(
    population=1_000_000,
    contacts_per_resident_year=0.73,
    phone_share=1.0,
    peak_hour_share=0.1,
    talk_seconds=180,
    wrap_seconds=0,
    answer_seconds=20,
    answer_share=0.8,
    shrinkage=0.5,
    notice_seconds=5,
    core_per_live_call=0.5,
    calls_per_node=10,
    node_cores_here=2,
    node_cores=2,
    recorder_bytes_per_second=32_000,
    retention_years=5,
    headroom=0.0,
)


def test_plan_sums_follow_the_inputs() -> None:
    result = cp.plan(INPUTS)
    assert result.calls_per_day == pytest.approx(2000)
    assert result.peak_hour_calls == pytest.approx(200)
    assert result.traffic_erlangs == pytest.approx(10)
    assert result.seats == cp.seats_needed(10, 180, 20, 0.8)
    assert result.rostered_operators == result.seats * 2
    assert result.recogniser_cores == 5  # 10 calls talking x 0.5 core
    recorded = 5 + result.mean_wait_seconds + 180
    assert result.recorded_seconds_per_call == pytest.approx(recorded)
    assert result.storage_per_day_gb == pytest.approx(2000 * recorded * 32_000 / 1e9)
    assert result.storage_retained_tb == pytest.approx(result.storage_per_year_tb * 5)


def test_at_least_two_nodes_and_more_with_load() -> None:
    assert cp.plan(INPUTS).nodes == 2
    busy = dataclasses.replace(INPUTS, population=10_000_000)
    assert cp.plan(busy).nodes > 2
