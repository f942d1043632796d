"""The SIP router's configuration (pure rendering, checked by the real Kamailio) and what a
node behind it renders for Asterisk."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from core.secrets import Secrets
from core.settings import Settings
from hotline import sip_router
from ivr import asterisk_config
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


def test_kamailio_is_debians() -> None:
    version = subprocess.run(
        [sip_router.KAMAILIO, "-v"], capture_output=True, text=True, check=True
    ).stdout
    assert version.startswith("version: kamailio 5.")
