"""The geometry of a match-weight waterfall, drawn as server-side SVG by ``_waterfall.html``.

A candidate's evidence is the prior and then one entry per comparison, each
with its weight (log2 Bayes factor) and the running total (``cumulative_weight``);
the last total is the candidate's match weight. A steward reads it as "where did
the weight come from": each comparison is a bar from the running total before it
to the total after it, green when it adds, red when it takes away, with the
policy's two thresholds drawn across. This module only computes numbers (pure,
tested on its own); the template only draws them, so no chart library and no
script is needed, and the page works with scripts and styles from nowhere else.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: How each comparison of ``mpi/comparisons.py`` is named to a steward.
COMPARISON_NAMES = {
    "prior": "Prior odds",
    "name_dob": "First name + birth date",
    "last_name": "Last name",
    "middle_name": "Middle name",
    "suffix": "Suffix",
    "sex": "Sex",
    "ssn_last4": "SSN last 4",
    "medicaid_id": "Medicaid id",
    "email": "Email",
    "contact": "Phone + address",
}

LABEL_WIDTH = 200
VALUE_WIDTH = 50
ROW_HEIGHT = 30
TOP = 34
BOTTOM = 26
#: Characters of a level label on one line of the label column; a longer label wraps onto more lines (its
#: row grows by LINE_HEIGHT each), so a label is always shown whole.
LABEL_CHARS = 30
LINE_HEIGHT = 12


def wrap(text: str, width: int = LABEL_CHARS) -> tuple[str, ...]:
    """``text`` in lines of at most ``width`` characters, broken at spaces (a longer word on its own line,
    cut only if it alone is longer than a line)."""
    lines: list[str] = []
    for word in text.split():
        while len(word) > width:
            lines.append(word[:width])
            word = word[width:]
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return tuple(lines)


@dataclass(frozen=True)
class Bar:
    """One row of the waterfall: a comparison's step (or the prior, or the total)."""

    name: str
    detail: tuple[str, ...]  # the level's label, wrapped
    weight: float
    start: float
    end: float
    kind: str  # "prior", "up", "down", "zero" or "total"
    x: float
    width: float
    y: float
    end_x: float
    tooltip: str
    height: float = ROW_HEIGHT

    @property
    def value_text(self) -> str:
        if self.kind in ("prior", "total"):
            return f"{self.end:.1f}"
        return f"{self.weight:+.1f}"


@dataclass(frozen=True)
class Line:
    """A vertical line across the chart: zero, or one of the policy's thresholds."""

    x: float
    label: str
    kind: str  # "zero", "upper", "lower"
    label_x: float = 0.0
    label_y: float = 0.0
    anchor: str = "start"


@dataclass(frozen=True)
class Waterfall:
    width: int
    height: int
    bars: tuple[Bar, ...]
    ticks: tuple[tuple[float, str], ...]
    lines: tuple[Line, ...]
    total: float
    chart_left: float
    chart_right: float
    row_height: int
    summary: str


def _tick_step(span: float) -> float:
    for step in (1, 2, 5, 10, 20, 50):
        if span / step <= 8:
            return step
    return 100


def build(evidence: Sequence[Mapping[str, Any]], upper: float | None = None, lower: float | None = None,
          width: int = 520) -> Waterfall:
    """Lay out a waterfall for one candidate's evidence.

    Args:
        evidence: the candidate's evidence list, prior first (each entry has
            ``comparison``, ``label``, ``weight`` and ``cumulative_weight``).
        upper: the policy's upper (auto-link) threshold, drawn as a line if given.
        lower: the policy's lower (new person) threshold, drawn as a line if given.
        width: the SVG's width in pixels (it scales down with the page).
    """
    steps = []
    for entry in evidence:
        weight = float(entry.get("weight") or 0.0)
        end = float(entry.get("cumulative_weight", weight))
        steps.append((entry, end - weight if entry.get("comparison") != "prior" else 0.0, end, weight))
    total = steps[-1][2] if steps else 0.0
    values = [0.0, total] + [v for _, start, end, _ in steps for v in (start, end)]
    values += [t for t in (upper, lower) if t is not None]
    low, high = min(values), max(values)
    span = max(high - low, 1.0)
    step = _tick_step(span)
    low = math.floor((low - span * 0.04) / step) * step
    high = math.ceil((high + span * 0.04) / step) * step
    left, right = LABEL_WIDTH, width - VALUE_WIDTH

    def x_of(value: float) -> float:
        return round(left + (value - low) / (high - low) * (right - left), 2)

    bars = []
    y = TOP
    rows = [*steps, ({"comparison": "total", "label": "match weight"}, 0.0, total, total)]
    for entry, start, end, weight in rows:
        comparison = entry.get("comparison", "")
        if comparison == "prior":
            kind = "prior"
        elif comparison == "total":
            kind = "total"
        else:
            kind = "up" if weight > 1e-9 else "down" if weight < -1e-9 else "zero"
        x0, x1 = sorted((x_of(start), x_of(end)))
        name = "Match weight" if kind == "total" else COMPARISON_NAMES.get(comparison, comparison.replace("_", " "))
        label = str(entry.get("label") or "")
        tf = float(entry.get("tf_adjustment") or 0.0)
        tooltip = f"{name}: {label}, {weight:+.2f} bits" if kind not in ("prior", "total") else f"{name}: {end:.2f}"
        if abs(tf) > 1e-9:
            tooltip += f" (of which {tf:+.2f} for how common the value is)"
        detail = wrap(label) if kind != "total" else ()
        height = ROW_HEIGHT + LINE_HEIGHT * max(len(detail) - 1, 0)
        bars.append(Bar(name=name, detail=detail, weight=weight, start=start, end=end,
                        kind=kind, x=x0, width=max(round(x1 - x0, 2), 2.0), y=y,
                        end_x=x_of(end), tooltip=tooltip, height=height))
        y += height
    ticks = []
    value = low
    while value <= high + 1e-9:
        ticks.append((x_of(value), f"{value:g}"))
        value += step
    lines = [Line(x_of(0.0), "0", "zero")]
    # Each threshold's label on its own line above the chart: the upper one reads rightwards
    # (towards more weight), the lower one leftwards, each turned round where it would leave the chart.
    for value, text, kind, label_y in ((upper, "auto-link from", "upper", 12),
                                       (lower, "new person below", "lower", 25)):
        if value is None:
            continue
        x = x_of(value)
        label = f"{text} {value:.1f}"
        needed = len(label) * 7 + 6
        rightwards = width - x > needed if kind == "upper" else x < needed
        lines.append(Line(x, label, kind, label_x=x + 4 if rightwards else x - 4, label_y=label_y,
                          anchor="start" if rightwards else "end"))
    height = y + BOTTOM
    helped = [b.name for b in bars if b.kind == "up"]
    hurt = [b.name for b in bars if b.kind == "down"]
    summary = (f"Match weight {total:.1f} bits. Adds weight: {', '.join(helped) or 'nothing'}. "
               f"Takes weight away: {', '.join(hurt) or 'nothing'}.")
    return Waterfall(width=width, height=height, bars=tuple(bars), ticks=tuple(ticks), lines=tuple(lines),
                     total=total, chart_left=left, chart_right=right, row_height=ROW_HEIGHT, summary=summary)
