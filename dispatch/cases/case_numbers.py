"""Case numbers (编号) from a format setting: ``{date:…}`` and ``{seq:…}`` fields.

The default ``TS{date:%Y%m%d}{seq:04d}`` gives ``TS202611210001``. The sequence counts per
rendered prefix (the format without its ``{seq}`` field), so a date in the format restarts
the count each day. Pure: the counter lives in ``case_store``.
"""

from __future__ import annotations

import datetime as dt
import string

FIELDS = frozenset({"date", "seq"})


class NumberFormatError(ValueError):
    pass


def _parts(fmt: str) -> list[tuple[str, str | None, str]]:
    try:
        parsed = list(string.Formatter().parse(fmt))
    except ValueError as exc:
        raise NumberFormatError(f"case number format {fmt!r}: {exc}") from exc
    return [(literal, name, spec or "") for literal, name, spec, _conv in parsed]


def check_format(fmt: str) -> str:
    """Return ``fmt`` if it is a usable case-number format, else raise with the reason."""
    names = [name for _lit, name, _spec in _parts(fmt) if name is not None]
    unknown = set(names) - FIELDS
    if unknown:
        raise NumberFormatError(
            f"case number format may only use {{date}} and {{seq}}, not {sorted(unknown)}"
        )
    if names.count("seq") != 1:
        raise NumberFormatError("case number format needs exactly one {seq} field")
    try:
        sample = render(fmt, dt.date(2026, 12, 31), 99999)
    except (ValueError, TypeError) as exc:
        raise NumberFormatError(f"case number format {fmt!r}: {exc}") from exc
    if not 1 <= len(sample) <= 64:
        raise NumberFormatError("case numbers must be 1 to 64 characters long")
    return fmt


def counter_key(fmt: str, day: dt.date) -> str:
    """What the sequence counts within: the number without its sequence part."""
    pieces = []
    for literal, name, spec in _parts(fmt):
        pieces.append(literal)
        if name == "date":
            pieces.append(format(day, spec))
        elif name == "seq":
            pieces.append("#")
    return "".join(pieces)


def render(fmt: str, day: dt.date, seq: int) -> str:
    return fmt.format(date=day, seq=seq)
