"""Fixtures shared by every tier: databases (SQLite and a real PostgreSQL server)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from core.db import make_engine, make_session_factory
from dispatch.deadlines import working_calendar
from hotline import migrate
from tests import artifacts
from tests.object_store_server import ObjectStoreServer, running_object_store

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED = PROJECT_ROOT.parent / "shared"
SAMPLES = SHARED / "audio" / "samples"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pg_bin() -> Path:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not candidates:
        pytest.fail("PostgreSQL server binaries missing: scripts/setup installs 'postgresql'")
    return candidates[-1].parent


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A real PostgreSQL server for this test session, on loopback; yields its base URL."""
    with running_postgres() as url:
        yield url


@contextmanager
def running_postgres() -> Iterator[str]:
    """A real PostgreSQL server (Debian's) in a temporary folder, on loopback, while the
    block runs (the tests' server; the benchmarks start theirs with it too)."""
    bin_dir = _pg_bin()
    root = Path(tempfile.mkdtemp(prefix="hotline-pg-"))
    data = root / "data"
    shutil.chown(root, "postgres")
    port = free_port()
    as_postgres = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [
            *as_postgres,
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            "hotline",
            "-A",
            "trust",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *as_postgres,
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data),
            "-w",
            "-l",
            str(root / "log"),
            "-o",
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://hotline@127.0.0.1:{port}"
    finally:
        subprocess.run(
            [*as_postgres, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


def new_postgres_database(server_url: str) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(f"{server_url}/postgres")
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{server_url}/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    server: str = request.getfixturevalue("postgres_server")
    return new_postgres_database(server)


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    migrate.upgrade(db_url)
    engine = make_engine(db_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture(autouse=True)
def _no_ambient_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests build their own settings; the developer's HOTLINE_* variables must not leak in."""
    for key in list(os.environ):
        if key.startswith("HOTLINE_"):
            monkeypatch.delenv(key)


@pytest.fixture
def calendar_data_until_2026(monkeypatch: pytest.MonkeyPatch) -> None:
    """The chinesecalendar package as version 1.11 has it: official schedules up to 2026, so
    tests of a year without one can use 2027 whichever later version is installed (a year's
    schedule is added once the State Council publishes it, late in the year before)."""
    covers = working_calendar.package_covers
    monkeypatch.setattr(
        working_calendar, "package_covers", lambda year: year <= 2026 and covers(year)
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print where the screenshots of this run are (they are test artefacts)."""
    if artifacts.kept:
        terminalreporter.section("screenshots")
        for path in artifacts.kept:
            terminalreporter.write_line(f"screenshot: {path}")


@pytest.fixture(scope="session")
def object_store() -> Iterator[ObjectStoreServer]:
    """A real SeaweedFS object store (S3 on loopback, a free port) shared by the session's
    tests (Issue 18, H1). Keys are unique per file, so tests share its bucket; a test that
    stops the store runs its own (``tests.object_store_server.running_object_store``)."""
    with running_object_store() as server:
        yield server
