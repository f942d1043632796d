"""A page's HTML as a PDF (WeasyPrint), for the print forms and the bulletins (issue 17).

The HTML is the page the browser prints (the same template, the same ``print.css``), so the
paper and the PDF agree. WeasyPrint reads nothing but our own static files: a stylesheet
or image the page names under ``/static/`` is read from ``api/static``; any other address
(another host, ``file:``, ``data:`` aside) is refused, so text typed into a case can never
make the server fetch something. Chinese text is set in WenQuanYi Micro Hei (Debian's
``fonts-wqy-microhei``), which ``print.css`` names first.

Rendering is CPU work (about a second for a few A4 pages): the routes call it from a
worker thread (sync route functions run in FastAPI's thread pool).
"""

from __future__ import annotations

import mimetypes
import urllib.parse
from pathlib import Path
from typing import Any

from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

STATIC = Path(__file__).parent / "static"
MEDIA_TYPE = "application/pdf"
# The address the page is rendered at: only its /static/ files are read, from the folder.
BASE_URL = "http://hotline.invalid/"
_HOST = urllib.parse.urlsplit(BASE_URL).netloc


class NotFetched(ValueError):
    """An address a PDF may not read."""


class StaticOnly(URLFetcher):  # type: ignore[misc]
    """Reads ``/static/…`` of the page's own address from ``api/static``; nothing else."""

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme == "data":
            return super().fetch(url, headers)
        if parts.netloc == _HOST and parts.path.startswith("/static/"):
            root = STATIC.resolve()
            path = (root / urllib.parse.unquote(parts.path.removeprefix("/static/"))).resolve()
            if path.is_relative_to(root) and path.is_file():
                kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": kind})
        raise NotFetched(f"a PDF reads only the console's static files, not {url}")


def render(html: str) -> bytes:
    """The page as PDF bytes."""
    document = HTML(string=html, base_url=BASE_URL, url_fetcher=StaticOnly())
    pdf: bytes = document.write_pdf()
    return pdf


def content_disposition(name: str, ascii_name: str) -> str:
    """``attachment`` with the Chinese name (RFC 6266/5987) and an ASCII one for old
    clients."""
    return (
        f'attachment; filename="{ascii_name}"; '
        f"filename*=UTF-8''{urllib.parse.quote(name, safe='')}"
    )
