"""Asterisk's CSV call detail records (cdr_csv with loguniqueid), parsed."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ivr import fields


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
    userfield: str = ""

    @property
    def caller_name(self) -> str:
        """The name in ``clid`` (``"name" <number>``), if any."""
        name, bracket, _ = self.clid.rpartition("<")
        return name.strip().strip('"').strip() if bracket else ""

    @property
    def failure(self) -> str | None:
        """The dialplan's reason when the call flow failed this call (the userfield)."""
        return self.userfield.strip() or None


def _time(text: str) -> dt.datetime | None:
    text = text.strip()
    if not text:
        return None
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.UTC)


def parse_rows(rows: Iterable[list[str]]) -> Iterator[CdrRecord]:
    """Parse CSV rows (times in UTC: ``usegmtime = yes``); malformed rows are skipped. The
    caller's number, name and the userfield are cleaned and bounded (see ``ivr.fields``)."""
    for row in rows:
        if len(row) < 17:
            continue
        try:
            start, answer, end = _time(row[9]), _time(row[10]), _time(row[11])
        except ValueError:
            continue
        if start is None or end is None:
            continue
        yield CdrRecord(
            src=fields.clean(row[1], fields.NUMBER),
            dst=row[2],
            dcontext=row[3],
            clid=fields.clean(row[4], fields.NAME),
            channel=fields.clean(row[5], fields.CHANNEL),
            lastapp=row[7],
            start=start,
            answer=answer,
            end=end,
            disposition=row[14],
            uniqueid=row[16],
            userfield=fields.clean(row[17], fields.REASON) if len(row) > 17 else "",
        )


def read(path: Path) -> dict[str, CdrRecord]:
    if not path.exists():
        return {}
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        return {record.uniqueid: record for record in parse_rows(csv.reader(handle))}
