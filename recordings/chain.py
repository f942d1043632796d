"""Hash chains: each entry's hash covers its fields and the hash of the entry before it.
Pure: the manifest and the access log use the same rules."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

GENESIS = "0" * 64

Field = str | int | None | dt.datetime


def plain(value: Field) -> str | int | None:
    """A field as it is hashed (datetimes as ISO 8601 in UTC with microseconds)."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(timespec="microseconds")
    return value


def entry_hash(prev_hash: str, fields: Mapping[str, Field]) -> str:
    """sha256 of ``prev_hash`` and the fields as canonical JSON (sorted keys, UTF-8)."""
    body = json.dumps(
        {key: plain(value) for key, value in fields.items()},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


@dataclass(frozen=True)
class Link:
    """One entry as the chain sees it."""

    position: int
    fields: Mapping[str, Field]
    prev_hash: str
    entry_hash: str


@dataclass(frozen=True)
class Break:
    position: int
    problem: str


def check(links: Iterable[Link], first_position: int = 1) -> list[Break]:
    """Every way the chain is broken: a gap in the positions, an entry not pointing at the
    one before, an entry whose hash does not match its content."""
    breaks: list[Break] = []
    expected_prev, expected_position = GENESIS, first_position
    for link in links:
        if link.position != expected_position:
            breaks.append(
                Break(
                    link.position, f"entries {expected_position}..{link.position - 1} are missing"
                )
            )
        if link.prev_hash != expected_prev:
            breaks.append(Break(link.position, "does not follow the entry before it"))
        if entry_hash(link.prev_hash, link.fields) != link.entry_hash:
            breaks.append(Break(link.position, "content does not match its hash (edited)"))
        expected_prev, expected_position = link.entry_hash, link.position + 1
    return breaks
