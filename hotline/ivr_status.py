"""The ivr service's status file (``<run>/ivr.json``): written by the service as its AMI and
FastAGI come and go, read by ``hotline status`` and ``hotline up``. Kept apart from the service's
wiring so that reading it loads none of the telephony."""

from __future__ import annotations

import json
import os
from pathlib import Path

from core.settings import Settings


def status_file(settings: Settings) -> Path:
    return settings.run_dir / "ivr.json"


def write_status(path: Path, **fields: object) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"pid": os.getpid(), **fields}), encoding="utf-8")
    os.replace(tmp, path)
