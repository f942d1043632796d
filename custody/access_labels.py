"""The access log in the console's words: what was done, how it ended, by which role, and
over which part of a recording (the byte range asked for) or on which page a transcript was
shown (the ``byte_range`` column holds one or the other)."""

from __future__ import annotations

import re

from accounts.models import ROLE_LABELS, Role
from custody import access, exports, listening, live_transcript, transcript_reads

ACTION_LABELS = {
    access.PLAY: "播放",
    access.RANGE: "续播",
    access.DOWNLOAD: "下载",
    access.EXPORT: "导出证据包",
    access.TRANSCRIPT: "查看转写",
    access.WAVEFORM: "查看波形",
}
OUTCOME_LABELS = {
    access.ALLOWED: "允许",
    access.DENIED: "拒绝",
    listening.MISSING: "文件缺失",
    listening.UNAVAILABLE: "存储不可用",
}
PLACE_LABELS = {
    transcript_reads.API: "转写接口",
    transcript_reads.CALL_PAGE: "来电页面",
    transcript_reads.REGISTRATION: "登记表",
    transcript_reads.WORK_QUEUE: "工作台",
    transcript_reads.CALLS_LIST: "来电记录列表",
    transcript_reads.EVIDENCE_PAGE: "调听与证据页面",
    live_transcript.LIVE: "实时转写",
    exports.ARCHIVE_RANGE: "归档卷宗",
}
# Actions on a recording's bytes: no range asked for means the whole file.
WHOLE_FILE_ACTIONS = frozenset({access.PLAY, access.RANGE, access.DOWNLOAD})
RANGE_SPEC = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")


def role_label(role: str) -> str:
    """话务员, 督查员…; an unknown value as it is."""
    try:
        return ROLE_LABELS[Role(role)]
    except ValueError:
        return role or "—"


def _one_range(spec: str) -> str | None:
    found = RANGE_SPEC.match(spec)
    if found is None or not (found.group(1) or found.group(2)):
        return None
    first, last = found.groups()
    if not first:
        return f"最后 {int(last)} 字节"
    if not last:
        return "从头开始" if int(first) == 0 else f"自第 {int(first)} 字节起"
    return f"第 {int(first)}–{int(last)} 字节"


def scope_label(value: str, action: str = "") -> str:
    """Where an entry applies: the page a transcript was shown on, or the part of the
    recording asked for (``bytes=0-`` is 从头开始, none at all the whole file)."""
    if not value:
        return "整个文件" if action in WHOLE_FILE_ACTIONS else "—"
    if value in PLACE_LABELS:
        return PLACE_LABELS[value]
    unit, _, specs = value.partition("=")
    if unit.strip() == "bytes":
        parts = [_one_range(spec) for spec in specs.split(",")]
        if parts and all(parts):
            return "、".join(p for p in parts if p)
    return value
