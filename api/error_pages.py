"""Errors as people see them. A request from a page of the console (any path outside
``/api/``, or a browser asking for HTML) gets a Chinese page with the console's navigation,
a plain message and a way back; the JSON API keeps its English JSON. The app's exception
handlers (``api.app``) ask :func:`wants_page` and answer with :func:`page` or :func:`json`.

The routes raise their errors in English (``HTTPException(404, "case not found")``); the
Chinese words for those details are here, so that both answers come from one raise."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import iter_route_contexts
from jinja2 import Template
from starlette.routing import Match

from accounts.models import Role
from api.auth import Login, NotLoggedIn, current_login
from api.pages import render, templates

log = logging.getLogger(__name__)

# Paths outside /api/ that answer programs, not people.
PROGRAM_PATHS = frozenset({"/openapi.json", "/healthz"})

TITLES = {
    400: "请求有误",
    403: "没有权限",
    404: "找不到页面",
    405: "不能直接打开此地址",
    409: "暂时不能办理",
    413: "提交的内容过大",
    422: "提交的内容有误",
    500: "系统出错",
}
GENERIC = {
    400: "请求的格式不正确，请返回上一页重新操作。",
    403: "您的账号没有进行此操作的权限。如确需办理，请联系督查员或系统管理员。",
    404: "您要找的页面或记录不存在：可能地址有误，或记录已被删除。",
    405: "此地址只接受表单提交，不能直接打开（例如在提交后刷新了页面）。请返回上一页重新操作。",
    409: "案件当前的状态不允许此操作，请刷新页面查看最新状态。",
    413: "提交的内容超过了系统允许的大小。",
    422: "提交的内容不符合要求，请返回上一页修改后重试。",
    500: "系统内部出错，本次操作可能没有完成。请稍后重试；如仍出错，请联系系统管理员。",
}
# The English details the routes raise, in the console's words.
DETAILS_ZH = {
    "your role may not do this": GENERIC[403],
    "only a supervisor may do this": "只有督查员（分管领导）可以进行此操作。",
    "missing or wrong CSRF token": "页面已过期：您可能已在其他窗口重新登录，或登录已超时。"
    "本次提交没有保存，请返回上一页，刷新后重新提交。",
    "your account belongs to no unit": "您的账号尚未加入任何承办单位，"
    "请联系督查员将您加入所属单位。",
    "case not found": "找不到该案件：编号或地址可能有误。",
    "call not found": "找不到该来电记录。",
    "knowledge entry not found": "找不到该知识库条目。",
    "callback request not found": "找不到该回拨请求。",
    "attachment not found": "找不到该附件。",
    "no such category": "派单目录中没有该类别。",
    "no such step": "没有这一办理步骤。",
    "Not Found": GENERIC[404],
    "Method Not Allowed": GENERIC[405],
}
# Where a person may go back to, by the start of the path they were on.
SECTIONS = [
    ("/cases", "案件列表", (Role.OPERATOR, Role.SUPERVISOR)),
    ("/calls", "来电记录", (Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN)),
    ("/knowledge", "知识库", (Role.OPERATOR, Role.SUPERVISOR)),
    ("/unit", "本单位案件", (Role.UNIT_HANDLER,)),
    ("/units", "单位与派单目录", (Role.SUPERVISOR,)),
    ("/supervision", "督办", (Role.SUPERVISOR,)),
    ("/evidence", "调听与证据", (Role.SUPERVISOR, Role.INVESTIGATOR)),
    ("/audit", "调听审计", (Role.AUDITOR,)),
    ("/callbacks", "漏接回拨", (Role.OPERATOR, Role.SUPERVISOR)),
    ("/users", "用户管理", (Role.ADMIN,)),
]
# The frame of the page for someone not logged in: no navigation, a way to log in.
PLAIN_FRAME = Template(
    '<!doctype html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
    "<title>{% block title %}{% endblock %} - 热线受理系统</title>\n"
    '<link rel="stylesheet" href="/static/console.css">\n</head>\n<body>\n'
    "<main>{% block content %}{% endblock %}</main>\n</body>\n</html>\n"
)


@dataclass(frozen=True)
class Way:
    href: str
    label: str


def wants_page(request: Request) -> bool:
    """A person's browser expects a page: every path of the console outside the API, and an
    API address opened in the browser (a download link); programs keep JSON."""
    path = request.url.path
    if path.startswith(("/api/", "/static/")) or path in PROGRAM_PATHS:
        return "text/html" in request.headers.get("accept", "")
    return True


def message_zh(status: int, detail: object) -> str:
    """The Chinese message for an error raised in English (a generic one for its status)."""
    if isinstance(detail, str) and detail in DETAILS_ZH:
        return DETAILS_ZH[detail]
    return GENERIC.get(status, GENERIC[500] if status >= 500 else GENERIC[400])


def json(status: int, detail: object, headers: dict[str, str] | None = None) -> JSONResponse:
    """The API's answer, as it always was: ``{"detail": ...}`` in English. A 422 has the
    shape of every validation error (a list of problems) even when a route names only one."""
    if status == 422 and isinstance(detail, str):
        detail = [{"loc": ["query"], "msg": detail, "type": "value_error"}]
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def _login(request: Request) -> Login | None:
    """Who is asking, if anyone is logged in (an error page never asks to log in)."""
    try:
        with request.app.state.sessions() as session:
            return current_login(request, session)
    except NotLoggedIn:
        return None


def _gets(request: Request, path: str) -> bool:
    """Whether some route answers GET at ``path``."""
    scope = {**request.scope, "path": path, "method": "GET"}
    for route in iter_route_contexts(request.app.router.routes):
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return True
    return False


def ways_back(request: Request, login: Login | None, status: int) -> list[Way]:
    """Links out of the error: the nearest page above the address that answers (the case
    after a refused step on it, the list after a case that is not there), then home."""
    if login is None:
        return [Way("/login", "前往登录")]
    path = request.url.path.rstrip("/") or "/"
    parts = path.split("/")
    # The address itself, when only the step was refused (a GET that failed is not offered).
    start = len(parts) if request.method != "GET" and status not in (404, 405) else len(parts) - 1
    ways: list[Way] = []
    for end in range(start, 1, -1):
        candidate = "/".join(parts[:end])
        if not _gets(request, candidate):
            continue
        section = next((s for s in SECTIONS if s[0] == candidate), None)
        if section is None:
            ways.append(Way(candidate, "返回上一页面"))
            break
        if login.role in section[2]:
            ways.append(Way(candidate, f"返回{section[1]}"))
            break
    ways.append(Way("/", "返回首页"))
    return ways


def page(
    request: Request,
    status: int,
    message: str,
    items: list[str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The Chinese error page: the navigation of whoever is logged in (none otherwise), the
    message, the list of what was wrong (``items``), and ways back."""
    context = {
        "status": status,
        "title": TITLES.get(status, TITLES[500] if status >= 500 else TITLES[400]),
        "message": message,
        "items": items or [],
    }
    try:
        login = _login(request)
        context["ways"] = ways_back(request, login, status)
        if login is not None:
            response: Response = render(
                request,
                "error.html",
                login,
                request.app.state.settings,
                status_code=status,
                frame="base.html",
                **context,
            )
        else:
            response = templates.TemplateResponse(
                request, "error.html", {**context, "frame": PLAIN_FRAME}, status_code=status
            )
    except Exception:  # the database may be what failed: the page still says what happened
        log.exception("error page for %s %s", request.method, request.url.path)
        response = templates.TemplateResponse(
            request,
            "error.html",
            {**context, "frame": PLAIN_FRAME, "ways": [Way("/", "返回首页")]},
            status_code=status,
        )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def answer(
    request: Request,
    status: int,
    detail: object,
    zh: str | None = None,
    items: list[str] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """One error, answered as the asker expects: the page (``zh``, or the Chinese of
    ``detail``) or the API's JSON (``detail``)."""
    if wants_page(request):
        return page(request, status, zh or message_zh(status, detail), items, headers)
    return json(status, detail, headers)
