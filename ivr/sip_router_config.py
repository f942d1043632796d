"""Kamailio, the one SIP entry in front of the nodes: its configuration from the templates in
``kamailio_conf/``, and what a node behind it needs to know. Pure: nothing here touches a file
or a socket.

What the router does (``kamailio_conf/kamailio.cfg.j2``):

- a citizen's INVITE to the hotline number is dispatched over the nodes (dispatcher set
  :data:`NODES_SET`, algorithm 11: relative weights over the destinations that answer SIP
  OPTIONS); no answer in time or a 5xx from a node: the next node. It carries
  :data:`TRUNK_HEADER` (added here, removed from whatever arrives from outside), which is how
  the node knows the call for a citizen's call; record-route, so BYE and ACK follow.
- an operator's REGISTER goes to the node that owns the operator (``sip_router_operators``),
  with a Path header, so the node's INVITE to that phone comes back through the router.
- a call that overflows from one node's queue (:data:`OVERFLOW_HEADER`, only trusted from a
  node) goes to another node.

The weights are the dispatcher list file (:func:`dispatcher_list`), rewritten from the nodes'
free operators and reloaded by ``hotline.sip_router``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

import jinja2

from core.settings import PROJECT_ROOT, Settings
from ivr import dialplan_variables as dv

TEMPLATE_DIR = PROJECT_ROOT / "kamailio_conf"
MODULES_DIR = Path("/usr/lib/x86_64-linux-gnu/kamailio/modules")
NODES_SET = 1
# Added by the router to a citizen's INVITE (and only there); a node takes a request for the
# citizens' trunk only with this header, and only from the router's address.
TRUNK_HEADER = "X-Hotline-Trunk"
TRUNK_VALUE = "citizen"
# A node's INVITE that passes a waiting caller on to another node's queue; its value is the
# first node's name. Trusted only from a node.
OVERFLOW_HEADER = "X-Hotline-Overflow"
# The router's own user name: its OPTIONS pings come from it, and each node has an endpoint
# of that name (the router's address only) for them and for passing callers on.
ROUTER_USER = "hotline-router"
# How long the router waits for a node's first answer (an OPTIONS ping's, an INVITE's 100
# Trying) before it takes the node for down: loopback and a LAN answer in milliseconds, a busy
# Asterisk well within this.
REPLY_MS = 2000
# Relative weights (dispatcher "rweight") must be 1..100.
MIN_WEIGHT = 1
MAX_WEIGHT = 100


class RouterConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Node:
    name: str
    host: str
    port: int

    @property
    def uri(self) -> str:
        return f"sip:{self.host}:{self.port}"


@dataclass(frozen=True)
class RouterFiles:
    """Where one router keeps its files: all under one folder, never the system's."""

    folder: Path

    @property
    def config(self) -> Path:
        return self.folder / "kamailio.cfg"

    @property
    def dispatcher_list(self) -> Path:
        return self.folder / "dispatcher.list"

    @property
    def run(self) -> Path:
        return self.folder / "run"

    @property
    def rpc_socket(self) -> Path:
        return self.run / "rpc.sock"

    @property
    def kamailio_pid(self) -> Path:
        return self.run / "kamailio.pid"

    @property
    def pid_file(self) -> Path:
        """The supervising process (``hotline serve sip-router``)."""
        return self.folder / "sip-router.pid"

    @property
    def log_file(self) -> Path:
        return self.folder / "sip-router.log"

    @property
    def state_file(self) -> Path:
        """What the supervisor last gave the dispatcher (weights), for status and tests."""
        return self.folder / "weights.json"


def parse_nodes(text: str) -> tuple[Node, ...]:
    """``a=127.0.0.2:5060, b=127.0.0.3:5060`` (the setting ``sip_router_nodes``)."""
    nodes: list[Node] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, _, address = item.partition("=")
        host, _, port = address.rpartition(":")
        if not (name and host and port.isdigit() and 0 < int(port) < 65536):
            raise RouterConfigError(f"a node must be name=address:port, got {item!r}")
        if any(node.name == name for node in nodes):
            raise RouterConfigError(f"node {name!r} is named twice")
        nodes.append(Node(name.strip(), host.strip(), int(port)))
    return tuple(nodes)


def parse_operators(text: str, nodes: Collection[Node]) -> dict[str, Node]:
    """``8001=a, 8002=b`` (the setting ``sip_router_operators``): each operator's node."""
    by_name = {node.name: node for node in nodes}
    found: dict[str, Node] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        operator, _, name = (part.strip() for part in item.partition("="))
        if not operator.isalnum():
            raise RouterConfigError(f"an operator must be operator=node, got {item!r}")
        if name not in by_name:
            raise RouterConfigError(f"operator {operator} is at node {name!r}, not in the nodes")
        if operator in found:
            raise RouterConfigError(f"operator {operator} is named twice")
        found[operator] = by_name[name]
    return found


def rweight(weight: int, largest: int) -> int:
    """A node's weight on the dispatcher's 1..100 scale (the largest weight maps to 100; a
    node with some weight never drops to 0, which would take it out of rotation)."""
    if largest <= MAX_WEIGHT:
        return max(MIN_WEIGHT, min(MAX_WEIGHT, weight))
    return max(MIN_WEIGHT, weight * MAX_WEIGHT // largest)


def dispatcher_list(
    nodes: Collection[Node], weights: Mapping[str, int], inactive: Collection[str] = ()
) -> str:
    """The dispatcher's list file: every node in :data:`NODES_SET`, probed with OPTIONS.

    Its relative weight comes from ``weights`` (node name -> weight, ``ivr.nodes.weights`` of
    the nodes whose ivr service is alive). A node not named there (its ivr service is not
    heard from: its calls would find no call flow) gets weight 0: no new calls while another
    node takes them, but still the last resort when the others fail. With no weights at all
    (no node heard from yet) every node gets the same. Those in ``inactive`` (node names the
    router found down) stay inactive until a ping answers, so a reload does not put a dead
    node back in rotation."""
    named = [weights[node.name] for node in nodes if node.name in weights]
    largest = max(named, default=MIN_WEIGHT)
    lines = ["# setid destination flags priority attributes -- written by hotline.sip_router"]
    for node in nodes:
        flags = 8 | (1 if node.name in inactive else 0)  # probing (8), inactive (1)
        if not named:
            weight = MIN_WEIGHT
        elif node.name in weights:
            weight = rweight(weights[node.name], largest)
        else:
            weight = 0
        lines.append(f"{NODES_SET} {node.uri} {flags} 0 duid={node.name};rweight={weight}")
    return "\n".join(lines) + "\n"


def render_config(settings: Settings, files: RouterFiles, modules_dir: Path = MODULES_DIR) -> str:
    """Kamailio's configuration for the router of ``settings``."""
    nodes = parse_nodes(settings.sip_router_nodes)
    if not nodes:
        raise RouterConfigError("the SIP router needs at least one node (sip_router_nodes)")
    operators = parse_operators(settings.sip_router_operators, nodes)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    return env.get_template("kamailio.cfg.j2").render(
        settings=settings,
        files=files,
        modules_dir=str(modules_dir),
        nodes=nodes,
        operators=sorted(operators.items()),
        nodes_set=NODES_SET,
        trunk_header=TRUNK_HEADER,
        trunk_value=TRUNK_VALUE,
        overflow_header=OVERFLOW_HEADER,
        router_user=ROUTER_USER,
        # No answer from a node within this long (not even 100 Trying): the next node, and
        # the node is marked down. The OPTIONS pings time out after the same.
        reply_ms=REPLY_MS,
    )


@dataclass(frozen=True)
class NodeSide:
    """What a node's Asterisk configuration needs from its router (``settings.sip_router``)."""

    host: str
    port: int
    trunk_header: str = TRUNK_HEADER
    trunk_value: str = TRUNK_VALUE
    overflow_header: str = OVERFLOW_HEADER
    endpoint: str = ROUTER_USER
    overflow_header_context: str = dv.CONTEXT_OVERFLOW_HEADER
    overflow_answered_context: str = dv.CONTEXT_OVERFLOW_ANSWERED
    overflow_answered_event: str = dv.EVENT_OVERFLOW_ANSWERED


def node_side(settings: Settings) -> NodeSide | None:
    """None for a node with no router (the single machine)."""
    if not settings.sip_router:
        return None
    host, _, port = settings.sip_router.rpartition(":")
    return NodeSide(host, int(port))
