"""What the text in a search box means. Pure.

The text is normalised the way people type it: full-width letters and digits (a Chinese
input method in full-width mode) become ASCII, letters lower case, runs of blanks and
punctuation separate terms. A term is looked for as it is, anywhere in the text (Chinese
has no spaces between words, so there are no words to match): every term must occur.

Besides its terms, the text may be a case number (found however typed: case, spaces,
full-width) or a phone number (in every form the registration form stores it).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from dispatch.cases.registration import normalise_phone, valid_phone

MAX_QUERY_CHARS = 100
MAX_TERMS = 6
# Between terms (after NFKC): blanks and punctuation, but not what numbers and codes are
# made of (- _ . @ + #).
SEPARATORS = re.compile(r"[\s,;:!?()\[\]{}<>\"'`|~*=^$%&\\/、。【】《》〈〉「」『』“”‘’…·]+")
CASE_NUMBER = re.compile(r"[0-9A-Z_-]{4,64}")
PHONE_CHARS = re.compile(r"[+\d\s()（）-]{7,24}")
FULL_WIDTH_OFFSET = 0xFEE0


@dataclass(frozen=True)
class Query:
    """A search box's text: ``text`` normalised, its ``terms`` (each must occur), the text
    as a case number (``number_keys``: the spellings to look up) and as a phone number
    (``phone_forms``: every stored form of it)."""

    text: str = ""
    terms: tuple[str, ...] = ()
    number_keys: tuple[str, ...] = ()
    phone_forms: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.terms)


def normalise(raw: str) -> str:
    """NFKC (full-width → ASCII), no control or format characters, lower case, single
    blanks, at most ``MAX_QUERY_CHARS`` characters."""
    text = unicodedata.normalize("NFKC", raw or "")
    text = "".join(
        " " if ch.isspace() else ch
        for ch in text
        if ch.isspace() or unicodedata.category(ch) not in {"Cc", "Cf", "Cs", "Co", "Cn"}
    )
    return " ".join(text.lower().split())[:MAX_QUERY_CHARS].strip()


def split_terms(text: str) -> tuple[str, ...]:
    """The distinct terms of the text, normalised, longest kept where one contains another
    (``噪音 噪音扰民`` needs only ``噪音扰民``), in the order typed, at most ``MAX_TERMS``."""
    found: list[str] = []
    for term in SEPARATORS.split(normalise(text)):
        term = term.strip("-_.@+#")
        if term and term not in found:
            found.append(term)
    kept = [t for t in found if not any(t != other and t in other for other in found)]
    return tuple(kept[:MAX_TERMS])


def number_keys(raw: str) -> tuple[str, ...]:
    """The spellings of a case number typed in any case, with spaces or in full width
    (``ts 2026 1121 0001`` → ``TS202611210001``); none if it cannot be one."""
    compact = "".join(unicodedata.normalize("NFKC", raw or "").split())
    upper = compact.upper()
    if not CASE_NUMBER.fullmatch(upper) or not any(ch.isdigit() for ch in upper):
        return ()
    return tuple(dict.fromkeys((upper, compact, compact.lower())))


def phone_forms(raw: str) -> frozenset[str]:
    """Every form a phone number is stored in (as the registration form writes it, with or
    without the dash after a landline's area code, as a caller ID with +86); empty if the
    text is not a whole phone number."""
    text = unicodedata.normalize("NFKC", raw or "").strip()
    if not PHONE_CHARS.fullmatch(text):
        return frozenset()
    phone = normalise_phone(text)
    if not valid_phone(phone):
        return frozenset()
    digits = phone.replace("-", "")
    forms = {phone, digits}
    if digits.startswith("1"):
        forms |= {f"+86{digits}", f"86{digits}", f"0086{digits}"}
    else:
        forms |= {f"{digits[:3]}-{digits[3:]}", f"{digits[:4]}-{digits[4:]}"}
        forms |= {f"+86{digits[1:]}", f"0086{digits[1:]}"}
    return frozenset(forms)


def parse(raw: str) -> Query:
    text = normalise(raw)
    return Query(text, split_terms(text), number_keys(raw), phone_forms(raw))


def full_width(term: str) -> str:
    """``term`` with its ASCII letters, digits and signs in full width (１３８…)."""
    return "".join(chr(ord(ch) + FULL_WIDTH_OFFSET) if "!" <= ch <= "~" else ch for ch in term)


def variants(term: str) -> tuple[str, ...]:
    """The spellings a term is looked for in: as typed, and in full width where it has
    ASCII letters or digits (stored text may have been typed either way)."""
    wide = full_width(term)
    return (term, wide) if wide != term else (term,)


def like_pattern(term: str) -> str:
    """A LIKE pattern for ``term`` anywhere (``\\`` escapes)."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def fts5_string(term: str) -> str:
    """``term`` as an FTS5 string (a phrase of its trigrams)."""
    return '"' + term.replace('"', '""') + '"'


@dataclass(frozen=True)
class Piece:
    """A piece of an excerpt; ``hit`` where it is one of the terms."""

    text: str
    hit: bool = False


def excerpt(text: str, terms: tuple[str, ...], width: int = 90) -> list[Piece]:
    """Up to ``width`` characters of ``text`` around its first term, with every term found
    marked (… where text was left out); the start of the text when no term is in it."""
    text = " ".join((text or "").split())
    alternatives = sorted({v for t in terms for v in variants(t)}, key=len, reverse=True)
    pattern = (
        re.compile("|".join(re.escape(v) for v in alternatives), re.IGNORECASE)
        if alternatives
        else None
    )
    first = pattern.search(text) if pattern else None
    start = 0
    if first is not None and len(text) > width:
        start = max(0, min(first.start() - width // 4, len(text) - width))
    window = text[start : start + width]
    pieces: list[Piece] = [Piece("…")] if start > 0 else []
    cursor = 0
    for found in pattern.finditer(window) if pattern else ():
        if found.start() > cursor:
            pieces.append(Piece(window[cursor : found.start()]))
        pieces.append(Piece(found.group(), True))
        cursor = found.end()
    if cursor < len(window):
        pieces.append(Piece(window[cursor:]))
    if start + width < len(text):
        pieces.append(Piece("…"))
    return pieces
