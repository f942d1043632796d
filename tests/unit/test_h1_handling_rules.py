"""Pure rules of the handling flows: when a 催办 reminder means something, which category a
lead unit means, and how a refused handling form shows what was typed."""

from __future__ import annotations

import datetime as dt

import pytest

from api.handling_context import FormView, Typed, category_field
from dispatch.deadlines.policy import HOTLINE, XINFANG
from dispatch.deadlines.working_calendar import WorkingCalendar
from dispatch.handling.supervision import Kind, held_since, notices_due
from dispatch.routing.suggestions import Suggestion, follow_categories

D = dt.date
CAL = WorkingCalendar()


# -- 催办: a reminder only after the day the duty arrived ----------------------------------------


@pytest.mark.parametrize(
    ("due", "held", "reminder"),
    [
        # Handling, 3 working days from Tuesday 11-24: Thursday, whoever had it since when.
        (D(2026, 11, 27), None, D(2026, 11, 26)),
        (D(2026, 11, 27), D(2026, 11, 24), D(2026, 11, 26)),
        (D(2026, 11, 27), D(2026, 11, 25), D(2026, 11, 26)),
        # Dispatched on the reminder day or later: no reminder.
        (D(2026, 11, 27), D(2026, 11, 26), None),
        (D(2026, 11, 27), D(2026, 11, 27), None),
        # One working day (转办, feedback): the reminder day is the start day: none.
        (D(2026, 11, 25), D(2026, 11, 24), None),
        # Accepted on Friday, due Monday: the reminder day is that Friday: none.
        (D(2026, 11, 30), D(2026, 11, 27), None),
        # Before National Day: due 10-08, reminder 09-30 (the holidays are not working days).
        (D(2026, 10, 8), D(2026, 9, 29), D(2026, 9, 30)),
        (D(2026, 10, 8), D(2026, 9, 30), None),
    ],
)
def test_the_reminder_day_comes_after_the_day_the_clock_reached_its_holder(
    due: dt.date, held: dt.date | None, reminder: dt.date | None
) -> None:
    found = HOTLINE.reminder_on(CAL, due, held)
    assert (found.date if found else None) == reminder


def test_a_profile_without_reminders_has_none() -> None:
    assert XINFANG.reminder_on(CAL, D(2026, 3, 2), D(2026, 1, 2)) is None


def test_the_notices_of_a_one_day_clock_are_its_cards_only() -> None:
    accepted, due = D(2026, 11, 24), D(2026, 11, 25)
    for today in (accepted, due):
        assert notices_due(due, today, HOTLINE, CAL, accepted) == []
    assert notices_due(due, D(2026, 11, 26), HOTLINE, CAL, accepted) == [Kind.YELLOW]
    assert notices_due(due, D(2026, 11, 27), HOTLINE, CAL, accepted) == [Kind.YELLOW, Kind.RED]


def test_a_units_clock_is_held_from_the_later_of_its_start_and_the_dispatch() -> None:
    assert held_since(D(2026, 11, 24), None) == D(2026, 11, 24)
    assert held_since(D(2026, 11, 24), D(2026, 11, 26)) == D(2026, 11, 26)
    assert held_since(D(2026, 11, 26), D(2026, 11, 24)) == D(2026, 11, 26)


# -- the category a lead unit means --------------------------------------------------------------


def suggestion(category: str, unit: str | None, confidence: float) -> Suggestion:
    return Suggestion(category, confidence, unit, unit or "")


def test_the_category_follows_the_unit_from_the_suggestions_then_the_catalogue() -> None:
    catalogue = [
        ("环境保护", "env"),
        ("噪声污染", "env"),
        ("城乡建设", "housing"),
        ("物业管理", "housing"),
        ("交通出行", "traffic"),
    ]
    suggested = [
        suggestion("物业管理", "housing", 0.6),
        suggestion("城乡建设", "housing", 0.3),
        suggestion("医疗卫生", None, 0.1),
    ]
    assert follow_categories(suggested, catalogue) == {
        "housing": "物业管理",  # the best-ranked suggestion for the unit
        "traffic": "交通出行",  # its only category
    }  # 市生态环境局 has two and none suggested: the dispatcher chooses


# -- a refused form as the page shows it -------------------------------------------------------


def test_a_refused_form_shows_what_was_typed_and_its_errors_where_they_belong() -> None:
    typed = Typed(
        "dispatch",
        {"category": "环境保护", "lead_unit_id": "", "instructions": "请核查", "mode": "assign"},
        {"assist_unit_ids": ["a", "b"]},
        {"lead_unit_id": "请选择主办单位", "status": "案件当前状态为“待领导审批”，不能交办"},
    )
    form = FormView("dispatch", {"mode": "transfer", "lead_unit_id": "u1"}, typed)
    assert form.refused and form.has_field_errors
    assert (form.value("instructions"), form.value("mode"), form.value("lead_unit_id")) == (
        "请核查",
        "assign",
        "",
    )
    assert str(form.chosen("assist_unit_ids", "b")) == " selected"
    assert str(form.chosen("assist_unit_ids", "c")) == ""
    assert form.error("lead_unit_id") == "请选择主办单位" and form.invalid("lead_unit_id")
    assert form.general() == ["案件当前状态为“待领导审批”，不能交办"]
    assert 'aria-describedby="err-dispatch-lead_unit_id"' in form.attrs("lead_unit_id")
    assert "autofocus" in form.attrs("lead_unit_id") and form.attrs("category") == ""

    # Every other form of the page shows its defaults and no error.
    other = FormView("remind", {"reason": ""}, typed)
    assert not other.refused and other.general() == [] and other.error("reason") == ""
    fresh = FormView("dispatch", {"mode": "transfer"}, None)
    assert fresh.value("mode") == "transfer" and str(fresh.chosen("mode", "transfer"))
    extension = FormView("extension:e1", {}, Typed("extension:e1", {"note": ""}, {}, {"note": "x"}))
    assert extension.error("note") == "x" and extension.error_id("note") == "err-extension-e1-note"


FOLLOW = {"env": "环境保护", "housing": "城乡建设"}


def refused_dispatch(values: dict[str, str], errors: dict[str, str]) -> tuple[FormView, Typed]:
    typed = Typed("dispatch", values, {}, errors)
    return FormView("dispatch", {}, typed), typed


def test_a_category_refused_as_left_offered_makes_way_for_the_units() -> None:
    values = {"category": "城乡建设", "category_offered": "城乡建设", "lead_unit_id": "env"}
    view, typed = refused_dispatch(values, {"category": "主办单位已更换"})
    field = category_field(view, typed, FOLLOW)
    assert (field.shown, field.offered, field.by_hand) == ("环境保护", "", False)


def test_a_category_chosen_by_hand_stays_chosen_after_another_refusal() -> None:
    values = {"category": "城乡建设", "category_offered": "", "lead_unit_id": ""}
    view, typed = refused_dispatch(values, {"lead_unit_id": "请选择主办单位"})
    field = category_field(view, typed, FOLLOW)
    assert (field.shown, field.offered, field.by_hand) == ("城乡建设", "", True)
    offered = {**values, "category_offered": "城乡建设"}
    view, typed = refused_dispatch(offered, {"lead_unit_id": "请选择主办单位"})
    assert category_field(view, typed, FOLLOW) == type(field)("城乡建设", "城乡建设", False)
    fresh = FormView("dispatch", {"category": "城乡建设"}, None)
    assert category_field(fresh, None, FOLLOW) == type(field)("城乡建设", "城乡建设", False)
