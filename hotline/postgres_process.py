"""A persistent PostgreSQL server in a folder: the one database of a multi-node hotline on
this machine (``hotline cluster up``).

Debian's server binaries (``/usr/lib/postgresql/<version>/bin``) run as the ``postgres`` user
(PostgreSQL refuses root) on a cluster of its own under ``root/data``, never Debian's
``/var/lib/postgresql`` cluster or its service. Authentication:

- the hotline's processes connect over TCP on ``host:port`` (loopback here; a private
  address across machines) as the role ``hotline``, owner of the database ``hotline``, with a
  generated password (SCRAM-SHA-256). It is kept in a 0600 JSON file beside the cluster
  (:func:`write_credentials`, generated once) and reaches the processes inside their database
  URL, which lives only in their environment (readable by the service's user only);
- administration (creating the role and the database) goes through the Unix socket in
  ``root/socket`` as the ``postgres`` user with peer authentication: no superuser password
  exists at all.

``trust`` is used nowhere: on TCP it would let any local user (or any host that can reach the
port) in as anyone.

The ``postgres`` user must reach its folder: the folders above ``root`` that deny others the
right to pass through get that right only (``o+x``, not listing or reading; everything in the
hotline's data folder is owner-only, so passing through shows nothing). ``hotline setup`` takes
it away again on the data folder (``privacy.make_private``); :func:`start` gives it back.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from core import pids, privacy
from core.waiting import wait_for

log = logging.getLogger(__name__)

USER = "postgres"  # the system account the server runs as (Debian's postgresql package)
ROLE = "hotline"
DATABASE = "hotline"


class PostgresError(RuntimeError):
    """The server could not be set up, started or stopped; the message says why."""


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str
    database: str

    def url(self, host: str, port: int) -> str:
        """The database URL the hotline's settings take (``HOTLINE_DATABASE_URL``)."""
        return f"postgresql://{self.user}:{self.password}@{host}:{port}/{self.database}"


def bin_dir() -> Path:
    """The newest server binaries Debian installed."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if not found:
        raise PostgresError("PostgreSQL server binaries missing: scripts/setup installs them")
    return found[-1].parent


def write_credentials(path: Path) -> Credentials:
    """The role's password, generated on the first call and kept (0600); later calls read it."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        privacy.write_private(
            path,
            json.dumps(
                {"user": ROLE, "password": secrets.token_hex(24), "database": DATABASE},
                indent=2,
            ),
        )
    return read_credentials(path)


def read_credentials(path: Path) -> Credentials:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Credentials(str(data["user"]), str(data["password"]), str(data["database"]))
    except (OSError, ValueError, KeyError) as exc:
        raise PostgresError(f"cannot read the database credentials in {path}: {exc}") from exc


def _data(root: Path) -> Path:
    return root / "data"


def _socket_dir(root: Path) -> Path:
    return root / "socket"


def pid(root: Path) -> int | None:
    """The postmaster's pid while it runs (from ``postmaster.pid``), else None."""
    try:
        first = (_data(root) / "postmaster.pid").read_text(encoding="ascii").split("\n", 1)[0]
    except (OSError, UnicodeDecodeError):
        return None
    if not first.strip().isdigit():
        return None
    found = int(first)
    return found if pids.alive(found) else None


def running(root: Path) -> bool:
    return pid(root) is not None


def _as_postgres(*command: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["runuser", "-u", USER, "--", *command],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        cwd="/",
    )
    if result.returncode != 0:
        raise PostgresError(
            f"{Path(command[0]).name} failed ({result.returncode}): "
            f"{(result.stderr or result.stdout).strip()[-1500:]}"
        )
    return result


def _reachable(folder: Path) -> None:
    """Let the ``postgres`` user pass through every folder above ``folder`` (o+x only)."""
    for parent in folder.resolve().parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)
            log.info(
                "%s: others may now pass through (o+x) so PostgreSQL reaches %s", parent, folder
            )


def _hba(clients: tuple[str, ...]) -> str:
    lines = [
        "# Written by hotline.postgres_process at every start; edits are overwritten.",
        "# type  database  user      address          method",
        f"local   all       {USER}  peer",
        f"local   {DATABASE}   {ROLE}   scram-sha-256",
        f"host    {DATABASE}   {ROLE}   127.0.0.0/8   scram-sha-256",
        *(f"host    {DATABASE}   {ROLE}   {network}   scram-sha-256" for network in clients),
    ]
    return "\n".join(lines) + "\n"


def _init(root: Path) -> None:
    data = _data(root)
    if (data / "PG_VERSION").exists():
        return
    if data.exists():
        shutil.rmtree(data)  # a half-made cluster from an interrupted first start
    _as_postgres(
        str(bin_dir() / "initdb"),
        "-D",
        str(data),
        "-U",
        USER,
        "--auth-local=peer",
        "--auth-host=scram-sha-256",
        "--encoding=UTF8",
        "--locale=C.UTF-8",
    )


def start(
    root: Path,
    host: str,
    port: int,
    credentials: Path,
    *,
    clients: tuple[str, ...] = (),
    durable: bool = True,
    timeout: float = 60,
) -> int:
    """Create the cluster in ``root`` on the first call, start the server on ``host:port``
    (idempotent), make sure the role and its database exist with the password in
    ``credentials`` (generated if missing), and return the postmaster's pid.

    ``clients``: networks (CIDR) besides loopback whose hosts may connect, for nodes on other
    machines. ``durable=False`` turns fsync off (tests: a crash of the machine may lose the
    last commits)."""
    creds = write_credentials(credentials)
    root.mkdir(parents=True, exist_ok=True)
    shutil.chown(root, USER, USER)
    root.chmod(0o700)
    _reachable(root)
    _socket_dir(root).mkdir(exist_ok=True)
    shutil.chown(_socket_dir(root), USER, USER)
    _init(root)
    hba = _data(root) / "pg_hba.conf"
    privacy.write_private(hba, _hba(clients))
    shutil.chown(hba, USER, USER)
    found = pid(root)
    if found is None:
        options = [
            f"-p {port}",
            f"-k {_socket_dir(root)}",
            f"-c listen_addresses={host}",
            "-c unix_socket_permissions=0700",
            "-c password_encryption=scram-sha-256",
        ]
        if not durable:
            options.append("-c fsync=off")
        _as_postgres(
            str(bin_dir() / "pg_ctl"),
            "-D",
            str(_data(root)),
            "-w",
            "-t",
            str(int(timeout)),
            "-l",
            str(root / "server.log"),
            "-o",
            " ".join(options),
            "start",
        )
        found = pid(root)
        if found is None:
            raise PostgresError(f"PostgreSQL did not stay up: see {root / 'server.log'}")
    else:
        _as_postgres(str(bin_dir() / "pg_ctl"), "-D", str(_data(root)), "reload")
    _ensure_database(root, port, creds)
    return found


def _ensure_database(root: Path, port: int, creds: Credentials) -> None:
    """The role (its password set to the kept one) and its database, made if missing. The
    SQL goes on psql's standard input, so the password is on no command line."""
    sql = f"""
SELECT format('CREATE ROLE %I LOGIN', '{creds.user}')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{creds.user}') \\gexec
ALTER ROLE "{creds.user}" PASSWORD '{creds.password}';
SELECT format('CREATE DATABASE %I OWNER %I', '{creds.database}', '{creds.user}')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '{creds.database}') \\gexec
"""
    _as_postgres(
        str(bin_dir() / "psql"),
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        str(_socket_dir(root)),
        "-p",
        str(port),
        "-d",
        "postgres",
        stdin=sql,
    )


def stop(root: Path, timeout: float = 30) -> None:
    """Stop the server (fast shutdown: SIGINT to the postmaster, open transactions rolled
    back); nothing if it is not up. A signal, not ``pg_ctl``: the server stops even when the
    folders above its own no longer let the ``postgres`` user through."""
    found = pid(root)
    if found is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(found, signal.SIGINT)
    try:
        wait_for(lambda: not pids.alive(found), timeout, "PostgreSQL to stop")
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.kill(found, signal.SIGQUIT)  # immediate shutdown: recovery at the next start
        wait_for(lambda: not pids.alive(found), 10, "PostgreSQL to stop at once")
