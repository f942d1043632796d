"""Live recognition with faster-whisper: the voice-activity detector (``asr.vad``) cuts the
stream into utterances and each is transcribed as it ends.

Whisper does not stream: it hears a whole utterance at once (its encoder always sees a 30 s
window, so a short utterance costs about as much as a long one). Decoding is CPU-bound and
blocks; the caller runs ``accept``/``tick``/``finish`` in a worker thread. One loaded model
serves every stream of the factory (CTranslate2 models are thread-safe) with ``decoders``
workers: that many decodes run at once, the rest queue.

At hang-up both of a call's streams usually have an utterance left to decode, at the same
moment; that pair of decodes is what the final transcript waits for. Measured on 2 cores
(bench/decoder_pairs.py, telephone-band sample clips): a pair at once took 2.25 s with one
worker of two threads (they queue), 1.55 s with two workers of one thread and 1.61 s with two
of two threads; a lone decode 1.05 s, 1.45 s and 1.11 s. Hence two workers of all cores' threads.

Whisper invents text on near-silence and noise ("谢谢观看"...): a segment it is not sure holds
speech (``no_speech_prob``), or whose tokens are unlikely (``avg_logprob``), or that repeats
itself (``compression_ratio``) is dropped.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from asr.engine import model_name
from asr.model_kind import missing_whisper_parts
from asr.streaming import SAMPLE_RATE, Heard, Partial, Utterance
from asr.transcript_data import Word
from asr.vad import Segmenter, Speech, VadParams
from asr.whisper_model import (
    DEFAULT_BEAM_SIZE,
    LANGUAGE,
    WHISPER_ENGINE,
    load_whisper,
    to_simplified,
)

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

# Dropping invented text. Measured with Whisper base (beam 1): on white noise, a 50 Hz hum, a
# 425 Hz ring-back tone, DTMF and breath-like bursts it wrote short phrases ("字幕製作人",
# "我认为你能够做好") with no_speech_prob 0.70-0.86 and avg_logprob -1.26 to -3.03, which
# faster-whisper's own rule (no_speech_prob > 0.6 AND avg_logprob < -1) already skips; on the
# twelve sample clips every segment had no_speech_prob <= 0.07, avg_logprob >= -0.55 and
# compression_ratio <= 0.9. The rule here is stricter (either sign suffices), with a margin.
MAX_NO_SPEECH_PROB = 0.5
MIN_AVG_LOGPROB = -1.0
MAX_COMPRESSION_RATIO = 2.4  # Whisper's own threshold for repetitive (looping) text
# Word times: measured with bench/stream_rtf.py (12 sample clips, beam 1, 2 threads) at 1.75 s
# of CPU per utterance against 1.54 s without (RTF 0.377 against 0.347), worth it for the
# transcript's word times.
WORD_TIMESTAMPS = True
DECODERS = 2  # decodes at once: one per speaker of a call (see the module's notes)
# A running guess every this many seconds of ongoing speech; 0 is off. Each guess is a full
# decode: one a second took the RTF from 0.30 to 1.25 (bench/stream_rtf.py), more than two
# cores can spare for several live calls, so the Whisper engine gives final utterances only.
PARTIAL_EVERY_SECONDS = 0.0
TOKENS_PER_SECOND = 20  # generous: about 8 characters a second, up to two tokens each
MAX_NEW_TOKENS = 440  # Whisper's 448-token context less the prompt's few tokens
_NO_TEXT = re.compile(r"^[\s\W_]*$")

log = logging.getLogger(__name__)


class WhisperError(RuntimeError):
    pass


@dataclass(frozen=True)
class WhisperOptions:
    beam_size: int = DEFAULT_BEAM_SIZE
    word_timestamps: bool = WORD_TIMESTAMPS
    partial_every_seconds: float = PARTIAL_EVERY_SECONDS
    vad: VadParams = field(default_factory=VadParams)


class WhisperStreamFactory:
    engine = WHISPER_ENGINE

    def __init__(
        self,
        model_path: Path,
        threads: int,
        beam_size: int = DEFAULT_BEAM_SIZE,
        options: WhisperOptions | None = None,
        model: WhisperModel | None = None,
        decoders: int = DECODERS,
    ) -> None:
        missing = missing_whisper_parts(model_path)
        if missing:
            raise WhisperError(
                f"{model_path} is not a complete Whisper model: missing " + ", ".join(missing)
            )
        self.model = model_name(model_path)
        self.options = options or WhisperOptions(beam_size=beam_size)
        self._model = (
            model if model is not None else load_whisper(model_path, threads, workers=decoders)
        )
        self._warm_up()

    def _warm_up(self) -> None:
        """One decode of a second of silence, so that the first call's first utterance does
        not also pay for CTranslate2's first run (allocations, kernel selection)."""
        segments, _info = self._model.transcribe(
            np.zeros(SAMPLE_RATE, dtype=np.float32),
            language="zh",
            beam_size=1,
            condition_on_previous_text=False,
        )
        for _segment in segments:  # the decode runs as the segments are read
            pass

    def new_stream(self) -> WhisperStream:
        return WhisperStream(self._model, self.model, self.options)


class WhisperStream:
    engine = WHISPER_ENGINE

    def __init__(self, whisper: WhisperModel, model: str, options: WhisperOptions) -> None:
        self.model = model
        self.options = options
        self._whisper = whisper
        self._vad = Segmenter(options.vad)
        self._partial_at = 0.0  # length of the ongoing speech at its last running guess
        self._partial_text = ""

    def accept(self, pcm: bytes, at: float) -> list[Heard]:
        heard = self._decoded(self._vad.push(pcm, at))
        return heard + self._running_guess()

    def tick(self, now: float) -> list[Heard]:
        return self._decoded(self._vad.tick(now))

    def finish(self) -> list[Heard]:
        return self._decoded(self._vad.flush())

    def _decoded(self, ended: list[Speech]) -> list[Heard]:
        heard: list[Heard] = []
        for speech in ended:
            self._partial_at, self._partial_text = 0.0, ""
            utterance = self.transcribe(speech)
            if utterance is not None:
                heard.append(utterance)
        return heard

    def _running_guess(self) -> list[Heard]:
        every = self.options.partial_every_seconds
        if every <= 0.0:
            return []
        ongoing = self._vad.ongoing()
        if ongoing is None or ongoing.seconds - self._partial_at < every:
            return []
        self._partial_at = ongoing.seconds
        utterance = self.transcribe(ongoing)
        if utterance is None or utterance.text == self._partial_text:
            return []
        self._partial_text = utterance.text
        return [Partial(start=utterance.start, text=utterance.text)]

    def transcribe(self, speech: Speech) -> Utterance | None:
        """The utterance's text (None when Whisper heard no speech in it)."""
        began = time.perf_counter()
        audio = speech.audio.astype(np.float32) / 32768.0
        segments, _info = self._whisper.transcribe(
            audio, **decode_options(self.options, len(audio) / SAMPLE_RATE)
        )
        kept = [s for s in segments if believable(s)]
        texts = [to_simplified(s.text.strip()) for s in kept]
        text = "".join(t for t in texts if t)
        # The text itself is the citizen's words: never in the log.
        log.info(
            "decoded %.2f s of speech in %.2f s: %d characters",
            speech.end - speech.start,
            time.perf_counter() - began,
            len(text),
        )
        if _NO_TEXT.match(text):
            return None
        words = tuple(
            Word(
                text=to_simplified(w.word.strip()),
                start=round(speech.audio_start + float(w.start), 3),
                end=round(speech.audio_start + float(w.end), 3),
                confidence=round(float(w.probability), 3),
            )
            for s in kept
            for w in (s.words or ())
            if w.word.strip()
        )
        return Utterance(
            start=round(speech.start, 3), end=round(speech.end, 3), text=text, words=words
        )


def decode_options(options: WhisperOptions, seconds: float) -> dict[str, Any]:
    """faster-whisper's options for one utterance of ``seconds`` (audio with its padding).

    One decode at temperature 0, no fallback: faster-whisper's default retries at five higher
    temperatures whenever the text looks unlikely (avg_logprob < -1) or loops, which is what a
    fragment cut by the hang-up often gives; measured on the tail of a 5-minute call, 0.48 s of
    speech took 3.71 s instead of about 0.9 s, and the text it then gave was dropped anyway
    (``believable`` keeps no segment under -1). The tokens are bounded by the audio's length
    (Mandarin is spoken at up to about 8 characters a second, a character one or two tokens),
    so that a decode that loops stops early."""
    return {
        "language": LANGUAGE,
        "beam_size": options.beam_size,
        "temperature": 0.0,
        "condition_on_previous_text": False,
        "vad_filter": False,
        "word_timestamps": options.word_timestamps,
        "max_new_tokens": min(MAX_NEW_TOKENS, int(TOKENS_PER_SECOND * seconds) + 16),
    }


def believable(segment: Any) -> bool:
    """Whisper heard speech in this segment, not noise it turned into words."""
    return (
        float(segment.no_speech_prob) <= MAX_NO_SPEECH_PROB
        and float(segment.avg_logprob) >= MIN_AVG_LOGPROB
        and float(segment.compression_ratio) <= MAX_COMPRESSION_RATIO
    )
