"""Evidence files (证据材料) registered with cases, kept like recordings: random names in
dated folders, fsynced, with their sha256. The type is read from the content, never
trusted from the name or the browser; a file is found by its id, never by a path."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from core.ids import is_id, new_id

ALLOWED_LABEL = "PDF、JPG、PNG、TIFF、WAV、MP3、DOCX 或 TXT"


class EvidenceRefused(ValueError):
    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh = zh


@dataclass(frozen=True)
class StoredEvidence:
    id: str
    relative_path: str
    sha256: str
    size_bytes: int
    content_type: str
    filename: str


def sniff(head: bytes, path: Path) -> tuple[str, str] | None:
    """(content type, extension) from the first bytes, or None if not an allowed kind."""
    signatures = (
        (b"%PDF-", "application/pdf", "pdf"),
        (b"\xff\xd8\xff", "image/jpeg", "jpg"),
        (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
        (b"II*\x00", "image/tiff", "tif"),
        (b"MM\x00*", "image/tiff", "tif"),
        (b"ID3", "audio/mpeg", "mp3"),
    )
    for magic, content_type, ext in signatures:
        if head.startswith(magic):
            return content_type, ext
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav", "wav"
    if head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "audio/mpeg", "mp3"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as archive:
                if "word/document.xml" in archive.namelist():
                    return (
                        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                        "docx",
                    )
        except zipfile.BadZipFile:
            return None
        return None
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "\x00" in text:
        return None
    return "text/plain; charset=utf-8", "txt"


def size_label(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.0f} MB"
    return f"{max(1, size // 1024)} KB"


def safe_filename(name: str) -> str:
    """The uploaded name, for display only: no directories, no control characters."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip()
    return base[:200] or "附件"


def store(
    source: BinaryIO, filename: str, root: Path, now: dt.datetime, max_bytes: int
) -> StoredEvidence:
    """Copy an upload into the store, refusing it (and keeping nothing) if it is empty,
    too big or of a kind not allowed."""
    incoming = root / ".incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=incoming)
    temp = Path(temp_name)
    try:
        digest, size = hashlib.sha256(), 0
        with os.fdopen(handle, "wb") as out:
            for block in iter(lambda: source.read(1 << 16), b""):
                size += len(block)
                if size > max_bytes:
                    raise EvidenceRefused(
                        f"文件过大：每个文件不能超过 {size_label(max_bytes)}",
                        f"file too large: the limit is {max_bytes} bytes",
                    )
                digest.update(block)
                out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if size == 0:
            raise EvidenceRefused("文件为空", "empty file")
        with open(temp, "rb") as check:
            kind = sniff(check.read(16), temp)
        if kind is None:
            raise EvidenceRefused(
                f"文件类型不允许：仅接受 {ALLOWED_LABEL}",
                "file type not allowed: pdf, jpg, png, tiff, wav, mp3, docx or txt",
            )
        evidence_id = new_id()
        relative = f"{now.astimezone(dt.UTC):%Y/%m/%d}/{evidence_id}.{kind[1]}"
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(temp), target)
        return StoredEvidence(
            evidence_id, relative, digest.hexdigest(), size, kind[0], safe_filename(filename)
        )
    finally:
        temp.unlink(missing_ok=True)


def discard(root: Path, stored: StoredEvidence) -> None:
    """Remove a stored file whose database record did not land (no orphans)."""
    (root / stored.relative_path).unlink(missing_ok=True)


def file_of(root: Path, evidence_id: str, relative_path: str) -> Path | None:
    if not is_id(evidence_id):
        return None
    base = root.resolve()
    path = (base / relative_path).resolve()
    if not path.is_relative_to(base) or not path.is_file():
        return None
    return path
