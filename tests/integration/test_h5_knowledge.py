"""Adding or editing a knowledge-base entry answers with a redirect to the page (POST,
redirect, GET: a refresh adds nothing twice) and a message; a refused form comes back with
what was typed and the message at its field (issue 16, defect 11). SQLite and a real
PostgreSQL server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from core.settings import Settings
from dispatch.cases.models import KnowledgeEntry
from tests.api_actor import Actor
from tests.builders import add_user

ENTRY = {
    "question": "居住证怎么办理",
    "answer": "携带身份证和居住证明到社区服务中心申请。",
    "keywords": "居住证 办理",
    "owner_unit": "市公安局",
}


@pytest.fixture
def app(db_url: str, sessions: sessionmaker[Session], tmp_path: Path) -> Iterator[FastAPI]:
    add_user(sessions, "sup1", "supervisor")
    add_user(sessions, "op1", "operator")
    settings = Settings(
        data_dir=tmp_path,
        database_url=db_url,
        supervision_interval_seconds=0,
        integrity_check_interval_seconds=0,
    )
    built = create_app(settings)
    with TestClient(built):
        yield built


def count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(KnowledgeEntry)) or 0


def post(actor: Actor, url: str, fields: dict[str, str]) -> Any:
    return actor.client.post(url, data={**fields, "csrf_token": actor.headers["X-CSRF-Token"]})


def field(text: str, form_id: str, name: str) -> tuple[str, str]:
    """(the value shown, the message at the field) of one field of one form on the page."""
    form = text.split(f'id="{form_id}"', 1)[1].split("</form>", 1)[0]
    block = re.search(
        rf'<div class="field[^"]*">(?:(?!</div>).)*name="{name}"(?:(?!</div>).)*</div>', form, re.S
    )
    assert block is not None, (form_id, name)
    html = block.group(0)
    value = re.search(r'value="([^"]*)"', html) or re.search(r">([^<]*)</textarea>", html)
    error = re.search(r'<span class="field-error"[^>]*>([^<]*)</span>', html)
    return (value.group(1) if value else "", error.group(1) if error else "")


def test_an_added_entry_redirects_so_a_refresh_adds_nothing(
    app: FastAPI, sessions: sessionmaker[Session]
) -> None:
    sup = Actor(app, "sup1")
    added = post(sup, "/knowledge", ENTRY)
    assert added.status_code == 303
    assert added.headers["location"] == "/knowledge?done=created"
    page = sup.fetch("/knowledge?done=created")
    assert '<p class="notice" role="status" id="kb-done">已新增条目</p>' in page.text
    assert ENTRY["question"] in page.text
    assert sup.fetch("/knowledge?done=created").status_code == 200  # the refresh: a GET
    assert count(sessions) == 1
    assert "已新增条目" not in sup.fetch("/knowledge").text

    [entry_id] = re.findall(r'id="kb-([0-9a-f]{32})"', page.text)
    saved = post(sup, f"/knowledge/{entry_id}", {**ENTRY, "answer": "到社区服务中心申请。"})
    assert saved.headers["location"] == "/knowledge?done=saved"
    assert "已保存修改" in sup.fetch("/knowledge?done=saved").text
    retired = post(sup, f"/knowledge/{entry_id}/retire", {})
    assert retired.headers["location"] == "/knowledge?done=retired"
    assert "已停用条目" in sup.fetch("/knowledge?done=retired").text
    assert count(sessions) == 1


def test_a_refused_entry_keeps_what_was_typed_with_the_message_at_its_field(
    app: FastAPI, sessions: sessionmaker[Session]
) -> None:
    sup = Actor(app, "sup1")
    refused = post(sup, "/knowledge", {**ENTRY, "answer": "  "})
    assert refused.status_code == 422
    text = refused.text
    assert "未保存：请按提示修改标红的项目。" in text
    assert field(text, "kb-new", "question") == (ENTRY["question"], "")
    assert field(text, "kb-new", "keywords") == (ENTRY["keywords"], "")
    assert field(text, "kb-new", "owner_unit") == (ENTRY["owner_unit"], "")
    assert field(text, "kb-new", "answer")[1] == "请填写答复内容"
    assert '<div class="field invalid"><label>答复' in text.split('id="kb-new"')[1]
    assert count(sessions) == 0

    post(sup, "/knowledge", ENTRY)
    page = sup.fetch("/knowledge").text
    [entry_id] = re.findall(r'id="kb-([0-9a-f]{32})"', page)
    edited = post(sup, f"/knowledge/{entry_id}", {**ENTRY, "question": "", "answer": "新的答复"})
    assert edited.status_code == 422
    text = edited.text
    entry_html = text.split(f'id="kb-{entry_id}"', 1)[1]
    assert "<details open>" in entry_html.split("</li>", 1)[0], "the refused edit stays open"
    form = entry_html.split("<form", 1)[1]
    assert 'name="question" value=""' in form and ">新的答复</textarea>" in form
    assert '<span class="field-error" id="kb-err-question">请填写问题</span>' in form
    assert field(text, "kb-new", "question") == ("", ""), "the new entry's form is untouched"


def test_operators_read_but_may_not_add(app: FastAPI) -> None:
    op = Actor(app, "op1")
    assert op.fetch("/knowledge").status_code == 200
    refused = post(op, "/knowledge", ENTRY)
    assert refused.status_code == 403 and "没有权限" in refused.text
