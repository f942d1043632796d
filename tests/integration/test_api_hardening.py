"""What the API takes in and what it answers, at its edges: text that is not valid Unicode,
bodies too large (before log-in too, chunked or not), uploads refused before they are read,
405 with the full ``Allow``, 422 answers in the published shape without the values sent, the
description behind a log-in, and nothing personal left in a cache."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from api.auth import COOKIE
from core.settings import Settings
from dispatch.intake import register
from recordings import evidence
from tests.api_actor import Actor
from tests.builders import PASSWORD, add_user
from tests.conftest import free_port
from tests.live_api import RawRequest, serve

PDF = b"%PDF-1.4\n" + bytes(200)
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def settings(db_url: str, sessions: sessionmaker[Session], tmp_path: Path) -> Settings:
    for name, role in (("op1", "operator"), ("sup1", "supervisor"), ("unit1", "unit_handler")):
        add_user(sessions, name, role)
    return Settings(
        data_dir=tmp_path,
        database_url=db_url,
        api_port=free_port(),
        attachment_max_bytes=64 * 1024,
        attachment_max_files=2,
        supervision_interval_seconds=0,
        integrity_check_interval_seconds=0,
    )


@pytest.fixture
def app(settings: Settings) -> Iterator[Any]:
    application = create_app(settings)
    with TestClient(application):
        yield application


def new_case(sessions: sessionmaker[Session], settings: Settings, files: int = 0) -> str:
    config = register.IntakeConfig(
        ZoneInfo(settings.timezone),
        settings.case_number_format,
        settings.attachments_dir,
        settings.attachment_max_bytes,
        settings.attachment_max_files,
    )
    form = {
        "received_at": "2026-11-20T09:30",
        "channel": "letter",
        "case_type": "complaint",
        "complainant_name": "张三",
        "complainant_phone": "13800138000",
        "subject_unit": "幸福里小区物业",
        "title": "小区物业乱收费",
        "content": "幸福里小区物业每月多收二十元停车费。",
        "request": "退还",
    }
    uploads = [register.Upload(f"{n}.txt", _stream(f"证据 {n}".encode())) for n in range(files)]
    return register.register(sessions, config, form, uploads, "op1", dt.datetime.now(dt.UTC)).id


def _stream(data: bytes) -> io.BytesIO:
    return io.BytesIO(data)


def stored_files(settings: Settings) -> list[Path]:
    return sorted(p for p in settings.attachments_dir.rglob("*") if p.is_file())


def detail(response: Any) -> list[dict[str, Any]]:
    """A 422 answer in the published shape: a list of {loc, msg, type}, nothing else."""
    assert response.status_code == 422, response.text
    errors: list[dict[str, Any]] = response.json()["detail"]
    assert errors and all(set(e) == {"loc", "msg", "type"} for e in errors), errors
    return errors


# -- text: valid Unicode or 422 ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "url", "body", "where"),
    [
        (None, "/api/session", b'{"username": "\\ud800", "password": "x"}', ["body", "username"]),
        ("sup1", "/api/knowledge", b'{"question": "\\ud800", "answer": "a"}', ["body", "question"]),
        ("sup1", "/api/units", b'{"name": "\\udfff", "kind": "department"}', ["body", "name"]),
        ("sup1", "/api/units", b'{"name": "a\\u0000b", "kind": "department"}', ["body", "name"]),
        ("sup1", "/api/knowledge", b'{"question": "q", "answer": "a", "k\\udc80": 1}', ["body"]),
        (
            "sup1",
            "/api/knowledge",
            b'{"question": ["\\ud800"], "answer": "a"}',
            ["body", "question", 0],
        ),
    ],
)
def test_lone_surrogates_and_nul_in_json_are_refused_with_422(
    app: Any, user: str | None, url: str, body: bytes, where: list[str | int]
) -> None:
    client, headers = TestClient(app), JSON
    if user:
        actor = Actor(app, user)
        client, headers = actor.client, {**JSON, **actor.headers}
    errors = detail(client.post(url, content=body, headers=headers))
    assert errors[0]["type"] == "string_unicode"
    assert errors[0]["loc"][: len(where)] == where


def test_a_paired_surrogate_escape_is_ordinary_text(app: Any) -> None:
    supervisor = Actor(app, "sup1")
    created = supervisor.client.post(
        "/api/units",
        headers={**JSON, **supervisor.headers},
        content=b'{"name": "\\ud83d\\ude00 Unit", "kind": "department"}',
    )
    assert created.status_code == 201, created.text
    assert created.json()["name"] == "\U0001f600 Unit"


@pytest.mark.parametrize(
    "target",
    [
        "/api/knowledge?q=%ff",
        "/api/knowledge?q=%ED%A0%80",
        "/api/knowledge?q=a%00b",
        "/api/calls/%ff%fe",
        "/api/calls/ab%00cd",
        "/knowledge?q=%C3%28",
    ],
)
def test_bad_text_in_the_path_or_query_is_refused_with_422(app: Any, target: str) -> None:
    operator = Actor(app, "op1")
    response = operator.fetch(target)
    assert response.status_code == 422, (target, response.status_code, response.text)
    if target.startswith("/api/"):
        assert detail(response)[0]["loc"][0] in ("path", "query")
    else:
        assert "无效字符" in response.text, "the console answers in Chinese"


def test_bad_text_in_forms_and_file_names_is_refused_with_422(
    app: Any, sessions: sessionmaker[Session], settings: Settings
) -> None:
    operator = Actor(app, "op1")
    case_id = new_case(sessions, settings)
    token = operator.headers["X-CSRF-Token"]
    page = operator.client.post(
        f"/cases/{case_id}/merge",
        content=f"csrf_token={token}&into=x&reason=%ff".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert page.status_code == 422 and "无效字符" in page.text

    boundary = "b0undary"
    for disposition in (
        b'form-data; name="files"; filename="\xed\xa0\x80.pdf"',
        b'form-data; name="files"; filename="a\x00.pdf"',
    ):
        body = (
            f"--{boundary}\r\n".encode()
            + b"Content-Disposition: "
            + disposition
            + b"\r\nContent-Type: application/pdf\r\n\r\n"
            + PDF
            + f"\r\n--{boundary}--\r\n".encode()
        )
        refused = operator.client.post(
            f"/api/cases/{case_id}/attachments",
            content=body,
            headers={
                **operator.headers,
                "Content-Type": f"multipart/form-data; boundary={boundary}",
            },
        )
        assert detail(refused)[0]["loc"][:2] == ["body", "files"], refused.text
    field = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
            f'{token}\r\n--{boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\n'
        ).encode()
        + b"bad\xff"
        + f"\r\n--{boundary}--\r\n".encode()
    )
    new_page = operator.client.post(
        "/cases",
        content=field,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert new_page.status_code == 422 and "无效字符" in new_page.text
    no_files = operator.client.post(
        "/api/units", headers=operator.headers, files=[("name", ("a.txt", b"x", "text/plain"))]
    )
    assert detail(no_files)[0]["msg"] == "this route takes no files"
    assert stored_files(settings) == []


# -- size: bounded before it is read -----------------------------------------------------------


def test_bodies_are_bounded_before_they_are_read_even_before_log_in(settings: Settings) -> None:
    limit = settings.request_max_bytes
    with serve(settings):
        with RawRequest(settings.api_port) as request:  # 250 MB announced, nothing sent
            request.head(
                "POST",
                "/api/session",
                {"Content-Type": "application/json", "Content-Length": str(250 * 2**20)},
            )
            status, answer = request.answer()
        assert status == 413 and b"larger than" in answer

        with RawRequest(settings.api_port) as request:  # chunked: counted while it streams
            request.head(
                "POST",
                "/api/session",
                {"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
            )
            chunk = b"[" + b"1," * 32767 + b"1"
            for _ in range(limit // len(chunk) + 2):  # past the limit, and never finished
                request.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            status, _ = request.answer()
        assert status == 413, "refused without waiting for the end of the body"

        with RawRequest(settings.api_port) as request:  # a page form has the same bound
            request.head(
                "POST",
                "/login",
                {
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Content-Length": str(limit + 1),
                },
            )
            status, answer = request.answer()
        assert status == 413 and "过大".encode() in answer


def logged_in(url: str, username: str) -> dict[str, str]:
    """The headers of a request made by this person (their session cookie and CSRF token)."""
    logged = httpx.post(f"{url}/api/session", json={"username": username, "password": PASSWORD})
    assert logged.status_code == 200, logged.text
    return {
        "Cookie": f"{COOKIE}={logged.cookies[COOKIE]}",
        "X-CSRF-Token": logged.json()["csrf_token"],
    }


def multipart_head(boundary: str, files: int, size: int = 1000) -> tuple[bytes, int]:
    """The start of an upload of ``files`` files of ``size`` bytes, and its whole length."""
    part = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
        f'filename="f.pdf"\r\nContent-Type: application/pdf\r\n\r\n'
    ).encode()
    whole = files * (len(part) + size + 2) + len(f"--{boundary}--\r\n")
    return part + PDF[:size], whole


@pytest.mark.parametrize("who", [None, "unit1"])
def test_an_upload_is_refused_by_the_session_or_role_before_its_body_is_read(
    settings: Settings, sessions: sessionmaker[Session], who: str | None
) -> None:
    case_id = new_case(sessions, settings)
    with serve(settings) as url:
        headers = logged_in(url, who) if who else {}
        start, _ = multipart_head("b0undary", 2)
        with RawRequest(settings.api_port) as request:
            request.head(
                "POST",
                f"/api/cases/{case_id}/attachments",
                {
                    **headers,
                    "Content-Type": "multipart/form-data; boundary=b0undary",
                    "Content-Length": str(settings.upload_max_bytes - 1),
                },
            )
            request.send(start)
            status, _ = request.answer()
    assert status == (403 if who else 401)


def test_the_per_case_limit_is_checked_before_any_file_is_read_or_stored(
    app: Any, settings: Settings, sessions: sessionmaker[Session]
) -> None:
    full = new_case(sessions, settings, files=settings.attachment_max_files)
    with_room = new_case(sessions, settings, files=settings.attachment_max_files - 1)
    before = stored_files(settings)
    with serve(settings) as url:
        headers = {
            **logged_in(url, "op1"),
            "Content-Type": "multipart/form-data; boundary=b0undary",
        }
        start, whole = multipart_head("b0undary", 2)
        with RawRequest(settings.api_port) as request:  # no room at all: refused at once
            request.head(
                "POST", f"/api/cases/{full}/attachments", {**headers, "Content-Length": str(whole)}
            )
            request.send(start)
            status, answer = request.answer()
        assert status == 422 and b"at most 2 files per case" in answer
        with RawRequest(settings.api_port) as request:  # room for one: refused at the second
            request.head(
                "POST",
                f"/api/cases/{with_room}/attachments",
                {**headers, "Content-Length": str(whole * 100)},
            )
            request.send(start + b"\r\n" + start)
            status, answer = request.answer()
        assert status == 422 and b"at most 2 files per case" in answer
    assert stored_files(settings) == before, "nothing stored for a refused upload"


def test_one_request_carries_at_most_the_files_a_case_may_have(
    app: Any, settings: Settings, sessions: sessionmaker[Session]
) -> None:
    operator = Actor(app, "op1")
    case_id = new_case(sessions, settings)
    files = [("attachments", (f"{n}.pdf", PDF, "application/pdf")) for n in range(3)]
    page = operator.client.post(
        f"/cases/{case_id}/attachments",
        files=files,
        data={"csrf_token": operator.headers["X-CSRF-Token"]},
    )
    assert page.status_code == 422 and "最多上传 2 个文件" in page.text
    assert stored_files(settings) == []


def test_the_console_checks_the_cases_room_before_storing_any_file(
    app: Any, settings: Settings, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    operator = Actor(app, "op1")
    case_id = new_case(sessions, settings, files=settings.attachment_max_files - 1)
    stored: list[str] = []
    original = evidence.store

    def counted(*args: Any, **kwargs: Any) -> Any:
        stored.append(args[1])
        return original(*args, **kwargs)

    monkeypatch.setattr(evidence, "store", counted)
    files = [("attachments", (f"{n}.pdf", PDF, "application/pdf")) for n in range(2)]
    page = operator.client.post(
        f"/cases/{case_id}/attachments",
        files=files,
        data={"csrf_token": operator.headers["X-CSRF-Token"]},
    )
    assert page.status_code == 422 and "每个案件最多 2 个文件" in page.text
    assert stored == [], "no file stored, hashed and synced only to be thrown away"


def test_a_chunked_upload_is_counted_while_it_streams(
    app: Any, settings: Settings, sessions: sessionmaker[Session]
) -> None:
    case_id = new_case(sessions, settings)
    operator = Actor(app, "op1")

    def chunks() -> Iterator[bytes]:
        yield (
            b'--b0undary\r\nContent-Disposition: form-data; name="files"; '
            b'filename="big.pdf"\r\n\r\n%PDF-'
        )
        for _ in range(settings.upload_max_bytes // 65536 + 2):
            yield bytes(65536)

    refused = operator.client.post(
        f"/api/cases/{case_id}/attachments",
        content=chunks(),
        headers={**operator.headers, "Content-Type": "multipart/form-data; boundary=b0undary"},
    )
    assert refused.status_code == 413, refused.text
    assert stored_files(settings) == []


def test_a_refusal_while_a_route_reads_its_form_keeps_its_status(
    app: Any, settings: Settings
) -> None:
    """FastAPI reads a route's form fields itself (the log-in page): the guard's 413 and 422
    come through as they are, not as its 400 for a body it could not parse."""
    client = TestClient(app)

    def chunks() -> Iterator[bytes]:
        yield b'--B\r\nContent-Disposition: form-data; name="username"\r\n\r\n'
        for _ in range(settings.request_max_bytes // 65536 + 2):
            yield b"a" * 65536

    too_big = client.post(
        "/login", content=chunks(), headers={"Content-Type": "multipart/form-data; boundary=B"}
    )
    assert too_big.status_code == 413 and "过大" in too_big.text
    with_file = client.post("/login", files=[("username", ("a.txt", b"x", "text/plain"))])
    assert with_file.status_code == 422 and "不能上传文件" in with_file.text


# -- answers ---------------------------------------------------------------------------------


def test_405_names_every_method_of_the_path(app: Any) -> None:
    operator = Actor(app, "op1")
    for url, method, allowed in (
        ("/api/session", "PUT", "DELETE, GET, POST"),
        ("/api/cases", "DELETE", "GET, POST"),
    ):
        response = operator.client.request(method, url, headers=operator.headers)
        assert response.status_code == 405
        assert response.headers["allow"] == allowed


def test_a_422_does_not_echo_what_was_sent(app: Any) -> None:
    secret = "110101199003074512 张三 幸福里 3 号楼"
    response = TestClient(app).post("/api/session", json={"username": secret})
    errors = detail(response)
    assert errors[0]["loc"] == ["body", "password"]
    assert secret not in response.text and "110101199003074512" not in response.text


def test_custom_field_errors_have_the_published_422_shape(app: Any) -> None:
    operator = Actor(app, "op1")
    refused = operator.client.post(
        "/api/cases", headers=operator.headers, json={"channel": "letter", "title": ""}
    )
    errors = detail(refused)
    assert ["body", "case_type"] in [e["loc"] for e in errors]
    schema = operator.get("/openapi.json")
    published = schema["paths"]["/api/cases"]["post"]["responses"]["422"]
    assert published["content"]["application/json"]["schema"]["$ref"].endswith(
        "/HTTPValidationError"
    )


def test_the_description_needs_a_log_in_and_lists_the_shared_refusals(app: Any) -> None:
    anonymous = TestClient(app, follow_redirects=False)
    for page in ("/openapi.json", "/docs"):
        response = anonymous.get(page)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")
    operator = Actor(app, "op1")
    assert operator.fetch("/docs").status_code == 200
    schema = operator.get("/openapi.json")
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            assert {"401", "403", "404", "409", "413", "422", "429"} <= set(
                operation["responses"]
            ), (path, method)
    assert schema["paths"]["/api/session"]["post"]["security"] == []


def test_answers_with_personal_data_are_not_cached(app: Any) -> None:
    operator = Actor(app, "op1")
    for url in ("/api/calls", "/api/session", "/calls", "/knowledge", "/api/cases"):
        response = operator.fetch(url)
        assert response.status_code == 200, url
        assert response.headers["cache-control"] == "no-store", url
    assert "no-store" not in operator.fetch("/static/console.css").headers.get("cache-control", "")
