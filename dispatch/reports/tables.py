"""A report's tables as every output shows them: the console's pages, the .xlsx export and
the bulletins (通报). Pure data: a page renders a :class:`Table` as HTML, ``xlsx`` writes it
as a sheet, a bulletin stores it as JSON and gets it back unchanged.

A :class:`Cell` keeps the text people read (``95.2%``, ``—``), the value a spreadsheet
computes with (a number, a rate as a fraction, or text), the formula shown on hover and the
link to the cases or calls behind it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dispatch.indicators.figures import Figure, Measure

Value = float | int | str | None


@dataclass(frozen=True)
class Cell:
    text: str
    value: Value = None  # None: the text itself is the value
    href: str = ""  # the cases or calls behind the figure
    title: str = ""  # the formula, shown on hover
    percent: bool = False  # a rate: ``value`` is a fraction shown as a percentage

    @property
    def number_or_text(self) -> Value:
        """What a spreadsheet cell holds: the number where there is one, else the text
        (``—`` for a figure with nothing to count)."""
        return self.text if self.value is None else self.value


def text(value: object) -> Cell:
    return Cell(str(value))


def number(value: int | float) -> Cell:
    return Cell(f"{value:g}" if isinstance(value, float) else str(value), value)


def figure(found: Figure, href: str = "") -> Cell:
    """A figure's cell: its text, its value (a rate as a fraction), the formula on hover."""
    rate = found.definition.measure is Measure.RATE
    return Cell(
        found.text,
        found.value,
        href,
        f"{found.definition.name}＝{found.definition.formula}",
        rate,
    )


@dataclass(frozen=True)
class Table:
    """One table: a key (stable, for links and sheet order), a Chinese title, the column
    headers and the rows; ``notes`` are the footnotes (formulas, thresholds, the period)."""

    key: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(
                    f"table {self.key!r}: a row has {len(row)} cells for "
                    f"{len(self.columns)} columns"
                )


@dataclass(frozen=True)
class Report:
    """Tables under one title, for one period: a page, a workbook, a bulletin."""

    title: str
    period: str  # as people read it, e.g. 2026年11月
    tables: tuple[Table, ...]
    notes: tuple[str, ...] = field(default=())

    def table(self, key: str) -> Table:
        for table in self.tables:
            if table.key == key:
                return table
        raise KeyError(f"no table {key!r} in report {self.title!r}")


# -- JSON (bulletins store their report as it was when made) ----------------------------------


def _cell_json(cell: Cell) -> dict[str, Any]:
    out: dict[str, Any] = {"text": cell.text}
    if cell.value is not None:
        out["value"] = cell.value
    if cell.href:
        out["href"] = cell.href
    if cell.title:
        out["title"] = cell.title
    if cell.percent:
        out["percent"] = True
    return out


def to_json(report: Report) -> dict[str, Any]:
    return {
        "title": report.title,
        "period": report.period,
        "notes": list(report.notes),
        "tables": [
            {
                "key": t.key,
                "title": t.title,
                "columns": list(t.columns),
                "notes": list(t.notes),
                "rows": [[_cell_json(c) for c in row] for row in t.rows],
            }
            for t in report.tables
        ],
    }


def _cell(data: Mapping[str, Any]) -> Cell:
    return Cell(
        str(data["text"]),
        data.get("value"),
        str(data.get("href", "")),
        str(data.get("title", "")),
        bool(data.get("percent", False)),
    )


def from_json(data: Mapping[str, Any]) -> Report:
    tables: Sequence[Mapping[str, Any]] = data["tables"]
    return Report(
        str(data["title"]),
        str(data["period"]),
        tuple(
            Table(
                str(t["key"]),
                str(t["title"]),
                tuple(str(c) for c in t["columns"]),
                tuple(tuple(_cell(c) for c in row) for row in t["rows"]),
                tuple(str(n) for n in t.get("notes", ())),
            )
            for t in tables
        ),
        tuple(str(n) for n in data.get("notes", ())),
    )
