"""A citizen's phone for the satisfaction call-back, driven by SIPp (Debian's sip-tester):
it waits for the hotline's call on a fixed port (the outbound trunk's target) and

- ``answer``: answers, waits for the question to start, presses keys as RFC 2833
  telephone-event RTP (replayed from a capture by SIPp's ``play_pcap_audio``) and hangs up
  when the hotline hangs up;
- ``busy``: refuses with 486 Busy Here;
- ``ring``: rings until the hotline gives up (CANCEL).

Every SIP message is logged, so a test can see which number the hotline dialled.

The key presses are captures written here (``dtmf_pcap``) rather than the
``dtmf_2833_<key>.pcap`` files sip-tester ships: those were cut from one RTP stream, so their
RTP timestamps follow the key's number, and Asterisk drops an event whose timestamp is not
after the last one it ended ("7" then "4" in one call loses the "4"). Here each press in a
call gets a later timestamp and later sequence numbers than the one before.
"""

from __future__ import annotations

import re
import struct
import subprocess
import tempfile
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from types import TracebackType

from phones.sipp import (
    ANSWERED,
    BYE_OK,
    CANCELLED,
    RINGING,
    DialError,
    free_media_port,
    sipp_binary,
)

# RFC 4733 event codes; payload type 101 is what Asterisk offers for telephone-event.
EVENT_CODES = {**{str(d): d for d in range(10)}, "*": 10, "#": 11}
TELEPHONE_EVENT_PT = 101
SSRC = 0x48_4F_54_4C
PACKET_MS = 20


class Behaviour(StrEnum):
    ANSWER = "answer"
    BUSY = "busy"
    RING = "ring"


def _ipv4_checksum(header: bytes) -> int:
    total: int = sum(struct.unpack(f">{len(header) // 2}H", header))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _udp_frame(payload: bytes) -> bytes:
    """Ethernet + IPv4 + UDP around an RTP packet; SIPp rewrites addresses and ports."""
    udp = struct.pack(">HHHH", 40000, 10000, 8 + len(payload), 0) + payload
    ip = struct.pack(
        ">BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(udp),
        0,
        0,
        64,
        17,
        0,
        bytes([127, 0, 0, 1]),
        bytes([127, 0, 0, 1]),
    )
    ip = ip[:10] + struct.pack(">H", _ipv4_checksum(ip)) + ip[12:]
    return b"\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x08\x00" + ip + udp


def dtmf_packets(key: str, index: int, press_ms: int = 160) -> list[bytes]:
    """RTP packets of one RFC 2833 key press, the ``index``-th of a call: 20 ms apart, the
    duration growing, the first marked, the end sent three times."""
    if key not in EVENT_CODES:
        raise DialError(f"no such key: {key!r}")
    event = EVENT_CODES[key]
    timestamp = 8000 * 10 * (index + 1)  # ten seconds of RTP clock between presses
    sequence = 1000 + 100 * index
    packets = []
    steps = press_ms // PACKET_MS
    for step in range(steps + 3):
        end = step >= steps
        duration = 8 * PACKET_MS * min(step + 1, steps)
        header = struct.pack(
            ">BBHII",
            0x80,
            (0x80 if step == 0 else 0) | TELEPHONE_EVENT_PT,
            sequence + step,
            timestamp,
            SSRC,
        )
        body = struct.pack(">BBH", event, (0x80 if end else 0) | 10, duration)
        packets.append(header + body)
    return packets


def dtmf_pcap(key: str, index: int, path: Path) -> Path:
    """Write a capture of one key press (see ``dtmf_packets``) for ``play_pcap_audio``."""
    records = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for number, packet in enumerate(dtmf_packets(key, index)):
        frame = _udp_frame(packet)
        micros = number * PACKET_MS * 1000
        records.append(
            struct.pack(
                "<IIII", 1_000_000 + micros // 1_000_000, micros % 1_000_000, len(frame), len(frame)
            )
            + frame
        )
    path.write_bytes(b"".join(records))
    return path


# The answer offers PCMU and RFC 2833 telephone events on the payload type Asterisk uses.
_SDP = """v=0
o=- 1 1 IN IP[media_ip_type] [media_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=sendrecv
"""

_HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<scenario name="citizen {behaviour}">
  <recv request="INVITE" crlf="true"/>
"""

_BUSY = """  <send>
    <![CDATA[
SIP/2.0 486 Busy Here
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

    ]]>
  </send>
  <recv request="ACK"/>
</scenario>
"""


def citizen_scenario(
    behaviour: Behaviour,
    keys: Sequence[tuple[float, str]] = (),
    ring_seconds: float = 0.5,
    pcap_dir: Path | None = None,
) -> str:
    """The UAS scenario. ``keys``: (seconds after the previous step, key) — the first delay
    counts from the answer; the hotline hanging up at any point ends the call. The key
    captures are written into ``pcap_dir`` (a temporary folder the phone owns)."""
    head = _HEADER.format(behaviour=behaviour.value) + RINGING
    if behaviour is Behaviour.BUSY:
        return _HEADER.format(behaviour=behaviour.value) + _BUSY
    if behaviour is Behaviour.RING:
        return head + CANCELLED
    steps = [
        f'  <pause milliseconds="{max(int(ring_seconds * 1000), 1)}"/>\n',
        ANSWERED.format(sdp=_SDP),
    ]
    for index, (delay, key) in enumerate(keys):
        if pcap_dir is None:
            raise DialError("key presses need a folder for their captures")
        pcap = dtmf_pcap(key, index, pcap_dir / f"key{index}.pcap")
        steps.append(
            f'  <recv request="BYE" timeout="{max(int(delay * 1000), 1)}" '
            f'ontimeout="key{index}"/>\n'
            '  <nop next="answer_bye"/>\n'
            f'  <label id="key{index}"/>\n'
            f'  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>\n'
        )
    steps.append('  <recv request="BYE"/>\n')
    return head + "".join(steps) + '  <label id="answer_bye"/>\n' + BYE_OK


REQUEST_LINE = re.compile(r"^INVITE (sip:\S+) SIP/2\.0", re.MULTILINE)


class CitizenPhone:
    """A phone on 127.0.0.1:``port`` that takes any number of calls the same way."""

    def __init__(
        self,
        *,
        port: int,
        behaviour: Behaviour,
        keys: Sequence[tuple[float, str]] = (),
        ring_seconds: float = 0.5,
    ) -> None:
        self.port = port
        self.behaviour = behaviour
        self.keys = list(keys)
        self.ring_seconds = ring_seconds
        self._tmp = tempfile.TemporaryDirectory(prefix="hotline-citizen-")
        self._uas: subprocess.Popen[bytes] | None = None

    @property
    def message_log(self) -> Path:
        return Path(self._tmp.name) / "messages.log"

    def __enter__(self) -> CitizenPhone:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        sipp = sipp_binary()
        tmp = Path(self._tmp.name)
        scenario = tmp / "citizen.xml"
        scenario.write_text(
            citizen_scenario(self.behaviour, self.keys, self.ring_seconds, pcap_dir=tmp),
            encoding="utf-8",
        )
        self._uas = subprocess.Popen(
            [
                sipp,
                "-sf",
                str(scenario),
                "-i",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-mi",
                "127.0.0.1",
                "-mp",
                str(free_media_port()),
                "-nostdin",
                "-trace_msg",
                "-message_file",
                str(self.message_log),
                "-trace_err",
                "-error_file",
                str(tmp / "errors.log"),
            ],
            cwd=tmp,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def invites(self) -> list[str]:
        """The Request-URIs of the INVITEs received so far."""
        if not self.message_log.exists():
            return []
        return REQUEST_LINE.findall(self.message_log.read_text(errors="replace"))

    def errors(self) -> str:
        path = Path(self._tmp.name) / "errors.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self._uas is not None:
            self._uas.terminate()
            try:
                self._uas.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._uas.kill()
                self._uas.wait()
            self._uas = None
        self._tmp.cleanup()
