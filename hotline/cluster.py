"""The multi-node hotline on one machine: ``hotline cluster up|down|status``.

One command brings up, each part in its own data folder under ``cluster_dir``
(``<data_dir>/cluster`` by default):

- ``postgres``: the one database (``hotline.postgres_process``), 127.0.0.1:5433;
- ``object-store``: SeaweedFS with S3 (``hotline.object_store_process``), 127.0.0.1:8433;
- ``asr-live``: the live stream listener, 127.0.0.1:9192;
- ``node-<name>``: Asterisk and its ivr service, one per node (``cluster_nodes``:
  a=127.0.0.2, b=127.0.0.3): SIP, RTP and FastAGI on the node's address, AMI on loopback
  (5138, 5139, …);
- ``sip-router``: Kamailio (``hotline.sip_router``) on ``sip_router_host:port``,
  127.0.0.1:5060;
- ``asr``: the transcription worker pool;
- ``api``: the web console and JSON API, 127.0.0.1:8100.

Every part has the same database URL (the ``hotline`` role's generated password, see
``hotline.postgres_process``) and the same bucket; the migrations run once, before any part
starts. Each node has its own operators: ``operators`` split in order into one block per
node (8001 at a, 8002 at b by default), which is also what the router is told
(``sip_router_operators``).

None of these ports is one the single-machine hotline (``hotline up``) uses, except the SIP
entry: Kamailio takes the usual 127.0.0.1:5060, where the single machine's Asterisk listens.
``cluster up`` checks every address it is about to bind and refuses, naming it, when something
holds it (``hotline down`` first, or move ``sip_router_port``).

Everything here is a setting, so the same layout runs across machines: each host runs its
parts with the addresses of the others (README, "Scaling out").
"""

from __future__ import annotations

import contextlib
import errno
import logging
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from asr import strays
from asr.model_install import active_model
from core import privacy
from core.settings import Settings
from core.waiting import wait_for
from hotline import (
    migrate,
    object_store_process,
    postgres_process,
    processes,
    provision,
    sip_router,
)
from hotline.ivr_status import status_file
from ivr import asterisk_install, asterisk_process
from ivr.asterisk_config import AsteriskDirs
from ivr.asterisk_install import AsteriskInstall

log = logging.getLogger(__name__)


class ClusterError(RuntimeError):
    """The cluster cannot be brought up as configured; the message says what to do."""


@dataclass(frozen=True)
class Node:
    name: str
    address: str
    index: int


def parse_nodes(text: str) -> tuple[Node, ...]:
    """``a=127.0.0.2,b=127.0.0.3`` -> the nodes, in order; names and addresses distinct."""
    nodes = []
    for index, item in enumerate(part.strip() for part in text.split(",") if part.strip()):
        name, _, address = item.partition("=")
        nodes.append(Node(name.strip(), address.strip(), index))
    if not nodes:
        raise ClusterError("cluster_nodes names no node")
    for attribute in ("name", "address"):
        values = [getattr(node, attribute) for node in nodes]
        if len(set(values)) != len(values):
            raise ClusterError(f"cluster_nodes: each node needs its own {attribute}: {text!r}")
    return tuple(nodes)


def derive(base: Settings, **overrides: Any) -> Settings:
    """``base`` with ``overrides``, validated again (ports distinct and so on)."""
    return Settings(**{**base.model_dump(), **overrides})


@dataclass(frozen=True)
class Layout:
    """Where each part of the cluster lives and the settings it runs with."""

    base: Settings
    root: Path
    nodes: tuple[Node, ...]

    @property
    def postgres_dir(self) -> Path:
        return self.root / "postgres"

    @property
    def postgres_credentials(self) -> Path:
        return self.root / "postgres.json"

    @property
    def object_store_dir(self) -> Path:
        return self.root / "object-store"

    @property
    def object_store_credentials(self) -> Path:
        return self.root / "object-store.json"

    @property
    def router_dir(self) -> Path:
        return self.root / "sip-router"

    @property
    def object_store_url(self) -> str:
        return f"http://{self.base.cluster_object_store_host}:{self.base.cluster_object_store_port}"

    def database_url(self) -> str:
        """The one database's URL; empty before the first ``up`` generated its password."""
        if not self.postgres_credentials.exists():
            return ""
        creds = postgres_process.read_credentials(self.postgres_credentials)
        return creds.url(self.base.cluster_postgres_host, self.base.cluster_postgres_port)

    def operators_of(self, node: Node) -> list[str]:
        """The node's block of ``operators`` (in order, as even as the count allows)."""
        everyone, count = self.base.operators, len(self.nodes)
        return everyone[
            node.index * len(everyone) // count : (node.index + 1) * len(everyone) // count
        ]

    def _common(self) -> dict[str, Any]:
        """What every part shares: the database, the bucket, the recogniser, the model."""
        base = self.base
        model = base.vosk_model or active_model(base)
        return {
            "database_url": self.database_url(),
            "object_store_url": self.object_store_url,
            "object_store_credentials": self.object_store_credentials,
            "asr_live_host": base.cluster_asr_live_host,
            "asr_live_port": base.cluster_asr_live_port,
            # The recognisers registered in the database first, this listener when none is.
            "asr_live_recognisers": "",
            "api_host": base.cluster_api_host,
            "api_port": base.cluster_api_port,
            "vosk_model": model,
            "sip_router_nodes": ",".join(
                f"{node.name}={node.address}:{base.cluster_node_sip_port}" for node in self.nodes
            ),
            "sip_router_operators": ",".join(
                f"{operator}={node.name}"
                for node in self.nodes
                for operator in self.operators_of(node)
            ),
        }

    def node_settings(self, node: Node) -> Settings:
        base = self.base
        return derive(
            base,
            **self._common(),
            data_dir=self.root / f"node-{node.name}",
            node_name=node.name,
            sip_host=node.address,
            sip_port=base.cluster_node_sip_port,
            agi_host=node.address,
            ami_port=base.cluster_ami_port + node.index,
            operators=self.operators_of(node),
            sip_router=f"{base.sip_router_host}:{base.sip_router_port}",
        )

    def client_env(self) -> dict[str, str]:
        """What a ``hotline`` command run by hand needs to act on this cluster: its database,
        its bucket, the SIP router as the address to dial, and the first node's folder (its
        prompts tell ``hotline dial`` how long the notice lasts; files not yet uploaded are
        read there, the rest from the bucket)."""
        env = self.node_settings(self.nodes[0]).to_env()
        wanted = (
            "data_dir",
            "database_url",
            "object_store_url",
            "object_store_bucket",
            "object_store_credentials",
            "api_host",
            "api_port",
        )
        chosen = {f"HOTLINE_{name.upper()}": env[f"HOTLINE_{name.upper()}"] for name in wanted}
        # 'hotline cluster ...' still finds this cluster with the node's data folder set.
        chosen["HOTLINE_CLUSTER_DIR"] = str(self.root)
        chosen["HOTLINE_SIP_HOST"] = self.base.sip_router_host
        chosen["HOTLINE_SIP_PORT"] = str(self.base.sip_router_port)
        return chosen

    def service_settings(self, name: str) -> Settings:
        """The settings of ``asr-live``, ``asr``, ``api`` or ``sip-router``."""
        return derive(self.base, **self._common(), data_dir=self.root / name)


def layout(settings: Settings) -> Layout:
    root = settings.cluster_dir or settings.data_dir / "cluster"
    return Layout(settings, root, parse_nodes(settings.cluster_nodes))


# --- checks before binding ------------------------------------------------------------------


def _taken(host: str, port: int, kind: int) -> bool:
    with socket.socket(socket.AF_INET, kind) as probe:
        if kind == socket.SOCK_STREAM:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise ClusterError(f"cannot bind {host}:{port}: {exc}") from exc
    return False


def check_free(host: str, port: int, what: str, *, udp: bool = False) -> None:
    """Refuse, naming the address, when another process holds it."""
    if _taken(host, port, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM):
        hint = (
            " (the single-machine hotline's Asterisk? 'hotline down' stops it)"
            if udp and port == 5060
            else ""
        )
        raise ClusterError(
            f"{host}:{port}/{'udp' if udp else 'tcp'} for the cluster's {what} is taken by "
            f"another process{hint}; stop it or change the port in the settings"
        )


def preflight(cluster: Layout) -> None:
    """Before anything starts: every address a part that is not running will bind is free."""
    base = cluster.base
    wanted: list[tuple[str, int, str, bool]] = []
    if not postgres_process.running(cluster.postgres_dir):
        wanted.append((base.cluster_postgres_host, base.cluster_postgres_port, "PostgreSQL", False))
    if not object_store_process.running(cluster.object_store_dir):
        wanted.append(
            (
                base.cluster_object_store_host,
                base.cluster_object_store_port,
                "object store (S3)",
                False,
            )
        )
    live = cluster.service_settings("asr-live")
    if processes.service_pid(live, "asr-live") is None and live.asr_live_capacity > 0:
        wanted.append((live.asr_live_host, live.asr_live_port, "live recogniser", False))
    for node in cluster.nodes:
        settings = cluster.node_settings(node)
        install = _install(settings)
        dirs = AsteriskDirs.for_settings(settings, install.modules_dir) if install else None
        if dirs is None or asterisk_process.read_pid(dirs) is None:
            wanted.append((node.address, settings.sip_port, f"node {node.name}'s SIP", True))
            wanted.append((node.address, settings.agi_port, f"node {node.name}'s FastAGI", False))
            wanted.append(("127.0.0.1", settings.ami_port, f"node {node.name}'s AMI", False))
    if not sip_router.running(cluster.router_dir):
        wanted.append((base.sip_router_host, base.sip_router_port, "SIP router", True))
    api = cluster.service_settings("api")
    if processes.service_pid(api, "api") is None:
        wanted.append((api.api_host, api.api_port, "API", False))
    for host, port, what, udp in wanted:
        check_free(host, port, what, udp=udp)


# --- parts ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """One line of ``hotline cluster status``."""

    name: str
    running: bool
    detail: str

    def line(self) -> str:
        return f"{self.name:<16} {'up' if self.running else 'DOWN':<5} {self.detail}"


def _install(settings: Settings) -> AsteriskInstall | None:
    return asterisk_install.find(settings.asterisk_root, settings.cache_dir)


def _folders(settings: Settings) -> None:
    for folder in (settings.data_dir, settings.run_dir, settings.log_dir):
        folder.mkdir(parents=True, exist_ok=True)
    privacy.make_private(settings.data_dir)


def start_node(cluster: Layout, node: Node, timeout: float = 90) -> None:
    """Asterisk and the ivr service of one node (set up first: folders, secrets, Asterisk's
    configuration, prompts; the schema is current already)."""
    settings = cluster.node_settings(node)
    install = provision.prepare(settings)
    dirs = AsteriskDirs.for_settings(settings, install.modules_dir)
    asterisk_process.start(install, dirs, settings.data_dir, timeout=timeout)
    if processes.service_pid(settings, "ivr") is None:
        status_file(settings).unlink(missing_ok=True)
    processes.start_service(settings, "ivr")


def stop_node(cluster: Layout, node: Node) -> None:
    settings = cluster.node_settings(node)
    processes.stop_service(settings, "ivr")
    install = _install(settings)
    if install is not None:
        dirs = AsteriskDirs.for_settings(settings, install.modules_dir)
        asterisk_process.stop(install, dirs, settings.data_dir)


def node_parts(cluster: Layout, node: Node) -> list[Part]:
    settings = cluster.node_settings(node)
    found = processes.status(settings, _install(settings))
    return [
        Part(f"node {node.name} {part.name}", part.running, part.detail)
        for part in found
        if part.name in ("asterisk", "ivr")
    ]


def start_object_store(cluster: Layout) -> None:
    object_store_process.write_credentials(cluster.object_store_credentials)
    object_store_process.start(
        cluster.object_store_dir,
        cluster.base.cluster_object_store_host,
        cluster.base.cluster_object_store_port,
        cluster.object_store_credentials,
    )


def start_postgres(cluster: Layout, durable: bool = True) -> None:
    base = cluster.base
    postgres_process.start(
        cluster.postgres_dir,
        base.cluster_postgres_host,
        base.cluster_postgres_port,
        cluster.postgres_credentials,
        durable=durable,
    )


def start_router(cluster: Layout) -> None:
    settings = cluster.service_settings("sip-router")
    _folders(settings)
    sip_router.start(settings, cluster.router_dir)


def start_service(cluster: Layout, name: str) -> None:
    """``asr-live``, ``asr`` or ``api`` in its own folder."""
    settings = cluster.service_settings(name)
    _folders(settings)
    processes.start_service(settings, name)


def stop_service(cluster: Layout, name: str) -> None:
    settings = cluster.service_settings(name)
    processes.stop_service(settings, name)
    if name == "asr":
        strays.stop_workers(settings)


def service_part(cluster: Layout, name: str) -> Part:
    settings = cluster.service_settings(name)
    if name == "asr-live":
        found = processes.live_status(settings)
    else:
        found = next(p for p in processes.status(settings, None) if p.name == name)
    return Part(found.name, found.running, found.detail)


def status(cluster: Layout) -> list[Part]:
    base = cluster.base
    pg_pid = postgres_process.pid(cluster.postgres_dir)
    parts = [
        Part(
            "postgres",
            pg_pid is not None,
            f"pid {pg_pid}, {base.cluster_postgres_host}:{base.cluster_postgres_port}"
            if pg_pid
            else "stopped",
        ),
        Part(
            "object-store",
            object_store_process.running(cluster.object_store_dir),
            f"S3 {cluster.object_store_url}, bucket {base.object_store_bucket}",
        ),
        service_part(cluster, "asr-live"),
    ]
    for node in cluster.nodes:
        parts.extend(node_parts(cluster, node))
    parts.append(
        Part(
            "sip-router",
            sip_router.running(cluster.router_dir),
            f"Kamailio on {base.sip_router_host}:{base.sip_router_port}, nodes "
            + ", ".join(f"{n.name} {n.address}" for n in cluster.nodes),
        )
    )
    parts.extend(service_part(cluster, name) for name in ("asr", "api"))
    return parts


def up(cluster: Layout, timeout: float = 120, durable: bool = True) -> list[Part]:
    """Start every part that is not running, in order, and return once each one answers."""
    preflight(cluster)
    cluster.root.mkdir(parents=True, exist_ok=True)
    steps: list[tuple[str, Callable[[], None]]] = [
        ("postgres", lambda: start_postgres(cluster, durable)),
        ("migrations", lambda: migrate.upgrade(cluster.database_url())),
        ("object store", lambda: start_object_store(cluster)),
        ("live recogniser", lambda: start_service(cluster, "asr-live")),
        *(
            (f"node {node.name}", partial(start_node, cluster, node, timeout))
            for node in cluster.nodes
        ),
        ("SIP router", lambda: start_router(cluster)),
        ("transcription pool", lambda: start_service(cluster, "asr")),
        ("API", lambda: start_service(cluster, "api")),
    ]
    for what, step in steps:
        log.info("cluster: starting %s", what)
        step()

    def all_up() -> list[Part] | None:
        parts = status(cluster)
        return parts if all(part.running for part in parts) else None

    try:
        return wait_for(all_up, timeout, "every part of the cluster to answer", 0.25)
    except TimeoutError as exc:
        down_parts = [part.line() for part in status(cluster) if not part.running]
        raise ClusterError(f"{exc}; not up:\n" + "\n".join(down_parts)) from exc


def down(cluster: Layout) -> None:
    """Stop every part, the API first and the database last; each is stopped even if an
    earlier one fails to (the first failure is raised at the end)."""
    steps: list[Callable[[], None]] = [
        lambda: stop_service(cluster, "api"),
        lambda: stop_service(cluster, "asr"),
        lambda: sip_router.stop(cluster.router_dir),
        *(partial(stop_node, cluster, node) for node in cluster.nodes),
        lambda: stop_service(cluster, "asr-live"),
        lambda: object_store_process.stop(cluster.object_store_dir),
        lambda: postgres_process.stop(cluster.postgres_dir),
    ]
    failures: list[BaseException] = []
    for step in steps:
        try:
            step()
        except Exception as exc:  # every part is stopped; the first error is raised at the end
            log.exception("cluster: a part did not stop cleanly")
            failures.append(exc)
    if failures:
        raise failures[0]


@contextlib.contextmanager
def running(cluster: Layout, timeout: float = 120, durable: bool = True) -> Iterator[Layout]:
    """The cluster up while the block runs, and down afterwards (even if it failed to start)."""
    try:
        up(cluster, timeout, durable)
        yield cluster
    finally:
        down(cluster)
