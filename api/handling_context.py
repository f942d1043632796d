"""What the handling panel of a case's page shows: routing suggestions, units, assignments,
deadlines, extensions, the units' replies, feedback and supervision; and each of its forms,
with what was typed into it when it was refused and the errors at their fields."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from markupsafe import Markup
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

# The fields of each handling form (an error on any other name is the form's own, shown
# at its buttons). An extension's decision is the form "extension-<its id>".
FORM_FIELDS: dict[str, frozenset[str]] = {
    "dispatch": frozenset(
        {
            "category",
            "lead_unit_id",
            "mode",
            "assist_unit_ids",
            "complained_unit_id",
            "complex_case",
            "instructions",
        }
    ),
    "submit-approval": frozenset({"note"}),
    "approval": frozenset({"note"}),
    "review": frozenset({"note"}),
    "extension": frozenset({"note"}),
    "feedback": frozenset({"method", "told_at", "satisfaction", "note"}),
    "conclusion": frozenset({"note"}),
    "withdrawal": frozenset({"reason"}),
    "archive": frozenset(),
    "reassign": frozenset({"reason", "lead_unit_id", "category", "instructions"}),
    "remind": frozenset({"reason"}),
}


LIST_FIELDS = frozenset({"assist_unit_ids"})


@dataclass(frozen=True)
class Typed:
    """A handling form that was refused: which one, what was typed into it (one value per
    field, several for a multiple choice), and the Chinese errors by field."""

    form: str
    values: Mapping[str, str]
    lists: Mapping[str, Sequence[str]] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)

    def with_errors(self, errors: Mapping[str, str]) -> Typed:
        return Typed(self.form, self.values, self.lists, errors)


def _kind(form: str) -> str:
    return form.split(":", 1)[0]


class FormView:
    """One form as the page shows it: what was typed into it after a refusal (else its
    defaults), each error beside its field, and the form's other errors at its buttons."""

    def __init__(self, name: str, defaults: Mapping[str, str], typed: Typed | None = None) -> None:
        self.name = name
        self.refused = typed is not None and typed.form == name
        self._typed = typed if self.refused else None
        self._defaults = dict(defaults)
        fields = FORM_FIELDS[_kind(name)]
        errors = dict(self._typed.errors) if self._typed else {}
        self._errors = {key: text for key, text in errors.items() if key in fields}
        self._general = [text for key, text in errors.items() if key not in fields]
        self._first = next(iter(self._errors), "")

    def value(self, name: str) -> str:
        """What the field shows: what was typed into it, else its default."""
        if self._typed is not None:
            return self._typed.values.get(name, "")
        return self._defaults.get(name, "")

    def chosen(self, name: str, option: str) -> Markup:
        """`` selected`` on the option(s) the field holds."""
        if name in LIST_FIELDS:
            held = self._typed.lists.get(name, ()) if self._typed is not None else ()
            return Markup(" selected") if option in held else Markup("")
        return Markup(" selected") if self.value(name) == option else Markup("")

    def checked(self, name: str, option: str = "on") -> Markup:
        return Markup(" checked") if self.value(name) == option else Markup("")

    def error(self, name: str) -> str:
        return self._errors.get(name, "")

    def invalid(self, name: str) -> str:
        """The class that marks a wrong field's box."""
        return " invalid" if name in self._errors else ""

    @property
    def has_field_errors(self) -> bool:
        return bool(self._errors)

    def general(self) -> list[str]:
        """The refusal's messages that belong to no field of the form."""
        return self._general

    def error_id(self, name: str) -> str:
        return f"err-{self.name.replace(':', '-')}-{name}"

    def attrs(self, name: str) -> Markup:
        """A wrong field's attributes: marked invalid, its message named, and the first
        wrong field of the form focused, so that the page opens at it."""
        if name not in self._errors:
            return Markup("")
        first = Markup(" autofocus") if name == self._first else Markup("")
        return (
            Markup(' aria-invalid="true" aria-describedby="{}"').format(self.error_id(name)) + first
        )


@dataclass(frozen=True)
class CategoryField:
    """A dispatching form's category: the one shown, the one the form tells the server it
    offered (so that the server can tell a category left as offered from one chosen), and
    whether the dispatcher chose the one shown by hand (then it no longer follows the lead
    unit they pick)."""

    shown: str
    offered: str
    by_hand: bool


def category_field(view: FormView, typed: Typed | None, follow: Mapping[str, str]) -> CategoryField:
    """Fresh, the form offers its default. Refused, it keeps what was typed; but a category
    refused as the offered one sent to another unit makes way for the category that follows
    the unit chosen, and nothing counts as offered any more: whatever the dispatcher sends
    next, they chose."""
    if typed is None or not view.refused:
        return CategoryField(view.value("category"), view.value("category"), False)
    category, offered = typed.values.get("category", ""), typed.values.get("category_offered", "")
    if view.error("category") and offered and category == offered:
        return CategoryField(follow.get(typed.values.get("lead_unit_id", ""), ""), "", False)
    return CategoryField(category, offered, bool(category) and category != offered)


def handling_context(
    request: Request,
    session: Session,
    case: Case,
    settings: Settings,
    typed: Typed | None = None,
) -> dict[str, Any]:
    """Everything the handling panel of a case's page shows."""
    cache = model_cache(request)
    actions = allowed_actions(Status(case.status))
    centre_side = Action.DISPATCH in actions or Action.RECALL in actions
    suggested = suggestions.suggest(session, cache, case) if centre_side else []
    model = cache.model() if centre_side else None
    catalogue = units.catalogue(session)
    categories = list(
        dict.fromkeys(
            [
                *([case.category] if case.category else []),
                *(s.category for s in suggested),
                *(model.labels if model else []),
                *(e.category for e in catalogue),
            ]
        )
    )
    all_units = units.list_units(session)
    assignments = steps.assignments(session, case.id, active_only=False)
    deadlines = stage_clocks.all_deadlines(session, case.id)
    ids = {a.unit_id for a in assignments} | {d.unit_id for d in deadlines if d.unit_id}
    complained = units.named_in(session, case.subject_unit, case.subject_window)
    chosen_category = case.category or (suggested[0].category if suggested else "")
    follow = suggestions.follow_categories(
        suggested, [(e.category, e.unit_id) for e in catalogue if e.unit.active]
    )
    active_units = {u.id for u in all_units}
    # The unit a pre-selected category goes to (never one that sent this case back, nor
    # the one it is with now): with the category, the dispatch the page proposes.
    left = {a.unit_id for a in assignments if a.returned_at or a.active}
    catalogue_unit = next((e.unit_id for e in catalogue if e.category == chosen_category), "")
    chosen_unit = (
        catalogue_unit if catalogue_unit in active_units and catalogue_unit not in left else ""
    )
    complained_guess = case.complained_unit_id or (complained.id if complained else "")
    told_default = now().astimezone(ZoneInfo(settings.timezone)).strftime("%Y-%m-%dT%H:%M")
    defaults: dict[str, dict[str, str]] = {
        "dispatch": {
            "category": chosen_category,
            "lead_unit_id": chosen_unit,
            "mode": "transfer",
            "complained_unit_id": complained_guess,
        },
        "feedback": {"method": "phone", "told_at": told_default},
        "reassign": {"category": case.category},
    }
    extensions = steps.extensions(session, case.id)
    names = [*FORM_FIELDS, *(f"extension:{e.id}" for e in extensions)]
    forms = {
        name: FormView(name, defaults.get(name, {}), typed) for name in names if name != "extension"
    }
    category = {
        name: category_field(forms[name], typed, follow) for name in ("dispatch", "reassign")
    }
    return {
        "h": {
            "actions": actions,
            "category": case.category,
            "suggestions": suggested,
            "model_error": cache.error,
            "categories": categories,
            "units": all_units,
            "follow": follow,
            "category_field": category,
            "forms": forms,
            "assignments": assignments,
            "deadlines": deadlines,
            "unit_names": steps.unit_names(session, sorted(ids)),
            "extensions": extensions,
            "replies": steps.replies(session, case.id),
            "feedback": visits.history(session, case.id),
            "supervision": supervision.records(session, case.id),
            "stage_labels": STAGE_LABELS,
            "mode_labels": MODE_LABELS,
            "finding_labels": FINDING_LABELS,
            "method_labels": METHOD_LABELS,
            "level_labels": LEVEL_LABELS,
        }
    }
