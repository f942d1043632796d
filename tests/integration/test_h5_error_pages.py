"""Errors in the console are Chinese pages with the navigation and a way back; the JSON API
keeps its English JSON (issue 16, defect 7). SQLite and a real PostgreSQL server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from core.settings import Settings
from dispatch.cases.registration import FieldError, Invalid
from tests.api_actor import Actor
from tests.builders import add_user

Z = "0" * 32
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def probe_routes(app: FastAPI) -> None:
    """Routes that fail as a route can: a bad parameter, a field check nobody caught, a bug."""

    def count(n: int) -> dict[str, int]:
        return {"n": n}

    def refused() -> None:
        raise Invalid({"title": FieldError("标题不能为空", "a title is required")})

    def broken() -> None:
        raise RuntimeError("a bug")

    for prefix in ("", "/api"):
        app.add_api_route(f"{prefix}/h5-probe/count", count)
        app.add_api_route(f"{prefix}/h5-probe/invalid", refused)
        app.add_api_route(f"{prefix}/h5-probe/bug", broken)


@pytest.fixture
def app(db_url: str, sessions: sessionmaker[Session], tmp_path: Path) -> Iterator[FastAPI]:
    for name, role in [("op1", "operator"), ("sup1", "supervisor"), ("h1", "unit_handler")]:
        add_user(sessions, name, role)
    settings = Settings(
        data_dir=tmp_path,
        database_url=db_url,
        supervision_interval_seconds=0,
        integrity_check_interval_seconds=0,
    )
    built = create_app(settings)
    probe_routes(built)
    with TestClient(built):
        yield built


def is_page(response: Any, status: int) -> str:
    """The text of a Chinese error page with this status (and never JSON)."""
    assert response.status_code == status, response.text
    headers = response.headers
    assert headers["content-type"].startswith("text/html"), headers["content-type"]
    text: str = response.text
    assert '<html lang="zh-CN">' in text and 'id="error-page"' in text
    assert '"detail"' not in text
    assert headers["content-security-policy"].startswith("default-src 'self'")
    return text


def ways(text: str) -> list[tuple[str, str]]:
    block = re.search(r'<p class="error-ways" id="error-ways">(.*?)</p>', text)
    assert block is not None
    return re.findall(r'<a href="([^"]+)">([^<]+)</a>', block.group(1))


def message(text: str) -> str:
    found = re.search(r'<p class="error-message" role="alert" id="error-message">(.*?)</p>', text)
    assert found is not None
    return found.group(1)


def test_a_missing_case_or_page_is_a_chinese_page_and_json_for_the_api(app: FastAPI) -> None:
    op = Actor(app, "op1")
    text = is_page(op.fetch(f"/cases/{Z}"), 404)
    assert message(text) == "找不到该案件：编号或地址可能有误。"
    assert "工作台" in text and "退出登录" in text, "the console's navigation"
    assert ways(text) == [("/cases", "返回案件列表"), ("/", "返回首页")]
    api = op.fetch(f"/api/cases/{Z}")
    assert api.status_code == 404 and api.json() == {"detail": "case not found"}

    text = is_page(op.fetch("/no-such-page"), 404)
    assert "您要找的页面或记录不存在" in message(text) and ways(text) == [("/", "返回首页")]
    assert op.fetch("/api/no-such-thing").json() == {"detail": "Not Found"}
    # An API address opened in the browser (a download link) is a page too.
    text = is_page(op.fetch(f"/api/cases/{Z}", headers=BROWSER), 404)
    assert message(text) == "找不到该案件：编号或地址可能有误。"


def test_a_refused_role_is_a_chinese_page_and_json_for_the_api(app: FastAPI) -> None:
    op, handler = Actor(app, "op1"), Actor(app, "h1")
    text = is_page(op.fetch("/units"), 403)
    assert message(text).startswith("您的账号没有进行此操作的权限")
    assert "your role" not in text and ways(text) == [("/", "返回首页")]
    assert "话务员" in text, "who is logged in, in the navigation"
    api = op.client.post("/api/units", json={"name": "x", "kind": "department"}, headers=op.headers)
    assert api.status_code == 403 and api.json() == {"detail": "your role may not do this"}
    # A unit's handler outside any unit: the portal says so in Chinese.
    text = is_page(handler.fetch("/unit"), 403)
    assert "尚未加入任何承办单位" in message(text)
    assert handler.fetch("/api/unit/cases").json() == {"detail": "your account belongs to no unit"}


def test_a_form_posted_without_its_token_is_explained_in_chinese(app: FastAPI) -> None:
    sup = Actor(app, "sup1")
    text = is_page(sup.client.post("/units", data={"name": "市住建局", "kind": "department"}), 403)
    assert "页面已过期" in message(text) and "本次提交没有保存" in message(text)
    assert ways(text)[0] == ("/units", "返回单位与派单目录"), "back to the form's page"
    api = sup.client.post("/api/units", json={"name": "市住建局", "kind": "department"})
    assert api.status_code == 403 and api.json() == {"detail": "missing or wrong CSRF token"}


def test_an_address_that_only_takes_a_form_explains_itself(app: FastAPI) -> None:
    op = Actor(app, "op1")
    response = op.fetch(f"/cases/{Z}/decision")
    text = is_page(response, 405)
    assert response.headers["allow"] == "POST"
    assert "只接受表单提交" in message(text)
    assert ways(text) == [(f"/cases/{Z}", "返回上一页面"), ("/", "返回首页")]
    api = op.fetch(f"/api/cases/{Z}/dispatch")
    assert api.status_code == 405 and api.json() == {"detail": "Method Not Allowed"}
    assert api.headers["allow"] == "POST"


def test_bad_parameters_refused_fields_and_bugs_are_pages_too(app: FastAPI) -> None:
    op = Actor(app, "op1")
    text = is_page(op.fetch("/h5-probe/count?n=many"), 422)
    assert "提交的内容不符合要求" in message(text)
    api = op.fetch("/api/h5-probe/count?n=many")
    assert api.status_code == 422 and api.json()["detail"][0]["loc"] == ["query", "n"]

    text = is_page(op.fetch("/h5-probe/invalid"), 422)
    assert "<li>标题不能为空</li>" in text
    api = op.fetch("/api/h5-probe/invalid")
    assert api.status_code == 422
    assert api.json()["detail"] == [
        {"loc": ["body", "title"], "msg": "a title is required", "type": "value_error"}
    ]

    with TestClient(app, raise_server_exceptions=False) as client:
        client.cookies.update(op.client.cookies)
        text = is_page(client.get("/h5-probe/bug"), 500)
        assert "系统内部出错" in message(text) and "a bug" not in text
        assert "工作台" in text, "still the console around it"
        api = client.get("/api/h5-probe/bug")
        assert api.status_code == 500 and api.json() == {"detail": "internal server error"}
        assert api.headers["cache-control"] == "no-store"


def test_someone_not_logged_in_sees_no_navigation_and_a_way_to_log_in(app: FastAPI) -> None:
    with TestClient(app, follow_redirects=False) as anonymous:
        text = is_page(anonymous.get("/no-such-page"), 404)
        assert "退出登录" not in text and ways(text) == [("/login", "前往登录")]
        assert anonymous.get(f"/cases/{Z}").status_code == 303, "pages still ask to log in"
        assert anonymous.get("/api/no-such-thing").json() == {"detail": "Not Found"}
