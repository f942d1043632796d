"""Voice-activity segmentation of one speaker's stream: where utterances begin and end. Pure.

Audio arrives as 16 kHz 16-bit mono PCM chunks (Asterisk sends 20 ms frames), each with its
arrival time; a silent direction sends nothing, so a gap in arrival is silence. Each frame's
energy is compared with an adaptive noise floor (the quietest frame of the last few seconds:
telephone line noise after G.711 changes from call to call). An utterance begins when most
frames of a short window are voiced, and ends after a pause (unvoiced frames, frames that stop
arriving, or both) or at a maximum length, where it is cut at its quietest recent frame.

The audio handed out covers the utterance with a little padding on both sides; a short gap
inside it is filled with digital silence so that a sample's position in the audio is its time
in the stream (``audio_start + index / SAMPLE_RATE``).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from asr.streaming import FRAME_SECONDS, SAMPLE_RATE, ArrivalClock

Samples = npt.NDArray[np.int16]

# The thresholds. Speech on a telephone line sits around -35 to -15 dBFS; the line's noise
# after a G.711 round trip around -65 to -50 dBFS (measured on the sample clips and on
# recordings of this PBX). A frame is voiced when it is both MARGIN_DB above the floor and
# louder than MIN_VOICED_DBFS (so that a perfectly silent line, whose floor is digital
# silence, does not make its faint hiss "speech"). Tuned by bench/stream_rtf.py and the CER
# benchmark.
MARGIN_DB = 12.0
MIN_VOICED_DBFS = -50.0
SILENCE_DBFS = -90.0  # the energy given to digital silence (log of zero)
FLOOR_PRIOR_DBFS = -60.0  # the floor assumed before a stream has shown its own noise
FLOOR_WINDOW_SECONDS = 3.0  # the floor is the quietest frame of this window: speech always
# has dips between syllables within it, while a lasting rise in line noise lifts the floor
# after at most this long.
FLOOR_PRIOR_SECONDS = 0.5  # the prior holds this long at the start of a stream (so speech
# from its first frame is heard); then the stream's own quietest frames decide.
START_WINDOW_FRAMES = 6  # an utterance starts when START_VOICED_FRAMES of the last
START_VOICED_FRAMES = 4  # START_WINDOW_FRAMES are voiced (80 of 120 ms: a click does not)
END_PAUSE_SECONDS = 0.6  # a pause this long ends an utterance (Mandarin speakers pause
# 200-400 ms between phrases of one sentence; 0.6 s keeps a sentence whole)
MAX_UTTERANCE_SECONDS = 15.0  # longer speech is cut (Whisper sees at most 30 s at once)
CUT_SEARCH_SECONDS = 3.0  # ... at its quietest frame of this last stretch
CONTINUE_WINDOW_FRAMES = 3  # during a pause, speech resumes only when CONTINUE_VOICED_FRAMES
CONTINUE_VOICED_FRAMES = 2  # of the last CONTINUE_WINDOW_FRAMES are voiced: a lone frame of
# line noise over the threshold does not keep an utterance open (it did, 0.6 s past the end of
# a noisy AISHELL clip)
MIN_VOICED_SECONDS = 0.2  # shorter bursts (a cough, a click) are no utterance
PRE_ROLL_SECONDS = 0.2  # audio kept before the first voiced frame (soft onsets)
POST_PAD_SECONDS = 0.2  # audio kept after the last voiced frame (soft endings)


@dataclass(frozen=True)
class VadParams:
    margin_db: float = MARGIN_DB
    min_voiced_dbfs: float = MIN_VOICED_DBFS
    floor_prior_dbfs: float = FLOOR_PRIOR_DBFS
    floor_window_seconds: float = FLOOR_WINDOW_SECONDS
    floor_prior_seconds: float = FLOOR_PRIOR_SECONDS
    start_window_frames: int = START_WINDOW_FRAMES
    start_voiced_frames: int = START_VOICED_FRAMES
    end_pause_seconds: float = END_PAUSE_SECONDS
    max_utterance_seconds: float = MAX_UTTERANCE_SECONDS
    cut_search_seconds: float = CUT_SEARCH_SECONDS
    continue_window_frames: int = CONTINUE_WINDOW_FRAMES
    continue_voiced_frames: int = CONTINUE_VOICED_FRAMES
    min_voiced_seconds: float = MIN_VOICED_SECONDS
    pre_roll_seconds: float = PRE_ROLL_SECONDS
    post_pad_seconds: float = POST_PAD_SECONDS


@dataclass(frozen=True)
class Speech:
    """One utterance: its voiced span (stream seconds) and its audio with padding."""

    start: float  # the first voiced frame begins
    end: float  # the last voiced frame ends
    audio_start: float  # where audio[0] sits in the stream
    audio: Samples
    cut: bool = False  # ended by the length limit, not by a pause

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class _Frame:
    start: float
    samples: Samples
    dbfs: float
    voiced: bool

    @property
    def end(self) -> float:
        return self.start + len(self.samples) / SAMPLE_RATE


def frame_dbfs(samples: Samples) -> float:
    """The frame's RMS level in dB relative to full scale (SILENCE_DBFS for digital silence)."""
    if len(samples) == 0:
        return SILENCE_DBFS
    rms = float(np.sqrt(np.mean(np.square(samples.astype(np.float64)))))
    if rms <= 0.0:
        return SILENCE_DBFS
    return max(SILENCE_DBFS, 20.0 * float(np.log10(rms / 32768.0)))


class _NoiseFloor:
    """The quietest frame level of the last window (a monotonic queue), starting from a prior
    that holds for the first ``prior_seconds`` of the stream."""

    def __init__(self, prior: float, window: float, prior_seconds: float) -> None:
        self.window = window
        self.prior_seconds = prior_seconds
        self._queue: deque[tuple[float, float]] = deque()  # (time, dBFS), levels increasing
        self._prior = prior
        self._first: float | None = None

    def add(self, at: float, dbfs: float) -> None:
        if self._first is None:
            self._first = at
        while self._queue and self._queue[-1][1] >= dbfs:
            self._queue.pop()
        self._queue.append((at, dbfs))
        while self._queue[0][0] <= at - self.window:
            self._queue.popleft()

    def level(self, at: float) -> float:
        lowest = self._queue[0][1] if self._queue else self._prior
        if self._first is None or at - self._first < self.prior_seconds:
            return min(lowest, self._prior)
        return lowest


class Segmenter:
    """Cuts one stream into utterances. Feed it chunks as they arrive (``push``), tell it when
    time passes without audio (``tick``), and ``flush`` at the end."""

    def __init__(self, params: VadParams | None = None) -> None:
        self.params = params or VadParams()
        self._clock = ArrivalClock()
        self._floor = _NoiseFloor(
            self.params.floor_prior_dbfs,
            self.params.floor_window_seconds,
            self.params.floor_prior_seconds,
        )
        keep = round(self.params.pre_roll_seconds / FRAME_SECONDS) + self.params.start_window_frames
        self._idle: deque[_Frame] = deque(maxlen=keep)
        self._speech: list[_Frame] = []  # frames of the utterance under way (padding included)
        self._start = 0.0  # its first voiced frame
        self._last_voiced_end = 0.0

    @property
    def speaking(self) -> bool:
        return bool(self._speech)

    def push(self, pcm: bytes, at: float) -> list[Speech]:
        """A chunk that arrived at ``at`` seconds into the stream; the utterances it ended."""
        start, gap = self._clock.place(pcm, at)
        ended: list[Speech] = []
        if gap > 0.0:
            self._idle.clear()  # frames before a gap do not lead into what follows it
        whole = len(pcm) - len(pcm) % 2
        data = np.frombuffer(pcm[:whole], dtype=np.int16)
        step = round(FRAME_SECONDS * SAMPLE_RATE)
        for offset in range(0, len(data), step):
            samples = data[offset : offset + step]
            frame_start = start + offset / SAMPLE_RATE
            ended.extend(self._frame(frame_start, samples))
        return ended

    def tick(self, now: float) -> list[Speech]:
        """No audio came up to ``now``: the utterance ends if its speaker paused long enough."""
        if self._speech and now - self._last_voiced_end >= self.params.end_pause_seconds:
            return self._close()
        return []

    def flush(self) -> list[Speech]:
        """The stream ended: the utterance under way, if any, is complete."""
        ended = self._close() if self._speech else []
        self._idle.clear()
        return ended

    def ongoing(self) -> Speech | None:
        """The utterance under way so far (for a running guess at its text)."""
        if not self._speech:
            return None
        return self._speech_of(self._speech, self._start, self._last_voiced_end, cut=False)

    def _frame(self, start: float, samples: Samples) -> list[Speech]:
        dbfs = frame_dbfs(samples)
        self._floor.add(start, dbfs)
        floor = self._floor.level(start)
        voiced = dbfs >= self.params.min_voiced_dbfs and dbfs >= floor + self.params.margin_db
        frame = _Frame(start, samples, dbfs, voiced)
        ended: list[Speech] = []
        if self._speech and start - self._last_voiced_end >= self.params.end_pause_seconds:
            ended.extend(self._close())  # audio resumed after a gap longer than a pause
        if self._speech:
            self._speech.append(frame)
            recent = self._speech[-self.params.continue_window_frames :]
            if voiced and sum(f.voiced for f in recent) >= self.params.continue_voiced_frames:
                self._last_voiced_end = frame.end
            if frame.end - self._last_voiced_end >= self.params.end_pause_seconds:
                ended.extend(self._close())
            elif frame.end - self._start >= self.params.max_utterance_seconds:
                ended.extend(self._cut())
            return ended
        self._idle.append(frame)
        window = list(self._idle)[-self.params.start_window_frames :]
        if sum(f.voiced for f in window) >= self.params.start_voiced_frames:
            first = next(f for f in window if f.voiced)
            self._start = first.start
            self._last_voiced_end = max(f.end for f in window if f.voiced)
            lead = self._start - self.params.pre_roll_seconds - 1e-9
            self._speech = [f for f in self._idle if f.start >= lead]
            self._idle.clear()
        return ended

    def _close(self) -> list[Speech]:
        frames, self._speech = self._speech, []
        speech = self._speech_of(frames, self._start, self._last_voiced_end, cut=False)
        tail = [f for f in frames if f.start >= self._last_voiced_end]
        self._idle.extend(tail)
        return [speech] if self._enough(frames, self._last_voiced_end) else []

    def _cut(self) -> list[Speech]:
        """The utterance is too long: end it at its quietest recent frame and go on from
        there with what follows as the next utterance."""
        frames = self._speech
        since = frames[-1].end - self.params.cut_search_seconds
        candidates = [i for i, f in enumerate(frames) if f.start >= since and f.start > self._start]
        at = min(candidates, key=lambda i: frames[i].dbfs) if candidates else len(frames) - 1
        head, rest = frames[:at], frames[at:]
        voiced_head = [f for f in head if f.voiced]
        end = voiced_head[-1].end if voiced_head else frames[at].start
        ended = [self._speech_of(head, self._start, end, cut=True)] if head else []
        voiced_rest = [f for f in rest if f.voiced]
        if voiced_rest:
            self._speech = rest
            self._start = voiced_rest[0].start
            self._last_voiced_end = voiced_rest[-1].end
        else:
            self._speech = []
            self._idle.extend(rest)
        return ended

    def _enough(self, frames: list[_Frame], end: float) -> bool:
        voiced = sum(len(f.samples) for f in frames if f.voiced and f.end <= end + 1e-9)
        return voiced / SAMPLE_RATE >= self.params.min_voiced_seconds

    def _speech_of(self, frames: list[_Frame], start: float, end: float, cut: bool) -> Speech:
        until = end if cut else end + self.params.post_pad_seconds
        kept = [f for f in frames if f.start < until - 1e-9]
        audio_start = kept[0].start if kept else start
        audio = _join(kept, audio_start)
        return Speech(start=start, end=end, audio_start=audio_start, audio=audio, cut=cut)


def _join(frames: list[_Frame], audio_start: float) -> Samples:
    """The frames' samples on one timeline, gaps between them filled with zeros."""
    if not frames:
        return np.zeros(0, dtype=np.int16)
    total = round((frames[-1].end - audio_start) * SAMPLE_RATE)
    audio = np.zeros(total, dtype=np.int16)
    for frame in frames:
        at = round((frame.start - audio_start) * SAMPLE_RATE)
        piece = frame.samples[: max(0, total - at)]
        audio[at : at + len(piece)] = piece
    return audio
