"""The SIP router: Kamailio in front of the nodes, run in its own folder, and its weights kept
current.

``start(settings, folder)`` spawns ``hotline serve sip-router --folder FOLDER`` (detached, its
own session): that process renders Kamailio's configuration into the folder, runs Kamailio in
the foreground as its child (``kamailio -DD -E``, pid file and JSON-RPC socket under
``FOLDER/run``, never the system's /etc/kamailio or /run/kamailio) and, every
``sip_router_weight_seconds``, reads the nodes' weights and, when they changed, rewrites the
dispatcher list and reloads it over JSON-RPC. Kamailio itself asks every node with SIP
OPTIONS every ``sip_router_ping_seconds``; a node that does not answer is out of rotation
until it answers again (a reload keeps it so). ``stop(folder)`` ends both; ``running(folder)``
says whether the router is up.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from core import pids, privacy
from core.clock import utc_now
from core.db import make_engine, make_session_factory
from core.settings import Settings
from core.waiting import wait_for
from ivr import node_models
from ivr import nodes as node_weights
from ivr.sip_router_config import (
    MODULES_DIR,
    Node,
    RouterFiles,
    dispatcher_list,
    parse_nodes,
    render_config,
)

log = logging.getLogger(__name__)

KAMAILIO = "/usr/sbin/kamailio"
SERVE_NAME = "sip-router"
# Kamailio's shared and private memory (MB): a router of a few nodes needs little.
SHM_MB = 64
PKG_MB = 8

Weights = Callable[[], Mapping[str, int]]


class SipRouterError(RuntimeError):
    pass


def default_folder(settings: Settings) -> Path:
    return settings.data_dir / "sip-router"


# --- control from outside -------------------------------------------------------------------


def start(settings: Settings, folder: Path, timeout: float = 30) -> int:
    """Start the router (if it is not running) and return its supervisor's pid once Kamailio
    answers on its control socket. The configuration is checked first: a bad one is a clear
    error here, not a process that dies."""
    files = RouterFiles(folder)
    pid = pids.running(files.pid_file, expect=SERVE_NAME)
    if pid is not None:
        return pid
    prepare(settings, files)
    check_config(files)
    env = {**os.environ, **settings.to_env()}
    pid = pids.spawn_detached(
        [sys.executable, "-m", "hotline.cli", "serve", SERVE_NAME, "--folder", str(folder)],
        env,
        files.log_file,
        files.pid_file,
    )

    def ready() -> bool:
        if not pids.alive(pid):
            raise SipRouterError(f"the SIP router stopped at start-up (log: {files.log_file})")
        try:
            rpc(files, "core.version")
        except SipRouterError:
            return False
        return True

    try:
        wait_for(ready, timeout, f"the SIP router to answer (log: {files.log_file})")
    except BaseException:
        stop(folder)
        raise
    return pid


def stop(folder: Path, timeout: float = 20) -> None:
    """SIGTERM to the router's process group (the supervisor and Kamailio's processes),
    SIGKILL for what lingers."""
    files = RouterFiles(folder)
    found = pids.recorded(files.pid_file)
    if found is not None and pids.running(files.pid_file, expect=SERVE_NAME) is not None:
        group = found[0]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGTERM)
        try:
            wait_for(lambda: not pids.group_members(group), timeout, "the SIP router to stop")
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
            wait_for(lambda: not pids.group_members(group), 5, "the SIP router to die")
    files.pid_file.unlink(missing_ok=True)


def running(folder: Path) -> bool:
    """The supervisor runs and Kamailio answers on its control socket."""
    files = RouterFiles(folder)
    if pids.running(files.pid_file, expect=SERVE_NAME) is None:
        return False
    try:
        rpc(files, "core.version")
    except SipRouterError:
        return False
    return True


def rpc(files: RouterFiles, method: str, *params: object, timeout: float = 3.0) -> Any:
    """One JSON-RPC call to Kamailio over its unix datagram socket; its ``result``."""
    request = {"jsonrpc": "2.0", "method": method, "id": 1}
    if params:
        request["params"] = list(params)
    with tempfile.TemporaryDirectory(prefix="rpc-", dir=files.run) as tmp:
        reply_path = str(Path(tmp) / "reply.sock")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(reply_path)
            sock.settimeout(timeout)
            try:
                sock.sendto(json.dumps(request).encode(), str(files.rpc_socket))
                data = sock.recv(1 << 20)
            except OSError as exc:
                raise SipRouterError(f"Kamailio did not answer {method}: {exc}") from exc
    answer = json.loads(data)
    if "error" in answer:
        raise SipRouterError(f"Kamailio refused {method}: {answer['error']}")
    return answer.get("result")


def destinations(files: RouterFiles) -> dict[str, str]:
    """Each node's address (``sip:host:port``) and its dispatcher flags (``AP`` up and probed,
    ``IP`` down, ``TP`` failing)."""
    result = rpc(files, "dispatcher.list")
    found: dict[str, str] = {}
    for record in (result or {}).get("RECORDS", []):
        for target in record["SET"]["TARGETS"]:
            found[target["DEST"]["URI"]] = target["DEST"]["FLAGS"]
    return found


def nodes_up(files: RouterFiles, nodes: tuple[Node, ...]) -> set[str]:
    """The names of the nodes the router sends calls to now."""
    flags = destinations(files)
    return {node.name for node in nodes if flags.get(node.uri, "").startswith("A")}


def given_weights(files: RouterFiles) -> dict[str, int]:
    """The weights the supervisor last gave the dispatcher (empty before the first)."""
    try:
        return {
            str(name): int(value)
            for name, value in json.loads(files.state_file.read_text()).items()
        }
    except (FileNotFoundError, ValueError):
        return {}


# --- the supervising process ---------------------------------------------------------------


def prepare(settings: Settings, files: RouterFiles) -> None:
    """Write the configuration and a first dispatcher list (every node, equal weights)."""
    files.folder.mkdir(parents=True, exist_ok=True)
    files.run.mkdir(parents=True, exist_ok=True)
    os.chmod(files.folder, 0o700)
    privacy.write_private(files.config, render_config(settings, files))
    nodes = parse_nodes(settings.sip_router_nodes)
    if not files.dispatcher_list.exists():
        privacy.write_private(files.dispatcher_list, dispatcher_list(nodes, {}))


def check_config(files: RouterFiles) -> None:
    result = subprocess.run(
        [KAMAILIO, "-c", "-f", str(files.config), "-Y", str(files.run), "-L", str(MODULES_DIR)],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    if result.returncode != 0:
        raise SipRouterError(f"Kamailio refuses {files.config}: {result.stderr.strip()[-2000:]}")


def database_weights(settings: Settings) -> tuple[Weights, Callable[[], None]]:
    """The nodes' weights as their ivr services last wrote them (``ivr.nodes.weights`` of the
    nodes alive within ``node_down_seconds``), and how to let go of the database."""
    engine = make_engine(settings.effective_database_url)
    sessions = make_session_factory(engine)
    max_age = dt.timedelta(seconds=settings.node_down_seconds)

    def read() -> Mapping[str, int]:
        with sessions() as session:
            rows = node_models.all_nodes(session)
        return node_weights.weights(node_weights.alive(rows, utc_now(), max_age))

    return read, engine.dispose


def serve(settings: Settings, folder: Path, weights: Weights | None = None) -> int:
    """Run Kamailio as a child and keep its weights current until SIGTERM (or until Kamailio
    dies: the return value is then its exit status). ``weights``: by default from the
    database."""
    files = RouterFiles(folder)
    if weights is None:
        weights, release = database_weights(settings)
    else:
        release = _nothing
    try:
        return _serve(settings, files, weights)
    finally:
        release()


def _nothing() -> None:
    return None


def _serve(settings: Settings, files: RouterFiles, weights: Weights) -> int:
    prepare(settings, files)
    nodes = parse_nodes(settings.sip_router_nodes)
    stopping = False

    def on_term(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    files.rpc_socket.unlink(missing_ok=True)
    kamailio = subprocess.Popen(
        [
            KAMAILIO,
            "-DD",
            "-E",
            "-f",
            str(files.config),
            "-Y",
            str(files.run),
            "-P",
            str(files.kamailio_pid),
            "-m",
            str(SHM_MB),
            "-M",
            str(PKG_MB),
        ],
        umask=privacy.UMASK,
    )
    log.info("Kamailio started (pid %d) for %d nodes", kamailio.pid, len(nodes))
    given: dict[str, int] | None = None
    failing = False
    next_check = time.monotonic() + settings.sip_router_weight_seconds
    try:
        while not stopping and kamailio.poll() is None:
            now = time.monotonic()
            if now >= next_check:
                next_check = now + settings.sip_router_weight_seconds
                try:
                    given = update_weights(files, nodes, weights(), given)
                    failing = False
                except Exception:  # the database or Kamailio away for a moment: next round
                    if not failing:
                        log.exception("could not update the SIP router's weights")
                    failing = True
            time.sleep(0.1)
    finally:
        if kamailio.poll() is None:
            kamailio.terminate()
            try:
                kamailio.wait(timeout=10)
            except subprocess.TimeoutExpired:
                kamailio.kill()
                kamailio.wait()
    status = kamailio.returncode
    if not stopping:
        log.error("Kamailio exited with status %s", status)
        return status or 1
    return 0


def update_weights(
    files: RouterFiles,
    nodes: tuple[Node, ...],
    weights: Mapping[str, int],
    given: Mapping[str, int] | None,
) -> dict[str, int]:
    """Give the dispatcher ``weights`` if they differ from those ``given`` last (None: not yet
    given); the nodes it has found down stay down across the reload. Returns the weights it
    now has."""
    wanted = {node.name: int(weights[node.name]) for node in nodes if node.name in weights}
    if wanted == given:
        return wanted
    flags = destinations(files)
    down = {node.name for node in nodes if flags.get(node.uri, "A").startswith("I")}
    privacy.write_private(files.dispatcher_list, dispatcher_list(nodes, wanted, down))
    rpc(files, "dispatcher.reload")
    privacy.write_private(files.state_file, json.dumps(wanted, sort_keys=True))
    log.info("SIP router weights now %s (down: %s)", wanted, sorted(down) or "none")
    return wanted
