"""The matching page (``/review/metrics/matching``): auto-link precision with its interval, as small typed objects.

It shows what ``GET /v1/metrics/matching`` answers (``services.matching_metrics``):
the two precision estimates with their Wilson 95% intervals as text, and per
source system and per week or month a row drawn as inline SVG (a bar to the
estimate, a line from the interval's low to its high, no script), beside the
review share and the steward decisions per case kind. This module only computes
numbers and positions (pure); ``matching_metrics.html`` draws them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: The SVG of one row: its size, and where the scale starts and ends (px).
WIDTH, HEIGHT, PAD = 320, 22, 8


@dataclass(frozen=True)
class MatchingFilters:
    """The page's query, as typed (strings: the service checks them and names every bad one)."""

    start: str = ""
    to: str = ""
    bucket: str = "month"

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> MatchingFilters:
        return cls((args.get("from") or "").strip(), (args.get("to") or "").strip(),
                   (args.get("bucket") or "month").strip())

    def service_args(self) -> dict[str, str]:
        return {"from": self.start, "to": self.to, "bucket": self.bucket}


@dataclass(frozen=True)
class Estimate:
    """One share with its interval, as text and as positions on the page's scale (None: nothing to draw)."""

    label: str
    text: str
    n_text: str
    estimate: float | None
    #: The headline (the estimate alone) and its interval in words: the text, split for the figures.
    value: str = "no data"
    interval: str = ""
    x_bar: float | None = None
    x_low: float | None = None
    x_high: float | None = None


@dataclass(frozen=True)
class Row:
    """A source system or a bucket of time: its auto-links and spot-checks, and both estimates."""

    label: str
    auto_links: int
    spot_checks: Mapping[str, int]
    from_spot_checks: Estimate
    from_undone: Estimate


@dataclass(frozen=True)
class MatchingPage:
    filters: MatchingFilters
    result: Mapping[str, Any] | None
    overall: Row | None = None
    by_source_system: tuple[Row, ...] = ()
    over_time: tuple[Row, ...] = ()
    #: The scale's lowest share (the left end of every row's SVG), and its ticks as (x, label).
    scale_from: float = 0.0
    ticks: tuple[tuple[float, str], ...] = ()
    review_share: str = ""
    review_share_value: str = "—"
    decisions: tuple[tuple[str, str, int], ...] = ()
    errors: Mapping[str, list[str]] = field(default_factory=dict)


def _x(value: float, low: float) -> float:
    """Where a share is drawn on a row's scale from ``low`` to 1."""
    return round(PAD + (WIDTH - 2 * PAD) * (value - low) / (1 - low), 1)


def interval_text(figure: Mapping[str, Any]) -> str:
    """``0.9950 (95% interval 0.9820 to 0.9987)``, or "no data" when there is nothing to estimate from."""
    if figure.get("estimate") is None:
        return "no data"
    return f"{figure['estimate']:.4f} (95% interval {figure['low']:.4f} to {figure['high']:.4f})"


def _estimate(label: str, figure: Mapping[str, Any], n_text: str, low: float) -> Estimate:
    if figure.get("estimate") is None:
        return Estimate(label, interval_text(figure), n_text, None)
    return Estimate(label, interval_text(figure), n_text, figure["estimate"], f"{figure['estimate']:.4f}",
                    f"95% interval {figure['low']:.4f} to {figure['high']:.4f}", _x(figure["estimate"], low),
                    _x(figure["low"], low), _x(figure["high"], low))


def row(label: str, figures: Mapping[str, Any], low: float) -> Row:
    spot, undone = figures["precision"]["from_spot_checks"], figures["precision"]["from_undone"]
    return Row(label, figures["auto_links"], figures["spot_checks"],
               _estimate("from spot-checks", spot, f"{spot['n']} answered", low),
               _estimate("from undone links", undone,
                         f"{undone['undone_or_unmerged']} of {undone['auto_links']} undone", low))


def scale_from(result: Mapping[str, Any]) -> float:
    """The left end of the scale: 0.9, or lower (to a multiple of 0.05) when an interval reaches below it."""
    lows = [f["precision"][k]["low"] for f in (result, *result["by_source_system"], *result["over_time"])
            for k in ("from_spot_checks", "from_undone") if f["precision"][k]["low"] is not None]
    return min(0.9, math.floor(min(lows, default=0.9) * 20) / 20)


def matching_page(result: Mapping[str, Any] | None, filters: MatchingFilters,
                  errors: Mapping[str, list[str]] | None = None) -> MatchingPage:
    if result is None:
        return MatchingPage(filters, None, errors=errors or {})
    low = scale_from(result)
    ticks = tuple((_x(v, low), f"{v:.2f}") for v in _ticks(low))
    share = result["review_share"]
    review = ("no decisions" if share["share"] is None else
              f"{share['held']} of {share['records_decided']} decisions held for a steward")
    decisions = tuple((kind, resolution, n) for kind, by in sorted(result["decisions_by_case_kind"].items())
                      for resolution, n in sorted(by.items()))
    return MatchingPage(
        filters, result, overall=row("All source systems", result, low),
        by_source_system=tuple(row(r["source_system"], r, low) for r in result["by_source_system"]),
        over_time=tuple(row(str(r["period"]), r, low) for r in result["over_time"]),
        scale_from=low, ticks=ticks, review_share=review, decisions=decisions,
        review_share_value="—" if share["share"] is None else f"{share['share']:.1%}")


def _ticks(low: float) -> Sequence[float]:
    step = 0.05 if 1 - low <= 0.25 else 0.25
    n = round((1 - low) / step)
    return [round(low + i * step, 2) for i in range(n + 1)]
