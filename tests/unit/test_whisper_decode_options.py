"""The options of one live Whisper decode: one try at temperature 0, tokens bounded by the
audio's length, within Whisper's context."""

from __future__ import annotations

from asr.whisper_stream import MAX_NEW_TOKENS, WhisperOptions, decode_options


def test_one_try_at_temperature_zero() -> None:
    options = decode_options(WhisperOptions(), 3.0)
    assert options["temperature"] == 0.0
    assert options["condition_on_previous_text"] is False
    assert options["language"] == "zh"


def test_tokens_grow_with_the_audio_and_stay_within_the_context() -> None:
    short = decode_options(WhisperOptions(), 0.5)["max_new_tokens"]
    long = decode_options(WhisperOptions(), 15.0)["max_new_tokens"]
    # 15 s of fast Mandarin (8 characters a second, up to 2 tokens each) still fits.
    assert short < long and long >= 15 * 8 * 2
    assert decode_options(WhisperOptions(), 60.0)["max_new_tokens"] == MAX_NEW_TOKENS <= 448 - 4


def test_the_beam_and_word_times_follow_the_options() -> None:
    options = decode_options(WhisperOptions(beam_size=5, word_timestamps=False), 2.0)
    assert (options["beam_size"], options["word_timestamps"]) == (5, False)
