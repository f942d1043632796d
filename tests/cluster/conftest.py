"""A whole multi-node hotline (``hotline.cluster``): PostgreSQL, SeaweedFS, two Asterisk+ivr
nodes, Kamailio, the recogniser, the transcription pool and the API, on free ports and on
loopback addresses of this tier's own (127.0.5.x), in a temporary folder."""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime as dt
import os
import shutil
import signal
import socket
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from core import pids
from core.db import make_engine, make_session_factory
from core.settings import Settings
from core.waiting import wait_for
from hotline import cluster, processes
from hotline import sip_router as router_process
from ivr import asterisk_install, asterisk_process, sip_router_config
from ivr.asterisk_config import AsteriskDirs
from ivr.models import Call
from phones.sipp import DialError, DialResult, free_udp_port, place_call
from tests.builders import KOREAN_MODEL
from tests.conftest import SAMPLES, free_port
from tests.e2e.test_faults import caller_ports

ROUTER, NODE_A, NODE_B = "127.0.5.1", "127.0.5.2", "127.0.5.3"
CLIP = SAMPLES / "aishell2_IT0011W0001.wav"  # 1.99 s: short messages


def two_free_ports() -> int:
    """A port whose next one is free too (the nodes' AMI ports follow each other)."""

    def pair() -> int | None:
        first = free_port()
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", first + 1))
            except OSError:
                return None
        return first

    return wait_for(pair, 10, "two consecutive free ports", 0.01)


def cluster_settings(root: Path, **overrides: Any) -> Settings:
    """The cluster's settings: every port free, every address ours, short intervals."""
    values: dict[str, Any] = {
        "data_dir": root / "base",
        "cluster_dir": root / "cluster",
        "cluster_nodes": f"a={NODE_A},b={NODE_B}",
        "cluster_node_sip_port": free_udp_port(),
        "cluster_ami_port": two_free_ports(),
        "cluster_postgres_host": ROUTER,
        "cluster_postgres_port": free_port(),
        "cluster_object_store_host": ROUTER,
        "cluster_object_store_port": free_port(),
        "cluster_asr_live_host": ROUTER,
        "cluster_asr_live_port": free_port(),
        "cluster_api_host": ROUTER,
        "cluster_api_port": free_port(),
        "sip_router_host": ROUTER,
        "sip_router_port": free_udp_port(),
        "sip_router_ping_seconds": 1,
        "sip_router_weight_seconds": 1.0,
        "agi_port": free_port(),
        "sip_port": free_udp_port(),  # the parts that are not nodes bind no SIP
        "ami_port": free_port(),
        "rtp_port_start": 36000,  # on the nodes' own addresses
        "rtp_port_end": 36999,
        "queue_wait_seconds": 30,
        "message_silence_seconds": 3,
        "vosk_model": KOREAN_MODEL,
        "asr_workers": 1,
        "asr_live_capacity": 0,  # the live recogniser runs, idle: the tier stays light
        "node_heartbeat_seconds": 1.0,
        "object_store_retry_seconds": 1.0,
        "asr_retry_seconds": 1.0,
    }
    return Settings(**{**values, **overrides})


@dataclass
class Cluster:
    layout: cluster.Layout
    engine: Engine
    dialled: list[str] = field(default_factory=list)

    @property
    def sessions(self) -> sessionmaker[Session]:
        return make_session_factory(self.engine)

    @property
    def base(self) -> Settings:
        return self.layout.base

    def node(self, name: str) -> cluster.Node:
        return next(node for node in self.layout.nodes if node.name == name)

    def node_settings(self, name: str) -> Settings:
        return self.layout.node_settings(self.node(name))

    def dial(self, caller: str, ports: tuple[int, int], **options: Any) -> DialResult:
        """A citizen's call through Kamailio, leaving a message."""
        return place_call(
            audio=CLIP,
            number=self.base.hotline_number,
            sip_host=self.base.sip_router_host,
            sip_port=self.base.sip_router_port,
            caller=caller,
            signal_port=ports[0],
            media_port=ports[1],
            **options,
        )

    def calls(self, callers: list[str]) -> list[Call]:
        with self.sessions() as session:
            return list(session.scalars(select(Call).where(Call.caller_number.in_(callers))))

    def nodes_in_rotation(self) -> set[str]:
        files = sip_router_config.RouterFiles(self.layout.router_dir)
        nodes = sip_router_config.parse_nodes(
            self.layout.service_settings("sip-router").sip_router_nodes
        )
        return router_process.nodes_up(files, nodes)

    def kill_node(self, name: str) -> None:
        """SIGKILL the node's Asterisk and its ivr service: the machine as if it died."""
        settings = self.node_settings(name)
        install = asterisk_install.find(settings.asterisk_root, settings.cache_dir)
        assert install is not None
        ivr = processes.service_pid(settings, "ivr")
        assert ivr is not None, f"node {name}'s ivr is not running"
        asterisk_process.kill_hard(AsteriskDirs.for_settings(settings, install.modules_dir))
        kill(ivr)

    def up(self) -> None:
        cluster.up(self.layout, timeout=120, durable=False)


def kill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)

    def gone() -> bool:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        return not pids.alive(pid)

    wait_for(gone, 15, f"pid {pid} to die", 0.05)


def start_cluster(root: Path, **overrides: Any) -> Cluster:
    layout = cluster.layout(cluster_settings(root, **overrides))
    try:
        cluster.up(layout, timeout=150, durable=False)
    except BaseException:
        cluster.down(layout)  # no part outlives a failed start
        raise
    return Cluster(layout, make_engine(layout.database_url()))


@pytest.fixture(scope="module")
def hotline_cluster() -> Iterator[Cluster]:
    # Not under pytest's own temporary folder: every pytest session takes others' access off
    # that one, and PostgreSQL (the postgres user) must pass through to its folder.
    root = Path(tempfile.mkdtemp(prefix="hotline-cluster-"))
    try:
        instance = start_cluster(root)
        try:
            yield instance
        finally:
            instance.engine.dispose()
            cluster.down(instance.layout)
    finally:
        shutil.rmtree(root, ignore_errors=True)


class Burst:
    """Real SIPp callers through Kamailio, each leaving a short message; numbered per test."""

    def __init__(self, hotline: Cluster, prefix: str, size: int) -> None:
        self.hotline = hotline
        self.prefix = prefix
        self.callers: list[str] = []
        self.pool = concurrent.futures.ThreadPoolExecutor(size)
        self.dialling: list[concurrent.futures.Future[DialResult]] = []
        self.started = dt.datetime.now(dt.UTC)

    def wave(self, count: int, speak_after: float) -> list[str]:
        ports = caller_ports(count)
        callers = []
        for index in range(count):
            caller = f"{self.prefix}{len(self.callers):06d}"
            self.callers.append(caller)
            callers.append(caller)
            self.dialling.append(
                self.pool.submit(
                    self.hotline.dial,
                    caller,
                    ports[index],
                    wait_seconds=speak_after + (index % 3) * 0.4,
                    extra_seconds=(index % 2) * 0.5,
                    timeout=90,
                )
            )
        return callers

    def finish(self) -> list[DialResult | Exception]:
        results: list[DialResult | Exception] = []
        for future in self.dialling:
            try:
                results.append(future.result(timeout=180))
            except DialError as exc:
                results.append(exc)
        self.pool.shutdown()
        return results
