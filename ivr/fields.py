"""Bounds on the values that come from outside (SIP headers through Asterisk, the CDR).

A caller chooses their number and name: Asterisk passes numbers of up to 79 characters and
names of any length, with any characters in them. Every such value is cleaned and cut to its
column's length where it enters (the AMI adapter, the CDR reader), so that no field can cost
a call; ``call_store`` cuts again to the columns as a last guard."""

from __future__ import annotations

import unicodedata

NUMBER = 64  # calls.caller_number, calls.dialled_number
NAME = 128  # calls.caller_name
CHANNEL = 128  # calls.channel
UNIQUEID = 64  # calls.asterisk_uniqueid, calls.linkedid
OPERATOR = 64  # calls.operator, console_events.phone
REASON = 500  # a failure reason from the dialplan or the call flow

# Bidirectional overrides and isolates reorder what is shown around them.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_DROPPED_CATEGORIES = frozenset({"Cc", "Cs"})  # control characters, lone surrogates


def clean(value: str | None, limit: int) -> str:
    """``value`` without control characters (ESC, BEL…: dropped; line breaks and tabs
    become spaces), trimmed and cut to ``limit`` characters."""
    kept = []
    for char in value or "":
        if char in "\t\n\r\v\f":
            kept.append(" ")
        elif unicodedata.category(char) in _DROPPED_CATEGORIES or char in _BIDI_CONTROLS:
            continue
        else:
            kept.append(char)
    return "".join(kept).strip()[:limit].strip()
