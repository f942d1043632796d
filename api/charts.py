"""Charts drawn on the server as SVG (no script, no CDN): horizontal bars (a rate or a count
per unit or category, with a target line) and lines over time (the daily trend). Every
mark carries its value on hover (``<title>``) and, where given, links to the cases behind
it. Colours and fonts come from ``static/reports.css`` by class, so the console's content
security policy (no inline styles) holds. Pure: data in, markup out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

WIDTH = 640  # the line chart's
BARS_WIDTH = 420
_LABEL = 110  # the bars' label column
_VALUE = 56  # the value at the end of a bar
_BAR = 18
_GAP = 8
_PAD = 10


def _n(value: float) -> str:
    """A coordinate: short, no trailing zeros."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None  # None: nothing to show (a rate with no denominator)
    text: str  # the value as the page shows it
    href: str = ""
    title: str = ""  # more words on hover (e.g. 12/14 件)


def _clip(label: str, size: int = 8) -> str:
    return label if len(label) <= size else label[: size - 1] + "…"


def bars(
    items: Sequence[Bar],
    title: str,
    *,
    percent: bool = False,
    target: float | None = None,
    target_label: str = "",
    css: str = "",
) -> Markup:
    """Horizontal bars, one per item, scaled to 100 % (``percent``) or to the largest value;
    an optional vertical ``target`` line (e.g. the red-list threshold)."""
    if not items:
        return Markup('<p class="chart-empty">{}：暂无数据</p>').format(title)
    top = 1.0 if percent else max((item.value or 0.0) for item in items) or 1.0
    span = BARS_WIDTH - _LABEL - _VALUE - _PAD
    height = _PAD * 2 + len(items) * (_BAR + _GAP) + (16 if target is not None else 0)
    parts = [
        Markup(
            '<svg class="chart bars {css}" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
            'role="img" aria-label="{title}" xmlns="http://www.w3.org/2000/svg">'
            "<title>{title}</title>"
        ).format(css=css, w=BARS_WIDTH, h=height, title=title)
    ]
    for index, item in enumerate(items):
        y = _PAD + index * (_BAR + _GAP)
        length = 0.0 if item.value is None else max(item.value, 0.0) / top * span
        hover = f"{item.label}：{item.text}" + (f"（{item.title}）" if item.title else "")
        mark = Markup(
            '<g class="bar{missing}"><title>{hover}</title>'
            '<text class="label" x="{lx}" y="{ty}" text-anchor="end" font-size="12">{label}</text>'
            '<rect x="{x}" y="{y}" width="{len}" height="{h}" rx="2"></rect>'
            '<text class="value" x="{vx}" y="{ty}" font-size="12">{text}</text></g>'
        ).format(
            missing=" missing" if item.value is None else "",
            hover=hover,
            lx=_LABEL - 6,
            ty=_n(y + _BAR - 4),
            label=_clip(item.label),
            x=_LABEL,
            y=y,
            len=_n(length),
            h=_BAR,
            vx=_n(_LABEL + length + 4),
            text=item.text,
        )
        if item.href:
            mark = Markup('<a href="{}">{}</a>').format(item.href, mark)
        parts.append(mark)
    if target is not None:
        x = _LABEL + min(max(target, 0.0), top) / top * span
        bottom = _PAD + len(items) * (_BAR + _GAP)
        parts.append(
            Markup(
                '<g class="target"><line x1="{x}" y1="{top}" x2="{x}" y2="{bottom}"></line>'
                '<text x="{x}" y="{ty}" text-anchor="middle" font-size="11">{label}</text></g>'
            ).format(x=_n(x), top=_PAD - 4, bottom=bottom, ty=bottom + 12, label=target_label or "")
        )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    css: str  # the line's class: its colour (reports.css: series-1, series-2…)
    hrefs: Sequence[str] = ()  # a link per point (the cases or calls behind it)


_HEIGHT = 240
_LEFT = 44
_BOTTOM = 34
_TOP = 26


def nice_top(value: float) -> float:
    """The axis' top: 1, 2 or 5 times a power of ten, at least ``value`` (1 for 0)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)  # pragma: no cover - the loop always returns


def line(labels: Sequence[str], series: Sequence[Series], title: str) -> Markup:
    """Lines over the points ``labels`` (dates), one per series, on one count axis from 0;
    each point a dot with its value on hover; a legend above."""
    if not labels:
        return Markup('<p class="chart-empty">{}：暂无数据</p>').format(title)
    top = nice_top(max((v or 0.0) for s in series for v in s.values) if series else 0.0)
    right = WIDTH - _PAD
    bottom = _HEIGHT - _BOTTOM
    step = (right - _LEFT) / max(len(labels) - 1, 1)

    def x(index: int) -> float:
        return _LEFT + index * step if len(labels) > 1 else (_LEFT + right) / 2

    def y(value: float) -> float:
        return bottom - value / top * (bottom - _TOP)

    parts = [
        Markup(
            '<svg class="chart lines" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
            'aria-label="{title}" xmlns="http://www.w3.org/2000/svg"><title>{title}</title>'
        ).format(w=WIDTH, h=_HEIGHT, title=title)
    ]
    for fraction in (0.0, 0.5, 1.0):
        value = top * fraction
        parts.append(
            Markup(
                '<g class="grid"><line x1="{l}" y1="{y}" x2="{r}" y2="{y}"></line>'
                '<text x="{tx}" y="{ty}" text-anchor="end" font-size="11">{v}</text></g>'
            ).format(
                l=_LEFT, r=right, y=_n(y(value)), tx=_LEFT - 4, ty=_n(y(value) + 4), v=f"{value:g}"
            )
        )
    every = max(1, math.ceil(len(labels) / 8))
    last = len(labels) - 1
    for index, label in enumerate(labels):
        # The last point, and every ``every``-th one not crowding the last.
        if index == last or (index % every == 0 and last - index >= every / 2):
            parts.append(
                Markup(
                    '<text class="tick" x="{x}" y="{y}" text-anchor="{anchor}" font-size="11">'
                    "{label}</text>"
                ).format(
                    anchor="end" if index == last and index else "middle",
                    x=_n(x(index)),
                    y=bottom + 16,
                    label=label[5:] if len(label) == 10 else label,
                )
            )
    for number, one in enumerate(series):
        points = [(x(i), y(v)) for i, v in enumerate(one.values) if v is not None]
        if len(points) > 1:
            parts.append(
                Markup('<polyline class="series {css}" points="{points}"></polyline>').format(
                    css=one.css, points=" ".join(f"{_n(px)},{_n(py)}" for px, py in points)
                )
            )
        for index, amount in enumerate(one.values):
            if amount is None:
                continue
            dot = Markup(
                '<circle class="dot {css}" cx="{x}" cy="{y}" r="3"><title>{label} {name}：{v}'
                "</title></circle>"
            ).format(
                css=one.css,
                x=_n(x(index)),
                y=_n(y(amount)),
                label=labels[index],
                name=one.name,
                v=f"{amount:g}",
            )
            if index < len(one.hrefs) and one.hrefs[index]:
                dot = Markup('<a href="{}">{}</a>').format(one.hrefs[index], dot)
            parts.append(dot)
        legend_x = _LEFT + number * 120
        parts.append(
            Markup(
                '<g class="legend"><rect class="swatch {css}" x="{x}" y="6" width="12" '
                'height="12"></rect><text x="{tx}" y="16" font-size="12">{name}</text></g>'
            ).format(css=one.css, x=legend_x, tx=legend_x + 16, name=one.name)
        )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)
