"""Accounts: log-in, sessions, CSRF, lock-out, and a role check on every route."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from accounts.models import Role, User
from api.app import create_app
from api.login import REFUSED
from core.settings import PROJECT_ROOT, Settings
from tests.builders import PASSWORD, add_user

PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("POST", "/api/session"),
    # Prometheus' scrape: loopback, or its own bearer token (tests/integration/test_metrics_api).
    ("GET", "/metrics"),
}
ANY_ROLE = {
    ("GET", "/api/session"),
    ("DELETE", "/api/session"),
    ("POST", "/logout"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/password"),
    ("POST", "/password"),
    ("POST", "/api/session/password"),
}
Z = "0" * 32
UNIT_PORTAL = {
    ("GET", "/api/unit/cases"),
    ("GET", f"/api/unit/cases/{Z}"),
    ("GET", f"/api/unit/cases/{Z}/attachments/{Z}"),
    ("GET", "/unit"),
    ("GET", f"/unit/cases/{Z}"),
    ("POST", f"/unit/cases/{Z}/{Z}"),
    *(
        ("POST", f"/api/unit/cases/{Z}/{step}")
        for step in ("sign", "start", "return", "reply", "extension")
    ),
}
UNIT_HANDLER_MAY = ANY_ROLE | {("GET", "/")}
# Admins list calls but never read a transcript (the recordings' rules decide who reads).
ADMIN_MAY = ANY_ROLE | {
    ("GET", "/"),
    ("GET", "/calls"),
    ("GET", "/api/calls"),
    ("GET", f"/api/calls/{Z}"),
    # 用户管理: only administrators manage accounts.
    ("GET", "/users"),
    ("POST", "/users"),
    *(("POST", f"/users/{Z}/{step}") for step in ("disable", "enable", "password-reset")),
    *(("POST", f"/users/{Z}/{step}") for step in ("unlock", "phone")),
    ("GET", "/api/users"),
    ("POST", "/api/users"),
    ("GET", "/api/users/phones"),
    ("GET", "/api/users/events"),
    *(("POST", f"/api/users/{Z}/{step}") for step in ("disable", "enable", "password-reset")),
    ("POST", f"/api/users/{Z}/unlock"),
    ("PUT", f"/api/users/{Z}/phone"),
}
SUPERVISOR_ONLY = {
    ("POST", "/api/knowledge"),
    ("PUT", f"/api/knowledge/{Z}"),
    ("DELETE", f"/api/knowledge/{Z}"),
    ("POST", "/knowledge"),
    ("POST", f"/knowledge/{Z}"),
    ("POST", f"/knowledge/{Z}/retire"),
    ("POST", "/api/units"),
    ("POST", f"/api/units/{Z}/members"),
    ("PUT", f"/api/catalogue/{Z}"),
    ("DELETE", f"/api/catalogue/{Z}"),
    ("POST", f"/api/cases/{Z}/review"),
    ("POST", f"/api/extensions/{Z}/decision"),
    ("POST", f"/api/cases/{Z}/reopen"),
    ("POST", f"/api/cases/{Z}/close"),
    ("POST", f"/api/cases/{Z}/archive"),
    ("GET", "/api/supervision/overdue"),
    ("POST", "/api/supervision/run"),
    ("GET", "/supervision"),
    ("GET", "/units"),
    ("POST", "/units"),
    ("POST", f"/units/{Z}/members"),
    ("POST", "/catalogue"),
    ("POST", f"/cases/{Z}/review"),
    ("POST", f"/extensions/{Z}/decision"),
    ("POST", f"/cases/{Z}/conclusion"),
    ("POST", f"/cases/{Z}/archive"),
    ("POST", f"/api/cases/{Z}/legal-holds"),
    ("POST", f"/api/cases/{Z}/legal-holds/{Z}/release"),
    ("POST", f"/api/cases/{Z}/recording-grants"),
    ("POST", f"/api/cases/{Z}/recording-grants/{Z}/revoke"),
    ("POST", "/api/integrity/run"),
    ("POST", f"/api/cases/{Z}/recall"),
    ("POST", f"/api/cases/{Z}/reassignment"),
    ("POST", f"/api/cases/{Z}/reminders"),
    ("POST", f"/cases/{Z}/reassignment"),
    ("POST", f"/cases/{Z}/reminders"),
    ("POST", f"/cases/{Z}/evidence/hold"),
    ("POST", f"/cases/{Z}/evidence/hold/{Z}/release"),
    ("POST", f"/cases/{Z}/evidence/grant"),
    ("POST", f"/cases/{Z}/evidence/grant/{Z}/revoke"),
    # Reports (issue 17): leaders only.
    ("GET", "/reports"),
    ("GET", "/reports/units"),
    ("GET", "/reports/cases"),
    ("GET", "/reports/windows"),
    ("POST", f"/reports/windows/{Z}/explanation"),
    ("GET", "/reports/hot"),
    ("GET", "/reports/hot/cases"),
    ("GET", "/api/reports/overview"),
    ("GET", "/api/reports/units"),
    ("GET", "/api/reports/cases"),
    ("GET", "/api/reports/windows"),
    ("POST", f"/api/reports/windows/{Z}/explanation"),
    ("GET", "/api/reports/hot"),
    ("GET", "/bulletins"),
    ("POST", "/bulletins"),
    ("GET", f"/bulletins/{Z}"),
    ("GET", f"/bulletins/{Z}.pdf"),
    ("GET", "/api/bulletins"),
    ("POST", "/api/bulletins"),
    ("GET", f"/api/bulletins/{Z}"),
}
# Investigators see evidence pages only; auditors the access log and the store's health.
INVESTIGATOR_MAY = ANY_ROLE | {
    ("GET", "/"),
    ("GET", "/evidence"),
    ("GET", f"/cases/{Z}/evidence"),
    ("POST", f"/cases/{Z}/evidence/reason"),
    ("GET", f"/cases/{Z}/evidence/package"),
    ("GET", f"/cases/{Z}/evidence/archive"),
    ("GET", f"/api/cases/{Z}/evidence"),
    ("POST", f"/api/cases/{Z}/replay-reason"),
    ("GET", f"/api/cases/{Z}/evidence-package"),
    ("GET", f"/api/cases/{Z}/archive/bundle"),
    ("GET", f"/api/recordings/{Z}/audio"),
    ("GET", f"/api/recordings/{Z}/waveform"),
    ("GET", f"/api/calls/{Z}/transcript"),
}
AUDITOR_MAY = ANY_ROLE | {
    ("GET", "/"),
    ("GET", "/audit"),
    ("GET", "/api/audit/recording-access"),
    ("GET", "/api/audit"),
    ("GET", "/api/integrity"),
}


@pytest.fixture
def settings(db_url: str, sessions: sessionmaker[Session], tmp_path: Path) -> Settings:
    for name, role in (
        ("op1", "operator"),
        ("unit1", "unit_handler"),
        ("sup1", "supervisor"),
        ("admin1", "admin"),
        ("inv1", "investigator"),
        ("aud1", "auditor"),
    ):
        add_user(sessions, name, role)
    return Settings(data_dir=tmp_path, database_url=db_url, login_max_failures=3)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), follow_redirects=False) as test_client:
        yield test_client


def log_in(client: TestClient, username: str, password: str = PASSWORD) -> str:
    response = client.post("/api/session", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    token: str = response.json()["csrf_token"]
    return token


def routes(client: TestClient) -> list[tuple[str, str]]:
    """Every route of the app (included routers too), path parameters filled in."""
    found = []
    pending = list(client.app.routes)  # type: ignore[attr-defined]
    while pending:
        route = pending.pop()
        if hasattr(route, "original_router"):  # FastAPI's included router
            pending.extend(route.original_router.routes)
        elif isinstance(route, APIRoute):
            path = re.sub(r"\{[^}]+\}", "0" * 32, route.path)
            found += [(method, path) for method in sorted(route.methods or ())]
    return sorted(found)


def test_every_route_refuses_no_session_and_the_wrong_role(client: TestClient) -> None:
    protected = [(m, p) for m, p in routes(client) if (m, p) not in PUBLIC]
    assert len(protected) >= 6
    for method, path in protected:
        response = client.request(method, path)
        if path.startswith("/api/"):
            assert response.status_code == 401, (method, path)
            assert response.json() == {"detail": "not logged in"}
        else:
            assert response.status_code == 303, (method, path)
            assert response.headers["location"].startswith("/login")
    assert set(protected) >= UNIT_PORTAL
    token = log_in(client, "unit1")  # a handler of no unit yet: not even the portal
    for method, path in protected:
        if (method, path) in UNIT_HANDLER_MAY:
            continue
        response = client.request(method, path, headers={"X-CSRF-Token": token})
        assert response.status_code == 403, (method, path)
    assert client.get("/").headers["location"] == "/unit"
    client.cookies.clear()
    for name in ("op1", "sup1"):
        token = log_in(client, name)
        for method, path in UNIT_PORTAL:
            response = client.request(method, path, headers={"X-CSRF-Token": token})
            assert response.status_code == 403, (name, method, path)
        client.cookies.clear()


def test_admins_see_calls_only_and_only_supervisors_edit_the_knowledge_base(
    client: TestClient,
) -> None:
    protected = [(m, p) for m, p in routes(client) if (m, p) not in PUBLIC]
    assert set(protected) >= SUPERVISOR_ONLY | ADMIN_MAY
    token = log_in(client, "admin1")
    for method, path in protected:
        if (method, path) in ANY_ROLE:
            continue  # log-out and the session itself
        response = client.request(method, path, headers={"X-CSRF-Token": token})
        if (method, path) in ADMIN_MAY:
            assert response.status_code != 403, (method, path)
        else:
            assert response.status_code == 403, (method, path)
    client.cookies.clear()
    token = log_in(client, "op1")
    for method, path in SUPERVISOR_ONLY:
        response = client.request(method, path, headers={"X-CSRF-Token": token})
        assert response.status_code == 403, (method, path)


@pytest.mark.parametrize(("name", "may"), [("inv1", INVESTIGATOR_MAY), ("aud1", AUDITOR_MAY)])
def test_investigators_and_auditors_reach_only_their_pages(
    client: TestClient, name: str, may: set[tuple[str, str]]
) -> None:
    protected = [(m, p) for m, p in routes(client) if (m, p) not in PUBLIC]
    assert set(protected) >= may
    token = log_in(client, name)
    for method, path in protected:
        if (method, path) in ANY_ROLE:
            continue
        response = client.request(method, path, headers={"X-CSRF-Token": token})
        if (method, path) in may:
            assert response.status_code != 403, (method, path)
        else:
            assert response.status_code == 403, (method, path)


def test_changes_need_the_csrf_token(client: TestClient) -> None:
    token = log_in(client, "op1")
    assert client.delete("/api/session").status_code == 403
    assert client.get("/api/calls").status_code == 200, "still logged in"
    assert client.delete("/api/session", headers={"X-CSRF-Token": token}).status_code == 204
    assert client.get("/api/calls").status_code == 401


def test_passwords_are_hashed_with_argon2(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    with sessions() as session:
        stored = session.scalars(select(User.password_hash)).all()
    assert all(h.startswith("$argon2id$") and PASSWORD not in h for h in stored)


def test_repeated_failures_lock_the_account(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    for _ in range(3):
        wrong = client.post("/api/session", json={"username": "op1", "password": "nope"})
        assert wrong.status_code == 401 and wrong.json()["detail"] == REFUSED
    refused = client.post("/api/session", json={"username": "op1", "password": PASSWORD})
    assert refused.status_code == 401 and refused.json()["detail"] == REFUSED
    page = client.post(
        "/login",
        data={
            "username": "op1",
            "password": PASSWORD,
            "csrf_token": login_form_token(client),
            "next": "/",
        },
    )
    assert page.status_code == 401 and "锁定 15 分钟" in page.text
    with sessions() as session, session.begin():  # the lock runs out
        session.execute(
            update(User).values(locked_until=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    assert log_in(client, "op1")
    unknown = client.post("/api/session", json={"username": "nobody", "password": "x" * 12})
    assert unknown.json()["detail"] == REFUSED, "no hint who exists"


def login_form_token(client: TestClient) -> str:
    page = client.get("/login")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def test_the_login_page_in_chinese_with_csrf_and_no_open_redirect(client: TestClient) -> None:
    assert client.get("/").headers["location"] == "/login?next=/"
    token = login_form_token(client)
    stale = client.post(
        "/login",
        data={"username": "op1", "password": PASSWORD, "csrf_token": "forged", "next": "/"},
    )
    assert stale.status_code == 403 and "页面已过期" in stale.text
    token = login_form_token(client)
    wrong = client.post(
        "/login",
        data={"username": "op1", "password": "wrong-password", "csrf_token": token, "next": "/"},
    )
    assert wrong.status_code == 401 and "用户名或密码错误" in wrong.text
    token = login_form_token(client)
    ok = client.post(
        "/login",
        data={
            "username": "op1",
            "password": PASSWORD,
            "csrf_token": token,
            "next": "//evil.example/",
        },
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/"
    cookie = ok.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    page = client.get("/")
    assert page.status_code == 200 and "op1 名（话务员）" in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    assert client.post("/logout", data={"csrf_token": "forged"}).status_code == 403
    out = client.post("/logout", data={"csrf_token": csrf.group(1)})
    assert out.status_code == 303 and client.get("/api/calls").status_code == 401


def test_user_add_command(settings: Settings) -> None:
    env = {**os.environ, **settings.to_env()}
    hotline = str(PROJECT_ROOT / ".venv/bin/hotline")

    def add(*args: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [hotline, "user", "add", *args],
            env=env,
            capture_output=True,
            text=True,
            input=password,
            check=False,
        )

    made = add("sup2", "--role", "supervisor", "--name", "王督查")
    assert made.returncode == 0 and "password: " in made.stdout
    generated = made.stdout.split("password: ")[1].strip()
    with TestClient(create_app(settings)) as client:
        assert log_in(client, "sup2", generated)
    assert "exists already" in add("sup2", "--role", "operator").stderr
    short = add("op9", "--role", "operator", "--password-stdin", password="short\n")
    assert short.returncode != 0 and "at least 10 characters" in short.stderr
    bad_role = add("op9", "--role", "king")
    assert bad_role.returncode != 0
    for role in Role:  # every role the console knows, as the README lists them
        made = add(f"{role.value}9", "--role", role.value)
        assert made.returncode == 0, made.stderr
