"""Small charts drawn as SVG on the server: the back-office pages need no script and no
CDN, print and screenshot as they look, and stay readable without JavaScript."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

WIDTH, HEIGHT = 640, 200
_LEFT, _RIGHT, _TOP, _BOTTOM = 48, 12, 12, 28
_COLOURS = ("#417690", "#e0a030", "#79aec8", "#c0504d")


@dataclass
class Series:
    """One coloured series: a value per day, in the same order as the chart's days."""

    label: str
    values: Sequence[float | None]  # None: no bar that day (nothing to measure)


def _nice_max(value: float) -> float:
    """A round upper bound for the axis (1, 2, 2.5 or 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    base = 10 ** math.floor(math.log10(value))
    return next(step * base for step in (1, 2, 2.5, 5, 10) if value <= step * base)


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:.2g}"


def bar_chart(
    days: Sequence[dt.date], series: Sequence[Series], *, title: str, limit: float | None = None
) -> SafeString:
    """Grouped bars, one group per day; ``limit`` draws a dashed line (a budget).
    Numbers are written by this function and every text is escaped."""
    plot_w = WIDTH - _LEFT - _RIGHT
    plot_h = HEIGHT - _TOP - _BOTTOM
    top = _nice_max(max([*(v for s in series for v in s.values if v is not None), limit or 0, 0]))
    n = max(1, len(days))
    group_w = plot_w / n
    bar_w = max(1.0, group_w * 0.8 / max(1, len(series)))
    label = escape(title)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
        f'aria-label="{label}" class="chart"><title>{label}</title>'
    ]
    for i in range(5):  # horizontal grid with its labels
        y = _TOP + plot_h - plot_h * i / 4
        parts.append(
            f'<line x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e5e5"/>'
            f'<text x="{_LEFT - 4}" y="{y + 3:.1f}" font-size="10" text-anchor="end" fill="#666">'
            f"{_fmt(top * i / 4)}</text>"
        )
    for d_index, day in enumerate(days):
        x0 = _LEFT + group_w * d_index + group_w * 0.1
        for s_index, s in enumerate(series):
            value = s.values[d_index] if d_index < len(s.values) else 0
            if value is None:
                continue
            h = plot_h * value / top
            colour = _COLOURS[s_index % len(_COLOURS)]
            parts.append(
                f'<rect x="{x0 + bar_w * s_index:.1f}" y="{_TOP + plot_h - h:.1f}" width="{bar_w:.1f}" '
                f'height="{h:.1f}" fill="{colour}"><title>{day.isoformat()} {escape(s.label)}: {_fmt(value)}'
                "</title></rect>"
            )
        if n <= 12 or d_index % max(1, n // 8) == 0:  # day labels, thinned on long ranges
            parts.append(
                f'<text x="{x0 + group_w * 0.4:.1f}" y="{HEIGHT - 10}" font-size="10" text-anchor="middle" '
                f'fill="#666">{day.strftime("%d %b")}</text>'
            )
    if limit:
        y = _TOP + plot_h - plot_h * limit / top
        limit_label = escape(_("budget"))
        parts.append(
            f'<line x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#c0504d" '
            f'stroke-dasharray="6 4"/><text x="{_LEFT + 4}" y="{y - 3:.1f}" font-size="10" '
            f'fill="#c0504d">{limit_label} {_fmt(limit)}</text>'
        )
    legend_x = _LEFT
    for s_index, s in enumerate(series):
        parts.append(
            f'<rect x="{legend_x}" y="2" width="9" height="9" fill="{_COLOURS[s_index % len(_COLOURS)]}"/>'
            f'<text x="{legend_x + 12}" y="10" font-size="10">{escape(s.label)}</text>'
        )
        legend_x += 20 + 7 * len(s.label)
    parts.append("</svg>")
    return mark_safe("".join(parts))  # built above from numbers and escaped text only
