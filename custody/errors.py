"""Custody's own refusals, each with the console's words (``zh``) and the JSON's (the
message). The API translates them to HTTP statuses; custody knows none."""

from __future__ import annotations


class CustodyError(Exception):
    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh = zh


class NotFound(CustodyError):
    """Nothing by that id: a recording, its file, a hold, a grant, an archive bundle."""


class Denied(CustodyError):
    """The rules refuse this person (the attempt is already in the access log where it is
    an access to evidence)."""


class ReplayRefused(CustodyError, ValueError):
    """What was asked breaks a rule of the step: a reason too short, a unit that may not
    hear the recording, a hold already released."""
