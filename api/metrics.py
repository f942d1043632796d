"""``GET /metrics``: the hotline's live state (``dispatch.reports.now``) in Prometheus' text
format, for operations (issue 17), and ``gather``, the one reader of that state for the
supervisors' dashboard too.

Who may read ``/metrics``:

- a client on loopback, without log-in. Loopback means the socket peer as the server sees it
  (``request.client``: 127.0.0.0/8 or ::1) on a request that carries no forwarding header
  (``X-Forwarded-For``, ``Forwarded``, ``X-Real-IP``). Such a header is never trusted to grant
  access. Behind a reverse proxy on this host every peer is the proxy: its requests carry
  ``X-Forwarded-For`` and so need the token like any other from outside (uvicorn also puts
  that header's address in place of the peer's when the peer is a proxy it trusts, 127.0.0.1
  by default; that address is not loopback either). A proxy that adds no such header makes
  its clients look local: have it add one, or not pass ``/metrics`` on.
- anyone else with ``Authorization: Bearer <token>``: the token generated in
  ``<data_dir>/metrics-token`` (owner-only; ``hotline metrics-token`` prints where it is, making
  it on first use), compared in constant time. No token is ever a default: with none made, only
  loopback reads the metrics.

Otherwise 401 (no token sent) or 403 (a wrong one), with an English JSON error. Each scrape
builds its own ``CollectorRegistry`` with one collector over one ``LiveState`` read at scrape
time: nothing is registered in prometheus_client's global registry.
"""

from __future__ import annotations

import datetime as dt
import hmac
import ipaddress
import os
import platform
import secrets
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session

from api.deps import now as wall_clock
from core.settings import Settings
from custody import integrity
from dispatch.reports.now import IntegrityNow, LiveState, OperatorsNow, live_state
from ivr import phones

router = APIRouter()

TOKEN_FILE = "metrics-token"
FORWARDING_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")


# -- the state ----------------------------------------------------------------------------


def gather(session: Session, settings: Settings, now: dt.datetime) -> LiveState:
    """The live state with every part: the database's, the operators' phones as the ivr
    service keeps them (on the single machine its file; with several nodes the nodes'
    heartbeats, summed), the store's last integrity check."""
    check = integrity.latest(session)
    return live_state(
        session,
        now,
        zone=ZoneInfo(settings.timezone),
        phones=phones.read(phones.phones_file(settings.run_dir)),
        node_max_age=dt.timedelta(seconds=settings.node_down_seconds),  # several nodes
        integrity=None
        if check is None
        else IntegrityNow(
            check.checked_at,
            check.ok,
            len(integrity.problems_of(check)),
            check.files_checked,
        ),
    )


# -- the token ----------------------------------------------------------------------------


def token_file(data_dir: Path) -> Path:
    return data_dir / TOKEN_FILE


def read_token(data_dir: Path) -> str | None:
    try:
        token = token_file(data_dir).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return token or None


def make_token(data_dir: Path, replace: bool = False) -> Path:
    """Generate the token (owner-only file) unless one exists; ``replace``: a new one always.
    Two processes making it at once end with one token."""
    path = token_file(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    if replace:
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(token + "\n")
        os.replace(tmp, path)
        return path
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(token + "\n")
    return path


# -- who may read -------------------------------------------------------------------------


def from_loopback(request: Request) -> bool:
    """The socket peer is loopback and no proxy says it relayed the request."""
    if request.client is None or any(h in request.headers for h in FORWARDING_HEADERS):
        return False
    try:
        address = ipaddress.ip_address(request.client.host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def refusal(request: Request, data_dir: Path) -> JSONResponse | None:
    """Why this request may not read the metrics, or ``None`` when it may."""
    if from_loopback(request):
        return None
    scheme, _, sent = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not sent.strip():
        return JSONResponse(
            {"detail": "metrics are open to loopback only; elsewhere send Authorization: Bearer"},
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    token = read_token(data_dir)
    if token is None or not hmac.compare_digest(sent.strip().encode(), token.encode()):
        return JSONResponse({"detail": "wrong metrics token"}, status_code=403)
    return None


# -- the exposition -----------------------------------------------------------------------


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _node_gauges(operators: OperatorsNow) -> Iterator[Metric]:
    """With several nodes: each node's operators' phones, labelled by the node's name."""
    if not operators.nodes:
        return
    for figure, documentation in (
        ("registered", "Operator phones registered at each node"),
        ("busy", "Operator phones on a call at each node"),
        ("ringing", "Operator phones ringing at each node"),
    ):
        family = GaugeMetricFamily(
            f"hotline_node_operators_{figure}", documentation, labels=["node"]
        )
        for node in operators.nodes:
            family.add_metric([node.node], getattr(node, figure))
        yield family


def _timestamp(moment: dt.datetime) -> float:
    return moment.timestamp()


def families(state: LiveState, version: str, database: str) -> Iterator[Metric]:
    """The metric families of ``state``. A part that is unknown (the phones while the ivr
    service is down, a check never run) is left out rather than shown as 0."""
    build = GaugeMetricFamily(
        "hotline_build_info",
        "The running hotline: version, Python and database kind (always 1)",
        labels=["version", "python", "database"],
    )
    build.add_metric([version, platform.python_version(), database], 1)
    yield build
    calls = state.calls
    yield _gauge("hotline_calls_in_progress", "Hotline calls up now", calls.in_progress)
    yield _gauge(
        "hotline_calls_in_notice", "Calls hearing the notice (just arrived)", calls.in_notice
    )
    yield _gauge(
        "hotline_queue_waiting", "Calls waiting in the queue for an operator", calls.waiting
    )
    yield _gauge(
        "hotline_queue_longest_wait_seconds",
        "How long the call waiting longest has waited (0 with none waiting)",
        calls.longest_wait_seconds or 0.0,
    )
    yield _gauge("hotline_calls_talking", "Calls answered by an operator and up", calls.talking)
    yield _gauge(
        "hotline_calls_leaving_message", "Calls leaving a message now", calls.leaving_message
    )
    operators = state.operators
    yield _gauge(
        "hotline_operators_known",
        "1 when the ivr service is connected to Asterisk and knows the operators' phones",
        0 if operators is None else 1,
    )
    if operators is not None:
        yield _gauge(
            "hotline_operators_registered",
            "Operator phones registered (reachable by the queue)",
            operators.registered,
        )
        yield _gauge("hotline_operators_busy", "Operator phones on a call", operators.busy)
        yield _gauge("hotline_operators_ringing", "Operator phones ringing", operators.ringing)
        yield from _node_gauges(operators)
    jobs = state.transcription
    yield _gauge(
        "hotline_transcription_backlog",
        "Transcription jobs waiting or running",
        jobs.backlog,
    )
    yield _gauge(
        "hotline_transcription_oldest_age_seconds",
        "Age of the oldest job waiting or running (0 with none)",
        jobs.oldest_age_seconds or 0.0,
    )
    yield _gauge(
        "hotline_transcription_jobs_failed",
        "Jobs parked after their last failed attempt, waiting for 'hotline asr retry' "
        "(goes down when they are retried: not a counter)",
        jobs.failed,
    )
    yield _gauge(
        "hotline_transcription_live_streams",
        "Speakers' audio streams asked for or being transcribed live",
        jobs.live_streams,
    )
    runs = CounterMetricFamily(
        "hotline_supervision_runs", "Runs of the supervision job (催办, yellow and red cards)"
    )
    runs.add_metric([], state.supervision.runs)
    yield runs
    if state.supervision.last_at is not None:
        yield _gauge(
            "hotline_supervision_last_run_timestamp_seconds",
            "When the supervision job last ran (Unix time)",
            _timestamp(state.supervision.last_at),
        )
    if state.integrity is not None:
        yield _gauge(
            "hotline_integrity_last_check_timestamp_seconds",
            "When the store's integrity was last checked (Unix time)",
            _timestamp(state.integrity.checked_at),
        )
        yield _gauge(
            "hotline_integrity_problems",
            "Problems the last integrity check found (0: the store is whole)",
            state.integrity.problems,
        )
        yield _gauge(
            "hotline_integrity_files_checked",
            "Files the last integrity check re-hashed",
            state.integrity.files_checked,
        )
    yield _gauge(
        "hotline_cases_overdue",
        "Cases past their handling deadline and not answered (当前超期件)",
        state.overdue.numerator,
    )
    yield _gauge(
        "hotline_cases_due_today",
        "Cases whose handling deadline is today, not answered yet (今日到期件)",
        state.due_today.numerator,
    )


class StateCollector(Collector):
    """One scrape's collector: the families of a state read just before."""

    def __init__(self, state: LiveState, version: str, database: str) -> None:
        self.state = state
        self.version = version
        self.database = database

    def collect(self) -> Iterator[Metric]:
        return families(self.state, self.version, self.database)


def exposition(state: LiveState, database: str) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StateCollector(state, _version(), database))
    return generate_latest(registry)


def _version() -> str:
    try:
        return metadata.version("hotline")
    except metadata.PackageNotFoundError:
        return "unknown"


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    refused = refusal(request, settings.data_dir)
    if refused is not None:
        return refused
    with request.app.state.sessions() as session:
        state = gather(session, settings, wall_clock())
        database = session.get_bind().dialect.name
    return Response(exposition(state, database), media_type=CONTENT_TYPE_LATEST)
