"""Overflow between nodes in the FastAGI call flow, against a fake Asterisk over a real socket:
what the first node does when nobody answers there, and what the other node does with the
caller it is passed."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from ivr import dialplan_variables as dv
from ivr.call_flow import CallFlow, CallFlowConfig
from tests.integration.test_fastagi_call_flow import NOON, config, run_call

HEADER = "GET VARIABLE PJSIP_HEADER(read,X-Hotline-Overflow)"
ROUTER_DIAL = "PJSIP/12345@hotline-router"


def overflow_config(tmp_path: Path) -> CallFlowConfig:
    return dataclasses.replace(
        config(tmp_path),
        overflow_in=True,
        overflow_dial=ROUTER_DIAL,
        overflow_seconds=10,
        node_name="a",
    )


def responder(variables: dict[str, list[str]]) -> Callable[[str], str]:
    """Answers GET VARIABLE from ``variables`` (values in turn; none: not set)."""

    def respond(command: str) -> str:
        if command.startswith("GET VARIABLE"):
            name = command.removeprefix("GET VARIABLE ")
            values = variables.get(name, [])
            return f"200 result=1 ({values.pop(0)})" if values else "200 result=0"
        return "200 result=0"

    return respond


def test_nobody_here_in_time_passes_the_caller_on_and_the_other_node_answers(
    tmp_path: Path,
) -> None:
    flow = CallFlow(overflow_config(tmp_path), clock=lambda: NOON)
    commands = run_call(flow, responder({"QUEUESTATUS": ["TIMEOUT"], "DIALSTATUS": ["ANSWER"]}))
    assert commands[0] == HEADER
    assert commands[1] == "ANSWER"
    queue_at = commands.index('EXEC Queue "hotline,,,,10"')
    assert commands[queue_at + 1 :] == [
        "GET VARIABLE QUEUESTATUS",
        f'EXEC Dial "{ROUTER_DIAL},20,mb({dv.CONTEXT_OVERFLOW_HEADER}^s^1(a/1700000000.7))'
        f'U({dv.CONTEXT_OVERFLOW_ANSWERED}^1700000000.7)"',
        "GET VARIABLE DIALSTATUS",
        "HANGUP",
    ]


def test_no_other_node_can_take_the_caller_so_the_rest_of_the_wait_is_here(
    tmp_path: Path,
) -> None:
    flow = CallFlow(overflow_config(tmp_path), clock=lambda: NOON)
    variables = {"QUEUESTATUS": ["TIMEOUT", "TIMEOUT"], "DIALSTATUS": ["CONGESTION"]}
    commands = run_call(flow, responder(variables))
    dial_at = next(i for i, c in enumerate(commands) if c.startswith("EXEC Dial"))
    assert commands[dial_at + 1 : dial_at + 4] == [
        "GET VARIABLE DIALSTATUS",
        'EXEC Queue "hotline,,,,20"',
        "GET VARIABLE QUEUESTATUS",
    ]
    assert f'EXEC UserEvent "{dv.EVENT_MESSAGE_STARTED},Reason: timeout"' in commands


def test_nobody_at_the_other_node_either_the_first_node_takes_the_message(
    tmp_path: Path,
) -> None:
    flow = CallFlow(overflow_config(tmp_path), clock=lambda: NOON)
    commands = run_call(flow, responder({"QUEUESTATUS": ["TIMEOUT"], "DIALSTATUS": ["NOANSWER"]}))
    assert sum(c.startswith("EXEC Queue") for c in commands) == 1
    assert any(c.startswith("EXEC MixMonitor") for c in commands)
    assert f'EXEC UserEvent "{dv.EVENT_MESSAGE_STARTED},Reason: timeout"' in commands


def test_a_caller_passed_on_from_another_node_only_waits_in_this_queue(tmp_path: Path) -> None:
    flow = CallFlow(overflow_config(tmp_path), clock=lambda: NOON)
    answered = run_call(
        flow,
        responder(
            {"PJSIP_HEADER(read,X-Hotline-Overflow)": ["a"], "QUEUESTATUS": ["COMPLETECALLER"]}
        ),
    )
    # Not answered before an operator answers, no second notice, no second recording.
    assert answered == [HEADER, 'EXEC Queue "hotline,r,,,30"', "GET VARIABLE QUEUESTATUS", "HANGUP"]
    nobody = run_call(
        flow,
        responder({"PJSIP_HEADER(read,X-Hotline-Overflow)": ["a"], "QUEUESTATUS": ["JOINEMPTY"]}),
    )
    # Nobody here: 503, so the router tries another node or the first node keeps the caller.
    assert nobody[-1] == 'EXEC Hangup "34"'


def test_without_overflow_the_call_flow_is_as_before(tmp_path: Path) -> None:
    flow = CallFlow(dataclasses.replace(config(tmp_path), overflow_in=True), clock=lambda: NOON)
    commands = run_call(flow, responder({"QUEUESTATUS": ["TIMEOUT"]}))
    assert 'EXEC Queue "hotline,,,,30"' in commands
    assert not any(c.startswith("EXEC Dial") for c in commands)
