"""Hash chains: an edit, a removal or a reordering anywhere is found."""

from __future__ import annotations

import dataclasses
import datetime as dt

from recordings import chain

T = dt.datetime(2026, 11, 21, 1, 2, 3, 456789, tzinfo=dt.UTC)


def build(count: int) -> list[chain.Link]:
    links, prev = [], chain.GENESIS
    for position in range(1, count + 1):
        fields: dict[str, chain.Field] = {
            "n": position,
            "at": T,
            "text": f"录音{position}",
            "none": None,
        }
        digest = chain.entry_hash(prev, fields)
        links.append(chain.Link(position, fields, prev, digest))
        prev = digest
    return links


def test_a_whole_chain_has_no_breaks() -> None:
    assert chain.check(build(5)) == []
    assert chain.check([]) == []


def test_editing_an_old_entry_is_found_at_that_entry() -> None:
    links = build(5)
    links[1] = dataclasses.replace(links[1], fields={**links[1].fields, "text": "改过"})
    assert chain.check(links) == [chain.Break(2, "content does not match its hash (edited)")]


def test_rehashing_an_edited_entry_breaks_the_next_one() -> None:
    links = build(4)
    fields = {**links[1].fields, "text": "改过"}
    links[1] = dataclasses.replace(
        links[1], fields=fields, entry_hash=chain.entry_hash(links[1].prev_hash, fields)
    )
    assert chain.check(links) == [chain.Break(3, "does not follow the entry before it")]


def test_a_removed_entry_is_a_gap() -> None:
    links = build(4)
    del links[1]
    problems = [b.problem for b in chain.check(links)]
    assert problems[0] == "entries 2..2 are missing"
    assert "does not follow the entry before it" in problems


def test_time_zones_do_not_change_the_hash() -> None:
    fields: dict[str, chain.Field] = {"at": T}
    shifted: dict[str, chain.Field] = {"at": T.astimezone(dt.timezone(dt.timedelta(hours=8)))}
    assert chain.entry_hash("x", fields) == chain.entry_hash("x", shifted)
    assert chain.entry_hash("x", fields) != chain.entry_hash("y", fields)
