"""The one typed settings object, read from the environment (prefix ``HOTLINE_``).

Every port, path, timeout and prompt text is a setting. Secrets are never defaults: they are
generated on first set-up and kept in ``<data_dir>/secrets.json`` (mode 0600).

This module imports no stage of the hotline: it checks what a setting is on its own (ports,
numbers, hours, operator names). What a value means to a stage (a case-number format, a
deadline profile, the retention floor) is checked by that stage, called at start-up by
``hotline.settings_check.checked``.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Checked by dispatch.cases.case_numbers at start-up (hotline/settings_check.py).
DEFAULT_CASE_NUMBER_FORMAT = "TS{date:%Y%m%d}{seq:04d}"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


# Words Asterisk's manager refuses in an Originate's data without the "system" class.
ORIGINATE_SYSTEM_WORDS = ("CURL", "DB", "EVAL", "FILE", "ODBC", "REALTIME", "SHELL")


class Resampling(StrEnum):
    """How telephone-rate audio reaches a model trained at a higher rate (``asr`` uses it)."""

    VOSK = "vosk"  # give Vosk the true rate; its recogniser resamples internally
    SOX = "sox"  # resample with sox (very high quality) to the model's rate first


class Prompts(BaseModel):
    """Texts spoken to callers (``HOTLINE_PROMPTS__NOTICE`` …). Changing one regenerates its
    audio at the next set-up."""

    notice: str = "您好，您的电话将被录音，请您对咨询投诉内容的真实性负责"
    hold: str = "话务员正忙，请您稍候，我们将尽快为您接通"
    leave_message: str = (
        "现在无法接通话务员，请在提示音后留下您的姓名、联系电话和反映的问题，说完后请挂机"
    )
    thanks: str = "感谢您的来电，我们会尽快处理并回复您，再见"
    sorry: str = "抱歉，系统暂时出现故障，请您稍后再拨，再见"

    def as_dict(self) -> dict[str, str]:
        return {name: str(getattr(self, name)) for name in type(self).model_fields}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOTLINE_", env_nested_delimiter="__")

    environment: Environment = Environment.DEVELOPMENT
    data_dir: Path = PROJECT_ROOT / "var"
    cache_dir: Path = PROJECT_ROOT / ".cache"
    database_url: str = ""
    timezone: str = "Asia/Shanghai"

    # Asterisk
    asterisk_root: Path | None = Field(
        default=None,
        description="Root of a Debian tree holding Asterisk; empty means the host's, or a "
        "provisioned one under cache_dir",
    )
    asterisk_suite: str = "sid"
    debian_mirror: str = "http://deb.debian.org/debian"
    sip_host: str = "127.0.0.1"
    sip_port: int = 5060
    rtp_port_start: int = 10000
    rtp_port_end: int = 10999
    ami_port: int = 5038
    agi_host: str = "127.0.0.1"
    agi_port: int = 4573
    api_host: str = "127.0.0.1"
    api_port: int = 8000

    hotline_number: str = "12345"
    caller_trunk_match: str = Field(
        default="127.0.0.1/32",
        description="Addresses whose SIP traffic is treated as incoming caller calls",
    )
    operators: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["8001", "8002"],
        description="Operator endpoint names (comma-separated in the environment)",
    )
    queue_name: str = "hotline"
    queue_wait_seconds: int = 60
    queue_ring_seconds: int = 15
    hold_announce_seconds: int = 30
    message_max_seconds: int = 180
    message_silence_seconds: int = 6
    service_hours: str = Field(
        default="00:00-24:00",
        description="Daily hours when operators answer, e.g. 08:00-20:00 (service timezone)",
    )
    recording_ingest_timeout_seconds: float = 15.0
    vosk_model: Path | None = Field(
        default=None,
        description="Folder of the Vosk model used for transcription; empty "
        "means the one installed with 'hotline asr install-model'",
    )
    asr_workers: int = Field(
        default=0, ge=0, description="Transcription worker processes; 0 means one per core"
    )
    asr_resampling: Resampling = Field(
        default=Resampling.VOSK,
        description="How 8 kHz audio reaches a 16 kHz model: vosk (its own resampler, measured "
        "better) or sox (resample first)",
    )
    asr_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="A claimed job returns to the queue if its worker "
        "stops renewing it for this long",
    )
    asr_max_attempts: int = Field(
        default=3, ge=1, description="Failures before a job is parked with its reason"
    )
    asr_retry_seconds: float = Field(
        default=30.0, ge=0, description="Wait before the first retry; doubles after"
    )
    asr_poll_seconds: float = Field(
        default=0.5, gt=0, description="How often an idle worker looks for jobs"
    )
    asr_max_audio_seconds: float = Field(
        default=4 * 3600.0, gt=0, description="Longer recordings are transcribed up to here"
    )
    # Live transcription: Asterisk streams each speaker's audio (AudioSocket) to a recogniser.
    asr_live_host: str = Field(
        default="127.0.0.1",
        description="Address the live stream listener (hotline serve asr-live) binds; loopback "
        "unless a recogniser runs on another host than Asterisk",
    )
    asr_live_port: int = Field(default=9092, description="Port of the live stream listener")
    asr_live_recognisers: str = Field(
        default="",
        description="host:port of each live recogniser Asterisk streams to, comma-separated; "
        "empty means this host's listener (asr_live_host:asr_live_port)",
    )
    asr_live_capacity: int = Field(
        # bench.live_capacity on a 2-core machine with Whisper base: one call (both parties
        # talking) takes 0.65 core; hang-up -> final p95 1.69 s at 1 call, 3.44 s at 2.
        default=1,
        ge=0,
        description="Calls transcribed live at once by one recogniser (two streams each); "
        "calls beyond it are transcribed from the recording. 0 turns live transcription off",
    )
    asr_live_grace_seconds: float = Field(
        default=30.0,
        gt=0,
        description="After hang-up, how long a call's transcription job waits for its live "
        "transcript before a worker transcribes the recording instead",
    )
    asr_live_stall_seconds: float = Field(
        default=5.0,
        gt=0,
        description="A stream connection that sends no id, or stops in the middle of a frame, "
        "for this long is closed",
    )
    ami_trace_file: Path | None = Field(
        default=None, description="Append every AMI event the listener sees here (JSON lines)"
    )
    # Automatic satisfaction call-back (满意度回访)
    outbound_sip_target: str = Field(
        default="",
        description="host[:port] of the carrier trunk that satisfaction call-backs "
        "dial out through, the citizen's number as the user part; empty: none are dialled",
    )
    satisfaction_retry_minutes: float = Field(
        default=60.0, gt=0, description="Wait before calling again after no answer, busy or no key"
    )
    satisfaction_max_attempts: int = Field(
        default=3, ge=1, description="Attempts before the call-back gives up (left to a human)"
    )
    satisfaction_poll_seconds: float = Field(
        default=5.0, gt=0, description="How often the dialer looks for due call-backs"
    )
    satisfaction_ring_seconds: int = Field(
        default=30, ge=5, le=300, description="How long the citizen's phone rings"
    )

    session_hours: float = Field(default=12.0, gt=0, description="Console log-in lifetime")
    login_max_failures: int = Field(
        default=5, ge=1, description="Failed log-ins in a row that lock an account"
    )
    login_lock_minutes: float = Field(
        default=15.0, gt=0, description="How long a locked account stays locked"
    )
    login_address_max_failures: int = Field(
        default=20,
        ge=1,
        description="Failed log-ins from one client address within "
        "login_address_window_minutes; more are answered 429 with Retry-After",
    )
    login_address_window_minutes: float = Field(
        default=15.0, gt=0, description="The sliding window of the per-address limit"
    )

    case_number_format: str = Field(
        default=DEFAULT_CASE_NUMBER_FORMAT,
        description="Case numbers: {date:...} (strftime) and one {seq:...} that restarts for "
        "every distinct prefix, e.g. TS{date:%Y%m%d}{seq:04d}",
    )
    attachment_max_bytes: int = Field(
        default=20 * 1024 * 1024, gt=0, description="Largest evidence file accepted"
    )
    attachment_max_files: int = Field(
        default=10, ge=1, description="Evidence files per case at most"
    )
    request_max_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="Largest request body other than a file "
        "upload (JSON, forms); a larger one is refused with 413 before it is read, even "
        "before log-in. Uploads may reach attachment_max_files x attachment_max_bytes plus "
        "this",
    )
    similar_case_days: int = Field(
        default=90, ge=1, description="How far back the form looks for similar cases"
    )
    supervision_interval_seconds: float = Field(
        default=300,
        ge=0,
        description="How often the API process runs the supervision job "
        "(reminders, yellow and red cards); 0 turns it off",
    )
    recording_retention_years: int = Field(
        default=5,
        description="Years recordings are kept before purge may delete them; "
        "at least 5 (a shorter value is refused)",
    )
    operator_replay_days: int = Field(
        default=7, ge=0, description="Days an operator may replay the calls they handled"
    )
    recording_grant_days: int = Field(
        default=7,
        ge=1,
        le=90,
        description="Days a unit may hear a case's recording once a supervisor grants it",
    )
    # Reports (issue 17): the name on print pages and bulletins, the 红黑榜's thresholds and
    # the bulletins' schedule.
    centre_name: str = Field(
        default="12345政务服务便民热线",
        min_length=1,
        max_length=64,
        description="The centre's name on print pages, bulletins and exports",
    )
    red_list_satisfaction: float = Field(
        default=0.95,
        ge=0,
        le=1,
        description="红榜: a unit's 满意率 at or above this (and on-time rate at or above "
        "red_list_on_time)",
    )
    red_list_on_time: float = Field(
        default=0.95, ge=0, le=1, description="红榜: a unit's 按时办结率 at or above this"
    )
    black_list_satisfaction: float = Field(
        default=0.85, ge=0, le=1, description="黑榜: a unit's 满意率 below this"
    )
    black_list_on_time: float = Field(
        default=0.80, ge=0, le=1, description="黑榜: a unit's 按时办结率 below this"
    )
    ranking_min_sample: int = Field(
        default=5,
        ge=1,
        description="部门办理排名: a unit's 按时办结率 or 满意率 is judged only over at least this "
        "many cases (clocks due, valid ratings); a unit with neither is listed as 样本不足",
    )
    bulletin_interval_seconds: float = Field(
        default=900,
        ge=0,
        description="How often the API process checks whether a daily, weekly or monthly "
        "bulletin (通报) is due and makes it; 0 turns it off",
    )
    integrity_check_interval_seconds: float = Field(
        default=6 * 3600,
        ge=0,
        description="How often the API process verifies the store "
        "(re-hashes every file, checks the manifest); 0 turns it off",
    )
    deadline_profile: str = Field(
        default="hotline",
        description="Deadline policy profile: hotline (3/7 working days) or "
        "xinfang (信访: 15/60/+30 calendar days)",
    )
    # Issue 18, H1: recordings, attachments and archives in an S3-compatible bucket.
    object_store_url: str = Field(
        default="",
        pattern=r"^(https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?/?)?$",
        description="S3 endpoint of the object store, e.g. http://127.0.0.1:8333; "
        "empty: files stay on the local disk only",
    )
    object_store_bucket: str = Field(
        default="hotline", pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
    )
    object_store_prefix: str = Field(
        default="",
        pattern=r"^([A-Za-z0-9._-]+/)*$",
        description="Folder of the bucket the hotline's objects go under (e.g. 'city-a/'); "
        "empty: the bucket's top",
    )
    object_store_credentials: Path | None = Field(
        default=None,
        description="JSON file (mode 0600) with access_key and secret_key for the bucket; "
        "default <data_dir>/object-store.json, generated by set-up",
    )
    object_store_retry_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How often files waiting for the object store are tried again",
    )
    object_store_keep_local: bool = Field(
        default=False,
        description="Keep the local copy of a file once the object store has confirmed it",
    )
    # Issue 18, H4: Kamailio, the one SIP entry in front of the nodes.
    sip_router: str = Field(
        default="",
        pattern=r"^([0-9.]+:[0-9]{1,5})?$",
        description="On a node: IPv4 address:port of the SIP router (Kamailio) it sits behind; "
        "citizens' calls come only from there, marked by a header the router adds; "
        "empty: no router (the single machine)",
    )
    sip_router_host: str = Field(
        default="127.0.0.1", pattern=r"^[0-9.]+$", description="Where the SIP router listens"
    )
    sip_router_port: int = Field(default=5060, gt=0, lt=65536)
    sip_router_nodes: str = Field(
        default="",
        pattern=r"^([a-z0-9-]{1,16}=[0-9.]+:[0-9]{1,5}"
        r"(\s*,\s*[a-z0-9-]{1,16}=[0-9.]+:[0-9]{1,5})*)?$",
        description="The nodes behind the SIP router: name=address:port, comma-separated",
    )
    sip_router_operators: str = Field(
        default="",
        pattern=r"^([A-Za-z0-9]+=[a-z0-9-]{1,16}(\s*,\s*[A-Za-z0-9]+=[a-z0-9-]{1,16})*)?$",
        description="The node each operator's phone registers at through the SIP router: "
        "operator=node, comma-separated",
    )
    sip_router_ping_seconds: int = Field(
        default=1,
        ge=1,
        description="How often the SIP router asks each node with SIP OPTIONS whether it is up; "
        "a node that does not answer is out of rotation",
    )
    sip_router_weight_seconds: float = Field(
        default=2.0,
        gt=0,
        description="How often the SIP router's weights (from each node's free operators) are "
        "read from the database",
    )
    overflow_seconds: int = Field(
        default=0,
        ge=0,
        description="On a node behind a SIP router: a caller who waited this long in the "
        "node's queue goes on, through the router, to another node's queue (the first node "
        "keeps recording); 0 turns overflow off",
    )
    # Issue 18, H5: the multi-node system on one machine (hotline cluster up|down|status);
    # Kamailio listens on sip_router_host:sip_router_port (H4's settings).
    cluster_dir: Path | None = Field(
        default=None,
        description="Where 'hotline cluster up' keeps each part's data folder; "
        "default <data_dir>/cluster",
    )
    cluster_nodes: str = Field(
        default="a=127.0.0.2,b=127.0.0.3",
        pattern=r"^[a-z0-9-]{1,16}=[0-9.]+(\s*,\s*[a-z0-9-]{1,16}=[0-9.]+)*$",
        description="The cluster's nodes: name=address, comma-separated; each node's Asterisk "
        "(SIP, RTP) and FastAGI listen on its address",
    )
    cluster_node_sip_port: int = Field(default=5060, gt=0, lt=65536)
    cluster_ami_port: int = Field(
        default=5138,
        gt=0,
        lt=65535,
        description="AMI port (loopback) of the cluster's first node; each next node the next port",
    )
    cluster_postgres_host: str = Field(default="127.0.0.1", pattern=r"^[0-9.]+$")
    cluster_postgres_port: int = Field(
        default=5433, gt=0, lt=65536, description="Not 5432: that is Debian's own cluster's"
    )
    cluster_object_store_host: str = Field(default="127.0.0.1", pattern=r"^[0-9.]+$")
    cluster_object_store_port: int = Field(default=8433, gt=0, lt=65536)
    cluster_asr_live_host: str = Field(default="127.0.0.1", pattern=r"^[0-9.]+$")
    cluster_asr_live_port: int = Field(default=9192, gt=0, lt=65536)
    cluster_api_host: str = Field(default="127.0.0.1", pattern=r"^[0-9.]+$")
    cluster_api_port: int = Field(default=8100, gt=0, lt=65536)
    # Issue 18, H3: nodes (several Asterisk+ivr sharing one database) and live recognisers.
    node_name: str = Field(
        default="",
        pattern=r"^([a-z0-9-]{1,16})?$",
        description="This node's name (a-z, 0-9, '-', at most 16): Asterisk's systemname, so "
        "call ids start with it and never collide between nodes; each call row carries it; "
        "empty: the single machine",
    )
    node_heartbeat_seconds: float = Field(
        default=2.0,
        gt=0,
        description="How often the ivr service writes its node's row (operators free, calls now)",
    )
    node_down_seconds: float = Field(
        default=10.0,
        gt=0,
        description="A node or live recogniser whose heartbeat is older than this is DOWN",
    )
    asr_live_name: str = Field(
        default="",
        pattern=r"^([A-Za-z0-9.-]{1,58}:[0-9]{1,5})?$",
        description="host:port the nodes stream to for this live listener (registered in the "
        "database with its capacity); empty: asr_live_host:asr_live_port",
    )

    prompts: Prompts = Field(default_factory=Prompts)

    @field_validator("asr_live_recognisers")
    @classmethod
    def _check_recognisers(cls, value: str) -> str:
        for item in (part.strip() for part in value.split(",")):
            host, _, port = item.rpartition(":")
            if item and not (host and port.isdigit() and 0 < int(port) < 65536):
                raise ValueError(f"asr_live_recognisers must be host:port items, got {item!r}")
        return value

    @field_validator("operators", mode="before")
    @classmethod
    def _split_operators(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("operators")
    @classmethod
    def _check_operators(cls, value: list[str]) -> list[str]:
        for name in value:
            if not name.isalnum():
                raise ValueError(f"operator endpoint name must be alphanumeric: {name!r}")
            # Asterisk refuses an AMI Originate whose data holds one of these words unless the
            # account has the "system" class; the live stream spying on this phone would fail.
            found = [word for word in ORIGINATE_SYSTEM_WORDS if word in name.upper()]
            if found:
                raise ValueError(
                    f"operator endpoint name {name!r} may not contain {found[0]} "
                    "(Asterisk would refuse to stream its audio to the live recogniser)"
                )
        return value

    @field_validator("hotline_number")
    @classmethod
    def _check_number(cls, value: str) -> str:
        if not value.isdigit():
            raise ValueError("hotline_number must be digits")
        return value

    @field_validator("outbound_sip_target")
    @classmethod
    def _check_outbound_target(cls, value: str) -> str:
        if value and not re.fullmatch(r"[A-Za-z0-9.-]+(:\d{1,5})?", value):
            raise ValueError(f"outbound_sip_target must be host or host:port, got {value!r}")
        return value

    @field_validator("service_hours")
    @classmethod
    def _check_hours(cls, value: str) -> str:
        parse_service_hours(value)
        return value

    @model_validator(mode="after")
    def _check_ports(self) -> Settings:
        ports = [self.sip_port, self.ami_port, self.agi_port, self.api_port, self.asr_live_port]
        if len(set(ports)) != len(ports):
            raise ValueError(f"ports must be distinct: {ports}")
        if not self.rtp_port_start < self.rtp_port_end:
            raise ValueError("rtp_port_start must be below rtp_port_end")
        return self

    @model_validator(mode="after")
    def _check_ranking_lines(self) -> Settings:
        # The 黑榜 line under the 红榜 line: a unit cannot be on both lists.
        for measure in ("satisfaction", "on_time"):
            red, black = (
                getattr(self, f"red_list_{measure}"),
                getattr(self, f"black_list_{measure}"),
            )
            if black > red:
                raise ValueError(
                    f"black_list_{measure} ({black}) must not be above red_list_{measure} ({red})"
                )
        return self

    def to_env(self) -> dict[str, str]:
        """These settings as ``HOTLINE_*`` variables, for the processes this one starts."""
        env: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if name == "prompts":
                for key, text in value.as_dict().items():
                    env[f"HOTLINE_PROMPTS__{key.upper()}"] = text
            elif name == "operators":
                env["HOTLINE_OPERATORS"] = ",".join(value)
            elif value is not None:
                env[f"HOTLINE_{name.upper()}"] = str(value)
        return env

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'hotline.db'}"

    @property
    def live_recognisers(self) -> tuple[tuple[str, int], ...]:
        """(host, port) of each live recogniser, in the order tried."""
        listed = [item.strip() for item in self.asr_live_recognisers.split(",") if item.strip()]
        if not listed:
            return ((self.asr_live_host, self.asr_live_port),)
        found = []
        for item in listed:
            host, _, port = item.rpartition(":")
            found.append((host, int(port)))
        return tuple(found)

    @property
    def upload_max_bytes(self) -> int:
        """The largest upload request: every file at its largest, and the form around them."""
        return self.attachment_max_files * self.attachment_max_bytes + self.request_max_bytes

    @property
    def run_dir(self) -> Path:
        return self.data_dir / "run"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "log"

    @property
    def sounds_dir(self) -> Path:
        return self.data_dir / "sounds"

    @property
    def spool_dir(self) -> Path:
        """Where Asterisk writes recordings while a call is up."""
        return self.data_dir / "spool"

    @property
    def recordings_dir(self) -> Path:
        """The store: recordings after hang-up, named by call."""
        return self.data_dir / "recordings"

    @property
    def attachments_dir(self) -> Path:
        """Evidence files registered with cases, under random names."""
        return self.data_dir / "attachments"

    @property
    def archives_dir(self) -> Path:
        """立卷归档 bundles of archived cases."""
        return self.data_dir / "archives"

    @property
    def object_store_credentials_file(self) -> Path:
        """The object store's access key and secret (Issue 18, H1)."""
        return self.object_store_credentials or self.data_dir / "object-store.json"

    @property
    def asterisk_dir(self) -> Path:
        return self.data_dir / "asterisk"

    @property
    def calendar_file(self) -> Path:
        """Official holiday schedules for years the calendar package does not know."""
        return self.data_dir / "calendar" / "holidays.toml"

    @property
    def routing_model_file(self) -> Path:
        """The routing classifier written by ``hotline route train``."""
        return self.data_dir / "routing" / "model.npz"

    def service_hours_window(self) -> tuple[dt.time, dt.time | None]:
        return parse_service_hours(self.service_hours)


def parse_service_hours(value: str) -> tuple[dt.time, dt.time | None]:
    """Parse ``HH:MM-HH:MM``; an end of ``24:00`` is returned as ``None`` (end of day)."""
    try:
        start_text, end_text = value.split("-")
        start = dt.time.fromisoformat(start_text.strip())
        end_text = end_text.strip()
        end = None if end_text == "24:00" else dt.time.fromisoformat(end_text)
    except ValueError as exc:
        raise ValueError(f"service hours must look like 08:00-20:00, got {value!r}") from exc
    if end is not None and end <= start:
        raise ValueError(f"service hours end must be after start: {value!r}")
    return start, end


def load_settings() -> Settings:
    return Settings()
