"""Builds the deadline ``Rules`` from the settings: the calendar (the package plus the
official schedule file in the data folder, re-read when the file changes), the policy
profile and the local zone."""

from __future__ import annotations

import threading
from pathlib import Path
from zoneinfo import ZoneInfo

from dispatch.deadlines.policy import profile_by_name
from dispatch.deadlines.stage_clocks import Rules
from dispatch.deadlines.working_calendar import WorkingCalendar, load_calendar


class RulesSource:
    def __init__(self, calendar_file: Path, profile: str, zone: str) -> None:
        self._file = calendar_file
        self._profile = profile_by_name(profile)
        self._zone = ZoneInfo(zone)
        self._lock = threading.Lock()
        self._stamp: float | None = None
        self._calendar: WorkingCalendar | None = None

    def rules(self) -> Rules:
        """The current rules; a broken schedule file raises ``CalendarFileError``."""
        try:
            stamp: float | None = self._file.stat().st_mtime
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if self._calendar is None or stamp != self._stamp:
                self._calendar = load_calendar(self._file)
                self._stamp = stamp
            return Rules(self._calendar, self._profile, self._zone)
