"""What one live stream connection decides, apart from the I/O. Pure.

- :func:`check_frame`: which AudioSocket messages a stream may carry after its id (slin16
  audio in whole samples, a hang-up, an error, DTMF); anything else ends the connection.
- :class:`StreamClock`: where a frame sits in the stream. A silent direction sends no frames,
  so time comes from arrival, not from counting; frames that arrive in a burst are laid end to
  end instead of on top of each other.
- :class:`PartialThrottle`: partial text is stored at most ``per_second`` times a second per
  stream, and only when it changed.
- :func:`shift`: an utterance's times from the stream's clock to the recording's.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from asr.audiosocket import AUDIO_RATES, Kind, ProtocolError
from asr.streaming import SAMPLE_RATE, Utterance

BYTES_PER_SECOND = SAMPLE_RATE * 2
MAX_FRAME_BYTES = BYTES_PER_SECOND  # one second; Asterisk sends 20 ms (640 bytes)


class FrameUse(StrEnum):
    AUDIO = "audio"
    END = "end"  # hang-up: the stream ended normally
    ERROR = "error"  # Asterisk reported an error
    IGNORE = "ignore"


def check_frame(kind: int, length: int) -> FrameUse:
    """What to do with a message after the id; :class:`ProtocolError` for what cannot be."""
    if kind == Kind.SLIN16:
        if length == 0 or length % 2 or length > MAX_FRAME_BYTES:
            raise ProtocolError(f"an slin16 frame of {length} bytes")
        return FrameUse.AUDIO
    if kind in AUDIO_RATES:
        raise ProtocolError(f"audio of kind 0x{kind:02x}, not slin16 (0x12)")
    if kind == Kind.HANGUP:
        return FrameUse.END
    if kind == Kind.ERROR:
        return FrameUse.ERROR
    if kind == Kind.DTMF and length <= 16:
        return FrameUse.IGNORE
    if kind == Kind.ID:
        raise ProtocolError("a second id in the stream")
    raise ProtocolError(f"a message of kind 0x{kind:02x} and {length} bytes")


@dataclass
class StreamClock:
    """Seconds into the stream at which each frame began."""

    next_at: float = 0.0

    def place(self, arrived: float, nbytes: int) -> float:
        """``arrived``: seconds since the stream was accepted when the frame was read."""
        seconds = nbytes / BYTES_PER_SECOND
        at = max(self.next_at, arrived - seconds)
        self.next_at = at + seconds
        return at


@dataclass
class PartialThrottle:
    per_second: float = 4.0
    last_text: str = ""
    last_at: float | None = None

    def allow(self, text: str, now: float) -> bool:
        if not text.strip() or text == self.last_text:
            return False
        if self.last_at is not None and now - self.last_at < 1.0 / self.per_second:
            return False
        self.last_text, self.last_at = text, now
        return True

    def reset(self) -> None:
        """An utterance ended: the next partial is a new one."""
        self.last_text = ""


def shift(utterance: Utterance, offset: float) -> tuple[float, float, list[dict[str, Any]]]:
    """(start, end, words) in seconds from the recording's start."""
    words = [
        {
            "text": w.text,
            "start": round(w.start + offset, 3),
            "end": round(w.end + offset, 3),
            "confidence": w.confidence,
        }
        for w in utterance.words
    ]
    return round(utterance.start + offset, 3), round(utterance.end + offset, 3), words
