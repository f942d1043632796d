"""Real SIP phones for demos, tests and benchmarks, driven by SIPp (Debian's sip-tester).

- ``place_call``: a caller dials the hotline, speaks a WAV file (SIPp ``rtp_stream``) after
  an optional wait, and hangs up when the audio ends (or when the hotline hangs up first).
- ``Earpiece``: what a caller hears, written to a WAV file: the caller's SDP names the
  earpiece's port, so the hotline's audio goes there (as long as the caller sends no audio
  of its own: Asterisk's symmetric RTP would then answer to SIPp's port).
- ``OperatorPhone``: registers as an operator endpoint with its password, then answers queue
  calls and speaks operator audio (and hangs up first, if told when), or only rings; or passes
  each call it answers on to a colleague with a blind transfer (SIP REFER).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import wave
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from xml.sax.saxutils import escape

from core import wav


class DialError(RuntimeError):
    pass


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_media_port() -> int:
    """An even port whose next port is also free (RTP and RTCP)."""
    for _ in range(50):
        port = free_udp_port()
        if port % 2:
            continue
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.bind(("127.0.0.1", port + 1))
        except OSError:
            continue
        return port
    raise DialError("no free media port pair")


def sipp_binary() -> str:
    path = shutil.which("sipp")
    if path is None:
        raise DialError("sipp is not installed (apt-get install sip-tester)")
    return path


def wav_duration(path: Path) -> float:
    """Duration of a WAV file; a clear error for anything that is not one."""
    if not path.is_file():
        raise DialError(f"{path}: no such file")
    try:
        info = wav.inspect(path)
    except wav.WavError as exc:
        raise DialError(f"{path}: not a WAV file ({exc})") from exc
    if info.frames <= 0:
        raise DialError(f"{path}: the WAV file holds no audio")
    return info.duration_seconds


def to_ulaw(source: Path, target: Path) -> float:
    """Convert any WAV to the 8 kHz mono G.711 mu-law WAV that rtp_stream plays."""
    seconds = wav_duration(source)
    result = subprocess.run(
        ["sox", str(source), "-r", "8000", "-c", "1", "-e", "u-law", "-b", "8", str(target)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise DialError(f"{source}: could not convert the audio: {result.stderr.strip()}")
    return seconds


_SDP = """v=0
o=- 1 1 IN IP[media_ip_type] [media_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000
a=sendrecv
"""


def caller_scenario(
    caller: str,
    caller_name: str,
    audio: Path,
    wait_ms: int,
    talk_ms: int,
    hear_port: int | None = None,
) -> str:
    """A UAC that speaks ``audio`` after ``wait_ms`` and hangs up ``talk_ms`` later, unless
    the hotline hangs up first. With ``hear_port``, the hotline's audio is sent there."""
    display = escape(caller_name.replace('"', ""))
    sdp = _SDP if hear_port is None else _SDP.replace("[media_port]", str(hear_port))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<scenario name="hotline caller">
  <send retrans="500">
    <![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "{display}" <sip:{escape(caller)}@[local_ip]:[local_port]>;tag=[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:{escape(caller)}@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

{sdp}
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rrs="true" rtd="true"/>
  <send>
    <![CDATA[
ACK [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
[last_From:]
[last_To:]
[routes]
Call-ID: [call_id]
CSeq: 1 ACK
Contact: <sip:{escape(caller)}@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

    ]]>
  </send>
  <recv request="BYE" timeout="{max(wait_ms, 1)}" ontimeout="speak"/>
  <nop next="answer_bye"/>
  <label id="speak"/>
  <nop><action><exec rtp_stream="{audio},1,0"/></action></nop>
  <recv request="BYE" timeout="{max(talk_ms, 1)}" ontimeout="hangup"/>
  <label id="answer_bye"/>
  <send next="end">
    <![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

    ]]>
  </send>
  <label id="hangup"/>
  <send retrans="500">
    <![CDATA[
BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
[last_From:]
[last_To:]
[routes]
Call-ID: [call_id]
CSeq: 2 BYE
Contact: <sip:{escape(caller)}@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
  <label id="end"/>
</scenario>
"""


@dataclass(frozen=True)
class DialResult:
    sipp_exit: int
    audio_seconds: float
    output: str


def place_call(
    *,
    audio: Path,
    number: str,
    sip_host: str,
    sip_port: int,
    caller: str,
    caller_name: str = "",
    wait_seconds: float = 0.0,
    extra_seconds: float = 0.0,
    timeout: float = 600,
    signal_port: int | None = None,
    media_port: int | None = None,
    hear_port: int | None = None,
) -> DialResult:
    """Place one real SIP call with SIPp and return when SIPp is done. Ports are picked free
    unless given (callers placing many calls at once give them, so that no two collide)."""
    sipp = sipp_binary()
    if not caller or not all(ch.isdigit() or ch == "+" for ch in caller):
        raise DialError(f"caller number must be digits: {caller!r}")
    with tempfile.TemporaryDirectory(prefix="hotline-dial-") as tmp:
        ulaw = Path(tmp) / "caller.wav"
        seconds = to_ulaw(audio, ulaw)
        scenario = Path(tmp) / "caller.xml"
        scenario.write_text(
            caller_scenario(
                caller,
                caller_name,
                ulaw,
                int(wait_seconds * 1000),
                int((seconds + extra_seconds) * 1000),
                hear_port,
            ),
            encoding="utf-8",
        )
        cmd = [
            sipp,
            f"{sip_host}:{sip_port}",
            "-sf",
            str(scenario),
            "-s",
            number,
            "-i",
            "127.0.0.1",
            "-p",
            str(signal_port or free_udp_port()),
            "-mi",
            "127.0.0.1",
            "-mp",
            str(media_port or free_media_port()),
            "-m",
            "1",
            "-l",
            "1",
            "-nostdin",
            "-timeout",
            f"{int(timeout)}s",
            "-timeout_error",
            "-trace_err",
            "-error_file",
            str(Path(tmp) / "errors.log"),
        ]
        try:
            result = subprocess.run(
                cmd, capture_output=True, text=True, timeout=timeout + 10, cwd=tmp, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise DialError(f"SIPp did not finish within {timeout:.0f}s") from exc
        errors = Path(tmp) / "errors.log"
        detail = errors.read_text(errors="replace")[-2000:] if errors.exists() else ""
        return DialResult(result.returncode, seconds, (result.stdout[-1000:] + detail).strip())


def _ulaw_sample(byte: int) -> int:
    """G.711 mu-law to 16-bit linear."""
    value = ~byte & 0xFF
    magnitude = (((value & 0x0F) << 3) + 0x84) << ((value >> 4) & 0x07)
    return 0x84 - magnitude if value & 0x80 else magnitude - 0x84


_ULAW = [_ulaw_sample(byte) for byte in range(256)]
RTP_HEADER_BYTES = 12


class Earpiece:
    """Receives the hotline's RTP (PCMU) on 127.0.0.1:``port`` and keeps it as audio."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", free_media_port()))
        self._sock.settimeout(0.2)
        self.port = int(self._sock.getsockname()[1])
        self._packets: list[tuple[int, bytes]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)

    def __enter__(self) -> Earpiece:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                packet = self._sock.recv(2048)
            except TimeoutError:
                continue
            except OSError:
                return
            if len(packet) > RTP_HEADER_BYTES and packet[1] & 0x7F == 0:  # PCMU
                sequence = struct.unpack(">H", packet[2:4])[0]
                self._packets.append((sequence, packet[RTP_HEADER_BYTES:]))

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._sock.close()

    def seconds_heard(self) -> float:
        return sum(len(body) for _, body in list(self._packets)) / 8000

    def save(self, path: Path) -> float:
        """Write what was heard so far as 8 kHz mono 16-bit WAV; return its seconds."""
        payload = b"".join(body for _, body in list(self._packets))
        with wave.open(str(path), "wb") as handle:
            handle.setnchannels(1)
            handle.setsampwidth(2)
            handle.setframerate(8000)
            handle.writeframes(b"".join(struct.pack("<h", _ULAW[b]) for b in payload))
        return len(payload) / 8000


_REGISTER = """<?xml version="1.0" encoding="UTF-8"?>
<scenario name="operator register">
  <send retrans="500">
    <![CDATA[
REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:{user}@[remote_ip]>;tag=[call_number]
To: <sip:{user}@[remote_ip]>
Call-ID: [call_id]
CSeq: 1 REGISTER
Contact: <sip:{user}@127.0.0.1:{contact_port}>
Expires: {expires}
Max-Forwards: 70
Content-Length: 0

    ]]>
  </send>
  <recv response="401" auth="true"/>
  <send retrans="500">
    <![CDATA[
REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:{user}@[remote_ip]>;tag=[call_number]
To: <sip:{user}@[remote_ip]>
Call-ID: [call_id]
CSeq: 2 REGISTER
Contact: <sip:{user}@127.0.0.1:{contact_port}>
Expires: {expires}
[authentication username={user} password={password}]
Max-Forwards: 70
Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
</scenario>
"""


# Scenario fragments shared by the phones here and in phones/citizen.py.
RINGING = """  <send>
    <![CDATA[
SIP/2.0 180 Ringing
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Length: 0

    ]]>
  </send>
"""

# The caller gave up while we rang: 200 to the CANCEL, 487 to the INVITE.
CANCELLED = """  <recv request="CANCEL"/>
  <send>
    <![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

    ]]>
  </send>
  <send>
    <![CDATA[
SIP/2.0 487 Request Terminated
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
CSeq: [cseq] INVITE
Content-Length: 0

    ]]>
  </send>
  <recv request="ACK"/>
</scenario>
"""

# 200 with the SDP offer answer (format with ``sdp``), then the ACK.
ANSWERED = """  <send retrans="500">
    <![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Type: application/sdp
Content-Length: [len]

{sdp}
    ]]>
  </send>
  <recv request="ACK" rtd="true" crlf="true"/>
"""

# 200 to the hotline's BYE, and the end of the scenario.
BYE_OK = """  <send>
    <![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

    ]]>
  </send>
</scenario>
"""

# An operator's phone that sends requests in the call's dialog keeps the INVITE's From ($1),
# To ($2) and Contact ($3): its requests go to that Contact, From and To the other way round.
INVITE_KEPT = """  <recv request="INVITE" crlf="true">
    <action>
      <ereg regexp=".*" search_in="hdr" header="From:" check_it="true" assign_to="1"/>
      <ereg regexp=".*" search_in="hdr" header="To:" check_it="true" assign_to="2"/>
      <ereg regexp="sip:[^>;]*" search_in="hdr" header="Contact:" check_it="true"
            assign_to="3"/>
    </action>
  </recv>
"""


def in_dialog_bye(cseq: int) -> str:
    """The operator's BYE in the call's dialog (after ``INVITE_KEPT``)."""
    return f"""  <send retrans="500">
    <![CDATA[
BYE [$3] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: [$2];tag=[pid]SIPpTag01[call_number]
To: [$1]
Call-ID: [call_id]
CSeq: {cseq} BYE
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Max-Forwards: 70
Content-Length: 0

    ]]>
  </send>
"""


_ANSWER = (
    """<?xml version="1.0" encoding="UTF-8"?>
<scenario name="operator answers">
  <recv request="INVITE" crlf="true"/>
"""
    + RINGING
    + ANSWERED
    + """  <nop><action><exec rtp_stream="{audio},-1,0"/></action></nop>
  <recv request="BYE"/>
"""
    + BYE_OK
)

# The operator speaks, then hangs up first (``{talk_ms}`` after the answer): the BYE goes
# to the INVITE's Contact, From and To the other way round.
_ANSWER_THEN_HANG_UP = (
    """<?xml version="1.0" encoding="UTF-8"?>
<scenario name="operator answers, then hangs up">
"""
    + INVITE_KEPT
    + RINGING
    + ANSWERED
    + """  <nop><action><exec rtp_stream="{audio},-1,0"/></action></nop>
  <recv request="BYE" timeout="{talk_ms}" ontimeout="hangup"/>
"""
    + BYE_OK.replace(
        "</scenario>",
        """  <nop next="end"/>
  <label id="hangup"/>
"""
        + in_dialog_bye(2)
        + """  <recv response="200"/>
  <label id="end"/>
</scenario>""",
    )
)

# The operator speaks, then passes the call on (``{transfer_ms}`` after the answer) with a blind
# transfer: a REFER in the call's dialog naming a colleague's extension (``{target}``). It
# answers the NOTIFYs that report the transfer's progress and, as phones do, hangs up once the
# last one (subscription terminated) came: the hotline keeps the transferer's dialog until then
# (Asterisk would end it itself only after 60 s). A BYE from the hotline first is answered too.
# In-dialog requests go as for the BYE above.
_ANSWER_THEN_TRANSFER = (
    """<?xml version="1.0" encoding="UTF-8"?>
<scenario name="operator answers, then transfers">
"""
    + INVITE_KEPT
    + RINGING
    + ANSWERED
    + """  <nop><action><exec rtp_stream="{audio},1,0"/></action></nop>
  <recv request="BYE" timeout="{transfer_ms}" ontimeout="transfer"/>
  <nop next="bye"/>
  <label id="transfer"/>
  <send retrans="500">
    <![CDATA[
REFER [$3] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: [$2];tag=[pid]SIPpTag01[call_number]
To: [$1]
Call-ID: [call_id]
CSeq: 2 REFER
Contact: <sip:{user}@[local_ip]:[local_port];transport=[transport]>
Refer-To: <sip:{target}@{target_host}>
Referred-By: <sip:{user}@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

    ]]>
  </send>
  <recv response="202"/>
  <label id="progress"/>
  <recv request="NOTIFY" optional="true" next="notified">
    <action>
      <ereg regexp="terminated" search_in="hdr" header="Subscription-State:"
            assign_to="4"/>
    </action>
  </recv>
  <recv request="BYE" next="bye"/>
  <label id="notified"/>
  <send>
    <![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

    ]]>
  </send>
  <nop test="4" next="hangup"/>
  <nop next="progress"/>
  <label id="hangup"/>
"""
    + in_dialog_bye(3)
    + """  <recv response="200" next="end"/>
  <label id="bye"/>
"""
    + BYE_OK.replace(
        "</scenario>",
        """  <label id="end"/>
</scenario>""",
    )
)

_RING_ONLY = (
    """<?xml version="1.0" encoding="UTF-8"?>
<scenario name="operator rings, never answers">
  <recv request="INVITE" crlf="true"/>
"""
    + RINGING
    + CANCELLED
)


class OperatorPhone:
    """An operator's phone: registers with its password, then answers (or only rings)."""

    def __init__(
        self,
        *,
        name: str,
        password: str,
        sip_host: str,
        sip_port: int,
        audio: Path | None,
        answer: bool = True,
        expires: int = 600,
        hang_up_after: float | None = None,
        transfer_to: str | None = None,
        transfer_after: float = 5.0,
        ring_seconds: float = 0.0,
        message_log: Path | None = None,
    ) -> None:
        self.name = name
        self.password = password
        self.sip_host = sip_host
        self.sip_port = sip_port
        self.audio = audio
        self.answer = answer
        self.hang_up_after = hang_up_after
        # Blind transfer of each answered call to this extension, ``transfer_after`` seconds
        # after the answer (the audio is spoken once, not looped).
        self.transfer_to = transfer_to
        self.transfer_after = transfer_after
        self.ring_seconds = ring_seconds  # how long an answering phone rings first
        self.message_log = message_log  # SIPp's trace of the phone's SIP messages, if given
        self.expires = expires
        self.port = free_udp_port()
        self._tmp = tempfile.TemporaryDirectory(prefix=f"hotline-operator-{name}-")
        self._uas: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> OperatorPhone:
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
        if self.answer:
            if self.audio is None:
                raise DialError("an answering operator phone needs audio to speak")
            ulaw = tmp / "operator.wav"
            to_ulaw(self.audio, ulaw)
            if self.transfer_to is not None:
                uas_xml = _ANSWER_THEN_TRANSFER.format(
                    sdp=_SDP,
                    audio=ulaw,
                    user=self.name,
                    target=self.transfer_to,
                    target_host=f"{self.sip_host}:{self.sip_port}",
                    transfer_ms=max(int(self.transfer_after * 1000), 1),
                )
            elif self.hang_up_after is None:
                uas_xml = _ANSWER.format(sdp=_SDP, audio=ulaw)
            else:
                uas_xml = _ANSWER_THEN_HANG_UP.format(
                    sdp=_SDP, audio=ulaw, talk_ms=max(int(self.hang_up_after * 1000), 1)
                )
            if self.ring_seconds > 0:
                pause = f'  <pause milliseconds="{int(self.ring_seconds * 1000)}"/>\n'
                uas_xml = uas_xml.replace(RINGING, RINGING + pause, 1)
        else:
            uas_xml = _RING_ONLY
        (tmp / "uas.xml").write_text(uas_xml, encoding="utf-8")
        trace = (
            []
            if self.message_log is None
            else ["-trace_msg", "-message_file", str(self.message_log)]
        )
        self._uas = subprocess.Popen(
            [
                sipp,
                "-sf",
                str(tmp / "uas.xml"),
                "-i",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-mi",
                "127.0.0.1",
                "-mp",
                str(free_media_port()),
                "-nostdin",
                *trace,
            ],
            cwd=tmp,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.register(self.expires)

    def register(self, expires: int) -> None:
        sipp = sipp_binary()
        tmp = Path(self._tmp.name)
        xml = _REGISTER.format(
            user=self.name, password=self.password, contact_port=self.port, expires=expires
        )
        (tmp / "register.xml").write_text(xml, encoding="utf-8")
        result = subprocess.run(
            [
                sipp,
                f"{self.sip_host}:{self.sip_port}",
                "-sf",
                str(tmp / "register.xml"),
                "-i",
                "127.0.0.1",
                "-p",
                str(free_udp_port()),
                "-m",
                "1",
                "-nostdin",
                "-timeout",
                "15s",
                "-timeout_error",
            ],
            cwd=tmp,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if result.returncode != 0:
            raise DialError(f"operator {self.name} could not register: {result.stdout[-500:]}")

    def stop(self) -> None:
        with contextlib.suppress(DialError, subprocess.TimeoutExpired):
            self.register(0)
        if self._uas is not None:
            self._uas.terminate()
            try:
                self._uas.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._uas.kill()
                self._uas.wait()
        self._tmp.cleanup()
