"""Administrators manage users, on both databases: through the JSON API (English errors) and
the console's pages (Chinese errors at the field), with every change audited, issued
passwords changed before anything else, and a disabled user's sessions ended."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from accounts import admin, service
from accounts.lockout import LockoutPolicy
from accounts.models import AccountEvent, LoginSession, User
from api.app import create_app
from core.db import transaction
from core.settings import Settings
from dispatch.routing import units
from tests.api_actor import Actor
from tests.builders import PASSWORD, add_user

NOW = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)
POLICY = LockoutPolicy()


@pytest.fixture
def app(db_url: str, sessions: sessionmaker[Session], tmp_path: Path) -> Iterator[FastAPI]:
    add_user(sessions, "root", "admin")
    add_user(sessions, "op1", "operator")
    with transaction(sessions) as session:
        units.create_unit(session, "市住房和城乡建设局", "department", NOW)
    application = create_app(
        Settings(data_dir=tmp_path, database_url=db_url, operators=["8001", "8002", "8003"])
    )
    with TestClient(application):  # runs the lifespan once
        yield application


def unit_id(sessions: sessionmaker[Session]) -> str:
    with sessions() as session:
        return units.list_units(session)[0].id


def user_named(sessions: sessionmaker[Session], username: str) -> User:
    with sessions() as session:
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None
        return user


def events_of(sessions: sessionmaker[Session], username: str) -> list[tuple[str, str, str]]:
    with sessions() as session:
        rows = session.scalars(
            select(AccountEvent).where(AccountEvent.username == username).order_by(AccountEvent.id)
        )
        return [(e.actor, e.action, e.detail) for e in rows]


def log_in(app: FastAPI, username: str, password: str) -> TestClient:
    client = TestClient(app, follow_redirects=False)
    answer = client.post("/api/session", json={"username": username, "password": password})
    assert answer.status_code == 200, answer.text
    client.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
    return client


def test_the_api_creates_accounts_with_a_password_shown_once_and_changed_first(
    app: FastAPI, sessions: sessionmaker[Session]
) -> None:
    root = Actor(app, "root")
    issued = root.post(
        "/api/users",
        {"username": "wang", "display_name": "王话务员", "role": "operator", "phone": "8001"},
        status=201,
    )
    password = issued["password"]
    assert len(password) >= service.MIN_PASSWORD_LENGTH
    assert issued["user"]["must_change_password"] and issued["user"]["phone"] == "8001"
    handler = root.post(
        "/api/users",
        {
            "username": "zhang",
            "display_name": "张经办",
            "role": "unit_handler",
            "unit_id": unit_id(sessions),
        },
        status=201,
    )
    assert handler["user"]["unit_name"] == "市住房和城乡建设局"
    assert handler["password"] != password, "every password is generated, none is a default"
    listed = {u["username"]: u for u in root.get("/api/users")}
    assert listed["zhang"]["unit_name"] == "市住房和城乡建设局"
    assert listed["root"]["must_change_password"] is False
    assert password not in str(root.get("/api/users")), "the list never shows a password"

    # The new operator logs in with it and must change it before anything else.
    wang = log_in(app, "wang", password)
    refused = wang.get("/api/calls")
    assert refused.status_code == 403 and "password change required" in refused.json()["detail"]
    page = wang.get("/")
    assert (page.status_code, page.headers["location"]) == (303, "/password")
    assert wang.get("/password").status_code == 200
    assert wang.get("/api/session").status_code == 200, "who am I stays open"
    wrong = wang.post(
        "/api/session/password", json={"current_password": "nope", "new_password": "short"}
    )
    assert wrong.status_code == 422
    assert {e["loc"][-1] for e in wrong.json()["detail"]} == {"current_password", "new_password"}
    changed = wang.post(
        "/api/session/password",
        json={"current_password": password, "new_password": "a-new-long-password"},
    )
    assert changed.status_code == 204, changed.text
    assert wang.get("/api/calls").status_code == 200
    assert wang.get("/").status_code == 200
    with pytest.raises(service.LoginRefused):
        service.authenticate(sessions, "wang", password, NOW, POLICY)
    assert service.authenticate(sessions, "wang", "a-new-long-password", NOW, POLICY)
    assert [a for _actor, a, _d in events_of(sessions, "wang")] == ["created", "password_changed"]
    assert events_of(sessions, "wang")[0] == ("root", "created", "role=operator phone=8001")


def test_the_api_answers_english_errors_per_field_and_only_to_admins(
    app: FastAPI, sessions: sessionmaker[Session]
) -> None:
    root = Actor(app, "root")
    bad = root.client.post(
        "/api/users",
        json={"username": "x", "display_name": "", "role": "unit_handler", "phone": "8001"},
        headers=root.headers,
    )
    assert bad.status_code == 422
    errors = {e["loc"][-1]: e["msg"] for e in bad.json()["detail"]}
    assert set(errors) == {"username", "display_name", "unit_id", "phone"}
    assert errors["phone"] == "only operators and supervisors have a phone"
    assert errors["unit_id"] == "a unit handler needs a unit"
    taken = root.client.post(
        "/api/users",
        json={"username": "op1", "display_name": "重名", "role": "operator", "phone": "9999"},
        headers=root.headers,
    )
    assert {e["loc"][-1]: e["msg"] for e in taken.json()["detail"]} == {
        "username": "user 'op1' exists already",
        "phone": "not one of the operator phones set up (HOTLINE_OPERATORS)",
    }
    with sessions() as session:
        assert session.scalar(select(User).where(User.username == "x")) is None

    operator = Actor(app, "op1")
    for method, url in [
        ("get", "/api/users"),
        ("post", "/api/users"),
        ("get", "/api/users/events"),
        ("get", "/users"),
    ]:
        answer = getattr(operator.client, method)(url, headers=operator.headers)
        assert answer.status_code == 403, (url, answer.text)
    assert root.client.post("/api/users/" + "0" * 32 + "/disable", headers=root.headers).json() == {
        "detail": "user not found"
    }


def test_disabling_ends_the_sessions_and_enabling_lets_them_back(
    app: FastAPI, sessions: sessionmaker[Session]
) -> None:
    root = Actor(app, "root")
    op1 = user_named(sessions, "op1")
    operator = Actor(app, "op1")
    assert operator.fetch("/api/calls").status_code == 200
    disabled = root.post(f"/api/users/{op1.id}/disable")
    assert disabled["active"] is False
    with sessions() as session:
        assert (
            session.scalars(select(LoginSession).where(LoginSession.user_id == op1.id)).all() == []
        )
    assert operator.fetch("/api/calls").status_code == 401, "the open session ended at once"
    with pytest.raises(service.LoginRefused):
        service.authenticate(sessions, "op1", PASSWORD, NOW, POLICY)
    assert root.post(f"/api/users/{op1.id}/enable")["active"] is True
    assert Actor(app, "op1").fetch("/api/calls").status_code == 200
    assert [(a, act) for a, act, _d in events_of(sessions, "op1")] == [
        ("root", "disabled"),
        ("root", "enabled"),
    ]

    me = user_named(sessions, "root")
    own = root.client.post(f"/api/users/{me.id}/disable", headers=root.headers)
    assert (own.status_code, own.json()["detail"]) == (409, "you cannot disable your own account")
    add_user(sessions, "root2", "admin")
    other = Actor(app, "root2")
    assert other.post(f"/api/users/{me.id}/disable")["active"] is False
    last = other.client.post(
        f"/api/users/{user_named(sessions, 'root2').id}/disable", headers=other.headers
    )
    assert last.status_code == 409  # its own, and the last active administrator


def test_a_reset_password_ends_sessions_lifts_the_lock_and_must_be_changed(
    app: FastAPI, sessions: sessionmaker[Session]
) -> None:
    root = Actor(app, "root")
    op1 = user_named(sessions, "op1")
    operator = Actor(app, "op1")
    for _ in range(POLICY.max_failures):
        with pytest.raises(service.LoginRefused):
            service.authenticate(sessions, "op1", "wrong password!", NOW, POLICY)
    assert user_named(sessions, "op1").locked_until is not None
    reset = root.post(f"/api/users/{op1.id}/password-reset")
    assert reset["user"]["must_change_password"] and reset["user"]["locked_until"] is None
    assert operator.fetch("/api/calls").status_code == 401
    with pytest.raises(service.LoginRefused):
        service.authenticate(sessions, "op1", PASSWORD, NOW, POLICY)
    again = log_in(app, "op1", reset["password"])
    assert again.get("/api/queue").status_code == 403  # until it is changed
    assert events_of(sessions, "op1")[-1][:2] == ("root", "password_reset")
    assert reset["password"] not in str(events_of(sessions, "op1"))
    me = user_named(sessions, "root")
    own = root.client.post(f"/api/users/{me.id}/password-reset", headers=root.headers)
    assert own.status_code == 409


def test_a_phone_is_bound_to_one_operator_at_a_time(
    app: FastAPI, sessions: sessionmaker[Session]
) -> None:
    root = Actor(app, "root")
    op1 = user_named(sessions, "op1")
    add_user(sessions, "op2", "operator")
    op2 = user_named(sessions, "op2")
    assert root.put(f"/api/users/{op1.id}/phone", {"phone": "8002"})["phone"] == "8002"
    taken = root.client.put(
        f"/api/users/{op2.id}/phone", json={"phone": "8002"}, headers=root.headers
    )
    assert taken.status_code == 422
    assert taken.json()["detail"][0]["msg"] == "phone 8002 is bound to op1 already"
    assert root.put(f"/api/users/{op1.id}/phone", {"phone": "8003"})["phone"] == "8003"
    assert root.put(f"/api/users/{op2.id}/phone", {"phone": "8002"})["phone"] == "8002"
    assert root.put(f"/api/users/{op1.id}/phone", {"phone": ""})["phone"] == ""
    phones = {p["phone"]: p["username"] for p in root.get("/api/users/phones")}
    assert phones == {"8001": None, "8002": "op2", "8003": None}
    assert [(a, d) for _r, a, d in events_of(sessions, "op1")] == [
        ("phone_bound", "phone=8002"),
        ("phone_bound", "phone=8002->8003"),
        ("phone_unbound", "phone=8003"),
    ]
    me = user_named(sessions, "root")
    admins = root.client.put(
        f"/api/users/{me.id}/phone", json={"phone": "8001"}, headers=root.headers
    )
    assert admins.status_code == 422
    # The operator sees the phone on their console from the next request on.
    assert 'data-phone="8002"' in Actor(app, "op2").fetch("/calls").text


def issued_password(page_text: str) -> str:
    found = re.search(r'id="issued-password-value">([^<]+)<', page_text)
    assert found, page_text
    return found.group(1)


def test_the_pages_create_with_errors_at_the_field_and_show_the_password_once(
    app: FastAPI, sessions: sessionmaker[Session]
) -> None:
    root = Actor(app, "root")
    form = {
        "csrf_token": root.headers["X-CSRF-Token"],
        "username": "li",
        "display_name": "",
        "role": "operator",
        "unit_id": unit_id(sessions),
        "phone": "8001",
    }
    refused = root.client.post("/users", data=form)
    assert refused.status_code == 422
    marked = dict(re.findall(r'data-error-for="(\w+)" id="err-\w+">([^<]+)<', refused.text))
    assert marked == {"display_name": "请填写姓名", "unit_id": "只有承办单位经办人属于单位"}
    assert 'value="li"' in refused.text, "what was typed is kept"
    assert re.search(r'<option value="8001" selected', refused.text)

    created = root.client.post("/users", data={**form, "display_name": "李四", "unit_id": ""})
    assert created.status_code == 303
    shown = root.client.get(created.headers["location"])
    password = issued_password(shown.text)
    assert "只显示这一次" in shown.text
    again = root.client.get(created.headers["location"])
    assert "issued-password-value" not in again.text and "已显示过" in again.text
    li = user_named(sessions, "li")
    assert li.phone == "8001" and li.must_change_password

    # The new user is sent to /password, which marks its errors at the field.
    page = TestClient(app, follow_redirects=False)
    login_form = page.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', login_form.text)
    assert token
    logged = page.post(
        "/login",
        data={"username": "li", "password": password, "csrf_token": token.group(1), "next": "/"},
    )
    assert logged.status_code == 303
    assert page.get("/").headers["location"] == "/password"
    change = page.get("/password")
    assert "管理员发放的密码" in change.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', change.text)
    assert csrf
    mismatch = page.post(
        "/password",
        data={
            "csrf_token": csrf.group(1),
            "current_password": password,
            "new_password": "li-own-password",
            "new_password_again": "li-own-passw0rd",
        },
    )
    assert mismatch.status_code == 422 and "两次输入的新密码不一致" in mismatch.text
    done = page.post(
        "/password",
        data={
            "csrf_token": csrf.group(1),
            "current_password": password,
            "new_password": "li-own-password",
            "new_password_again": "li-own-password",
        },
    )
    assert (done.status_code, done.headers["location"]) == (303, "/")
    assert page.get("/").status_code == 200


def test_the_pages_disable_reset_and_refuse_at_the_row(
    app: FastAPI, sessions: sessionmaker[Session]
) -> None:
    root = Actor(app, "root")
    csrf = {"csrf_token": root.headers["X-CSRF-Token"]}
    op1, me = user_named(sessions, "op1"), user_named(sessions, "root")
    assert root.client.post(f"/users/{op1.id}/disable", data=csrf).status_code == 303
    listing = root.client.get("/users").text
    row = listing[listing.index(f'id="user-{op1.id}"') :]
    assert "已停用" in row[: row.index("</tr>")]
    reset = root.client.post(f"/users/{op1.id}/password-reset", data=csrf)
    assert reset.status_code == 303
    assert issued_password(root.client.get(reset.headers["location"]).text)
    bound = root.client.post(f"/users/{me.id}/phone", data={**csrf, "phone": "8002"})
    assert bound.status_code == 422
    assert f'data-error-for="user-{me.id}">只有话务员和督查员可以绑定话务分机' in bound.text
    own = root.client.post(f"/users/{me.id}/disable", data=csrf)
    assert own.status_code == 409 and "不能停用自己的账号" in own.text
    page = root.client.get("/users").text
    assert "账号操作记录" in page and "重置密码" in page and "停用" in page
    assert [a for _r, a, _d in events_of(sessions, "op1")] == ["disabled", "password_reset"]


def test_changing_a_password_keeps_this_session_and_ends_the_others(
    sessions: sessionmaker[Session],
) -> None:
    add_user(sessions, "op9", "operator")
    user = user_named(sessions, "op9")
    now = dt.datetime.now(dt.UTC)  # sessions are live from the real clock
    with transaction(sessions) as session:
        row = session.get(User, user.id)
        assert row is not None
        first = service.start_session(session, row, "a", now, dt.timedelta(hours=1))
        service.start_session(session, row, "b", now, dt.timedelta(hours=1))
    with transaction(sessions) as session:
        admin.change_password(session, user.id, PASSWORD, "another-password", NOW, first.token)
    with sessions() as session:
        left = session.scalars(select(LoginSession).where(LoginSession.user_id == user.id)).all()
        assert [s.token_hash for s in left] == [service.token_hash(first.token)]
