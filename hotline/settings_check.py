"""The settings as the stages need them: each stage checks the values that mean something to it.

``core.settings`` checks what a value is on its own (a port, a number, hours) and imports no
stage; here, at the top, the stages' own validators run on the values they will use. Every
process gets its settings through ``checked`` (the CLI, and through it each service process).
"""

from __future__ import annotations

from collections.abc import Callable

from core.settings import Settings
from custody import retention
from dispatch.cases import case_numbers
from dispatch.deadlines import policy

__all__ = ["DOMAIN_CHECKS", "SettingsError", "checked"]

# (setting, the stage's validator: raises ValueError with the reason)
DOMAIN_CHECKS: tuple[tuple[str, Callable[..., object]], ...] = (
    ("case_number_format", case_numbers.check_format),
    ("recording_retention_years", retention.check_years),
    ("deadline_profile", policy.profile_by_name),
)


class SettingsError(ValueError):
    """Settings a stage refuses; one line per setting, each naming it."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def checked(settings: Settings) -> Settings:
    """``settings`` once every stage has accepted its values; else ``SettingsError``."""
    problems = []
    for name, check in DOMAIN_CHECKS:
        try:
            check(getattr(settings, name))
        except ValueError as exc:
            problems.append(f"{name}: {exc}")
    if problems:
        raise SettingsError(problems)
    return settings
