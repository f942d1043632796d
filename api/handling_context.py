"""What the handling panel of a case's page shows: routing suggestions, units, assignments,
deadlines, extensions, the units' replies, feedback and supervision."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from sqlalchemy.orm import Session

from api.deps import now
from api.handling import model_cache
from core.settings import Settings
from dispatch.cases.lifecycle import Action, Status, allowed_actions
from dispatch.cases.models import Case
from dispatch.deadlines import stage_clocks
from dispatch.deadlines.stage_clocks import STAGE_LABELS
from dispatch.feedback import visits
from dispatch.feedback.scale import LEVEL_LABELS
from dispatch.feedback.visits import METHOD_LABELS
from dispatch.handling import steps, supervision
from dispatch.handling.steps import FINDING_LABELS, MODE_LABELS
from dispatch.routing import suggestions, units


def handling_context(
    request: Request, session: Session, case: Case, settings: Settings
) -> dict[str, Any]:
    """Everything the handling panel of a case's page shows."""
    cache = model_cache(request)
    actions = allowed_actions(Status(case.status))
    centre_side = Action.DISPATCH in actions
    suggested = suggestions.suggest(session, cache, case) if centre_side else []
    model = cache.model() if centre_side else None
    categories = list(
        dict.fromkeys(
            [
                *(s.category for s in suggested),
                *(model.labels if model else []),
                *(e.category for e in units.catalogue(session)),
            ]
        )
    )
    all_units = units.list_units(session)
    assignments = steps.assignments(session, case.id, active_only=False)
    deadlines = stage_clocks.all_deadlines(session, case.id)
    ids = {a.unit_id for a in assignments} | {d.unit_id for d in deadlines if d.unit_id}
    complained = units.named_in(session, case.subject_unit, case.subject_window)
    return {
        "h": {
            "actions": actions,
            "category": case.category,
            "suggestions": suggested,
            "model_error": cache.error,
            "categories": categories,
            "units": all_units,
            "chosen_category": case.category or (suggested[0].category if suggested else ""),
            "chosen_unit": next((s.unit_id for s in suggested if s.unit_id), ""),
            "complained_guess": case.complained_unit_id or (complained.id if complained else ""),
            "assignments": assignments,
            "deadlines": deadlines,
            "unit_names": steps.unit_names(session, sorted(ids)),
            "extensions": steps.extensions(session, case.id),
            "replies": steps.replies(session, case.id),
            "feedback": visits.history(session, case.id),
            "supervision": supervision.records(session, case.id),
            "stage_labels": STAGE_LABELS,
            "mode_labels": MODE_LABELS,
            "finding_labels": FINDING_LABELS,
            "method_labels": METHOD_LABELS,
            "level_labels": LEVEL_LABELS,
            "now_local": now().astimezone(ZoneInfo(settings.timezone)).strftime("%Y-%m-%dT%H:%M"),
        }
    }
