"""What a case's package holds: the registration form, the record and its history, unit
replies, feedback, recordings, transcripts and evidence files; for an evidence export also
the access log. Read from the database into bundle members."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Sequence
from datetime import tzinfo
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from asr import jobs
from core.ids import is_id
from custody import replay
from custody.bundle import Member
from custody.evidence_files import Copies
from custody.models import RecordingAccess
from dispatch.cases.handling_models import Feedback, UnitReply
from dispatch.cases.lifecycle import STATUS_LABELS, Status
from dispatch.cases.models import Case
from dispatch.cases.registration import CHANNEL_LABELS, TYPE_LABELS, CaseType, Channel
from recordings import chain, lookup, manifest
from recordings.models import Recording

ZONE_NAMES = {"Asia/Shanghai": "北京时间"}
RECEIVED_LABELS = {
    Channel.PHONE: "来电时间",
    Channel.WALK_IN: "来访时间",
    Channel.LETTER: "来信时间",
    Channel.FAX: "来件时间",
    Channel.EMAIL: "来件时间",
    Channel.WEB: "网上提交时间",
    Channel.TRANSFERRED: "转办时间",
}


class DossierProblem(RuntimeError):
    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh = zh


def _when(value: Any) -> str | None:
    """A time for programs (case.json, access_log.csv): ISO 8601 in UTC."""
    return value.isoformat() if value is not None else None


def zone_name(zone: tzinfo) -> str:
    """What people call the zone the documents' times are in."""
    return ZONE_NAMES.get(str(zone), str(zone))


def local_time(value: dt.datetime | None, zone: tzinfo) -> str:
    """A time for people: to the second, in the hotline's zone (the console's)."""
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""


def received_label(channel: Channel) -> str:
    """When the citizen's request came in, in the words of its channel."""
    return RECEIVED_LABELS.get(channel, "受理时间")


def registration_text(case: Case, zone: tzinfo) -> str:
    """The 登记表 as plain text, its times in the hotline's zone (``zone``), as the console
    shows them."""
    channel = Channel(case.channel)
    rows = [
        ("案件编号", case.number),
        ("状态", STATUS_LABELS[Status(case.status)]),
        (received_label(channel), local_time(case.received_at, zone)),
        ("登记时间", local_time(case.registered_at, zone)),
        ("登记人", case.registered_by),
        ("渠道", CHANNEL_LABELS[channel]),
        ("类型", TYPE_LABELS[CaseType(case.case_type)]),
        ("诉求人", case.complainant_name),
        ("联系电话", case.complainant_phone),
        ("地址", case.complainant_address),
        ("工作单位", case.complainant_org),
        ("匿名", "是" if case.anonymous else "否"),
        ("要求保密", "是" if case.confidential else "否"),
        ("被反映单位", case.subject_unit),
        ("被反映窗口", case.subject_window),
        ("被反映人员", case.subject_person),
        ("标题", case.title),
        ("内容", case.content),
        ("诉求", case.request),
        ("分类", case.category),
    ]
    head = f"（本表时间均为{zone_name(zone)}）\n"
    return head + "".join(f"{label}：{value or ''}\n" for label, value in rows)


def case_record(session: Session, case: Case, recordings: Sequence[Recording]) -> dict[str, Any]:
    replies = session.scalars(
        select(UnitReply).where(UnitReply.case_id == case.id).order_by(UnitReply.at)
    )
    feedback = session.scalars(
        select(Feedback).where(Feedback.case_id == case.id).order_by(Feedback.at)
    )
    record = {
        column.name: getattr(case, column.key)
        for column in Case.__table__.columns
        if hasattr(case, column.key)
    }
    return {
        "case": {k: _when(v) if hasattr(v, "isoformat") else v for k, v in record.items()},
        "history": [
            {
                "at": _when(e.at),
                "actor": e.actor,
                "action": e.action,
                "from": e.from_status,
                "to": e.to_status,
                "note": e.note,
            }
            for e in case.history
        ],
        "unit_replies": [
            {
                "at": _when(r.at),
                "unit_id": r.unit_id,
                "by": r.by,
                "facts": r.facts,
                "finding": r.finding,
                "measures": r.measures,
                "responsible_handling": r.responsible_handling,
                "review": r.review,
                "reviewed_by": r.reviewed_by,
                "reviewed_at": _when(r.reviewed_at),
                "review_note": r.review_note,
            }
            for r in replies
        ],
        "feedback": [
            {
                "at": _when(f.at),
                "actor": f.actor,
                "method": f.method,
                "note": f.note,
                "satisfaction": f.satisfaction,
            }
            for f in feedback
        ],
        "recordings": [
            {
                "id": r.id,
                "file": f"recordings/{r.id}.wav",
                "sha256": r.sha256,
                "size_bytes": r.size_bytes,
                "duration_seconds": r.duration_seconds,
                "created_at": _when(r.created_at),
            }
            for r in recordings
        ],
        "attachments": [
            {
                "id": a.id,
                "file": f"attachments/{Path(a.path).name}",
                "filename": a.filename,
                "sha256": a.sha256,
                "uploaded_by": a.uploaded_by,
                "created_at": _when(a.created_at),
            }
            for a in case.attachments
        ],
    }


def transcript_members(session: Session, recording: Recording) -> list[Member]:
    record = jobs.transcript_of(session, recording)
    if record is None:
        return []
    lines = [
        f"[{s['start']:7.2f}-{s['end']:7.2f}] {s['channel']}: {s['clean_text']}\n"
        for s in record.segments
        if s.get("clean_text")
    ]
    body = {
        "recording_id": recording.id,
        "recording_sha256": record.recording_sha256,
        "model": record.model,
        "status": record.status,
        "segments": record.segments,
        "text": record.clean_text,
    }
    return [
        Member(f"transcripts/{recording.id}.txt", "".join(lines).encode()),
        Member(
            f"transcripts/{recording.id}.json",
            json.dumps(body, ensure_ascii=False, indent=1).encode(),
        ),
    ]


def access_log_csv(rows: Sequence[RecordingAccess]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "id",
            "accessed_at",
            "actor",
            "role",
            "client",
            "action",
            "outcome",
            "recording_id",
            "case_id",
            "reason",
            "byte_range",
            "prev_hash",
            "entry_hash",
        ]
    )
    for row in sorted(rows, key=lambda r: r.id):
        writer.writerow(
            [
                row.id,
                _when(row.accessed_at),
                row.actor,
                row.role,
                row.client,
                row.action,
                row.outcome,
                row.recording_id or "",
                row.case_id or "",
                row.reason,
                row.byte_range,
                row.prev_hash,
                row.entry_hash,
            ]
        )
    return out.getvalue().encode()


def members(
    session: Session,
    case: Case,
    files: Copies,
    zone: tzinfo,
    access_rows: Sequence[RecordingAccess] | None = None,
) -> list[Member]:
    """The package's files; ``registration.txt`` (for people) has its times in ``zone``, the
    files for programs (case.json, the manifest, the access log) keep UTC. The recordings
    and evidence files come from ``files`` (the data folder, else the object store), each
    checked against the hash recorded when it was stored; keep ``files`` open until the
    package is written."""
    recordings = replay.recordings_of(session, case)
    found = [
        Member("registration.txt", registration_text(case, zone).encode()),
        Member(
            "case.json",
            json.dumps(
                case_record(session, case, recordings), ensure_ascii=False, indent=1
            ).encode(),
        ),
    ]
    for recording in recordings:
        path = files.checked(lookup.key_of(recording), recording.sha256)
        if path is None:
            raise DossierProblem(
                f"录音 {recording.id} 缺失或已被改动，请先运行完整性校验",
                f"recording {recording.id} is missing or altered; run hotline recordings verify",
            )
        found.append(Member(f"recordings/{recording.id}.wav", source=path, sha256=recording.sha256))
        found += transcript_members(session, recording)
    for attachment in case.attachments:
        key = manifest.data_path(manifest.ATTACHMENT, attachment.path)
        kept = files.checked(key, attachment.sha256) if is_id(attachment.id) else None
        if kept is None:
            raise DossierProblem(
                f"证据材料“{attachment.filename}”缺失或已被改动",
                f"attachment {attachment.id} is missing or altered",
            )
        found.append(Member(f"attachments/{kept.name}", source=kept, sha256=attachment.sha256))
    entries = manifest.of_objects(
        session, [r.id for r in recordings] + [a.id for a in case.attachments]
    )
    found.append(
        Member(
            "store_manifest.json",
            json.dumps(
                [
                    {k: chain.plain(v) for k, v in manifest.fields(e).items()}
                    | {"prev_hash": e.prev_hash, "entry_hash": e.entry_hash}
                    for e in entries
                ],
                ensure_ascii=False,
                indent=1,
            ).encode(),
        )
    )
    if access_rows is not None:
        found.append(Member("access_log.csv", access_log_csv(access_rows)))
    return found


def readme(case: Case, folder: str, kind_zh: str, zone: tzinfo) -> str:
    return f"""{kind_zh}：案件 {case.number}

registration.txt（登记表）中的时间为{zone_name(zone)}；case.json、store_manifest.json
和 access_log.csv 供程序读取，时间为带时区的 ISO 8601 格式（UTC）。

本包所有文件的 SHA-256 值列在 SHA256SUMS 中。用标准工具核验（Linux / macOS）：

    unzip {folder}.zip
    cd {folder}
    sha256sum -c SHA256SUMS          # macOS: shasum -a 256 -c SHA256SUMS

每行都应显示 OK（“成功”）。recordings/ 中录音的 SHA-256 还应与 case.json 和
store_manifest.json 中入库时记录的值一致：入库清单逐条链接前一条的哈希值，
可在系统中用 hotline recordings verify 复核。

Checking this package: unzip it, cd into {folder}/, run `sha256sum -c SHA256SUMS`;
every line must say OK. The recordings' hashes must also equal the ones recorded when they
were stored (case.json, store_manifest.json). Times in registration.txt are local
({zone}); the JSON and CSV files give ISO 8601 times in UTC.
"""
