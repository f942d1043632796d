from __future__ import annotations

import wave
from pathlib import Path

from ivr import prompts

TEXTS = {
    "notice": "您好，您的电话将被录音，请您对咨询投诉内容的真实性负责",
    "thanks": "感谢您的来电",
}


def test_stale_prompts_are_the_missing_and_the_changed() -> None:
    manifest = {
        "notice": prompts.fingerprint(TEXTS["notice"]),
        "thanks": prompts.fingerprint("旧的文字"),
    }
    assert prompts.stale(TEXTS, manifest, {"notice", "thanks"}) == ["thanks"]
    assert prompts.stale(TEXTS, manifest, {"thanks"}) == ["notice", "thanks"]
    assert (
        prompts.stale(
            TEXTS, {k: prompts.fingerprint(v) for k, v in TEXTS.items()}, {"notice", "thanks"}
        )
        == []
    )


def test_prompts_are_synthesised_for_asterisk_and_regenerated_on_change(tmp_path: Path) -> None:
    made = prompts.ensure_prompts(tmp_path, TEXTS)
    assert made == ["notice", "thanks"]
    notice = prompts.prompt_path(tmp_path, "notice")
    with wave.open(str(notice), "rb") as handle:
        assert (handle.getframerate(), handle.getnchannels(), handle.getsampwidth()) == (8000, 1, 2)
        assert handle.getnframes() > 8000 * 3, "the mandatory notice takes seconds to say"
    assert prompts.prompt_path(tmp_path, "beep").exists()

    before = notice.stat().st_mtime_ns
    assert prompts.ensure_prompts(tmp_path, TEXTS) == []
    assert notice.stat().st_mtime_ns == before

    changed = {**TEXTS, "thanks": "感谢您的来电，再见"}
    assert prompts.ensure_prompts(tmp_path, changed) == ["thanks"]
    assert notice.stat().st_mtime_ns == before


def test_synthesis_works_again_and_again_in_one_process(tmp_path: Path) -> None:
    """pyttsx3's espeak driver stops writing after its first batch in a process."""
    for attempt in range(3):
        folder = tmp_path / str(attempt)
        assert prompts.ensure_prompts(folder, TEXTS) == ["notice", "thanks"]
        assert prompts.prompt_path(folder, "thanks").stat().st_size > 8000
