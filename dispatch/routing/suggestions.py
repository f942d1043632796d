"""Routing suggestions for a case: the category from the text classifier, the unit from the
dispatch catalogue; and the operator's confirmed category, kept as training data."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.cases.handling_models import RoutingLabel
from dispatch.cases.models import Case
from dispatch.cases.registration import FieldError, Invalid
from dispatch.routing import units
from dispatch.routing.classifier import RoutingModel, RoutingModelError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Suggestion:
    category: str
    confidence: float
    unit_id: str | None
    unit_name: str


class ModelCache:
    """The trained model, loaded once and again when ``hotline route train`` replaces it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: float | None = None
        self._model: RoutingModel | None = None
        self.error = ""

    def model(self) -> RoutingModel | None:
        try:
            stamp = self.path.stat().st_mtime
        except FileNotFoundError:
            self.error = "no routing model: run 'hotline route train'"
            return None
        with self._lock:
            if stamp != self._stamp:
                try:
                    self._model = RoutingModel.load(self.path)
                    self.error = ""
                except RoutingModelError as exc:
                    log.error("routing model unusable: %s", exc)
                    self._model, self.error = None, str(exc)
                self._stamp = stamp
            return self._model


def case_text(case: Case) -> str:
    return f"{case.title}。{case.content}。{case.request}"


def suggest(session: Session, cache: ModelCache, case: Case, k: int = 3) -> list[Suggestion]:
    """The top ``k`` categories for the case with the catalogue's unit for each."""
    model = cache.model()
    if model is None:
        return []
    found = []
    for item in model.top(case_text(case), k):
        unit = units.unit_for_category(session, item.label)
        found.append(
            Suggestion(
                item.label,
                round(float(item.confidence), 4),
                unit.id if unit else None,
                unit.name if unit else "",
            )
        )
    return found


def follow_categories(
    suggested: Sequence[Suggestion], catalogue: Sequence[tuple[str, str]]
) -> dict[str, str]:
    """For each unit, the category a dispatch to it most likely means: the best-ranked
    suggestion the catalogue gives to that unit, else the unit's only category in the
    catalogue (``catalogue``: (category, unit id) pairs). A unit with neither is missing:
    whoever sends a case there chooses its category."""
    by_unit: dict[str, list[str]] = {}
    for category, unit_id in catalogue:
        by_unit.setdefault(unit_id, []).append(category)
    follow = {unit_id: found[0] for unit_id, found in by_unit.items() if len(found) == 1}
    for suggestion in reversed(suggested):  # the best-ranked last, so it wins
        if suggestion.unit_id:
            follow[suggestion.unit_id] = suggestion.category
    return follow


def check_category(session: Session, category: str, lead_unit_id: str, offered: str) -> None:
    """The category a dispatch confirms must be what the dispatcher meant. One the form
    offered (``offered``) and the dispatcher left as it was, sent to a lead unit the
    catalogue does not give it to, says only that the unit was changed: the case is not
    dispatched (nor that category kept as the routing model's answer) until the dispatcher
    chooses the category. A category chosen, or one the catalogue gives to the lead unit
    or to none, stands."""
    if not offered or not lead_unit_id or category.strip() != offered.strip():
        return  # (no lead unit is the order's own error)
    unit = units.unit_for_category(session, category.strip())
    if unit is not None and unit.id != lead_unit_id:
        raise Invalid(
            {
                "category": FieldError(
                    f"主办单位已更换：派单目录中“{category.strip()}”由{unit.name}承办，"
                    "请重新选择本案的类别",
                    "the offered category belongs to another unit: choose the category",
                )
            }
        )


def confirm(
    session: Session, cache: ModelCache, case: Case, label: str, actor: str, now: dt.datetime
) -> None:
    """The category the operator chose: what counts, and what the next training learns
    (kept beside what the model suggested and how sure it was)."""
    top = suggest(session, cache, case, 1)
    suggested = top[0] if top else None
    row = session.get(RoutingLabel, case.id)
    if row is None:
        row = RoutingLabel(case_id=case.id)
        session.add(row)
    row.text, row.label = case_text(case), label
    row.suggested = suggested.category if suggested else ""
    row.confidence = suggested.confidence if suggested else 0.0
    row.confirmed_by, row.confirmed_at = actor, now
    case.category = label


def confirmed_examples(session: Session) -> list[tuple[str, str]]:
    """(text, category) of every confirmed case, for ``hotline route train``."""
    return [
        (row.text, row.label)
        for row in session.scalars(select(RoutingLabel).order_by(RoutingLabel.confirmed_at))
    ]
