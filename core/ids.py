"""Identifiers: random 128-bit hex strings. Anything else in a URL never reaches a query."""

from __future__ import annotations

import re
import uuid

_ID = re.compile(r"[0-9a-f]{32}")
_CASE_NUMBER = re.compile(r"[0-9A-Za-z_-]{1,64}")


def new_id() -> str:
    """A fresh identifier: random, never sequential, so it cannot be guessed."""
    return uuid.uuid4().hex


def is_id(value: str) -> bool:
    return _ID.fullmatch(value) is not None


def is_case_number(value: str) -> bool:
    """Plausible as a case number (letters, digits, - and _): no NUL, no slash, no dots."""
    return _CASE_NUMBER.fullmatch(value) is not None
