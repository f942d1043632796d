"""The lock-out under real concurrency: a live API (uvicorn on a free port, in a thread) hit by
many clients at once, each from its own loopback address, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from accounts import service
from accounts.models import User
from core.db import transaction
from core.settings import PROJECT_ROOT, Settings
from tests.builders import PASSWORD, add_user
from tests.conftest import free_port
from tests.live_api import serve

LOCK = dt.timedelta(minutes=15)  # the default
GENERIC_PAGE_ERROR = re.compile(r'<p class="error"[^>]*>(.*?)</p>', re.S)


@dataclass
class Verifications:
    """Every argon2 check the server makes, against a user's hash or the dummy one."""

    hashes: list[str] = field(default_factory=list, repr=False)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def real(self) -> int:
        with self.lock:
            return sum(h != service._DUMMY_HASH for h in self.hashes)

    @property
    def total(self) -> int:
        with self.lock:
            return len(self.hashes)


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> Verifications:
    """A spy on the password check: the real check runs, and is counted."""
    seen = Verifications()
    verify = service._verify

    def counted(password_hash: str, password: str) -> bool:
        with seen.lock:
            seen.hashes.append(password_hash)
        return verify(password_hash, password)

    monkeypatch.setattr(service, "_verify", counted)
    return seen


@pytest.fixture
def settings(db_url: str, sessions: sessionmaker[Session], tmp_path: Path) -> Settings:
    for name in ("op1", "op2"):
        add_user(sessions, name, "operator")
    return Settings(
        data_dir=tmp_path,
        database_url=db_url,
        api_port=free_port(),
        supervision_interval_seconds=0,
        integrity_check_interval_seconds=0,
    )


@pytest.fixture
def live(settings: Settings) -> Iterator[str]:
    """The API served by uvicorn in a thread of this process; yields its base URL."""
    with serve(settings) as url:
        yield url


def client_from(address: str) -> httpx.Client:
    """A client whose connections come from this loopback address (127.0.0.0/8)."""
    return httpx.Client(
        transport=httpx.HTTPTransport(local_address=address), timeout=120, follow_redirects=False
    )


def log_in(url: str, username: str, password: str, address: str = "127.0.0.1") -> httpx.Response:
    with client_from(address) as client:
        return client.post(f"{url}/api/session", json={"username": username, "password": password})


def log_in_page(url: str, username: str, password: str, address: str) -> httpx.Response:
    with client_from(address) as client:
        form = client.get(f"{url}/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None
        return client.post(
            f"{url}/login",
            data={
                "username": username,
                "password": password,
                "csrf_token": token.group(1),
                "next": "/",
            },
        )


def all_at_once(url: str, attempts: list[tuple[str, str, str]]) -> list[httpx.Response]:
    """(username, password, source address) each in its own thread, released together."""
    start = threading.Barrier(len(attempts))

    def one(attempt: tuple[str, str, str]) -> httpx.Response:
        username, password, address = attempt
        with client_from(address) as client:
            start.wait(timeout=60)
            return client.post(
                f"{url}/api/session", json={"username": username, "password": password}
            )

    with ThreadPoolExecutor(len(attempts)) as pool:
        return list(pool.map(one, attempts))


def address(n: int) -> str:
    return f"127.0.{n // 250}.{n % 250 + 2}"


def lock_ends(sessions: sessionmaker[Session], username: str) -> None:
    """Move the lock's end to just past (times built relative to now)."""
    with transaction(sessions) as session:
        session.execute(
            update(User)
            .where(User.username == username)
            .values(locked_until=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )


def test_parallel_wrong_passwords_check_at_most_the_limit_and_lock_the_account(
    live: str, verifications: Verifications, sessions: sessionmaker[Session]
) -> None:
    # 40 guesses at once, each from its own address: the per-address limit does not help,
    # the account's count must.
    started = dt.datetime.now(dt.UTC)
    answers = all_at_once(live, [("op1", f"guess-{n:04d}-x", address(n)) for n in range(40)])
    assert [a.status_code for a in answers] == [401] * 40
    assert verifications.real <= 5, f"{verifications.real} passwords checked, limit 5"
    with sessions() as session:
        op1 = session.scalars(select(User).where(User.username == "op1")).one()
    assert op1.locked_until is not None
    assert started + LOCK <= op1.locked_until <= dt.datetime.now(dt.UTC) + LOCK
    right = log_in(live, "op1", PASSWORD, address(100))
    assert right.status_code == 401, "the right password must wait for the lock to end"
    assert log_in(live, "op2", PASSWORD, address(101)).status_code == 200, "others unaffected"
    lock_ends(sessions, "op1")
    assert log_in(live, "op1", PASSWORD, address(102)).status_code == 200


def test_unknown_and_locked_names_get_the_same_answer_for_the_same_work(
    live: str, verifications: Verifications
) -> None:
    for n in range(5):
        assert log_in(live, "op1", "wrong-password", address(n)).status_code == 401
    probes = [
        ("op1", "wrong-password"),
        ("op1", PASSWORD),
        ("nobody", "wrong-password"),
        ("op2", "wrong-password"),
    ]
    before = verifications.total
    answers = [
        log_in(live, name, password, address(10 + n)) for n, (name, password) in enumerate(probes)
    ]
    assert verifications.total - before == len(probes), "each refusal costs one argon2 check"
    assert {(a.status_code, a.text, a.headers["content-length"]) for a in answers} == {
        (answers[0].status_code, answers[0].text, answers[0].headers["content-length"])
    }
    assert answers[0].status_code == 401
    pages = [
        log_in_page(live, name, password, address(20 + n))
        for n, (name, password) in enumerate(probes)
    ]
    errors = {(p.status_code, *GENERIC_PAGE_ERROR.findall(p.text)) for p in pages}
    assert len(errors) == 1, errors
    status, message = errors.pop()
    assert status == 401 and "用户名或密码错误" in message and "锁定" in message, (
        "a locked-out person learns why, whoever they are"
    )


def test_one_address_gets_429_with_retry_after_once_its_budget_is_spent(
    live: str, verifications: Verifications
) -> None:
    answers = all_at_once(live, [(f"name{n}", "wrong-password", "127.0.0.2") for n in range(30)])
    refused = [a for a in answers if a.status_code == 429]
    assert sorted({a.status_code for a in answers}) == [401, 429]
    assert verifications.total == 30 - len(refused) <= 20, "default budget: 20 failures"
    for answer in refused:
        assert 0 < int(answer.headers["retry-after"]) <= 15 * 60
    right = log_in(live, "op1", PASSWORD, "127.0.0.2")
    assert right.status_code == 429 and int(right.headers["retry-after"]) > 0
    page = log_in_page(live, "op1", PASSWORD, "127.0.0.2")
    assert page.status_code == 429 and "过于频繁" in page.text
    assert int(page.headers["retry-after"]) > 0
    assert log_in(live, "op1", PASSWORD, "127.0.0.3").status_code == 200, (
        "other addresses unaffected"
    )


def test_failures_count_in_a_row_and_a_log_in_starts_them_again(live: str) -> None:
    for round_ in range(3):
        for n in range(4):
            assert log_in(live, "op1", "wrong-password", address(5 * round_ + n)).status_code == 401
        assert log_in(live, "op1", PASSWORD, address(5 * round_ + 4)).status_code == 200


def test_an_administrator_lifts_a_lock_at_once(live: str, settings: Settings) -> None:
    for n in range(5):
        log_in(live, "op1", "wrong-password", address(n))
    assert log_in(live, "op1", PASSWORD, address(5)).status_code == 401

    def unlock(name: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(PROJECT_ROOT / ".venv/bin/hotline"), "user", "unlock", name],
            env={**os.environ, **settings.to_env()},
            capture_output=True,
            text=True,
            check=False,
        )

    done = unlock("op1")
    assert done.returncode == 0 and "op1 unlocked" in done.stdout, done.stderr
    assert log_in(live, "op1", PASSWORD, address(6)).status_code == 200
    unknown = unlock("nobody")
    assert unknown.returncode != 0 and "no user 'nobody'" in unknown.stderr
