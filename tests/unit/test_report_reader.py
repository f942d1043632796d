"""The reader's pure parts: the cycle collector held off while rows are made (and given back
as it was), SQLite's stored instants read back as the UTC instants they were."""

from __future__ import annotations

import datetime as dt
import gc
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy.dialects import sqlite

from core.db import UTCDateTime
from dispatch.indicators.rows import ACCEPTING, CLOSING
from dispatch.reports import reader_rows
from dispatch.reports.reader import COUNTED, JUDGED


@pytest.fixture
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_the_collector_is_held_off_while_rows_are_made_and_given_back(collector_on: None) -> None:
    with reader_rows.no_collection():
        assert not gc.isenabled()
        with reader_rows.no_collection():  # a nested load
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer load is still making rows
    assert gc.isenabled()
    with pytest.raises(RuntimeError), reader_rows.no_collection():
        raise RuntimeError("a failed load")
    assert gc.isenabled()


def test_a_collector_switched_off_before_stays_off(collector_on: None) -> None:
    gc.disable()
    with reader_rows.no_collection():
        pass
    assert not gc.isenabled()
    gc.enable()


def test_concurrent_loads_give_the_collector_back_when_the_last_ends(collector_on: None) -> None:
    first_in, second_done = threading.Event(), threading.Event()
    seen: list[bool] = []

    def first() -> None:
        with reader_rows.no_collection():
            first_in.set()
            assert second_done.wait(10)
            seen.append(gc.isenabled())  # the second ended: still off for the first

    thread = threading.Thread(target=first)
    thread.start()
    assert first_in.wait(10)
    with reader_rows.no_collection():
        pass
    second_done.set()
    thread.join(10)
    assert seen == [False]
    assert gc.isenabled()


@pytest.mark.parametrize(
    "moment",
    [
        dt.datetime(2026, 10, 1, 0, 0, 3, tzinfo=dt.timezone(dt.timedelta(hours=8))),
        dt.datetime(2026, 3, 29, 1, 30, 0, 123456, tzinfo=dt.UTC),
        dt.datetime(2025, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC),
    ],
)
def test_sqlite_s_stored_instants_read_back_as_the_same_instant(moment: dt.datetime) -> None:
    dialect = sqlite.dialect()
    column = UTCDateTime()
    store = column.dialect_impl(dialect).bind_processor(dialect)
    assert store is not None
    text = store(moment)  # the decorator's UTC value, as SQLite's DATETIME writes it
    read = reader_rows._sqlite_instant(text)
    assert read == moment and read is not None and read.utcoffset() == dt.timedelta(0)
    assert reader_rows._sqlite_instant(None) is None


def test_what_brings_a_case_covers_what_the_indicators_count() -> None:
    assert set(ACCEPTING) | set(CLOSING) <= set(COUNTED)
    assert {"reject", "merge", "withdraw", "feedback", "pass_review"} <= set(COUNTED)
    assert set(JUDGED) == {"dispatch", "handling", "feedback"}
