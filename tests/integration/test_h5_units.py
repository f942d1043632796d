"""A new unit has no type until one is chosen: the form offers none as the default (not
热线中心（自办）), and a unit added without one is refused at the field with what was
typed kept (issue 16, defect 13). SQLite and a real PostgreSQL server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from core.settings import Settings
from dispatch.cases.handling_models import Unit
from tests.api_actor import Actor
from tests.builders import add_user


@pytest.fixture
def sup(db_url: str, sessions: sessionmaker[Session], tmp_path: Path) -> Iterator[Actor]:
    add_user(sessions, "sup1", "supervisor")
    settings = Settings(
        data_dir=tmp_path,
        database_url=db_url,
        supervision_interval_seconds=0,
        integrity_check_interval_seconds=0,
    )
    app: FastAPI = create_app(settings)
    with TestClient(app):
        yield Actor(app, "sup1")


def new_unit_form(text: str) -> str:
    return text.split('id="unit-new"', 1)[1].split("</form>", 1)[0]


def kinds(sessions: sessionmaker[Session]) -> dict[str, str]:
    with sessions() as session:
        return {u.name: u.kind for u in session.scalars(select(Unit))}


def post(sup: Actor, fields: dict[str, str]) -> Any:
    return sup.client.post("/units", data={**fields, "csrf_token": sup.headers["X-CSRF-Token"]})


def test_the_form_chooses_no_type_for_the_person(sup: Actor) -> None:
    form = new_unit_form(sup.fetch("/units").text)
    options = re.findall(r"<option[^>]*>[^<]*</option>", form)
    assert options[0] == '<option value="" selected>请选择单位类型</option>'
    assert all(" selected" not in option for option in options[1:])
    assert "热线中心（自办）" in form, "still one of the choices"


def test_a_unit_without_a_type_is_refused_at_its_field(
    sup: Actor, sessions: sessionmaker[Session]
) -> None:
    refused = post(sup, {"name": "市住房和城乡建设局", "kind": ""})
    assert refused.status_code == 422
    form = new_unit_form(refused.text)
    assert 'name="name" maxlength="128" required value="市住房和城乡建设局"' in form
    assert '<span class="field-error" id="unit-err-kind">请选择单位类型</span>' in form
    assert '<option value="" selected>请选择单位类型</option>' in form
    assert kinds(sessions) == {}

    # Both wrong: both said, at their fields.
    both = new_unit_form(post(sup, {"name": " ", "kind": ""}).text)
    assert 'id="unit-err-name"' in both and 'id="unit-err-kind"' in both

    # A name refused with a type chosen keeps the type.
    too_long = new_unit_form(post(sup, {"name": "局" * 129, "kind": "department"}).text)
    assert '<option value="department" selected>职能部门</option>' in too_long
    assert 'id="unit-err-kind"' not in too_long

    done = post(sup, {"name": "市住房和城乡建设局", "kind": "department"})
    assert done.status_code == 303 and done.headers["location"] == "/units"
    assert kinds(sessions) == {"市住房和城乡建设局": "department"}


def test_the_api_has_no_default_type_either(sup: Actor, sessions: sessionmaker[Session]) -> None:
    missing = sup.client.post("/api/units", json={"name": "市民政局"}, headers=sup.headers)
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["body", "kind"]
    empty = sup.client.post(
        "/api/units", json={"name": "市民政局", "kind": ""}, headers=sup.headers
    )
    assert empty.status_code == 422 and empty.json()["detail"][0]["loc"] == ["body", "kind"]
    assert kinds(sessions) == {}
