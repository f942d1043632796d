"""``hotline down`` and ``hotline status``: the running hotline's processes as a whole."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import click
from sqlalchemy.exc import SQLAlchemyError

from core.clock import utc_now
from core.settings import Settings
from hotline import processes, sip_router
from hotline.cli import context
from hotline.ivr_status import NodeLine, RecogniserLine, read_nodes, read_recognisers
from ivr import asterisk_install
from ivr.sip_router_config import RouterConfigError, RouterFiles, parse_nodes


@click.command()
def down() -> None:
    """Stop every part of the hotline."""
    settings = context.settings()
    install = asterisk_install.find(settings.asterisk_root, settings.cache_dir)
    processes.down(settings, install)
    click.echo("stopped")


def router_part(settings: Settings, folder: Path | None = None) -> processes.PartStatus | None:
    """The SIP router's line on a machine that runs it (``sip_router_nodes`` set; ``folder``:
    its folder, by default ``<data_dir>/sip-router``): up or DOWN, and the nodes it sends
    calls to now. ``None`` on a machine without a router (the single machine)."""
    if not settings.sip_router_nodes.strip():
        return None
    where = f"Kamailio on {settings.sip_router_host}:{settings.sip_router_port}"
    try:
        nodes = parse_nodes(settings.sip_router_nodes)
    except RouterConfigError as error:
        return processes.PartStatus("sip-router", False, f"{where}: {error}")
    folder = folder if folder is not None else sip_router.default_folder(settings)
    if not sip_router.running(folder):
        return processes.PartStatus("sip-router", False, f"{where} not running")
    names = ", ".join(node.name for node in nodes)
    try:
        up = sip_router.nodes_up(RouterFiles(folder), nodes)
    except sip_router.SipRouterError:
        return processes.PartStatus(
            "sip-router", True, f"{where}, nodes in rotation unknown ({names})"
        )
    rotation = ", ".join(node.name for node in nodes if node.name in up) or "none"
    return processes.PartStatus(
        "sip-router", True, f"{where}, nodes in rotation: {rotation} (of {names})"
    )


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the parts and nodes as JSON.")
def status(as_json: bool) -> None:
    """Report each part and node; exit 1 when a part here is not running.

    This machine's parts first, then every node and registered live recogniser from the
    database."""
    settings = context.settings()
    install = asterisk_install.find(settings.asterisk_root, settings.cache_dir)
    parts = processes.status(settings, install)
    router = router_part(settings)  # Issue 18, H7: a machine running the SIP router
    if router is not None:
        parts = [*parts, router]
    nodes: list[NodeLine] = []
    live: list[RecogniserLine] = []
    nodes_error = ""
    try:
        nodes = read_nodes(settings, utc_now())
        live = read_recognisers(settings, utc_now())
    except SQLAlchemyError as error:
        nodes_error = f"nodes unknown: the database cannot be read ({type(error).__name__})"
    if as_json:
        report = {
            "node": settings.node_name,
            "parts": [{**asdict(p), "status": "up" if p.running else "DOWN"} for p in parts],
            "nodes": [n.as_json() for n in nodes],
            "recognisers": [r.as_json() for r in live],
            "nodes_error": nodes_error,
        }
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        for part in parts:
            click.echo(part.line())
        for node in nodes:
            click.echo(node.line())
        local = settings.asr_live_name or f"{settings.asr_live_host}:{settings.asr_live_port}"
        for recogniser in live:
            if settings.node_name or recogniser.name != local:  # else the asr-live line says it
                click.echo(recogniser.line())
        if nodes_error:
            click.echo(nodes_error)
        elif not nodes:
            click.echo("nodes     none has written its heartbeat yet")
    if not all(p.running for p in parts):
        sys.exit(1)
