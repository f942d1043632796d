"""The voice-activity segmenter on synthetic streams: tones (speech), noise, gaps in arrival."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pytest

from asr.streaming import ArrivalClock
from asr.vad import (
    END_PAUSE_SECONDS,
    POST_PAD_SECONDS,
    PRE_ROLL_SECONDS,
    Segmenter,
    Speech,
    frame_dbfs,
)

RATE = 16000
FRAME = 0.02
TICK = 0.1
TOLERANCE = 0.05  # one or two frames


@dataclass(frozen=True)
class Part:
    """A stretch of the stream: 'tone' (voice-like), 'noise', 'zeros' or 'gap' (no frames)."""

    kind: str
    seconds: float
    dbfs: float = -60.0
    line: float = -60.0  # the line's noise under a tone


def tone(seconds: float, dbfs: float = -20.0, line: float = -60.0) -> Part:
    return Part("tone", seconds, dbfs, line)


def noise(seconds: float, dbfs: float = -60.0) -> Part:
    return Part("noise", seconds, dbfs)


def gap(seconds: float) -> Part:
    return Part("gap", seconds)


def zeros(seconds: float) -> Part:
    return Part("zeros", seconds)


SYLLABLE = 0.25  # a voice-like tone: 200 ms syllables, each followed by 50 ms 30 dB quieter
DIP = 0.05


def samples_of(
    part: Part, count: int, rng: np.random.Generator, phase: int
) -> npt.NDArray[np.float64]:
    amplitude = 32768.0 * 10 ** (part.dbfs / 20.0)
    if part.kind == "tone":  # 220 Hz at the given RMS in syllables, with a little noise
        t = (np.arange(count) + phase) / RATE
        envelope = np.where(t % SYLLABLE < SYLLABLE - DIP, 1.0, 10 ** (-30 / 20))
        wave = np.sqrt(2.0) * amplitude * envelope * np.sin(2 * np.pi * 220.0 * t)
        line = rng.normal(0.0, 32768.0 * 10 ** (part.line / 20.0), count)
        voice: npt.NDArray[np.float64] = np.clip(wave + line, -32768, 32767)
        return voice
    if part.kind == "noise":
        hiss: npt.NDArray[np.float64] = np.clip(rng.normal(0.0, amplitude, count), -32768, 32767)
        return hiss
    return np.zeros(count)


@dataclass(frozen=True)
class Heard:
    speech: Speech
    at: float  # when the segmenter handed it out (stream seconds)


def run(parts: list[Part], jitter: float = 0.0, flush: bool = True) -> list[Heard]:
    """Feed the parts as 20 ms frames arriving in real time (gaps: ticks only)."""
    rng = np.random.default_rng(7)
    segmenter = Segmenter()
    heard: list[Heard] = []
    now = 0.0
    sample = 0
    for part in parts:
        frames = round(part.seconds / FRAME)
        for _ in range(frames):
            if part.kind == "gap":
                now += FRAME
                if abs(now / TICK - round(now / TICK)) < 1e-6:
                    heard += [Heard(s, now) for s in segmenter.tick(now)]
                continue
            pcm = samples_of(part, round(FRAME * RATE), rng, sample).astype(np.int16).tobytes()
            arrival = now + (rng.uniform(-jitter, jitter) if jitter else 0.0)
            heard += [Heard(s, now) for s in segmenter.push(pcm, max(0.0, arrival))]
            now += FRAME
            sample += round(FRAME * RATE)
    if flush:
        heard += [Heard(s, now) for s in segmenter.flush()]
    return heard


CASES = {
    "one utterance between noise": (
        [noise(1.0), tone(1.0), noise(1.0)],
        [(1.0, 2.0, False)],
    ),
    "a short pause keeps one utterance": (
        [noise(1.0), tone(1.0), noise(0.3), tone(1.0), noise(1.0)],
        [(1.0, 3.3, False)],
    ),
    "a long pause makes two": (
        [noise(1.0), tone(1.0), noise(0.8), tone(1.0), noise(1.0)],
        [(1.0, 2.0, False), (2.8, 3.8, False)],
    ),
    "a gap in arrival ends an utterance": (
        [noise(1.0), tone(1.0), gap(1.5), tone(1.0), noise(1.0)],
        [(1.0, 2.0, False), (3.5, 4.5, False)],
    ),
    "a short gap inside speech keeps one utterance": (
        [noise(1.0), tone(1.0), gap(0.3), tone(1.0), noise(1.0)],
        [(1.0, 3.3, False)],
    ),
    "speech from the first frame": (
        [tone(1.5), noise(1.0)],
        [(0.0, 1.5, False)],
    ),
    "a click is no utterance": (
        [noise(1.0), tone(0.06), noise(1.0)],
        [],
    ),
    "a cough shorter than the minimum is no utterance": (
        [noise(1.0), tone(0.14), noise(1.0)],
        [],
    ),
    "quiet speech on a quiet line": (
        [noise(1.0, -70.0), tone(1.0, -40.0, -70.0), noise(1.0, -70.0)],
        [(1.0, 2.0, False)],
    ),
    "hiss on a digitally silent line is not speech": (
        [zeros(1.0), tone(1.0, -55.0, -200.0), zeros(1.0)],
        [],
    ),
    "speech on a digitally silent line": (
        [zeros(1.0), tone(1.0, -30.0, -200.0), zeros(1.0)],
        [(1.0, 2.0, False)],
    ),
    "speech barely above loud line noise is not heard (the noise only until its floor is known)": (
        [noise(4.0, -35.0), tone(1.0, -30.0, -35.0), noise(1.0, -35.0)],
        [(0.0, 0.5, False)],
    ),
    "speech well above loud line noise is heard": (
        [noise(4.0, -45.0), tone(1.0, -20.0, -45.0), noise(1.0, -45.0)],
        [(0.0, 0.5, False), (4.0, 5.0, False)],
    ),
    "speech ended by the end of the stream": (
        [noise(1.0), tone(1.0)],
        [(1.0, 2.0, False)],
    ),
    "long speech is cut at its quietest recent point": (
        [noise(1.0), tone(12.0), noise(0.2, -70.0), tone(6.0), noise(1.0)],
        [(1.0, 13.0, True), (13.2, 19.2, False)],
    ),
}


def test_long_speech_without_a_marked_dip_is_cut_within_the_search_stretch() -> None:
    heard = run([noise(1.0), tone(20.0), noise(1.0)])
    assert [h.speech.cut for h in heard] == [True, False]
    first, second = heard[0].speech, heard[1].speech
    assert 16.0 - 3.0 <= first.end <= 16.0
    assert second.start - first.end == pytest.approx(0.0, abs=0.1)
    assert second.end == pytest.approx(21.0, abs=TOLERANCE)


@pytest.mark.parametrize("name", list(CASES))
def test_utterance_boundaries(name: str) -> None:
    parts, expected = CASES[name]
    got = [(h.speech.start, h.speech.end, h.speech.cut) for h in run(parts)]
    assert len(got) == len(expected), got
    for (start, end, cut), (want_start, want_end, want_cut) in zip(got, expected, strict=True):
        assert start == pytest.approx(want_start, abs=TOLERANCE), got
        assert cut == want_cut, got
        assert end == pytest.approx(want_end, abs=TOLERANCE), got


def test_a_lasting_rise_in_line_noise_is_speech_for_at_most_the_floor_window() -> None:
    heard = run([noise(1.0, -65.0), noise(8.0, -35.0)])
    assert len(heard) <= 1
    assert all(h.speech.end <= 1.0 + 3.0 + TOLERANCE for h in heard)


def test_the_utterance_ends_a_pause_after_the_speech_not_at_the_end_of_the_stream() -> None:
    heard = run([noise(1.0), tone(1.0), noise(3.0)], flush=False)
    assert len(heard) == 1
    assert heard[0].speech.end == pytest.approx(2.0, abs=TOLERANCE)
    assert heard[0].at == pytest.approx(heard[0].speech.end + END_PAUSE_SECONDS, abs=0.021)


def test_a_gap_is_closed_by_a_tick_before_more_audio_arrives() -> None:
    heard = run([noise(1.0), tone(1.0), gap(5.0)], flush=False)
    assert len(heard) == 1
    assert heard[0].at == pytest.approx(2.0 + END_PAUSE_SECONDS, abs=TICK + TOLERANCE)


def test_the_audio_has_padding_and_its_gaps_filled_with_silence() -> None:
    (heard,) = run([noise(1.0), tone(1.0), gap(0.3), tone(1.0), noise(1.0)])
    speech = heard.speech
    assert speech.audio_start == pytest.approx(1.0 - PRE_ROLL_SECONDS, abs=TOLERANCE)
    span = speech.end + POST_PAD_SECONDS - speech.audio_start
    assert len(speech.audio) / RATE == pytest.approx(span, abs=TOLERANCE)
    in_gap = speech.audio[round((2.05 - speech.audio_start) * RATE) :][: round(0.2 * RATE)]
    assert not in_gap.any()
    in_tone = speech.audio[round((2.5 - speech.audio_start) * RATE) :][: round(0.2 * RATE)]
    assert frame_dbfs(in_tone) == pytest.approx(-20.0, abs=2.0)  # syllables and dips


def test_arrival_jitter_does_not_split_or_stretch() -> None:
    heard = run([noise(1.0), tone(3.0), noise(1.0)], jitter=0.008)
    assert [(round(h.speech.start, 1), round(h.speech.end, 1)) for h in heard] == [(1.0, 4.0)]
    assert len(heard[0].speech.audio) / RATE == pytest.approx(
        3.0 + PRE_ROLL_SECONDS + POST_PAD_SECONDS, abs=TOLERANCE
    )


def test_ongoing_speech_is_visible_before_it_ends() -> None:
    segmenter = Segmenter()
    rng = np.random.default_rng(1)
    assert segmenter.ongoing() is None
    for index in range(50):
        pcm = samples_of(tone(0.02), 320, rng, index * 320).astype(np.int16).tobytes()
        segmenter.push(pcm, index * FRAME)
    ongoing = segmenter.ongoing()
    assert ongoing is not None and ongoing.start == pytest.approx(0.0)
    assert len(ongoing.audio) / RATE == pytest.approx(1.0, abs=TOLERANCE)
    assert segmenter.speaking


ARRIVALS = {
    "contiguous": ([0.0, 0.02, 0.04], [(0.0, 0.0), (0.02, 0.0), (0.04, 0.0)]),
    "jitter is absorbed": ([0.0, 0.035, 0.045], [(0.0, 0.0), (0.02, 0.0), (0.04, 0.0)]),
    "a late chunk leaves a gap": ([0.0, 0.02, 0.5], [(0.0, 0.0), (0.02, 0.0), (0.5, 0.46)]),
    "a burst after a delay stays in order": (
        [0.0, 0.09, 0.091, 0.092],
        [(0.0, 0.0), (0.02, 0.0), (0.04, 0.0), (0.06, 0.0)],
    ),
}


@pytest.mark.parametrize("name", list(ARRIVALS))
def test_arrival_clock(name: str) -> None:
    arrivals, expected = ARRIVALS[name]
    clock = ArrivalClock()
    got = [clock.place(b"\0" * 640, at) for at in arrivals]
    assert got == [pytest.approx(e) for e in expected]
