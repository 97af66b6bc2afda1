"""Geometry for the report's inline SVG charts: numbers only, so the template stays the one
place that writes markup (and escapes it).

A chart is PLOT_WIDTH × PLOT_HEIGHT units of plot, drawn at (PLOT_LEFT, PLOT_TOP) inside a
600 × 180 view box: room on the left for the value axis, below for the hours."""

from __future__ import annotations

import math
from dataclasses import dataclass

PLOT_LEFT, PLOT_TOP, PLOT_WIDTH, PLOT_HEIGHT = 40.0, 8.0, 556.0, 150.0


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: float


@dataclass(frozen=True)
class Tick:
    y: float  # in the view box
    label: str


def axis_top(values: list[float | None]) -> tuple[float, float]:
    """The value axis' top and step: round numbers (1, 2 or 5 × 10ⁿ, whole), at most five
    steps, the top at or above the largest value; (1, 1) when nothing is above 0."""
    top = max((float(v or 0) for v in values), default=0.0)
    if top <= 0:
        return 1.0, 1.0
    raw = top / 5
    magnitude = 10 ** math.floor(math.log10(raw))
    step = max(1.0, next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw))
    return step * math.ceil(top / step), step


def ticks(values: list[float | None]) -> list[Tick]:
    """Gridlines of the value axis, from 0 to its top."""
    top, step = axis_top(values)
    return [Tick(y=round(_y(n * step, top), 2), label=f"{n * step:,.0f}")
            for n in range(round(top / step) + 1)]


def hour_x(hour: int, count: int = 24, centred: bool = True) -> float:
    """Where hour `hour` of `count` sits along the plot: its bar's middle, or its point on
    the line (`centred=False`, the first hour at the left edge, the last at the right)."""
    if centred:
        return round(PLOT_LEFT + (hour + 0.5) * PLOT_WIDTH / count, 2)
    return round(PLOT_LEFT + hour * PLOT_WIDTH / max(count - 1, 1), 2)


def bars(values: list[float | None], labels: list[str], gap: float = 2.0) -> list[Bar]:
    """One bar per value against the value axis; None counts as 0."""
    clean = [float(v or 0) for v in values]
    top, _ = axis_top(clean)
    step = PLOT_WIDTH / max(len(clean), 1)
    return [Bar(x=round(PLOT_LEFT + i * step + gap / 2, 2), y=round(_y(v, top), 2),
                width=round(step - gap, 2), height=round(v / top * PLOT_HEIGHT, 2), label=lab, value=v)
            for i, (v, lab) in enumerate(zip(clean, labels, strict=True))]


def polyline(values: list[float | None]) -> str:
    """SVG polyline points for a line chart against the value axis; None counts as 0."""
    clean = [float(v or 0) for v in values]
    top, _ = axis_top(clean)
    return " ".join(f"{hour_x(i, len(clean), centred=False)},{round(_y(v, top), 2)}"
                    for i, v in enumerate(clean))


def _y(value: float, top: float) -> float:
    return PLOT_TOP + PLOT_HEIGHT - value / top * PLOT_HEIGHT
