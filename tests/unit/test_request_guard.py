"""The request guard's text checks, on bytes and decoded JSON (no server)."""

from __future__ import annotations

import pytest

from api.guard import MultipartChecker, RequestRefused, json_problem, percent_encoded_ok


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b'{"a": "\\ud800"}', ("body", "a")),
        (b'{"a": ["ok", {"b": "x\\u0000"}]}', ("body", "a", 1, "b")),
        (b'{"\\udfff": 1}', ("body", "\udfff")),
        (b'{"a": "\\ud83d\\ude00"}', None),  # a pair is one ordinary character
        (b"not json", None),  # left to the route's own validation
        (b"[" * 100000 + b"]" * 100000, None),
    ],
)
def test_json_strings_must_be_storable_text(
    body: bytes,
    where: tuple[object, ...] | None,
) -> None:
    assert json_problem(body) == where


@pytest.mark.parametrize(
    ("raw", "ok"),
    [
        (b"q=%E4%BD%A0%E5%A5%BD", True),
        (b"q=a+b", True),
        (b"q=%ff", False),
        (b"q=%ED%A0%80", False),
        (b"q=a%00", False),
        (b"q=%C3%28", False),
    ],
)
def test_percent_encoded_text_must_be_utf8_without_nul(raw: bytes, ok: bool) -> None:
    assert percent_encoded_ok(raw, plus_is_space=True) is ok


def part(name: bytes, value: bytes, filename: bytes | None = None) -> bytes:
    disposition = b'form-data; name="' + name + b'"'
    if filename is not None:
        disposition += b'; filename="' + filename + b'"'
    return b"--B\r\nContent-Disposition: " + disposition + b"\r\n\r\n" + value + b"\r\n"


def test_multipart_names_values_and_files_are_checked_as_they_stream() -> None:
    good = MultipartChecker(b"B", max_files=2, max_field_bytes=1024)
    body = (
        part(b"title", "标题".encode())
        + part(b"files", b"\xff\x00", "证据.pdf".encode())
        + b"--B--\r\n"
    )
    for index in range(0, len(body), 7):  # any split of the stream
        good.feed(body[index : index + 7])
    assert good.files == 1 and not good.broken

    for bad, where in (
        (part(b"title", b"a\x00b"), ("body", "title")),
        (part(b"files", b"x", b"\xed\xa0\x80.pdf"), ("body", "files", "filename")),
        (part(b"\xff", b"x"), ("body",)),
    ):
        checker = MultipartChecker(b"B", max_files=2, max_field_bytes=1024)
        with pytest.raises(RequestRefused) as refused:
            checker.feed(bad + b"--B--\r\n")
        assert refused.value.status == 422 and refused.value.loc == where

    crowded = MultipartChecker(b"B", max_files=1, max_field_bytes=1024)
    with pytest.raises(RequestRefused, match="at most 1 files"):
        crowded.feed(part(b"files", b"x", b"a.pdf") + part(b"files", b"y", b"b.pdf"))
