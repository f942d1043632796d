"""What the citizen hears on the satisfaction call-back, and the audio files for it.

The question names the case number, read one character at a time (letters by name, digits as
二零二六…), then the keys 1 to 5 of the five-level scale. Each text is synthesised once, like
the other prompts (``ivr.prompts``), into ``<sounds>/hotline/satisfaction/``; a file's name
carries a fingerprint of its text, so changed wording gets new audio by itself.
"""

from __future__ import annotations

import re
from pathlib import Path

from dispatch.feedback.scale import DIGIT_TO_LEVEL, LEVEL_LABELS
from ivr import dialplan_variables as dv
from ivr import prompts

CHINESE_DIGITS = "零一二三四五六七八九"
GROUP = 4  # digits read in groups of four, with a short pause between groups

RETRY = "没有收到有效按键，请再听一遍。"
THANKS = "感谢您的评价，再见。"
GOODBYE = "没有收到您的按键，我们会再与您联系，再见。"
FIXED = {"retry": RETRY, "thanks": THANKS, "goodbye": GOODBYE}


def spoken_case_number(number: str) -> str:
    """``TS202611210001`` → ``T S，二零二六，一一二一，零零零一``: Latin letters by name,
    digits one by one in Chinese, grouped by four; anything else (dashes) is left out."""
    letters: list[str] = []
    digits: list[str] = []
    for char in number.strip():
        if "0" <= char <= "9":
            digits.append(CHINESE_DIGITS[int(char)])
        elif char.isascii() and char.isalpha() and not digits:
            letters.append(char.upper())
        elif char.isascii() and char.isalpha():
            digits.append(char.upper())
    groups = ["".join(digits[i : i + GROUP]) for i in range(0, len(digits), GROUP)]
    return "，".join(part for part in [" ".join(letters), *groups] if part)


def key_menu() -> str:
    """非常满意按一，满意按二，… — from the five-level scale itself."""
    return "，".join(
        f"{LEVEL_LABELS[level]}按{CHINESE_DIGITS[int(digit)]}"
        for digit, level in DIGIT_TO_LEVEL.items()
    )


def question_text(case_number: str) -> str:
    return (
        f"您好，这里是便民热线回访。您反映的工单号{spoken_case_number(case_number)}，"
        f"已办理并答复。请评价办理结果：{key_menu()}。"
    )


def _safe(name: str) -> str:
    return "".join(ch for ch in name if ch.isascii() and ch.isalnum())


def prompt_file(sounds_dir: Path, stem: str, text: str) -> Path:
    """The WAV file holding ``text``; its name changes with the text."""
    folder = sounds_dir / dv.PROMPT_DIR / dv.SATISFACTION_PROMPT_DIR
    return folder / f"{_safe(stem)}-{prompts.fingerprint(text)[:12]}.wav"


def case_stem(case_number: str) -> str:
    stem = _safe(case_number)
    if not stem:
        raise ValueError(f"unusable case number {case_number!r}")
    return f"case{stem}"


def ensure(sounds_dir: Path, stem: str, text: str) -> str:
    """Synthesise ``text`` unless done already; return the path Asterisk plays (without the
    extension). Blocking: run it off the event loop."""
    path = prompt_file(sounds_dir, stem, text)
    if not path.exists():
        prompts.synthesise_prompt(text, path)
    return str(path.with_suffix(""))


def ensure_question(sounds_dir: Path, case_number: str) -> str:
    return ensure(sounds_dir, case_stem(case_number), question_text(case_number))


def ensure_fixed(sounds_dir: Path) -> dict[str, str]:
    """The prompts every call-back shares, by name (retry, thanks, goodbye)."""
    return {name: ensure(sounds_dir, name, text) for name, text in FIXED.items()}


def discard_question(sounds_dir: Path, case_number: str) -> None:
    """The case's call-back is over: its question is not needed any more."""
    folder = sounds_dir / dv.PROMPT_DIR / dv.SATISFACTION_PROMPT_DIR
    stem = case_stem(case_number)
    for path in folder.glob(f"{stem}-*.wav"):
        if re.fullmatch(rf"{stem}-[0-9a-f]{{12}}\.wav", path.name):
            path.unlink(missing_ok=True)
