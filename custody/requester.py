"""Who asks for evidence, and from where: what the access log and the replay rule need to
know of a logged-in person."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from accounts.models import Role
from custody import access, replay_rules
from dispatch.routing import units


@dataclass(frozen=True)
class Requester:
    user_id: str
    username: str
    role: Role
    phone: str = ""
    client: str = ""  # the address the request came from

    def listener(self) -> replay_rules.Listener:
        return replay_rules.Listener(self.username, self.role, self.phone)

    def attempt(
        self,
        action: str,
        outcome: str,
        recording_id: str | None = None,
        case_id: str | None = None,
        reason: str = "",
        byte_range: str = "",
    ) -> access.Attempt:
        return access.Attempt(
            actor=self.username,
            role=self.role.value,
            client=self.client,
            action=action,
            outcome=outcome,
            recording_id=recording_id,
            case_id=case_id,
            reason=reason,
            byte_range=byte_range,
        )


def unit_of(session: Session, who: Requester) -> str | None:
    """The unit of a unit's handler (None for other roles, or a handler of no unit)."""
    if who.role is not Role.UNIT_HANDLER:
        return None
    unit = units.unit_of_user(session, who.user_id)
    return unit.id if unit else None


def may_ever_listen(who: Requester, unit_id: str | None) -> bool:
    """Whether the role may ever hear a recording or read a transcript (a unit's handler
    only as a member of a unit)."""
    if who.role is Role.UNIT_HANDLER:
        return unit_id is not None
    return who.role in replay_rules.MAY_EVER_LISTEN
