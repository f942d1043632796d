"""ivr.nodes: which nodes are alive, and their shares of new calls (the SIP router's weights);
asr.recognisers.choose: the live recogniser with the most room."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from pydantic import ValidationError

from asr.recognisers import Room, choose
from core.settings import Settings
from ivr import nodes
from ivr.phones import DeviceState, Phone, PhoneBoard

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@dataclass
class N:
    name: str
    operators_free: int
    heartbeat_at: dt.datetime = NOW


def test_alive_keeps_fresh_heartbeats_in_name_order() -> None:
    rows = [
        N("b", 0, NOW - dt.timedelta(seconds=3)),
        N("a", 1, NOW - dt.timedelta(seconds=11)),
        N("c", 2, NOW + dt.timedelta(seconds=1)),
    ]
    assert [n.name for n in nodes.alive(rows, NOW, dt.timedelta(seconds=10))] == ["b", "c"]
    assert nodes.alive(rows, NOW, dt.timedelta(seconds=2)) == [rows[2]]


def test_weights_follow_free_operators_and_sum_to_100() -> None:
    shares = nodes.weights([N("a", 3), N("b", 1)])
    assert sum(shares.values()) == 100
    assert shares["a"] > 2 * shares["b"]
    # A node with no free operator keeps a small share: its calls queue rather than fail.
    busy = nodes.weights([N("a", 4), N("b", 0)])
    assert 1 <= busy["b"] <= 5
    assert busy["a"] + busy["b"] == 100


def test_weights_equal_when_nobody_is_free_and_empty_without_nodes() -> None:
    # 97 shared equally is 32.33 each; the one left goes to the first by name.
    assert nodes.weights([N("a", 0), N("b", 0), N("c", 0)]) == {"a": 34, "b": 33, "c": 33}
    assert nodes.weights([]) == {}
    assert nodes.weights([N("solo", 0)]) == {"solo": 100}


def test_weights_with_many_nodes_stay_between_1_and_100() -> None:
    rows = [N(f"n{i}", i % 7) for i in range(150)]
    shares = nodes.weights(rows)
    assert set(shares.values()) == {1}
    rows = [N(f"n{i}", 50 if i == 0 else 0) for i in range(60)]
    shares = nodes.weights(rows)
    assert sum(shares.values()) == 100
    assert min(shares.values()) == 1
    assert shares["n0"] == max(shares.values())


def test_choose_takes_the_recogniser_with_most_room_or_none() -> None:
    rooms = [Room("h1:9092", 1), Room("h2:9092", 2)]
    assert choose(rooms, {}) == Room("h2:9092", 2)
    assert choose(rooms, {"h2:9092": 1}) == Room("h1:9092", 1)  # tie 1-1: by name
    assert choose(rooms, {"h1:9092": 1, "h2:9092": 1}) == Room("h2:9092", 2)
    assert choose(rooms, {"h1:9092": 1, "h2:9092": 2}) is None
    assert choose([], {}) is None


@pytest.mark.parametrize("name", ["A", "a_b", "a" * 17, "a.b", " a"])
def test_a_node_name_is_short_lowercase_letters_digits_and_dashes(name: str) -> None:
    with pytest.raises(ValidationError):
        Settings(node_name=name)
    assert Settings(node_name="node-7").node_name == "node-7"


def test_free_operators_are_registered_idle_phones() -> None:
    states = {
        "8001": DeviceState.NOT_INUSE,
        "8002": DeviceState.RINGING,
        "8003": DeviceState.INUSE,
        "8004": DeviceState.UNAVAILABLE,
        "8005": DeviceState.NOT_INUSE,
    }
    board = PhoneBoard({name: Phone(state, NOW) for name, state in states.items()})
    assert (board.registered, board.free, board.busy) == (4, 2, 1)
