"""The rules of one-button callbacks and issued passwords that need no database: what the
dial plan's report means, which AMI messages are a dial's, the Originate that rings the
operator, the rendered dial plan context, and passwords shown once."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import pytest
from starlette.types import Message, Receive, Scope, Send

from accounts import admin, issued_secrets
from accounts.models import AccountEvent
from api.users_pages import OneTimeSecrets, PasswordChangeGate
from core.secrets import Secrets
from core.settings import Settings
from dispatch.feedback import operator_dial
from dispatch.feedback.operator_dial import DialStatus, DueDial, Leg
from dispatch.feedback.operator_dial_models import OperatorDial
from dispatch.feedback.operator_dialer import (
    CitizenAnswered,
    CitizenNotAnswered,
    OperatorDialerConfig,
    OperatorHungUp,
    dial_event,
    originate_action,
)
from ivr import asterisk_config
from ivr.asterisk_config import AsteriskDirs

AT = dt.datetime(2026, 11, 21, 2, 0, tzinfo=dt.UTC)
TS = f"{AT.timestamp():.6f}"
CONFIG = OperatorDialerConfig(operator_ring_seconds=15, citizen_ring_seconds=30)


@pytest.mark.parametrize(
    ("dial_status", "cause", "expected"),
    [
        ("ANSWER", None, (DialStatus.ANSWERED, Leg.CITIZEN, "answered")),
        ("NOANSWER", 19, (DialStatus.NO_ANSWER, Leg.CITIZEN, "no answer")),
        ("BUSY", 17, (DialStatus.BUSY, Leg.CITIZEN, "busy")),
        ("busy ", 17, (DialStatus.BUSY, Leg.CITIZEN, "busy")),
        ("CONGESTION", 34, (DialStatus.FAILED, Leg.CITIZEN, "congestion or unreachable")),
        ("CHANUNAVAIL", 20, (DialStatus.FAILED, Leg.CITIZEN, "phone switched off or out of reach")),
        ("CHANUNAVAIL", None, (DialStatus.FAILED, Leg.CITIZEN, "unreachable")),
        (
            "CANCEL",
            16,
            (DialStatus.FAILED, Leg.OPERATOR, "operator hung up before the citizen answered"),
        ),
        ("", None, (DialStatus.FAILED, Leg.CITIZEN, "failed (DIALSTATUS unknown)")),
    ],
)
def test_what_the_dial_plans_report_means(
    dial_status: str, cause: int | None, expected: tuple[DialStatus, Leg, str]
) -> None:
    assert operator_dial.citizen_outcome(dial_status, cause) == expected


def test_only_the_watched_channels_messages_are_a_dials_events() -> None:
    watched = {"d1"}
    assert dial_event({"Event": "BridgeEnter", "Uniqueid": "d1", "Timestamp": TS}, watched) == (
        CitizenAnswered("d1", AT)
    )
    assert dial_event({"Event": "BridgeEnter", "Uniqueid": "d2", "Timestamp": TS}, watched) is None
    report = {
        "Event": "UserEvent",
        "UserEvent": "HotlineOperatorDial",
        "Uniqueid": "d1",
        "DialStatus": "BUSY",
        "Cause": "17",
        "Timestamp": TS,
    }
    assert dial_event(report, watched) == CitizenNotAnswered("d1", AT, "BUSY", 17)
    assert dial_event({**report, "Cause": ""}, watched) == CitizenNotAnswered(
        "d1", AT, "BUSY", None
    )
    other = {**report, "UserEvent": "HotlineNoticeFinished"}
    assert dial_event(other, watched) is None
    hangup = {"Event": "Hangup", "Uniqueid": "d1", "Cause": "16", "Timestamp": TS}
    assert dial_event(hangup, watched) == OperatorHungUp("d1", AT, 16)
    assert dial_event({"Event": "Newchannel", "Uniqueid": "d1", "Timestamp": TS}, watched) is None
    with pytest.raises(ValueError, match="Timestamp"):
        dial_event({"Event": "Hangup", "Uniqueid": "d1"}, watched)


def test_the_originate_rings_the_operator_and_names_only_checked_values() -> None:
    action = originate_action(DueDial("d1", "op1", "8001", "13800138000"), CONFIG)
    assert (action["Channel"], action["Exten"], action["Context"]) == (
        "PJSIP/8001",
        "13800138000",
        "hotline-operator-dial",
    )
    assert (action["ChannelId"], action["Timeout"], action["Async"]) == ("d1", "15000", "true")
    for phone, number in [("80&01", "138"), ("8001", "138,1"), ("", "138"), ("8001", "")]:
        with pytest.raises(ValueError):
            originate_action(DueDial("d1", "op1", phone, number), CONFIG)
    assert CONFIG.stale_after == dt.timedelta(seconds=45 + 120)


def test_the_dial_plan_dials_the_citizen_through_the_trunk_and_reports(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, outbound_sip_target="192.0.2.1:5060")
    dirs = AsteriskDirs.for_settings(settings, "/usr/lib/asterisk/modules")
    secrets = Secrets("hotline", "s", {"8001": "p1", "8002": "p2"})
    extensions = asterisk_config.render(settings, secrets, dirs)["extensions.conf"]
    context = extensions[extensions.index("[hotline-operator-dial]") :]
    lines = [line for line in context.splitlines() if not line.startswith(";")]
    assert lines[1:6] == [
        "exten => _X.,1,Set(CALLERID(num)=12345)",
        " same => n,Set(CALLERID(name)=12345)",
        f" same => n,Dial(PJSIP/${{EXTEN}}@citizens-out,{settings.satisfaction_ring_seconds})",
        " same => n,UserEvent(HotlineOperatorDial,DialStatus: ${DIALSTATUS},Cause: ${HANGUPCAUSE})",
        " same => n,Hangup()",
    ]
    pjsip = asterisk_config.render(settings, secrets, dirs)["pjsip.conf"]
    assert "context = hotline-operator-dial" not in pjsip, "no endpoint's calls start there"
    assert "load => app_dial.so" in asterisk_config.render(settings, secrets, dirs)["modules.conf"]


def dial(status: str, leg: str = "", reason: str = "") -> OperatorDial:
    return OperatorDial(status=status, failed_leg=leg, reason=reason)


def test_the_console_words_for_a_dial() -> None:
    assert operator_dial.describe(dial("calling_operator")) == "正在呼叫话务员分机"
    assert operator_dial.describe(dial("calling_citizen")) == "话务员已接听，正在呼叫来电人"
    assert operator_dial.describe(dial("failed", "operator", "busy")) == "未能接通：话务员分机忙"
    assert (
        operator_dial.describe(dial("failed", "citizen", "cause 99 odd"))
        == "未能接通：来电人号码cause 99 odd"
    )


def test_an_issued_password_is_sealed_and_only_its_pad_opens_it() -> None:
    """The row in the database holds the note sealed; the browser's pad opens it (the class
    itself, shown once across hosts: tests/integration/test_h6_shared_api_state.py)."""
    secret = json.dumps(["wang", "王话务员", "s3cret-s3cret", "created"]).encode()
    sealed, pad = issued_secrets.seal(secret)
    assert len(sealed) == len(pad) == issued_secrets.SEALED
    assert b"s3cret" not in sealed, "the database never holds the password in clear"
    assert issued_secrets.unseal(sealed, pad) == secret
    other_sealed, other_pad = issued_secrets.seal(secret)
    assert other_sealed != sealed, "a fresh pad every time"
    assert issued_secrets.unseal(sealed, other_pad) is None, "another pad opens nothing"
    assert issued_secrets.unseal(sealed, pad[:-1]) is None
    assert issued_secrets.unseal(b"", b"") is None
    with pytest.raises(ValueError, match="at most"):
        issued_secrets.seal(bytes(issued_secrets.SEALED))
    assert OneTimeSecrets().cookie_name("t" * 24).startswith("hotline_issued_")


def test_an_account_changes_detail_in_the_consoles_words() -> None:
    def said(detail: str) -> str:
        return admin.detail_zh(AccountEvent(detail=detail))

    assert said("role=operator phone=8001") == "角色：话务员，分机：8001"
    assert said("phone=8001->8002") == "分机：8001 → 8002"
    assert said("sessions_ended=2") == "结束登录会话 2 个"
    assert said("") == ""


def test_the_password_gate_looks_a_session_up_until_it_is_found_clear(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    must_change = {"tok-new": True, "tok-ok": False}
    looked_up: list[str] = []

    def look_up(_app: object, token: str) -> bool:
        looked_up.append(token)
        return must_change[token]

    monkeypatch.setattr(PasswordChangeGate, "_look_up", staticmethod(look_up))
    reached: list[str] = []

    async def inner(scope: Scope, _receive: Receive, _send: Send) -> None:
        reached.append(scope["path"])

    gate = PasswordChangeGate(inner, remembered=1)

    async def request(path: str, token: str) -> list[Message]:
        sent: list[Message] = []

        async def send(message: Message) -> None:
            sent.append(message)

        async def receive() -> Message:
            return {"type": "http.request", "body": b""}

        scope = {
            "type": "http",
            "method": "GET",
            "path": path,
            "headers": [(b"cookie", f"hotline_session={token}".encode())],
            "app": None,
        }
        await gate(scope, receive, send)
        return sent

    async def scenario() -> None:
        answer = await request("/api/calls", "tok-new")
        assert answer[0]["status"] == 403
        assert (await request("/calls", "tok-new"))[0]["status"] == 303
        assert await request("/password", "tok-new") == []  # open: reached the app
        for _ in range(3):
            assert await request("/api/calls", "tok-ok") == []
        assert looked_up == ["tok-new", "tok-new", "tok-ok"], "a clear session is remembered"
        must_change["tok-new"] = False  # changed
        assert await request("/calls", "tok-new") == []
        assert await request("/calls", "tok-ok") == []  # forgotten (remembered=1): looked up
        assert looked_up[-2:] == ["tok-new", "tok-ok"]

    asyncio.run(scenario())
    assert reached == ["/password", "/api/calls", "/api/calls", "/api/calls", "/calls", "/calls"]


TRACES = Path(__file__).resolve().parent.parent / "fixtures" / "ami"


def trace(name: str) -> list[dict[str, str]]:
    lines = (TRACES / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("name", "dial_id", "expected"),
    [
        (
            "operator_dial_answered",
            "be44f915e3b2409c8bd662d8fcddf95b",
            [
                CitizenAnswered(
                    "be44f915e3b2409c8bd662d8fcddf95b", utc("2026-12-03T00:48:28.235164")
                ),
                OperatorHungUp(
                    "be44f915e3b2409c8bd662d8fcddf95b", utc("2026-12-03T00:48:32.736862"), 16
                ),
            ],
        ),
        (
            "operator_dial_busy",
            "f8ec55adb43b400d8583c65eb1911f41",
            [
                CitizenNotAnswered(
                    "f8ec55adb43b400d8583c65eb1911f41",
                    utc("2026-12-03T00:48:34.849679"),
                    "BUSY",
                    17,
                ),
                OperatorHungUp(
                    "f8ec55adb43b400d8583c65eb1911f41", utc("2026-12-03T00:48:34.850244"), 17
                ),
            ],
        ),
        (
            "operator_dial_operator_no_answer",
            "f683043599384139858e178661bcc6b4",
            [
                OperatorHungUp(
                    "f683043599384139858e178661bcc6b4", utc("2026-12-03T00:48:45.865132"), 19
                )
            ],
        ),
    ],
)
def test_real_traces_give_the_dials_events_and_nothing_of_the_citizens_channel(
    name: str, dial_id: str, expected: list[object]
) -> None:
    """Captured from Asterisk 22 in the e2e test (SIPp phones): the citizen's own channel
    also enters the bridge and hangs up, and only the operator's channel counts."""
    events = [dial_event(message, {dial_id}) for message in trace(name)]
    assert [e for e in events if e is not None] == expected
    assert all(dial_event(message, set()) is None for message in trace(name))
