"""A line chart of numeric SenML values over time, drawn as inline SVG on the server."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from html import escape
from typing import Any, Final

WIDTH: Final = 640
HEIGHT: Final = 240
PAD_LEFT: Final = 56
PAD: Final = 16
COLOURS: Final = ("#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#bf3989")
#: Most series drawn (the rest are left out of the chart, not of the table).
MAX_SERIES: Final = len(COLOURS)


def series(messages: Iterable[Mapping[str, Any]]) -> dict[str, list[tuple[float, float]]]:
    """``name -> [(time, value), ...]`` of the messages with a numeric ``value``, by time."""
    found: dict[str, list[tuple[float, float]]] = {}
    for message in messages:
        value, moment = message.get("value"), message.get("time")
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if isinstance(moment, bool) or not isinstance(moment, int | float):
            continue
        if not (math.isfinite(value) and math.isfinite(moment)):
            continue
        name = str(message.get("name") or "value")
        if name not in found and len(found) == MAX_SERIES:
            continue
        found.setdefault(name, []).append((float(moment), float(value)))
    for points in found.values():
        points.sort()
    return found


def _label(value: float) -> str:
    return f"{value:.6g}"


def _clock(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%H:%M:%S")


def svg(data: Mapping[str, list[tuple[float, float]]]) -> str:
    """The chart's SVG markup (empty when there is nothing numeric to draw)."""
    points = [p for line in data.values() for p in line]
    if not points:
        return ""
    t0, t1 = min(p[0] for p in points), max(p[0] for p in points)
    v0, v1 = min(p[1] for p in points), max(p[1] for p in points)
    if t1 == t0:
        t0, t1 = t0 - 1, t1 + 1
    if v1 == v0:
        v0, v1 = v0 - 1, v1 + 1
    inner_w, inner_h = WIDTH - PAD_LEFT - PAD, HEIGHT - 2 * PAD - 16

    def x(t: float) -> float:
        return PAD_LEFT + (t - t0) / (t1 - t0) * inner_w

    def y(v: float) -> float:
        return PAD + (v1 - v) / (v1 - v0) * inner_h

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="numeric values over time" xmlns="http://www.w3.org/2000/svg">',
        f'<line x1="{PAD_LEFT}" y1="{PAD}" x2="{PAD_LEFT}" y2="{PAD + inner_h}" class="axis"/>',
        f'<line x1="{PAD_LEFT}" y1="{PAD + inner_h}" x2="{WIDTH - PAD}" y2="{PAD + inner_h}" '
        'class="axis"/>',
        f'<text x="{PAD_LEFT - 4}" y="{PAD + 4}" text-anchor="end">{_label(v1)}</text>',
        f'<text x="{PAD_LEFT - 4}" y="{PAD + inner_h}" text-anchor="end">{_label(v0)}</text>',
        f'<text x="{PAD_LEFT}" y="{HEIGHT - 4}">{_clock(t0)}</text>',
        f'<text x="{WIDTH - PAD}" y="{HEIGHT - 4}" text-anchor="end">{_clock(t1)} UTC</text>',
    ]
    for index, (name, line) in enumerate(data.items()):
        colour = COLOURS[index % len(COLOURS)]
        coords = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in line)
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{coords}">'
            f"<title>{escape(name)}</title></polyline>"
        )
        for t, v in line:
            parts.append(
                f'<circle cx="{x(t):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}" '
                f'data-series="{escape(name)}"><title>{escape(name)} {_label(v)} at '
                f"{_clock(t)}</title></circle>"
            )
        parts.append(
            f'<text x="{PAD_LEFT + 8 + 110 * index}" y="{PAD + 12}" fill="{colour}">'
            f"{escape(name[:16])}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
