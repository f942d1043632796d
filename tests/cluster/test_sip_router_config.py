"""The SIP router's configuration (pure rendering, checked by the real Kamailio) and what a
node behind it renders for Asterisk."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from core.secrets import Secrets
from core.settings import Settings
from hotline import sip_router
from hotline.ivr_service import call_flow_config
from ivr import asterisk_config
from ivr import dialplan_variables as dv
from ivr import events as ev
from ivr.ami_adapter import AdapterConfig, to_domain_event
from ivr.sip_router_config import (
    Node,
    RouterConfigError,
    RouterFiles,
    dispatcher_list,
    parse_nodes,
    parse_operators,
    render_config,
)

NODES = (Node("a", "127.0.4.2", 5061), Node("b", "127.0.4.3", 5062))


def router_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "sip_router_host": "127.0.4.1",
        "sip_router_port": 5070,
        "sip_router_nodes": "a=127.0.4.2:5061, b=127.0.4.3:5062",
        "sip_router_operators": "8001=a,8002=b,8003=a",
    }
    return Settings(**{**values, **overrides})  # type: ignore[arg-type]


def test_nodes_and_operators_are_read_from_the_settings() -> None:
    assert parse_nodes("a=127.0.4.2:5061, b=127.0.4.3:5062") == NODES
    assert parse_nodes("") == ()
    operators = parse_operators("8001=a, 8002=b", NODES)
    assert operators == {"8001": NODES[0], "8002": NODES[1]}
    with pytest.raises(RouterConfigError, match="named twice"):
        parse_nodes("a=127.0.4.2:5061,a=127.0.4.3:5062")
    with pytest.raises(RouterConfigError, match="name=address:port"):
        parse_nodes("a=127.0.4.2")
    with pytest.raises(RouterConfigError, match="not in the nodes"):
        parse_operators("8001=c", NODES)


def test_the_dispatcher_list_carries_each_nodes_weight_and_keeps_a_dead_node_down() -> None:
    lines = dispatcher_list(NODES, {"a": 92, "b": 8}, inactive={"b"}).splitlines()
    assert lines[1:] == [
        "1 sip:127.0.4.2:5061 8 0 duid=a;rweight=92",
        "1 sip:127.0.4.3:5062 9 0 duid=b;rweight=8",
    ]
    # A node no heartbeat names takes no new calls while another does (the last resort only).
    assert dispatcher_list(NODES, {"a": 100}).splitlines()[2].endswith("rweight=0")
    # Nothing heard yet: every node the same.
    assert [line[-9:] for line in dispatcher_list(NODES, {}).splitlines()[1:]] == [
        "rweight=1",
        "rweight=1",
    ]
    # Larger numbers are brought to the dispatcher's 1..100, none to 0.
    scaled = dispatcher_list(NODES, {"a": 1000, "b": 1}).splitlines()[1:]
    assert scaled[0].endswith("rweight=100") and scaled[1].endswith("rweight=1")


def test_kamailio_accepts_the_rendered_configuration(tmp_path: Path) -> None:
    settings = router_settings()
    files = RouterFiles(tmp_path)
    sip_router.prepare(settings, files)
    text = files.config.read_text()
    assert "listen=udp:127.0.4.1:5070" in text
    assert text.count('$du = "sip:127.0.4.2:5061";') == 2  # 8001 and 8003 at node a
    assert '$rU == "12345"' in text
    sip_router.check_config(files)  # the real Kamailio's syntax check
    # And a broken file is a clear error, not a process that dies later.
    files.config.write_text(text.replace("request_route {", "request_route {{"))
    with pytest.raises(sip_router.SipRouterError, match="refuses"):
        sip_router.check_config(files)


def test_the_router_needs_nodes() -> None:
    with pytest.raises(RouterConfigError, match="at least one node"):
        render_config(router_settings(sip_router_nodes=""), RouterFiles(Path("/nonexistent")))


def render_node(**overrides: object) -> dict[str, str]:
    settings = Settings(**overrides)  # type: ignore[arg-type]
    secrets = Secrets("ami", "secret", dict.fromkeys(settings.operators, "pw"))
    dirs = asterisk_config.AsteriskDirs.for_settings(settings, "/modules")
    return asterisk_config.render(settings, secrets, dirs)


def test_a_node_behind_the_router_takes_citizens_calls_by_the_routers_header_only() -> None:
    files = render_node(sip_router="127.0.4.1:5070")
    pjsip = files["pjsip.conf"]
    assert "endpoint_identifier_order = username,header" in pjsip
    assert "match_header = X-Hotline-Trunk: citizen" in pjsip
    assert "match = 127.0.0.1/32" not in pjsip
    callers = pjsip.split("[callers]", 1)[1].split("[callers-identify]", 1)[0]
    assert "deny = 0.0.0.0/0.0.0.0" in callers and "permit = 127.0.4.1/32" in callers
    assert pjsip.count("support_path = yes") == 2  # both operators' AORs
    assert "[hotline-router]" in pjsip
    assert "load => res_pjsip_path.so" in files["modules.conf"]


def test_a_node_without_a_router_is_the_single_machine_as_before() -> None:
    files = render_node()
    pjsip = files["pjsip.conf"]
    assert "endpoint_identifier_order = username,ip" in pjsip
    assert "match = 127.0.0.1/32" in pjsip
    assert "match_header" not in pjsip and "support_path" not in pjsip
    assert "hotline-router" not in pjsip
    assert "res_pjsip_path" not in files["modules.conf"]


def test_a_node_behind_the_router_has_the_overflow_routines() -> None:
    files = render_node(sip_router="127.0.4.1:5070", overflow_seconds=20)
    extensions = files["extensions.conf"]
    assert "exten => s,1,Set(PJSIP_HEADER(add,X-Hotline-Overflow)=${ARG1})" in extensions
    assert "UserEvent(HotlineOverflowAnswered,Call: ${ARG1})" in extensions
    modules = files["modules.conf"]
    assert "load => app_stack.so" in modules and "load => res_pjsip_header_funcs.so" in modules
    assert "hotline-overflow" not in render_node()["extensions.conf"]


def test_the_overflow_answer_marks_the_first_nodes_call_answered() -> None:
    config = AdapterConfig(caller_context=dv.CONTEXT_CALLERS, hotline_number="12345")
    message = {
        "Event": "UserEvent",
        "UserEvent": dv.EVENT_OVERFLOW_ANSWERED,
        "Timestamp": "1796292000.250000",
        "Uniqueid": "a-1796292000.7",
        "Channel": "PJSIP/hotline-router-00000003",
        "Call": "a-1796292000.5",
    }
    event = to_domain_event(message, config)
    assert isinstance(event, ev.OperatorAnswered)
    assert event.uniqueid == "a-1796292000.5"
    assert event.operator == dv.OVERFLOW_OPERATOR
    assert event.operator_channel == "PJSIP/hotline-router-00000003"
    assert to_domain_event({**message, "Call": ""}, config) is None


def test_overflow_goes_out_only_behind_a_router_with_overflow_on() -> None:
    assert call_flow_config(Settings()).overflow_dial == ""
    assert not call_flow_config(Settings()).overflow_in
    behind = call_flow_config(Settings(sip_router="127.0.4.1:5070"))
    assert behind.overflow_in and behind.overflow_dial == ""
    on = call_flow_config(Settings(sip_router="127.0.4.1:5070", overflow_seconds=20))
    assert on.overflow_dial == "PJSIP/12345@hotline-router" and on.overflow_seconds == 20


def test_kamailio_is_debians() -> None:
    version = subprocess.run(
        [sip_router.KAMAILIO, "-v"], capture_output=True, text=True, check=True
    ).stdout
    assert version.startswith("version: kamailio 5.")
