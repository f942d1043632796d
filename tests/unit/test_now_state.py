"""The live state's pure parts on hand-made rows: calls by stage, handling clocks due today and
overdue, the operators' phones board and its file, and the metric families of a state."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import subprocess
from pathlib import Path
from zoneinfo import ZoneInfo

from prometheus_client.parser import text_string_to_metric_families

from api import metrics
from dispatch.cases.lifecycle import Action, Status
from dispatch.deadlines.stage_clocks import Stage
from dispatch.indicators import handling
from dispatch.indicators.figures import count
from dispatch.indicators.rows import DeadlineRow
from dispatch.reports import now
from ivr import phones
from ivr.phones import DeviceState, PhoneBoard, PhoneChanged
from tests.unit.test_indicators_support import BEIJING, at, case_file, ev, ids

NOW = at(2026, 3, 10, 15, 0)  # a Tuesday afternoon in Beijing
TODAY = dt.date(2026, 3, 10)
D = dt.timedelta


def handling_clock(
    clock_id: int, due: dt.date, met: dt.datetime | None = None, cancelled: bool = False
) -> DeadlineRow:
    return DeadlineRow(
        clock_id,
        Stage.HANDLING.value,
        due - D(days=7),
        due,
        "u1",
        met_at=met,
        cancelled=cancelled,
    )


# -- calls ----------------------------------------------------------------------------------


def test_calls_are_counted_by_stage_and_the_longest_wait_is_the_earliest_queued() -> None:
    rows = [
        (None, None, None),  # just arrived: hearing the notice
        (NOW - D(seconds=40), None, None),  # waiting 40 s
        (NOW - D(seconds=95), None, None),  # waiting 95 s: the longest
        (NOW - D(seconds=300), NOW - D(seconds=200), None),  # answered: talking
        (NOW - D(seconds=120), None, NOW - D(seconds=20)),  # queued, then a message
        (None, None, NOW - D(seconds=5)),  # straight to a message (outside hours)
    ]
    found = now.classify_calls(rows, NOW)
    assert (found.in_notice, found.waiting, found.talking, found.leaving_message) == (1, 2, 1, 2)
    assert found.in_progress == 6
    assert found.longest_wait_seconds == 95.0


def test_no_call_waiting_has_no_longest_wait() -> None:
    found = now.classify_calls([(None, None, None)], NOW)
    assert found.waiting == 0 and found.longest_wait_seconds is None
    assert now.classify_calls([], NOW) == now.CallsNow()


# -- deadlines ------------------------------------------------------------------------------


def test_due_today_and_overdue_take_the_same_clocks_on_either_side_of_today() -> None:
    files = [
        case_file("late", NOW - D(days=20), deadlines=[handling_clock(1, TODAY - D(days=1))]),
        case_file("today", NOW - D(days=9), deadlines=[handling_clock(2, TODAY)]),
        # answered this morning: neither
        case_file("done", NOW - D(days=9), deadlines=[handling_clock(3, TODAY, NOW - D(hours=5))]),
        # answered after the moment asked about: it was still open then
        case_file(
            "later", NOW - D(days=20), deadlines=[handling_clock(4, TODAY - D(days=2), NOW + D(1))]
        ),
        case_file("tomorrow", NOW - D(days=8), deadlines=[handling_clock(5, TODAY + D(days=1))]),
        case_file(
            "cancelled", NOW - D(days=9), deadlines=[handling_clock(6, TODAY, cancelled=True)]
        ),
        case_file(
            "merged",
            NOW - D(days=20),
            [ev(Action.MERGE, NOW - D(days=3))],
            deadlines=[handling_clock(7, TODAY - D(days=1)), handling_clock(8, TODAY)],
        ),
        case_file(
            "withdrawn",
            NOW - D(days=20),
            [ev(Action.WITHDRAW, NOW - D(days=3))],
            deadlines=[handling_clock(9, TODAY)],
        ),
        # a dispatch clock due yesterday is not a handling deadline
        case_file(
            "dispatch",
            NOW - D(days=5),
            deadlines=[dataclasses.replace(handling_clock(10, TODAY), stage=Stage.DISPATCH.value)],
        ),
    ]
    due = now.due_today(files, NOW, BEIJING)
    overdue = handling.overdue_now(files, NOW, BEIJING)
    assert due.ids == ids("today") and due.value == 1
    assert overdue.ids == ids("late", "later")
    assert due.definition.name == "今日到期件" and "今日到期" in due.definition.formula


def test_only_cases_merged_away_or_withdrawn_and_what_follows_can_have_left() -> None:
    assert {Status.MERGED, Status.WITHDRAWN, Status.ARCHIVED} == now.AFTER_LEAVING


def test_today_is_the_configured_zones_day() -> None:
    """At 23:30 UTC on 9 March it is already 10 March in Beijing."""
    late_evening_utc = dt.datetime(2026, 3, 9, 23, 30, tzinfo=dt.UTC)
    files = [case_file("c", NOW - D(days=9), deadlines=[handling_clock(1, TODAY)])]
    assert now.due_today(files, late_evening_utc, BEIJING).ids == ("c",)
    assert now.due_today(files, late_evening_utc, ZoneInfo("UTC")).ids == ()


# -- the operators' phones ------------------------------------------------------------------


def change(name: str, state: DeviceState, seconds: int) -> PhoneChanged:
    return PhoneChanged(name, state, NOW + D(seconds=seconds))


def test_the_board_counts_registered_busy_and_ringing_phones() -> None:
    board = phones.snapshot(
        [
            change("8001", DeviceState.NOT_INUSE, 0),
            change("8002", DeviceState.INUSE, 0),
            change("8003", DeviceState.UNAVAILABLE, 0),  # not registered
            change("8004", DeviceState.RINGING, 0),
            change("8005", DeviceState.ONHOLD, 0),
            change("8006", DeviceState.INVALID, 0),
        ]
    )
    assert (board.registered, board.busy, board.ringing) == (4, 2, 1)


def test_a_change_older_than_what_the_board_knows_is_ignored() -> None:
    board = phones.snapshot([change("8001", DeviceState.NOT_INUSE, 10)])
    assert phones.apply(board, change("8001", DeviceState.UNAVAILABLE, 5)) == board
    newer = phones.apply(board, change("8001", DeviceState.INUSE, 11))
    assert newer.phones["8001"] == phones.Phone(DeviceState.INUSE, NOW + D(seconds=11))
    assert newer.busy == 1 and board.busy == 0  # the board itself never changes


def test_unknown_status_numbers_are_unknown_and_not_registered() -> None:
    assert phones.device_state("2") is DeviceState.INUSE
    assert phones.device_state("42") is DeviceState.UNKNOWN
    assert phones.device_state("") is DeviceState.UNKNOWN
    assert phones.device_state(None) is DeviceState.UNKNOWN
    assert phones.snapshot([PhoneChanged("8001", DeviceState.UNKNOWN, NOW)]).registered == 0


def test_the_file_gives_the_board_back_only_while_its_writer_runs(tmp_path: Path) -> None:
    path = phones.phones_file(tmp_path / "run")
    assert phones.read(path) is None  # no file: unknown
    board = phones.snapshot([change("8001", DeviceState.NOT_INUSE, 0)])
    phones.write(path, board)
    assert phones.read(path) == board

    phones.write(path, None)  # not connected to Asterisk
    assert phones.read(path) is None

    phones.write(path, board)
    gone = subprocess.Popen(["true"])
    gone.wait()
    text = path.read_text().replace(f'"pid": {os.getpid()}', f'"pid": {gone.pid}')
    path.write_text(text)
    assert phones.read(path) is None, "a board left by a dead service is not the phones' state"

    path.write_text("{not json")
    assert phones.read(path) is None


def test_operators_now_is_unknown_without_a_board() -> None:
    assert now.operators_now(None) is None
    empty = now.operators_now(PhoneBoard())
    assert empty is not None and (empty.registered, empty.busy, empty.at) == (0, 0, None)


# -- the metric families --------------------------------------------------------------------


def state(**parts: object) -> now.LiveState:
    base = now.LiveState(
        at=NOW,
        calls=now.CallsNow(in_notice=1, waiting=2, talking=3, longest_wait_seconds=42.5),
        operators=now.OperatorsNow(registered=4, busy=3, ringing=1, at=NOW),
        transcription=now.TranscriptionNow(
            waiting=5, running=1, failed=2, oldest_age_seconds=600.0, live_streams=2
        ),
        due_today=count(now.DUE_TODAY, ["a", "b"]),
        overdue=count(handling.OVERDUE_NOW, ["c", "d", "e"]),
        supervision=now.JobNow(runs=12, last_at=NOW - D(minutes=3)),
        integrity=now.IntegrityNow(NOW - D(hours=1), ok=False, problems=2, files_checked=30),
    )
    return dataclasses.replace(base, **parts)  # type: ignore[arg-type]


def parsed(body: bytes) -> dict[str, float]:
    return {
        sample.name + "".join(f"{{{k}={v}}}" for k, v in sorted(sample.labels.items())): (
            sample.value
        )
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def test_every_part_of_the_state_is_a_metric() -> None:
    values = parsed(metrics.exposition(state(), "sqlite"))
    assert values["hotline_calls_in_progress"] == 6
    assert values["hotline_calls_in_notice"] == 1
    assert values["hotline_queue_waiting"] == 2
    assert values["hotline_queue_longest_wait_seconds"] == 42.5
    assert values["hotline_calls_talking"] == 3
    assert values["hotline_operators_known"] == 1
    assert values["hotline_operators_registered"] == 4
    assert values["hotline_operators_busy"] == 3
    assert values["hotline_operators_ringing"] == 1
    assert values["hotline_transcription_backlog"] == 6
    assert values["hotline_transcription_oldest_age_seconds"] == 600
    assert values["hotline_transcription_jobs_failed"] == 2
    assert values["hotline_transcription_live_streams"] == 2
    assert values["hotline_supervision_runs_total"] == 12
    assert (
        values["hotline_supervision_last_run_timestamp_seconds"] == (NOW - D(minutes=3)).timestamp()
    )
    assert (
        values["hotline_integrity_last_check_timestamp_seconds"] == (NOW - D(hours=1)).timestamp()
    )
    assert values["hotline_integrity_problems"] == 2
    assert values["hotline_cases_overdue"] == 3
    assert values["hotline_cases_due_today"] == 2
    build = [name for name in values if name.startswith("hotline_build_info{")]
    assert len(build) == 1 and "database=sqlite" in build[0], build


def test_unknown_parts_are_left_out_rather_than_shown_as_zero() -> None:
    values = parsed(
        metrics.exposition(
            state(operators=None, integrity=None, supervision=now.JobNow()), "postgresql"
        )
    )
    assert values["hotline_operators_known"] == 0
    assert "hotline_operators_registered" not in values
    assert "hotline_operators_busy" not in values
    assert "hotline_integrity_problems" not in values
    assert "hotline_integrity_last_check_timestamp_seconds" not in values
    assert "hotline_supervision_last_run_timestamp_seconds" not in values
    assert values["hotline_supervision_runs_total"] == 0
    families = {
        f.name: f.type
        for f in text_string_to_metric_families(metrics.exposition(state(), "sqlite").decode())
    }
    assert families["hotline_supervision_runs"] == "counter"
    assert families["hotline_queue_waiting"] == "gauge"
