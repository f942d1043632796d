"""The satisfaction call-back's telephony against fakes: the FastAGI survey against a fake
Asterisk over a real socket, the dialer against a fake AMI; real SQLite underneath."""

from __future__ import annotations

import asyncio
import datetime as dt
import wave
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from core.db import make_engine, make_session_factory, transaction
from dispatch.cases.survey_models import SatisfactionCall
from dispatch.feedback import callback_prompts as sp
from dispatch.feedback import callbacks as sc
from dispatch.feedback.callback_dialer import DialerConfig, SatisfactionDialer
from dispatch.feedback.callback_survey import SatisfactionSurvey, SurveyConfig
from hotline import migrate
from ivr import dialplan_variables as dv
from ivr.fastagi import FastAgiApplication
from tests.integration.fake_asterisk import FakeAsterisk, Responder
from tests.satisfaction_helpers import add_case

NOW = dt.datetime(2026, 11, 21, 2, 0, tzinfo=dt.UTC)
NUMBER = "TS202611210001"


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    url = f"sqlite:///{tmp_path / 'test.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def sounds(tmp_path: Path) -> Path:
    """Stand-in audio for every prompt, so that no test waits for speech synthesis."""
    folder = tmp_path / "sounds"
    for stem, text in [*sp.FIXED.items(), (sp.case_stem(NUMBER), sp.question_text(NUMBER))]:
        path = sp.prompt_file(folder, stem, text)
        path.parent.mkdir(parents=True, exist_ok=True)
        with wave.open(str(path), "wb") as handle:
            handle.setnchannels(1)
            handle.setsampwidth(2)
            handle.setframerate(8000)
            handle.writeframes(b"\0\0" * 800)
    return folder


def dialling_call(sessions: sessionmaker[Session], attempt: int = 1) -> str:
    case_id = add_case(sessions, NUMBER)
    with transaction(sessions) as session:
        call = sc.schedule(session, case_id, "13800138000", NUMBER, NOW)
        call.attempt = attempt
    with transaction(sessions) as session:
        assert [c.id for c in sc.claim_due(session, NOW)] == [call.id]
    return call.id


def stored(sessions: sessionmaker[Session], call_id: str) -> SatisfactionCall:
    with sessions() as session:
        row = session.get(SatisfactionCall, call_id)
        assert row is not None
        return row


class SurveyAsterisk(FakeAsterisk):
    def headers(self, script: str = "hotline") -> bytes:
        return (
            super().headers(script).replace(b"\n\n", f"\nagi_arg_1: {self.uniqueid}\n\n".encode())
        )


def run_survey(
    sessions: sessionmaker[Session], sounds: Path, call_id: str, responder: Responder
) -> list[str]:
    survey = SatisfactionSurvey(
        SurveyConfig(sounds, retry_minutes=60, max_attempts=3), sessions, clock=lambda: NOW
    )

    async def scenario() -> list[str]:
        app = FastAgiApplication(asyncio.get_running_loop())
        app.add_route(dv.AGI_ROUTE_SATISFACTION, survey)
        server = await asyncio.start_server(app.handler, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            fake = SurveyAsterisk(port, responder, uniqueid=call_id)
            return await fake.call(dv.AGI_ROUTE_SATISFACTION)
        finally:
            server.close()
            await server.wait_closed()

    return asyncio.run(scenario())


def keys(*presses: str) -> Responder:
    """Answer each GET DATA with the next key ("" = none pressed before the timeout)."""
    queue = list(presses)

    def responder(command: str) -> str:
        if command.startswith("GET DATA"):
            key = queue.pop(0)
            return f"200 result={key}" if key else "200 result= (timeout)"
        return "200 result=0"

    return responder


def prompt(sounds: Path, stem: str, text: str) -> str:
    return str(sp.prompt_file(sounds, stem, text).with_suffix(""))


def test_the_key_pressed_is_stored_and_the_citizen_thanked(
    sessions: sessionmaker[Session],
    sounds: Path,
) -> None:
    call_id = dialling_call(sessions)
    commands = run_survey(sessions, sounds, call_id, keys("2"))
    question = prompt(sounds, sp.case_stem(NUMBER), sp.question_text(NUMBER))
    assert commands == [
        f"GET DATA {question} 6000 1",
        f'STREAM FILE {prompt(sounds, "thanks", sp.THANKS)} ""',
        "HANGUP",
    ]
    row = stored(sessions, call_id)
    assert (row.status, row.digit, row.finished_at) == ("answered", "2", NOW)
    assert not sp.prompt_file(sounds, sp.case_stem(NUMBER), sp.question_text(NUMBER)).exists()


def test_no_key_or_a_wrong_key_repeats_the_question_once(
    sessions: sessionmaker[Session],
    sounds: Path,
) -> None:
    call_id = dialling_call(sessions)
    commands = run_survey(sessions, sounds, call_id, keys("", "4"))
    question = prompt(sounds, sp.case_stem(NUMBER), sp.question_text(NUMBER))
    assert commands == [
        f"GET DATA {question} 6000 1",
        f'STREAM FILE {prompt(sounds, "retry", sp.RETRY)} "0123456789*#"',
        f"GET DATA {question} 6000 1",
        f'STREAM FILE {prompt(sounds, "thanks", sp.THANKS)} ""',
        "HANGUP",
    ]
    assert stored(sessions, call_id).digit == "4"

    second = dialling_call_for_new_case(sessions, "TS202611210002")
    run_survey(sessions, sounds, second, keys("9", "1"))
    assert stored(sessions, second).digit == "1"


def dialling_call_for_new_case(sessions: sessionmaker[Session], number: str) -> str:
    case_id = add_case(sessions, number)
    with transaction(sessions) as session:
        call_id = sc.schedule(session, case_id, "13800138000", number, NOW).id
        sc.claim_due(session, NOW)
    return call_id


def test_a_key_pressed_during_the_sorry_counts(
    sessions: sessionmaker[Session],
    sounds: Path,
) -> None:
    call_id = dialling_call(sessions)

    def responder(command: str) -> str:
        if command.startswith("GET DATA"):
            return "200 result=*"
        if command.startswith("STREAM FILE") and "retry" in command:
            return f"200 result={ord('3')} endpos=1200"
        return "200 result=0"

    commands = run_survey(sessions, sounds, call_id, responder)
    assert sum(c.startswith("GET DATA") for c in commands) == 1
    assert stored(sessions, call_id).digit == "3"


def test_still_no_key_says_goodbye_and_retries_later(
    sessions: sessionmaker[Session],
    sounds: Path,
) -> None:
    call_id = dialling_call(sessions)
    commands = run_survey(sessions, sounds, call_id, keys("", "7"))
    assert commands[-2:] == [f'STREAM FILE {prompt(sounds, "goodbye", sp.GOODBYE)} ""', "HANGUP"]
    row = stored(sessions, call_id)
    assert (row.status, row.outcome, row.digit) == ("no_answer", "no valid key pressed", "")
    with sessions() as session:
        retry = sc.open_call(session, row.case_id)
        assert retry is not None and retry.due_at == NOW + dt.timedelta(minutes=60)


def test_hanging_up_before_a_key_is_a_failed_attempt(
    sessions: sessionmaker[Session],
    sounds: Path,
) -> None:
    call_id = dialling_call(sessions, attempt=3)

    def responder(command: str) -> str:
        return "HANGUP" if command.startswith("GET DATA") else "200 result=0"

    run_survey(sessions, sounds, call_id, responder)
    row = stored(sessions, call_id)
    assert row.status == "gave_up"
    assert row.outcome.startswith("hung up before pressing a key")


def test_an_unknown_or_settled_call_is_hung_up_at_once(
    sessions: sessionmaker[Session],
    sounds: Path,
) -> None:
    assert run_survey(sessions, sounds, "nosuchcall", keys()) == ["HANGUP"]
    call_id = dialling_call(sessions)
    run_survey(sessions, sounds, call_id, keys("5"))
    assert run_survey(sessions, sounds, call_id, keys("1")) == ["HANGUP"]
    assert stored(sessions, call_id).digit == "5"


# -- the dialer ------------------------------------------------------------------------


class FakeAmi:
    def __init__(
        self,
        reply: Callable[[dict[str, str]], Awaitable[Any]],
        connected: bool = True,
        cause: int | None = None,
    ) -> None:
        self.reply = reply
        self.connected = connected
        self.cause = cause
        self.sent: list[dict[str, str]] = []
        self.watched: list[str] = []

    def send_action(self, action: dict[str, str]) -> Awaitable[Any]:
        self.sent.append(action)
        return self.reply(action)

    def watch(self, uniqueid: str) -> None:
        self.watched.append(uniqueid)

    def hangup_cause(self, uniqueid: str) -> int | None:
        return self.cause if uniqueid in self.watched else None

    def forget(self, uniqueid: str) -> None:
        self.watched.remove(uniqueid)


def originate_response(response: str, reason: str) -> Callable[[dict[str, str]], Awaitable[Any]]:
    async def reply(action: dict[str, str]) -> Any:
        await asyncio.sleep(0)
        return [
            {"Response": "Success", "Message": "Originate successfully queued"},
            {"Event": "OriginateResponse", "Response": response, "Reason": reason, "ActionID": "1"},
        ]

    return reply


def run_dialer(
    sessions: sessionmaker[Session], sounds: Path, ami: FakeAmi, now: dt.datetime = NOW
) -> list[sc.DueCall]:
    config = DialerConfig(
        sounds_dir=sounds,
        caller_id="12345",
        ring_seconds=30,
        poll_seconds=0.1,
        retry_minutes=60,
        max_attempts=3,
    )
    dialer = SatisfactionDialer(config, sessions, ami, clock=lambda: now)

    async def scenario() -> list[sc.DueCall]:
        due = await dialer.poll()
        await asyncio.gather(*dialer.calls)
        await dialer.close()
        return due

    return asyncio.run(scenario())


def pending_call(sessions: sessionmaker[Session]) -> str:
    case_id = add_case(sessions, NUMBER)
    with transaction(sessions) as session:
        return sc.schedule(session, case_id, "13800138000", NUMBER, NOW).id


def test_the_dialer_originates_due_calls_and_leaves_answered_ones_to_the_survey(
    sessions: sessionmaker[Session],
    sounds: Path,
) -> None:
    call_id = pending_call(sessions)
    ami = FakeAmi(originate_response("Success", "4"))
    assert [c.id for c in run_dialer(sessions, sounds, ami)] == [call_id]
    assert [a["Channel"] for a in ami.sent] == ["PJSIP/13800138000@citizens-out"]
    assert ami.sent[0]["Variable"] == f"SATISFACTION_CALL_ID={call_id}"
    assert stored(sessions, call_id).status == "dialling"
    assert run_dialer(sessions, sounds, ami) == [], "claimed once"


def test_busy_or_unanswered_calls_are_retried_later(
    sessions: sessionmaker[Session],
    sounds: Path,
) -> None:
    call_id = pending_call(sessions)
    ami = FakeAmi(originate_response("Failure", "0"), cause=17)
    run_dialer(sessions, sounds, ami)
    assert ami.watched == [], "the channel is watched while it is dialled only"
    row = stored(sessions, call_id)
    assert (row.status, row.outcome) == ("no_answer", "busy")
    with sessions() as session:
        retry = sc.open_call(session, row.case_id)
        assert retry is not None and retry.status == "pending"
        assert retry.due_at == NOW + dt.timedelta(minutes=60)
    again = run_dialer(
        sessions,
        sounds,
        FakeAmi(originate_response("Failure", "3")),
        now=NOW + dt.timedelta(minutes=60),
    )
    assert [c.attempt for c in again] == [2]
    assert stored(sessions, again[0].id).outcome == "no answer"


def test_nothing_is_claimed_while_ami_is_down(
    sessions: sessionmaker[Session], sounds: Path
) -> None:
    call_id = pending_call(sessions)
    ami = FakeAmi(originate_response("Success", "4"), connected=False)
    assert run_dialer(sessions, sounds, ami) == []
    assert ami.sent == []
    assert stored(sessions, call_id).status == "pending"


def test_a_refused_originate_counts_as_a_failed_attempt(
    sessions: sessionmaker[Session],
    sounds: Path,
) -> None:
    call_id = pending_call(sessions)

    async def refused(action: dict[str, str]) -> Any:
        return {"Response": "Error", "Message": "Permission denied"}

    run_dialer(sessions, sounds, FakeAmi(refused))
    assert stored(sessions, call_id).outcome == "originate refused: Permission denied"
