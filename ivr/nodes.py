"""Which nodes are up and how the SIP router should share citizens' calls among them. Pure:
the rows come in (``ivr.node_models.Node`` or anything shaped like it), the answer goes out.

* :func:`alive` — the nodes whose ivr service wrote its heartbeat within ``max_age``. A node
  whose ivr service stops (or whose machine dies) drops out after ``max_age``; the SIP router's
  own OPTIONS probing takes a dead Asterisk out sooner.
* :func:`weights` — each node's share of new calls, in percent (integers 1..100 summing to
  100): in proportion to its free operators, plus a small base so that a node with no free
  operator still gets a call now and then — that call waits in the node's queue (and may
  overflow) rather than being refused. With no free operator anywhere the shares are equal.
  The numbers are valid both as Kamailio dispatcher ``weight`` (percent, algorithm 9) and
  ``rweight`` (relative) attributes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Protocol, TypeVar

# A free operator counts FREE_SHARE times as much as the base every node has.
FREE_SHARE = 10
BASE_SHARE = 1
TOTAL = 100


class NodeState(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def operators_free(self) -> int: ...
    @property
    def heartbeat_at(self) -> dt.datetime: ...


N = TypeVar("N", bound=NodeState)


def is_alive(node: NodeState, now: dt.datetime, max_age: dt.timedelta) -> bool:
    """True if the node's heartbeat is at most ``max_age`` old (a heartbeat from the future,
    a clock a little ahead, counts as fresh)."""
    return now - node.heartbeat_at <= max_age


def alive(nodes: Iterable[N], now: dt.datetime, max_age: dt.timedelta) -> list[N]:
    """The nodes whose heartbeat is at most ``max_age`` old, in name order."""
    return sorted((node for node in nodes if is_alive(node, now, max_age)), key=_name)


def weights(nodes: Sequence[NodeState]) -> dict[str, int]:
    """Each node's share of new calls in percent: integers from 1 to 100 that sum to 100
    (with more than 100 nodes each gets 1). Pass only the nodes that are :func:`alive`."""
    if not nodes:
        return {}
    scores = {node.name: BASE_SHARE + FREE_SHARE * max(node.operators_free, 0) for node in nodes}
    if len(scores) >= TOTAL:
        return dict.fromkeys(scores, 1)
    # Everyone gets 1; the rest is shared in proportion to the scores by largest remainder.
    rest = TOTAL - len(scores)
    total_score = sum(scores.values())
    exact = {name: rest * score / total_score for name, score in scores.items()}
    shares = {name: 1 + int(value) for name, value in exact.items()}
    left = TOTAL - sum(shares.values())
    by_remainder = sorted(exact, key=lambda name: (-(exact[name] - int(exact[name])), name))
    for name in by_remainder[:left]:
        shares[name] += 1
    return shares


def _name(node: NodeState) -> str:
    return node.name
