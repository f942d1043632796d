"""``hotline cluster up|down|status``: the multi-node hotline on this machine (hotline.cluster)."""

from __future__ import annotations

import shlex
import sys

import click
from sqlalchemy.exc import SQLAlchemyError

from core.clock import utc_now
from hotline import cluster as cluster_mod
from hotline.cli import context
from hotline.ivr_status import read_nodes


@click.group()
def cluster() -> None:
    """Several nodes behind Kamailio on this machine: up, down.

    Also status, and env (exports for hotline commands run against it). PostgreSQL, the
    object store, the nodes (Asterisk and ivr each), Kamailio, the live recogniser, the
    transcription pool and the API, each in its own data folder under cluster_dir; addresses
    and ports are settings (HOTLINE_CLUSTER_*, HOTLINE_SIP_ROUTER_*)."""


def _layout() -> cluster_mod.Layout:
    try:
        return cluster_mod.layout(context.settings())
    except cluster_mod.ClusterError as exc:
        raise click.ClickException(str(exc)) from exc


@cluster.command("up")
@click.option("--timeout", default=180.0, show_default=True, help="Seconds to wait for all parts")
def cluster_up(timeout: float) -> None:
    """Start every part (PostgreSQL, object store, recogniser, nodes, Kamailio, workers, API)."""
    context.setup_logging()
    layout = _layout()
    try:
        parts = cluster_mod.up(layout, timeout=timeout)
    except (cluster_mod.ClusterError, RuntimeError, TimeoutError) as exc:
        raise click.ClickException(str(exc)) from exc
    for part in parts:
        click.echo(part.line())
    base = layout.base
    click.echo(
        f"\ncitizens call sip:{base.hotline_number}@{base.sip_router_host}:{base.sip_router_port}; "
        f"the console is http://{base.cluster_api_host}:{base.cluster_api_port}/ "
        f"(data in {layout.root})"
    )


@cluster.command("down")
def cluster_down() -> None:
    """Stop every part of the cluster, the API first and the database last."""
    context.setup_logging()
    cluster_mod.down(_layout())
    click.echo("stopped")


@cluster.command("status")
def cluster_status() -> None:
    """Report each part of the cluster; exit 1 when any is not running."""
    layout = _layout()
    parts = cluster_mod.status(layout)
    for part in parts:
        click.echo(part.line())
    if layout.database_url() and parts[0].running:  # the nodes as their heartbeats say
        try:
            for node in read_nodes(layout.service_settings("api"), utc_now()):
                click.echo(node.line())
        except SQLAlchemyError as error:
            click.echo(f"nodes unknown: the database cannot be read ({type(error).__name__})")
    if not all(part.running for part in parts):
        sys.exit(1)


@cluster.command("env")
def cluster_env() -> None:
    """Print shell exports that point hotline commands at the cluster.

    For example ``eval "$(.venv/bin/hotline cluster env)"``, then ``hotline dial``, ``hotline
    calls``, ``hotline transcript`` or ``hotline recordings verify``. The database URL holds
    the generated password: the output is for the cluster's administrator only."""
    layout = _layout()
    if not layout.database_url():
        raise click.ClickException("the cluster has not been set up: run 'hotline cluster up'")
    for name, value in layout.client_env().items():
        click.echo(f"export {name}={shlex.quote(value)}")
