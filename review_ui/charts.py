"""The geometry of a line chart of shares over time, drawn as server-side SVG by ``_line_chart.html``.

The metrics page draws the loop measures of each bucket of a period (a day, a
week or a month of ``received_at``): shares from 0 to 100 %, one line per
measure. A bucket with no referral (or none the measure counts) has no value,
so its line breaks there rather than falling to zero: a quiet week is not a
failed one. As with the waterfall (``waterfall.py``), this module only computes
numbers (pure, tested on its own) and the template only draws them: no chart
library, no script. The chart names itself in ``<title>``, says what it shows in
``<desc>`` (latest value and range of each line), tells lines apart by dash as
well as colour, and the page carries the same numbers as a table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

LEFT = 48
RIGHT = 16
TOP = 14
BOTTOM = 30
#: At most this many dates are written under the x axis (every k-th bucket).
MAX_X_LABELS = 8
#: The y axis: 0 to 100 %, a grid line every 25 %.
Y_TICKS = (0.0, 0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class Point:
    """One bucket's value of one line, where it is drawn."""

    x: float
    y: float
    value: float
    tooltip: str


@dataclass(frozen=True)
class Line:
    """One measure over the period: its points, and the runs of adjacent buckets joined by a line."""

    key: str
    name: str
    style: str  # the CSS class telling it apart (colour and dash): s1, s2, ...
    points: tuple[Point, ...]
    segments: tuple[str, ...]  # each an SVG ``points`` attribute: "x,y x,y ..."
    summary: str


@dataclass(frozen=True)
class LineChart:
    title: str
    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    y_ticks: tuple[tuple[float, str], ...]
    x_ticks: tuple[tuple[float, str], ...]
    lines: tuple[Line, ...]
    summary: str

    @property
    def empty(self) -> bool:
        """Whether no line has a single value (nothing received, or nothing counted)."""
        return not any(line.points for line in self.lines)


def percent(value: float | None) -> str:
    """A share as a reader sees it: 87 %, or an en dash when there is none."""
    return "–" if value is None else f"{value * 100:.0f} %"


def bucket_label(start: date, interval: str) -> str:
    """How a bucket is named: its month (Nov 2026), or its first day (23 Nov, the week's Monday for a week)."""
    if interval == "month":
        return start.strftime("%b %Y")
    return f"{start.day} {start.strftime('%b')}"


def _bucket_name(start: date, interval: str) -> str:
    if interval == "week":
        return f"week of {bucket_label(start, interval)} {start.year}"
    return bucket_label(start, interval) + ("" if interval == "month" else f" {start.year}")


def build(series: Sequence[Mapping[str, Any]], measures: Sequence[tuple[str, str]], title: str, interval: str,
          width: int = 640, height: int = 240) -> LineChart:
    """Lay out one line per measure over the series' buckets.

    Args:
        series: one entry per bucket, oldest first, each with ``period_start`` (a date) and each
            measure's share (0-1, or None when the bucket has nothing to count).
        measures: (key in the entries, name a reader sees), one line each, in legend order.
        title: the chart's title (its ``<title>``).
        interval: day, week or month: how the buckets are named.
        width, height: the SVG's size in pixels (it scales down with the page).
    """
    left, right, top, bottom = LEFT, width - RIGHT, TOP, height - BOTTOM
    n = len(series)

    def x_of(i: int) -> float:
        return round(left + (right - left) * (0.5 if n == 1 else i / (n - 1)), 2)

    def y_of(value: float) -> float:
        return round(bottom - (bottom - top) * min(max(value, 0.0), 1.0), 2)

    lines = []
    for number, (key, name) in enumerate(measures, start=1):
        points: list[Point] = []
        segments: list[str] = []
        run: list[str] = []
        for i, entry in enumerate(series):
            value = entry.get(key)
            if value is None:
                if len(run) > 1:
                    segments.append(" ".join(run))
                run = []
                continue
            point = Point(x_of(i), y_of(value), float(value),
                          f"{name}, {_bucket_name(entry['period_start'], interval)}: {percent(value)}")
            points.append(point)
            run.append(f"{point.x},{point.y}")
        if len(run) > 1:
            segments.append(" ".join(run))
        lines.append(Line(key=key, name=name, style=f"s{number}", points=tuple(points), segments=tuple(segments),
                          summary=_line_summary(name, points, series, key, interval)))
    step = max(1, -(-n // MAX_X_LABELS))
    x_ticks = tuple((x_of(i), bucket_label(series[i]["period_start"], interval)) for i in range(0, n, step))
    y_ticks = tuple((y_of(v), f"{v * 100:.0f}%") for v in Y_TICKS)
    if n:
        span = (f"{_bucket_name(series[0]['period_start'], interval)} to "
                f"{_bucket_name(series[-1]['period_start'], interval)}, by {interval}")
    else:
        span = "no period"
    summary = f"{title}, {span}. " + " ".join(line.summary for line in lines)
    return LineChart(title=title, width=width, height=height, left=left, right=right, top=top, bottom=bottom,
                     y_ticks=y_ticks, x_ticks=x_ticks, lines=tuple(lines), summary=summary)


def _line_summary(name: str, points: list[Point], series: Sequence[Mapping[str, Any]], key: str,
                  interval: str) -> str:
    """What a reader of the line would take from it: its latest value and its range."""
    if not points:
        return f"{name}: no value in the period."
    latest = next(e for e in reversed(series) if e.get(key) is not None)
    low, high = min(p.value for p in points), max(p.value for p in points)
    spread = (f"at {percent(low)} throughout" if percent(low) == percent(high)
              else f"between {percent(low)} and {percent(high)}")
    return (f"{name}: {percent(latest[key])} in the latest {interval} with a value "
            f"({_bucket_name(latest['period_start'], interval)}); {spread}.")
