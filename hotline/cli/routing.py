"""``hotline route``: train the routing classifier, suggest categories for cases."""

from __future__ import annotations

import time
from pathlib import Path

import click

from core.settings import PROJECT_ROOT, Settings
from dispatch.routing import classifier
from dispatch.routing.suggestions import confirmed_examples
from hotline.cli import context

ROUTING_DATA = PROJECT_ROOT.parent / "shared" / "data" / "complaints" / "train.csv"


@click.group()
def route() -> None:
    """Routing-category suggestions: train the text classifier, classify cases."""


def _confirmed_routing_examples(settings: Settings) -> list[tuple[str, str]]:
    """(text, category) of the cases operators confirmed at dispatch."""
    with context.database(settings) as session:
        return confirmed_examples(session)


@route.command("train")
@click.option(
    "--data",
    "data_files",
    type=click.Path(path_type=Path),
    multiple=True,
    help="CSV with text,label columns; repeat for several (default: "
    "../shared/data/complaints/train.csv beside the project)",
)
@click.option(
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="Model file (default: <data_dir>/routing/model.npz)",
)
@click.option(
    "--no-db", is_flag=True, help="Leave out the categories operators confirmed in the database"
)
@click.option("--if-missing", is_flag=True, help="Do nothing when the model file exists")
def route_train(
    data_files: tuple[Path, ...], output: Path | None, no_db: bool, if_missing: bool
) -> None:
    """Train the routing classifier on labelled CSVs plus the confirmed cases."""
    settings = context.settings()
    target = output or settings.routing_model_file
    if if_missing and target.exists():
        click.echo(f"model: {target} (exists, kept)")
        return
    examples: list[tuple[str, str]] = []
    try:
        for path in data_files or (ROUTING_DATA,):
            examples += classifier.read_labelled_csv(path)
        confirmed = [] if no_db else _confirmed_routing_examples(settings)
        started = time.perf_counter()
        model = classifier.train(examples + confirmed)
        model.save(target)
    except classifier.RoutingModelError as exc:
        raise click.ClickException(str(exc)) from exc
    source = "not read (--no-db)" if no_db else str(len(confirmed))
    click.echo(
        f"examples: {model.info['examples']} (CSV {len(examples)}, confirmed cases {source})"
    )
    click.echo(f"labels: {', '.join(model.labels)}")
    click.echo(f"time: {time.perf_counter() - started:.1f} s")
    click.echo(f"model: {target}")


@route.command("classify")
@click.option(
    "--input",
    "input_file",
    type=click.Path(path_type=Path),
    required=True,
    help="CSV with id,text columns",
)
@click.option(
    "--output",
    "output_file",
    type=click.Path(path_type=Path),
    required=True,
    help="Where to write id,label,confidence",
)
@click.option(
    "--model",
    "model_file",
    type=click.Path(path_type=Path),
    default=None,
    help="Model file (default: <data_dir>/routing/model.npz)",
)
def route_classify(input_file: Path, output_file: Path, model_file: Path | None) -> None:
    """Suggest the category of every case in a CSV."""
    path = model_file or context.settings().routing_model_file
    if not path.exists():
        raise click.ClickException(
            f"no routing model: run 'hotline route train' ({path} does not exist)"
        )
    try:
        model = classifier.RoutingModel.load(path)
        cases = classifier.read_cases_csv(input_file)
        suggestions = model.classify_many([text for _, text in cases])
        classifier.write_suggestions_csv(
            output_file, [case_id for case_id, _ in cases], suggestions
        )
    except classifier.RoutingModelError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{len(cases)} cases classified: {output_file}")
