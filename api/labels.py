"""The console's words for stored codes, as Jinja filters on its templates (registered by
``api.app``): roles, access-log actions, outcomes and scopes, and who did a step of a case
(``system:supervision`` is 系统（督办）).

In a template: ``{{ a.role|role_zh }}``, ``{{ a.action|access_zh }}``,
``{{ a.outcome|outcome_zh }}``, ``{{ a.byte_range|scope_zh(a.action) }}``,
``{{ event.actor|actor_zh }}``, and when a case came in named after its channel:
``{{ case.channel|received_zh }}`` (来电时间, 来访时间, 来信时间…)."""

from __future__ import annotations

from typing import Protocol

from jinja2 import Environment

from custody import access_labels, dossier
from dispatch.cases.registration import Channel

SYSTEM = "system:"
# The automatic jobs that act on cases, by the name after "system:".
SYSTEM_ACTORS = {"supervision": "督办", "callback": "自动回访"}


def actor_label(actor: str) -> str:
    """A person's user name as it is; one of the system's jobs as 系统（督办）, 系统（自动回访）…"""
    if not actor.startswith(SYSTEM):
        return actor
    job = SYSTEM_ACTORS.get(actor.removeprefix(SYSTEM))
    return f"系统（{job}）" if job else "系统"


def access_label(action: str) -> str:
    return access_labels.ACTION_LABELS.get(action, action)


def outcome_label(outcome: str) -> str:
    return access_labels.OUTCOME_LABELS.get(outcome, outcome)


def received_label(channel: str) -> str:
    """来电时间 for a call, 来访时间 for a walk-in, 来信时间 for a letter…"""
    try:
        return dossier.received_label(Channel(channel))
    except ValueError:
        return "受理时间"


# Issue 18, H7: a node's row for another node's waiting caller (overflow); the citizen's call
# is the first node's row, whose page shows the leg (``overflow_zh``).
OVERFLOW_OUTCOME_LABELS: dict[str | None, str] = {
    "overflow_answered": "转接来电（本节点已接听）",
    "overflow_unanswered": "转接来电（本节点无人接听）",
}


class OverflowLeg(Protocol):
    """What ``overflow_label`` reads of a leg's call row (``ivr.models.Call``)."""

    @property
    def node(self) -> str: ...
    @property
    def operator(self) -> str | None: ...
    @property
    def answered_at(self) -> object: ...
    @property
    def ended_at(self) -> object: ...


def overflow_label(leg: OverflowLeg) -> str:
    """The call page's line for its caller passed on to another node: 转接至节点 b，由 8003
    接听 / 无人接听 / 等待接听."""
    where = f"转接至节点 {leg.node}" if leg.node else "转接至其他节点"
    if leg.answered_at is not None:
        return f"{where}，由 {leg.operator or '未知话务员'} 接听"
    if leg.ended_at is not None:
        return f"{where}，无人接听"
    return f"{where}，等待接听"


def install(env: Environment) -> None:
    """Register the filters on the templates' environment."""
    env.filters["role_zh"] = access_labels.role_label
    env.filters["scope_zh"] = access_labels.scope_label
    env.filters["access_zh"] = access_label
    env.filters["outcome_zh"] = outcome_label
    env.filters["actor_zh"] = actor_label
    env.filters["received_zh"] = received_label
    env.filters["overflow_zh"] = overflow_label
