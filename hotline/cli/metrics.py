"""``hotline metrics``: the operations metrics (``GET /metrics`` of the API)."""

from __future__ import annotations

import click

from api import metrics as api_metrics
from hotline.cli import context


@click.group()
def metrics() -> None:
    """Operations metrics (/metrics): the token for scraping from another host."""


@metrics.command("token")
@click.option("--rotate", is_flag=True, help="Replace the token with a new one")
def metrics_token(rotate: bool) -> None:
    """Print where the /metrics bearer token is (generated on first use)."""
    settings = context.settings()
    path = api_metrics.make_token(settings.data_dir, replace=rotate)
    click.echo(str(path))
    click.echo(
        "Loopback reads /metrics without it; from elsewhere send the header "
        f"'Authorization: Bearer <the file's content>' (http://{settings.api_host}:"
        f"{settings.api_port}/metrics). The file is the owner's only; keep it so."
    )
