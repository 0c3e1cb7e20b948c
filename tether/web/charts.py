"""Charts as inline SVG, drawn on the server: no chart library, nothing from the internet.

Every mark that stands for a figure is a link to the drill-down behind it, reachable
with the keyboard (Tab) and named for screen readers ("FY2025-Q1: $1.2M, open the
renewals behind it"); pages put the same figures in a table beside each chart.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Sequence

from markupsafe import Markup, escape

WIDTH = 440


@dataclasses.dataclass(frozen=True)
class Mark:
    label: str
    value: float | None
    text: str                 # the value as the page prints it
    url: str | None = None    # the drill-down behind it


def _number(value) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(Decimal(str(value)))
    except (ArithmeticError, ValueError):
        return None


def mark(label: str, value, text: str, url: str | None = None) -> Mark:
    return Mark(str(label), _number(value), text, url)


def _linked(mark: Mark, inner: str, action: str) -> str:
    if not mark.url:
        return f"<g>{inner}<title>{escape(mark.label)}: {escape(mark.text)}</title></g>"
    name = f"{mark.label}: {mark.text}, {action}"
    return (f'<a href="{escape(mark.url)}" aria-label="{escape(name)}">'
            f"<title>{escape(name)}</title>{inner}</a>")


def _clip(text: str, size: int) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


def bar_chart(marks: Sequence[Mark], *, title: str, action: str = "open the renewals behind it") -> Markup:
    """Horizontal bars, one per group (breakdowns)."""
    if not marks:
        return Markup("")
    row, label_w, value_w = 28, 120, 64
    plot_w = WIDTH - label_w - value_w - 10
    height = row * len(marks) + 10
    values = [m.value for m in marks if m.value is not None]
    top = max([abs(v) for v in values] + [0.0]) or 1.0
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="group" aria-label="{escape(title)}" '
             f'xmlns="http://www.w3.org/2000/svg">',
             f'<line class="axis" x1="{label_w}" y1="4" x2="{label_w}" y2="{height - 4}"/>']
    for index, item in enumerate(marks):
        y = 6 + index * row
        width = 0.0 if item.value is None else max(1.5, abs(item.value) / top * plot_w)
        bar = (f'<rect class="bar" x="{label_w}" y="{y}" width="{width:.1f}" height="{row - 8}" rx="2"/>'
               f'<text x="{label_w - 6}" y="{y + row / 2}" text-anchor="end">{escape(_clip(item.label, 18))}</text>'
               f'<text x="{label_w + width + 6:.1f}" y="{y + row / 2}">{escape(item.text)}</text>')
        parts.append(_linked(item, bar, action))
    parts.append("</svg>")
    return Markup("".join(parts))


def column_chart(marks: Sequence[Mark], *, title: str, action: str = "open the renewals behind it") -> Markup:
    """Vertical columns, one per period (time series)."""
    if not marks:
        return Markup("")
    height, bottom, top_pad, left = 200, 34, 22, 6
    plot_h = height - bottom - top_pad
    slot = (WIDTH - 2 * left) / len(marks)
    values = [m.value for m in marks if m.value is not None]
    top = max([abs(v) for v in values] + [0.0]) or 1.0
    base_y = height - bottom
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="group" aria-label="{escape(title)}" '
             f'xmlns="http://www.w3.org/2000/svg">',
             f'<line class="axis" x1="{left}" y1="{base_y}" x2="{WIDTH - left}" y2="{base_y}"/>']
    for index, item in enumerate(marks):
        x = left + index * slot + slot * 0.15
        w = slot * 0.7
        h = 0.0 if item.value is None else max(1.5, abs(item.value) / top * plot_h)
        column = (f'<rect class="bar" x="{x:.1f}" y="{base_y - h:.1f}" width="{w:.1f}" height="{h:.1f}" rx="2"/>'
                  f'<text x="{x + w / 2:.1f}" y="{base_y - h - 6:.1f}" text-anchor="middle">{escape(item.text)}</text>'
                  f'<text class="muted" x="{x + w / 2:.1f}" y="{base_y + 16}" text-anchor="middle">'
                  f"{escape(_clip(item.label, 12))}</text>")
        parts.append(_linked(item, column, action))
    parts.append("</svg>")
    return Markup("".join(parts))


def trend_chart(marks: Sequence[Mark], *, title: str, low: float = 0.0, high: float = 100.0) -> Markup:
    """A line over time (health score history), oldest left."""
    points = [m for m in marks if m.value is not None]
    if not points:
        return Markup("")
    height, left, right, top_pad, bottom = 160, 30, 10, 12, 26
    plot_w, plot_h = WIDTH - left - right, height - top_pad - bottom
    span = (high - low) or 1.0

    def xy(index: int, value: float) -> tuple[float, float]:
        x = left + (plot_w * index / (len(points) - 1) if len(points) > 1 else plot_w / 2)
        y = top_pad + plot_h * (1 - (min(max(value, low), high) - low) / span)
        return x, y

    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}" '
             f'xmlns="http://www.w3.org/2000/svg">']
    for tick in (low, low + span / 2, high):
        _, y = xy(0, tick)
        parts.append(f'<line class="grid" x1="{left}" y1="{y:.1f}" x2="{WIDTH - right}" y2="{y:.1f}"/>'
                     f'<text class="muted" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick:.0f}</text>')
    coords = [xy(i, p.value) for i, p in enumerate(points)]
    parts.append('<polyline class="line" points="' + " ".join(f"{x:.1f},{y:.1f}" for x, y in coords) + '"/>')
    for (x, y), item in zip(coords, points):
        parts.append(f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="4">'
                     f"<title>{escape(item.label)}: {escape(item.text)}</title></circle>")
    parts.append(f'<text class="muted" x="{left}" y="{height - 8}">{escape(points[0].label)}</text>'
                 f'<text class="muted" x="{WIDTH - right}" y="{height - 8}" text-anchor="end">'
                 f"{escape(points[-1].label)}</text></svg>")
    return Markup("".join(parts))
