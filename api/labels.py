"""The console's words for stored codes, as Jinja filters on its templates (registered by
``api.app``): roles, access-log actions, outcomes and scopes, and who did a step of a case
(``system:supervision`` is 系统（督办）).

In a template: ``{{ a.role|role_zh }}``, ``{{ a.action|access_zh }}``,
``{{ a.outcome|outcome_zh }}``, ``{{ a.byte_range|scope_zh(a.action) }}``,
``{{ event.actor|actor_zh }}``."""

from __future__ import annotations

from jinja2 import Environment

from custody import access_labels

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


def install(env: Environment) -> None:
    """Register the filters on the templates' environment."""
    env.filters["role_zh"] = access_labels.role_label
    env.filters["scope_zh"] = access_labels.scope_label
    env.filters["access_zh"] = access_label
    env.filters["outcome_zh"] = outcome_label
    env.filters["actor_zh"] = actor_label
