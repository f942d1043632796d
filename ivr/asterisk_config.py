"""Render Asterisk's configuration from the templates in ``asterisk_conf/``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import jinja2

from core.secrets import Secrets
from core.settings import PROJECT_ROOT, Settings
from ivr import dialplan_variables as dv
from ivr.sip_router_config import node_side

TEMPLATE_DIR = PROJECT_ROOT / "asterisk_conf"
# Files Asterisk's core reads at start-up; the hotline uses their built-in defaults.
EMPTY_CONFIGS = (
    "acl.conf",
    "ccss.conf",
    "cel.conf",
    "features.conf",
    "indications.conf",
    "pjproject.conf",
    "udptl.conf",
)
# 漏接回拨 through the operator's phone: the dialer's AMI Originate rings the operator's phone
# into this context (the citizen's number as the extension), which dials the citizen; how a
# dial that was not answered ended comes back as this UserEvent.
CONTEXT_OPERATOR_DIAL = "hotline-operator-dial"
EVENT_OPERATOR_DIAL = "HotlineOperatorDial"


@dataclass(frozen=True)
class AsteriskDirs:
    etc: Path
    lib: Path
    spool: Path
    run: Path
    log: Path
    modules: str

    @classmethod
    def for_settings(cls, settings: Settings, modules_dir: str) -> AsteriskDirs:
        base = settings.asterisk_dir
        return cls(
            etc=base / "etc",
            lib=base / "lib",
            spool=settings.spool_dir,
            run=settings.run_dir / "asterisk",
            log=settings.log_dir / "asterisk",
            modules=modules_dir,
        )

    @property
    def config_file(self) -> Path:
        return self.etc / "asterisk.conf"

    @property
    def pid_file(self) -> Path:
        return self.run / "asterisk.pid"

    @property
    def cdr_csv(self) -> Path:
        return self.log / "cdr-csv" / "Master.csv"

    def all_dirs(self) -> list[Path]:
        return [
            self.etc,
            self.lib,
            self.lib / "agi-bin",
            self.spool,
            self.run,
            self.log,
            self.cdr_csv.parent,
        ]


def render(settings: Settings, secrets: Secrets, dirs: AsteriskDirs) -> dict[str, str]:
    """Return each configuration file's name and text. Pure: no files are touched."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    context = {
        "settings": settings,
        "secrets": secrets,
        "dirs": dirs,
        "sounds": str(settings.sounds_dir),
        "prompt_dir": dv.PROMPT_DIR,
        "agi_route": dv.AGI_ROUTE,
        "failed_event": dv.EVENT_CALL_FAILED,
        "failure_variable": dv.FAILURE,
        "contexts": {
            "callers": dv.CONTEXT_CALLERS,
            "operators": dv.CONTEXT_OPERATORS,
            "satisfaction": dv.CONTEXT_SATISFACTION,
            "outbound": dv.CONTEXT_OUTBOUND,
            "transfer": dv.CONTEXT_TRANSFER,
        },
        "satisfaction_route": dv.AGI_ROUTE_SATISFACTION,
        "satisfaction_call_id": dv.SATISFACTION_CALL_ID,
        "outbound_endpoint": dv.ENDPOINT_OUTBOUND,
        "operator_dial": {"context": CONTEXT_OPERATOR_DIAL, "event": EVENT_OPERATOR_DIAL},
        # Issue 18, H4: the SIP router this node sits behind (None: no router).
        "router": node_side(settings),
    }
    rendered = dict.fromkeys(EMPTY_CONFIGS, "; intentionally empty: built-in defaults\n")
    for template_name in sorted(env.list_templates(extensions=["j2"])):
        rendered[template_name.removesuffix(".j2")] = env.get_template(template_name).render(
            context
        )
    return rendered


def write(files: dict[str, str], etc_dir: Path) -> None:
    """Write the rendered files; secrets inside mean owner-only permissions."""
    etc_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(etc_dir, 0o700)
    for name, text in files.items():
        path = etc_dir / name
        tmp = path.with_suffix(path.suffix + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
