"""The written explanations (书面说明) of seed 003's 红旗窗口 rule: a window complained about
three times or more in a year, the complaints found true, explains the causes in writing to
the centre and proposes rectification; the centre records the letter's receipt (收到书面说明:
the date received, from whom, the rectification proposed), once per window and year, with
who recorded it and when.

``record`` checks the form and the rule given the window's standing (``windows`` loads it:
``windows.record_explanation`` is the use case both doors call); ``of_year`` reads the
year's receipts for the page. Refusals: ``Invalid`` (a field, 422), ``Refused`` (the rule
or a second receipt, 409), both with Chinese and English messages.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from accounts.models import User
from dispatch.cases.registration import FieldError, Invalid, clean_text
from dispatch.handling.steps import Refused
from dispatch.indicators.red_flag import EXPLANATION_FROM, WindowStanding
from dispatch.reports.window_explanation_models import WindowExplanation

MAX_NAME = 64
MAX_TEXT = 2000


@dataclass(frozen=True)
class Explanation:
    """One receipt as the page shows it."""

    id: int
    unit_id: str
    year: int
    received_on: dt.date
    submitted_by: str
    rectification: str
    note: str
    recorded_by: str  # user name
    recorded_by_name: str  # display name (the user name when none)
    recorded_at: dt.datetime


@dataclass(frozen=True)
class Form:
    """What the supervisor typed: the date as ``YYYY-MM-DD`` (or a date already)."""

    received_on: str | dt.date
    submitted_by: str
    rectification: str
    note: str = ""


def _view(row: WindowExplanation, names: Mapping[str, str]) -> Explanation:
    return Explanation(
        row.id,
        row.unit_id,
        row.year,
        row.received_on,
        row.submitted_by,
        row.rectification,
        row.note,
        row.recorded_by,
        names.get(row.recorded_by) or row.recorded_by,
        row.recorded_at,
    )


def of_year(session: Session, year: int) -> dict[str, Explanation]:
    """The year's receipts by window (unit id)."""
    query = (
        select(WindowExplanation, User.display_name)
        .outerjoin(User, User.username == WindowExplanation.recorded_by)
        .where(WindowExplanation.year == year)
    )
    found = {}
    for row, display in session.execute(query):
        found[row.unit_id] = _view(row, {row.recorded_by: display or ""})
    return found


def _date(
    value: str | dt.date, year: int, today: dt.date
) -> tuple[dt.date | None, FieldError | None]:
    if isinstance(value, dt.date):
        day = value
    else:
        text = clean_text(value).strip()
        if not text:
            return None, FieldError("请填写收到书面说明的日期", "received_on is required")
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            return None, FieldError(
                "收到日期格式不正确（例如 2026-12-01）", "received_on must be a date (YYYY-MM-DD)"
            )
    if day > today:
        return None, FieldError("收到日期不能晚于今天", "received_on must not be in the future")
    if day.year < year:
        return None, FieldError(
            f"收到日期不能早于{year}年1月1日", f"received_on must not be before {year}-01-01"
        )
    return day, None


def _text(
    value: str, limit: int, zh: str, en: str, required: bool
) -> tuple[str, FieldError | None]:
    text = clean_text(value).strip()
    if required and not text:
        return text, FieldError(f"请填写{zh}", f"{en} is required")
    if len(text) > limit:
        return text, FieldError(
            f"{zh}不能超过{limit}字", f"{en} must be at most {limit} characters"
        )
    return text, None


def record(
    session: Session,
    standing: WindowStanding,
    form: Form,
    actor: str,
    now: dt.datetime,
    zone: ZoneInfo,
) -> Explanation:
    """Record the receipt of ``standing``'s window's written explanation for its year.

    Refused when the window owes none (fewer than three complaints found true so far) and
    when the year's receipt is already recorded (also when another request recorded it in
    between: the unique key decides)."""
    errors: dict[str, FieldError] = {}
    received_on, problem = _date(form.received_on, standing.year, now.astimezone(zone).date())
    if problem:
        errors["received_on"] = problem
    submitted_by, problem = _text(form.submitted_by, MAX_NAME, "说明人", "submitted_by", True)
    if problem:
        errors["submitted_by"] = problem
    rectification, problem = _text(form.rectification, MAX_TEXT, "整改措施", "rectification", True)
    if problem:
        errors["rectification"] = problem
    note, problem = _text(form.note, MAX_TEXT, "备注", "note", False)
    if problem:
        errors["note"] = problem
    earlier = of_year(session, standing.year).get(standing.window_id)
    if earlier is not None:
        raise _already(earlier, zone)
    if not standing.explanation_owed:
        raise Refused(
            f"the window does not owe a written explanation for {standing.year} "
            f"({standing.count} complaints found true, {EXPLANATION_FROM} needed)",
            f"该窗口{standing.year}年经查属实的投诉为{standing.count}次，"
            f"不足{EXPLANATION_FROM}次，无须书面说明",
        )
    if errors or received_on is None:
        raise Invalid(errors)
    row = WindowExplanation(
        unit_id=standing.window_id,
        year=standing.year,
        received_on=received_on,
        submitted_by=submitted_by,
        rectification=rectification,
        note=note,
        recorded_by=actor,
        recorded_at=now,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        raced = of_year(session, standing.year).get(standing.window_id)
        if raced is None:
            raise
        raise _already(raced, zone) from None
    display = session.scalar(select(User.display_name).where(User.username == actor))
    return _view(row, {actor: display or ""})


def _already(earlier: Explanation, zone: ZoneInfo) -> Refused:
    when = earlier.recorded_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    return Refused(
        f"the written explanation of this window for {earlier.year} was already recorded "
        f"by {earlier.recorded_by} at {earlier.recorded_at.isoformat()}",
        f"该窗口{earlier.year}年的书面说明已于{when}由{earlier.recorded_by_name}登记"
        f"（收到日期 {earlier.received_on.isoformat()}），不能重复登记",
    )
