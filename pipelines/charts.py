"""Geometry for the report's inline SVG charts: numbers only, so the template stays the one
place that writes markup (and escapes it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: float


def bars(values: list[float | None], labels: list[str], width: int = 600, height: int = 160,
         gap: float = 2.0) -> list[Bar]:
    """One bar per value, scaled to the largest; None counts as 0."""
    clean = [float(v or 0) for v in values]
    top = max(clean, default=0) or 1.0
    step = width / max(len(clean), 1)
    return [Bar(x=round(i * step + gap / 2, 2), y=round(height - v / top * height, 2),
                width=round(step - gap, 2), height=round(v / top * height, 2), label=lab, value=v)
            for i, (v, lab) in enumerate(zip(clean, labels, strict=True))]


def polyline(values: list[float | None], width: int = 600, height: int = 160) -> str:
    """SVG polyline points for a line chart scaled to the largest value."""
    clean = [float(v or 0) for v in values]
    top = max(clean, default=0) or 1.0
    step = width / max(len(clean) - 1, 1)
    return " ".join(f"{round(i * step, 2)},{round(height - v / top * height, 2)}" for i, v in enumerate(clean))
