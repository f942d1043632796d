"""Asterisk's CSV call detail records (cdr_csv with loguniqueid), parsed."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CdrRecord:
    src: str
    dst: str
    dcontext: str
    clid: str
    channel: str
    lastapp: str
    start: dt.datetime
    answer: dt.datetime | None
    end: dt.datetime
    disposition: str
    uniqueid: str


def _time(text: str) -> dt.datetime | None:
    text = text.strip()
    if not text:
        return None
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.UTC)


def parse_rows(rows: Iterable[list[str]]) -> Iterator[CdrRecord]:
    """Parse CSV rows (times in UTC: ``usegmtime = yes``); malformed rows are skipped."""
    for row in rows:
        if len(row) < 17:
            continue
        start, answer, end = _time(row[9]), _time(row[10]), _time(row[11])
        if start is None or end is None:
            continue
        yield CdrRecord(
            src=row[1], dst=row[2], dcontext=row[3], clid=row[4], channel=row[5],
            lastapp=row[7], start=start, answer=answer, end=end, disposition=row[14],
            uniqueid=row[16],
        )


def read(path: Path) -> dict[str, CdrRecord]:
    if not path.exists():
        return {}
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        return {record.uniqueid: record for record in parse_rows(csv.reader(handle))}
