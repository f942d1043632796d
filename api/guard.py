"""The request guard: every request's size and text are checked before a route sees it.

Size: a body is bounded before it is read. A ``Content-Length`` above the limit is answered
413 at once, before any byte of the body is taken; a body without one (chunked) is counted
while it streams and refused the moment it passes the limit. File uploads (multipart bodies,
only on the routes marked with :func:`takes_uploads`) have their own, larger limit and a cap
on the number of files; every other body (JSON, forms) has a small one. This holds before
log-in too: nothing of a refused body is kept.

Text: all text that comes in is valid Unicode without NUL characters, or the request is
refused with 422: the path, the query string, JSON bodies (a ``\\ud800`` escape decodes to a
lone UTF-16 surrogate, which no database or encoder accepts), form fields, and the names of
multipart parts and uploaded files.

Refusals are JSON for the API (422 in the same shape as every other validation error) and a
short Chinese page for the console.
"""

from __future__ import annotations

import html
import json
import re
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi.routing import iter_route_contexts
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BAD_CHARACTERS = re.compile("[\x00\ud800-\udfff]")
TEXT_ERROR = "string_unicode"
TEXT_MESSAGE = "text must be valid UTF-8 (no lone surrogates) without NUL characters"
Loc = tuple[str | int, ...]
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


@dataclass(frozen=True)
class Limits:
    body_max_bytes: int
    upload_max_bytes: int
    upload_max_files: int


class RequestRefused(HTTPException):
    """A request the guard will not pass on. An HTTP exception, so that a route reading the
    body when it is raised lets it through (FastAPI turns other errors there into 400); the
    app answers it with :func:`refusal`."""

    def __init__(self, status: int, en: str, zh: str, loc: Loc = ()) -> None:
        super().__init__(status, en)
        self.status = status
        self.en = en
        self.zh = zh
        self.loc = loc


def too_large(limit: int) -> RequestRefused:
    size = f"{limit / 2**20:.0f} MB" if limit >= 2**20 else f"{limit / 1024:.0f} KB"
    return RequestRefused(
        413, f"request body larger than {limit} bytes", f"提交的内容过大（上限 {size}）"
    )


def bad_text(loc: Loc) -> RequestRefused:
    return RequestRefused(
        422, TEXT_MESSAGE, "提交的内容含有无效字符（非法编码或空字符），请检查后重试", loc
    )


def takes_uploads(endpoint: Endpoint) -> Endpoint:
    """Mark a route that accepts file uploads: its multipart bodies get the upload limits."""
    endpoint.takes_uploads = True  # type: ignore[attr-defined]
    return endpoint


def is_upload_route(routes: list[BaseRoute], scope: Scope) -> bool:
    for route in iter_route_contexts(routes):
        if getattr(route.endpoint, "takes_uploads", False):
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return True
    return False


# -- text checks (pure) ------------------------------------------------------------------------


def bytes_ok(data: bytes) -> bool:
    """UTF-8 (which excludes encoded surrogates) and no NUL."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return b"\x00" not in data


def str_ok(text: str) -> bool:
    return BAD_CHARACTERS.search(text) is None


def percent_encoded_ok(raw: bytes, plus_is_space: bool) -> bool:
    if plus_is_space:
        raw = raw.replace(b"+", b" ")
    return bytes_ok(urllib.parse.unquote_to_bytes(raw))


def _strings(value: Any) -> Iterator[tuple[Loc, str]]:
    """Every string in a decoded JSON document (keys too), with where it is; no recursion."""
    stack: list[tuple[Loc, Any]] = [((), value)]
    while stack:
        loc, item = stack.pop()
        if isinstance(item, str):
            yield loc, item
        elif isinstance(item, dict):
            for key, child in item.items():
                yield (*loc, key), key
                stack.append(((*loc, key), child))
        elif isinstance(item, list):
            stack.extend(((*loc, index), child) for index, child in enumerate(item))


def json_problem(body: bytes) -> Loc | None:
    """Where a JSON body holds a string that is not storable text (None: nowhere, or the body
    is not JSON at all, which the route's own validation answers)."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return None
    for loc, text in _strings(document):
        if not str_ok(text):
            return ("body", *loc)
    return None


def target_problem(scope: Scope) -> Loc | None:
    raw_path = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogatepass")
    if not percent_encoded_ok(raw_path, plus_is_space=False):
        return ("path",)
    if not percent_encoded_ok(scope.get("query_string", b""), plus_is_space=True):
        return ("query",)
    return None


@dataclass
class MultipartChecker:
    """Follows a multipart body as it streams by: field values, part names and file names must
    be text; at most ``max_files`` files. A body it cannot parse is left to the route's parser
    (which answers 400)."""

    boundary: bytes
    max_files: int
    max_field_bytes: int
    files: int = 0
    broken: bool = False
    _header_name: bytearray = field(default_factory=bytearray)
    _header_value: bytearray = field(default_factory=bytearray)
    _disposition: bytes = b""
    _field_name: str = ""
    _is_file: bool = False
    _value: bytearray = field(default_factory=bytearray)
    _parser: MultipartParser | None = None

    def __post_init__(self) -> None:
        self._parser = MultipartParser(
            self.boundary,
            {
                "on_part_begin": self._part_begin,
                "on_header_field": lambda data, start, end: self._header_name.extend(
                    data[start:end]
                ),
                "on_header_value": lambda data, start, end: self._header_value.extend(
                    data[start:end]
                ),
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
            },
        )

    def feed(self, chunk: bytes) -> None:
        if self.broken or self._parser is None:
            return
        try:
            self._parser.write(chunk)
        except RequestRefused:
            raise
        except Exception:
            self.broken = True

    def _part_begin(self) -> None:
        self._disposition = b""
        self._field_name = ""
        self._is_file = False
        self._value.clear()

    def _header_end(self) -> None:
        if bytes(self._header_name).lower() == b"content-disposition":
            self._disposition = bytes(self._header_value)
        self._header_name.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        name = options.get(b"name", b"")
        if not bytes_ok(name):
            raise bad_text(("body",))
        self._field_name = name.decode("utf-8")
        if b"filename" in options:
            self._is_file = True
            self.files += 1
            if not bytes_ok(options[b"filename"]):
                raise bad_text(("body", self._field_name, "filename"))
            if self.files > self.max_files:
                if not self.max_files:
                    raise RequestRefused(
                        422,
                        "this route takes no files",
                        "此处不能上传文件",
                        ("body", self._field_name),
                    )
                raise RequestRefused(
                    422,
                    f"at most {self.max_files} files in one request",
                    f"一次最多上传 {self.max_files} 个文件",
                    ("body", self._field_name),
                )

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if not self._is_file and len(self._value) <= self.max_field_bytes:
            self._value.extend(data[start:end])

    def _part_end(self) -> None:
        if not self._is_file and not bytes_ok(bytes(self._value)):
            raise bad_text(("body", self._field_name))


# -- the middleware ------------------------------------------------------------------------------


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


def _content_type(scope: Scope) -> tuple[bytes, dict[bytes, bytes]]:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return parse_options_header(value)
    return b"", {}


def refusal(refused: RequestRefused, path: str) -> Response:
    """The answer: JSON for the API (a 422 in the published shape), a Chinese page for the
    console; the connection is closed (the rest of a refused body is never read)."""
    headers = {"Connection": "close"}
    if path.startswith("/api/") or path == "/openapi.json":
        if refused.status == 422:
            content: Any = {
                "detail": [{"loc": list(refused.loc), "msg": refused.en, "type": TEXT_ERROR}]
            }
        else:
            content = {"detail": refused.en}
        # ASCII escapes: the place named may itself hold the lone surrogate refused.
        return Response(json.dumps(content), refused.status, headers, "application/json")
    return HTMLResponse(
        f'<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>请求被拒绝'
        f"</title><p>{html.escape(refused.zh)}</p></html>",
        refused.status,
        headers,
    )


class RequestGuard:
    """ASGI middleware applying the size and text rules above to every HTTP request."""

    def __init__(self, app: ASGIApp, limits: Limits, is_upload: Callable[[Scope], bool]) -> None:
        self.app = app
        self.limits = limits
        self.is_upload = is_upload

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            await self._guard(scope, receive, send)
        except RequestRefused as refused:
            await refusal(refused, scope["path"])(scope, receive, send)

    async def _guard(self, scope: Scope, receive: Receive, send: Send) -> None:
        loc = target_problem(scope)
        if loc is not None:
            raise bad_text(loc)
        content_type, options = _content_type(scope)
        upload = content_type == b"multipart/form-data" and self.is_upload(scope)
        limit = self.limits.upload_max_bytes if upload else self.limits.body_max_bytes
        length = _content_length(scope)
        if length is not None and length > limit:
            raise too_large(limit)
        if content_type == b"multipart/form-data":
            await self._stream(
                scope,
                receive,
                send,
                limit,
                options.get(b"boundary", b""),
                self.limits.upload_max_files if upload else 0,
            )
        else:
            await self._buffered(scope, receive, send, limit, content_type)

    async def _buffered(
        self, scope: Scope, receive: Receive, send: Send, limit: int, content_type: bytes
    ) -> None:
        """Small bodies are read whole (as every route does), bounded, then checked."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before sending its body
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if content_type == b"application/x-www-form-urlencoded":
            if not percent_encoded_ok(body, plus_is_space=True):
                raise bad_text(("body",))
        elif body:
            loc = json_problem(body)
            if loc is not None:
                raise bad_text(loc)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _stream(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        limit: int,
        boundary: bytes,
        max_files: int,
    ) -> None:
        """Multipart bodies are checked as they stream to the route, never held here."""
        checker = (
            MultipartChecker(boundary, max_files, self.limits.body_max_bytes) if boundary else None
        )
        size = 0
        started = False

        async def counted() -> Message:
            nonlocal size
            message = await receive()
            if message["type"] == "http.request":
                chunk: bytes = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise too_large(limit)
                if checker is not None:
                    checker.feed(chunk)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except RequestRefused:
            if started:
                raise RuntimeError("request refused after its answer had started") from None
            raise
