"""The AudioSocket wire format (Asterisk's ``res_audiosocket``). Pure.

Every message: one byte of kind, two bytes of payload length (big-endian), the payload.
Asterisk sends the stream's id first (kind 0x01, 16 bytes: a UUID), then audio frames; for
``c(slin16)`` these are kind 0x12 (measured on Asterisk 22.10.1: 20 ms, 640 bytes), and a
hang-up (0x00) or an error (0xff) may end it. A silent direction sends nothing at all.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import IntEnum

HEADER_BYTES = 3
MAX_PAYLOAD = 65535


class Kind(IntEnum):
    HANGUP = 0x00
    ID = 0x01
    DTMF = 0x03
    SLIN8 = 0x10
    SLIN12 = 0x11
    SLIN16 = 0x12
    SLIN24 = 0x13
    SLIN32 = 0x14
    SLIN44 = 0x15
    SLIN48 = 0x16
    SLIN96 = 0x17
    SLIN192 = 0x18
    ERROR = 0xFF


AUDIO_RATES = {
    Kind.SLIN8: 8000,
    Kind.SLIN12: 12000,
    Kind.SLIN16: 16000,
    Kind.SLIN24: 24000,
    Kind.SLIN32: 32000,
    Kind.SLIN44: 44100,
    Kind.SLIN48: 48000,
    Kind.SLIN96: 96000,
    Kind.SLIN192: 192000,
}


class ProtocolError(ValueError):
    pass


@dataclass(frozen=True)
class Message:
    kind: int
    payload: bytes


def header(data: bytes) -> tuple[int, int]:
    """(kind, payload length) from the three header bytes."""
    if len(data) != HEADER_BYTES:
        raise ProtocolError(f"an AudioSocket header is {HEADER_BYTES} bytes, got {len(data)}")
    return data[0], int.from_bytes(data[1:3], "big")


def encode(kind: int, payload: bytes = b"") -> bytes:
    if len(payload) > MAX_PAYLOAD:
        raise ProtocolError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    return bytes([kind]) + len(payload).to_bytes(2, "big") + payload


def stream_id(message: Message) -> str:
    """The stream's id, as text (canonical UUID form), from its first message."""
    if message.kind != Kind.ID:
        raise ProtocolError(
            f"a stream must begin with its id (kind 0x01), got 0x{message.kind:02x}"
        )
    if len(message.payload) != 16:
        raise ProtocolError(f"an id is 16 bytes, got {len(message.payload)}")
    return str(uuid.UUID(bytes=message.payload))
