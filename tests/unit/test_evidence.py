"""Evidence files (证据材料): type sniffing, display names, storing, discarding, lookup."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import zipfile
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from recordings.evidence import (
    ALLOWED_LABEL,
    EvidenceRefused,
    StoredEvidence,
    discard,
    file_of,
    safe_filename,
    sniff,
    store,
)

NOW = dt.datetime(2026, 11, 21, 2, 0, tzinfo=dt.UTC)
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"
TYPE_ZH = "文件类型不允许：仅接受 PDF、JPG、PNG、TIFF、WAV、MP3、DOCX 或 TXT"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "evidence"


def zipped(*names: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, "<xml/>")
    return buffer.getvalue()


def sniff_bytes(tmp_path: Path, data: bytes) -> tuple[str, str] | None:
    path = tmp_path / "upload"
    path.write_bytes(data)
    return sniff(data[:16], path)


def files_under(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


def put(
    data: bytes,
    root: Path,
    filename: str = "证据.pdf",
    now: dt.datetime = NOW,
    max_bytes: int = 1 << 20,
) -> StoredEvidence:
    with io.BytesIO(data) as source:
        return store(source, filename, root, now, max_bytes)


def refused(data: bytes, root: Path, max_bytes: int = 1 << 20) -> EvidenceRefused:
    with pytest.raises(EvidenceRefused) as caught:
        put(data, root, max_bytes=max_bytes)
    return caught.value


# --- sniff -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (PDF, ("application/pdf", "pdf")),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", ("image/jpeg", "jpg")),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", ("image/png", "png")),
        (b"II*\x00\x08\x00\x00\x00", ("image/tiff", "tif")),
        (b"MM\x00*\x00\x00\x00\x08", ("image/tiff", "tif")),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00", ("audio/mpeg", "mp3")),
        (b"\xff\xfb\x90\x64\x00\x00", ("audio/mpeg", "mp3")),
        (b"\xff\xf3\x90\x64\x00\x00", ("audio/mpeg", "mp3")),
        (b"\xff\xf2\x90\x64\x00\x00", ("audio/mpeg", "mp3")),
        (b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00", ("audio/wav", "wav")),
        (zipped("[Content_Types].xml", "word/document.xml"), (DOCX, "docx")),
        ("投诉材料：物业乱收费\n".encode(), ("text/plain; charset=utf-8", "txt")),
        (b"plain ascii", ("text/plain; charset=utf-8", "txt")),
    ],
)
def test_sniff_allowed_kinds(tmp_path: Path, data: bytes, expected: tuple[str, str]) -> None:
    assert sniff_bytes(tmp_path, data) == expected


@pytest.mark.parametrize(
    "data",
    [
        b"RIFF\x24\x00\x00\x00AVI LIST",  # RIFF but not WAVE
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00",
        b"MZ\x90\x00\x03\x00\x00\x00",  # a Windows program
        b"\x7fELF\x02\x01\x01\x00",
        zipped("xl/workbook.xml"),  # a zip, but not a Word document
        b"PK\x03\x04 not really a zip",
        b"text with a NUL\x00 inside",
        "GBK 编码".encode("gbk"),
        b"starts as text \xff\xfe then is not",
    ],
)
def test_sniff_refuses_other_kinds(tmp_path: Path, data: bytes) -> None:
    assert sniff_bytes(tmp_path, data) is None


def test_sniff_reads_the_whole_file_for_text(tmp_path: Path) -> None:
    path = tmp_path / "upload"
    path.write_bytes(b"a" * 100 + b"\x00")
    assert sniff(b"a" * 16, path) is None


def test_sniff_trusts_content_not_the_name(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    path.write_bytes(PDF)
    assert sniff(PDF[:16], path) == ("application/pdf", "pdf")


# --- safe_filename -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("证据.pdf", "证据.pdf"),
        ("C:\\Users\\me\\Desktop\\证据.pdf", "证据.pdf"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("a\x00b\r\n.txt", "ab.txt"),
        ("  照片 1.jpg  ", "照片 1.jpg"),
        ("report\u202egpj.exe", "reportgpj.exe"),
        ("dir/", "附件"),
        ("", "附件"),
        ("   ", "附件"),
        ("\x00\x01", "附件"),
    ],
)
def test_safe_filename(name: str, expected: str) -> None:
    assert safe_filename(name) == expected


def test_safe_filename_is_cut_to_200_characters() -> None:
    assert safe_filename("名" * 300 + ".pdf") == "名" * 200


# --- store -------------------------------------------------------------------------------


def test_store_keeps_the_file_under_a_random_name_in_a_dated_folder(root: Path) -> None:
    stored = put(PDF, root, filename="C:\\tmp\\合同.pdf")
    assert re.fullmatch(r"[0-9a-f]{32}", stored.id)
    assert stored.relative_path == f"2026/11/21/{stored.id}.pdf"
    assert stored.sha256 == hashlib.sha256(PDF).hexdigest()
    assert stored.size_bytes == len(PDF)
    assert stored.content_type == "application/pdf"
    assert stored.filename == "合同.pdf"
    assert (root / stored.relative_path).read_bytes() == PDF
    assert files_under(root) == [root / stored.relative_path]
    assert list((root / ".incoming").iterdir()) == []


def test_store_dates_the_folder_in_utc(root: Path) -> None:
    early_in_shanghai = dt.datetime(2026, 11, 21, 1, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    stored = put(PDF, root, now=early_in_shanghai)
    assert stored.relative_path.startswith("2026/11/20/")


def test_store_names_the_extension_from_the_content(root: Path) -> None:
    stored = put("收据\n".encode(), root, filename="收据.pdf")
    assert stored.relative_path.endswith(".txt")
    assert stored.content_type == "text/plain; charset=utf-8"
    assert stored.filename == "收据.pdf"


def test_store_docx(root: Path) -> None:
    stored = put(zipped("word/document.xml"), root, filename="材料.docx")
    assert stored.content_type == DOCX
    assert stored.relative_path.endswith(".docx")


def test_each_upload_gets_its_own_id(root: Path) -> None:
    first, second = put(PDF, root), put(PDF, root)
    assert first.id != second.id
    assert first.relative_path != second.relative_path
    assert first.sha256 == second.sha256
    assert len(files_under(root)) == 2


def test_store_reads_a_source_larger_than_one_block(root: Path) -> None:
    data = PDF + bytes(range(256)) * 1024  # 256 KiB: several reads
    stored = put(data, root, max_bytes=len(data))
    assert stored.size_bytes == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert (root / stored.relative_path).read_bytes() == data


def assert_nothing_kept(root: Path) -> None:
    assert files_under(root) == []
    assert list((root / ".incoming").iterdir()) == []


def test_empty_file_is_refused(root: Path) -> None:
    error = refused(b"", root)
    assert error.zh == "文件为空"
    assert str(error) == "empty file"
    assert_nothing_kept(root)


def test_too_large_file_is_refused(root: Path) -> None:
    limit = 2 * 1024 * 1024
    error = refused(PDF + b"\x00" * limit, root, max_bytes=limit)
    assert error.zh == "文件过大：每个文件不能超过 2 MB"
    assert str(error) == f"file too large: the limit is {limit} bytes"
    assert_nothing_kept(root)


def test_one_byte_over_the_limit_is_refused(root: Path) -> None:
    refused(PDF, root, max_bytes=len(PDF) - 1)
    assert_nothing_kept(root)


def test_exactly_the_limit_is_accepted(root: Path) -> None:
    assert put(PDF, root, max_bytes=len(PDF)).size_bytes == len(PDF)


@pytest.mark.parametrize(
    "data",
    [
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00",
        zipped("xl/workbook.xml"),
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00",
    ],
)
def test_disallowed_type_is_refused(root: Path, data: bytes) -> None:
    error = refused(data, root)
    assert error.zh == TYPE_ZH
    assert ALLOWED_LABEL in error.zh
    assert str(error) == "file type not allowed: pdf, jpg, png, tiff, wav, mp3, docx or txt"
    assert_nothing_kept(root)


def test_refusal_leaves_earlier_files_alone(root: Path) -> None:
    kept = put(PDF, root)
    refused(b"", root)
    assert files_under(root) == [root / kept.relative_path]


def test_evidence_refused_is_a_value_error() -> None:
    assert issubclass(EvidenceRefused, ValueError)


# --- discard -----------------------------------------------------------------------------


def test_discard_removes_the_stored_file(root: Path) -> None:
    stored = put(PDF, root)
    other = put(PDF, root)
    discard(root, stored)
    assert not (root / stored.relative_path).exists()
    assert files_under(root) == [root / other.relative_path]


def test_discard_twice_is_harmless(root: Path) -> None:
    stored = put(PDF, root)
    discard(root, stored)
    discard(root, stored)
    assert files_under(root) == []


# --- file_of -----------------------------------------------------------------------------


def test_file_of_finds_a_stored_file(root: Path) -> None:
    stored = put(PDF, root)
    found = file_of(root, stored.id, stored.relative_path)
    assert found == (root / stored.relative_path).resolve()
    assert found is not None
    assert found.read_bytes() == PDF


@pytest.mark.parametrize(
    "bad_id",
    [
        "A" * 32,  # upper case
        "a" * 31,
        "a" * 33,
        "g" * 32,
        "a" * 32 + "\n",
        "../" + "a" * 29,
        "",
    ],
)
def test_file_of_refuses_ids_that_are_not_32_hex_characters(root: Path, bad_id: str) -> None:
    stored = put(PDF, root)
    assert file_of(root, bad_id, stored.relative_path) is None


def test_file_of_refuses_paths_out_of_the_root(tmp_path: Path, root: Path) -> None:
    stored = put(PDF, root)
    outside = tmp_path / "secret.txt"
    outside.write_text("secret", encoding="utf-8")
    assert file_of(root, stored.id, "../secret.txt") is None
    assert file_of(root, stored.id, f"2026/11/21/../../../../{outside.name}") is None
    assert file_of(root, stored.id, str(outside)) is None


def test_file_of_refuses_a_link_out_of_the_root(tmp_path: Path, root: Path) -> None:
    stored = put(PDF, root)
    outside = tmp_path / "secret.txt"
    outside.write_text("secret", encoding="utf-8")
    (root / "link.txt").symlink_to(outside)
    assert file_of(root, stored.id, "link.txt") is None


def test_file_of_refuses_missing_files_and_folders(root: Path) -> None:
    stored = put(PDF, root)
    assert file_of(root, stored.id, "2026/11/21") is None
    assert file_of(root, stored.id, f"2026/11/21/{'b' * 32}.pdf") is None
    discard(root, stored)
    assert file_of(root, stored.id, stored.relative_path) is None
