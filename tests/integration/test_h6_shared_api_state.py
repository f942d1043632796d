"""Two API hosts behind a load balancer (two apps sharing one database, SQLite and
PostgreSQL): a password the console issued is shown once by whichever host serves the page
after the redirect, and failed log-ins from one address count on every host."""

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

from accounts.issued_secrets import IssuedSecret
from api.app import create_app
from core.settings import Settings
from tests.api_actor import Actor
from tests.builders import PASSWORD, add_user


@pytest.fixture
def hosts(
    db_url: str, sessions: sessionmaker[Session], tmp_path: Path
) -> Iterator[tuple[FastAPI, FastAPI]]:
    add_user(sessions, "root", "admin")
    add_user(sessions, "root2", "admin")
    add_user(sessions, "op1", "operator")
    apps = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        apps.append(
            create_app(
                Settings(
                    data_dir=tmp_path / name,
                    database_url=db_url,
                    operators=["8001"],
                    login_address_max_failures=3,
                )
            )
        )
    with TestClient(apps[0]), TestClient(apps[1]):  # each runs its lifespan
        yield apps[0], apps[1]


def on(app: FastAPI, cookies: Any) -> TestClient:
    """The same browser (its cookies) served by another host."""
    return TestClient(app, follow_redirects=False, cookies=cookies)


def issued_password(page_text: str) -> str | None:
    found = re.search(r'id="issued-password-value">([^<]+)<', page_text)
    return found.group(1) if found else None


def test_an_issued_password_is_shown_once_by_any_host(
    hosts: tuple[FastAPI, FastAPI], sessions: sessionmaker[Session]
) -> None:
    host_a, host_b = hosts
    root = Actor(host_a, "root")
    created = root.client.post(
        "/users",
        data={
            "csrf_token": root.headers["X-CSRF-Token"],
            "username": "li",
            "display_name": "李四",
            "role": "operator",
            "unit_id": "",
            "phone": "",
        },
    )
    assert created.status_code == 303, created.text
    cookie = created.headers["set-cookie"]
    assert "hotline_issued_" in cookie and "HttpOnly" in cookie and "Path=/users" in cookie
    assert "samesite=strict" in cookie.lower() and "Max-Age=600" in cookie
    location = created.headers["location"]
    with sessions() as session:
        (sealed,) = session.scalars(select(IssuedSecret.sealed)).all()

    # Another administrator, even on the host that issued it, with the address: nothing.
    other = Actor(host_a, "root2")
    assert issued_password(other.fetch(location).text) is None
    # The same administrator's browser served by the other host: shown there, once.
    shown = on(host_b, root.client.cookies).get(location)
    password = issued_password(shown.text)
    assert password is not None and "只显示这一次" in shown.text
    assert password.encode() not in sealed, "the database never held it in clear"
    assert "hotline_issued_" in shown.headers["set-cookie"], "the pad is deleted"
    again = root.client.get(location)  # back on the first host, the pad still in this jar
    assert issued_password(again.text) is None and "已显示过" in again.text
    with sessions() as session:
        assert session.scalars(select(IssuedSecret)).all() == []
    logged = TestClient(host_b).post("/api/session", json={"username": "li", "password": password})
    assert logged.status_code == 200

    # A reset on b, its page served by a: the same.
    op1 = root.get("/api/users")
    op1_id = next(u["id"] for u in op1 if u["username"] == "op1")
    browser_on_b = on(host_b, root.client.cookies)
    reset = browser_on_b.post(
        f"/users/{op1_id}/password-reset", data={"csrf_token": root.headers["X-CSRF-Token"]}
    )
    assert reset.status_code == 303
    browser = browser_on_b.cookies  # with the pad host b set
    stranger = Actor(host_a, "root")  # the same account in another browser (no pad)
    assert issued_password(stranger.fetch(reset.headers["location"]).text) is None
    assert issued_password(on(host_a, browser).get(reset.headers["location"]).text)
    assert issued_password(on(host_b, browser).get(reset.headers["location"]).text) is None


def test_failed_log_ins_from_one_address_count_on_every_host(
    hosts: tuple[FastAPI, FastAPI],
) -> None:
    host_a, host_b = hosts
    wrong = {"username": "op1", "password": "wrong-password"}
    assert TestClient(host_a).post("/api/session", json=wrong).status_code == 401
    assert TestClient(host_b).post("/api/session", json=wrong).status_code == 401
    assert TestClient(host_a).post("/api/session", json=wrong).status_code == 401
    # Three failures from this address (the budget), on two hosts: both now refuse it.
    for host in (host_b, host_a):
        refused = TestClient(host).post(
            "/api/session", json={"username": "root", "password": PASSWORD}
        )
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
