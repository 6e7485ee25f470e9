"""How well the matcher does, live: auto-link precision with its interval, review share, steward decisions.

``GET /v1/metrics/matching`` and the review UI's matching page read this.
Precision of auto-links is estimated two ways, each a share with its Wilson
score interval at 95% (:func:`wilson`):

- **from spot-checks** (``spotchecks.py``): of the sampled auto-links a steward
  has answered, the share confirmed (``confirmed / (confirmed + rejected)``); the
  sample is drawn independently of the match, so this is an unbiased estimate
  of precision, with few answers a wide interval;
- **from undone**: of the auto-links made in the period, the share *not* later
  undone by a steward or taken away by an unmerge. Only errors someone noticed
  are counted, so this is an upper bound on precision, but it covers every link.

Both are given per source system (of the record) and per week or month (of the
link), beside the review share (the matcher's decisions that held the record for
a steward) and the steward decisions per case kind. Every count is SQL in the
store (``mpi.store.matching_metrics``); this module passes the words and does
the arithmetic.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from mpi.clock import Clock
from mpi.errors import ValidationError
from mpi.store import Store
from mpi.store.matching_metrics import BUCKETS, Words
from mpi.vocab import (
    ACTIVE_CASE_STATES,
    AuditAction,
    CaseKind,
    CaseResolution,
    HeldCode,
    LinkSource,
)

#: z of a two-sided 95% interval.
Z95 = 1.959963984540054
METHOD = "wilson-95"

WORDS = Words(
    link_actions=(AuditAction.LINK_CREATED.value, AuditAction.LINK_MOVED.value),
    auto_match_reason="auto MATCH", auto_reason="auto ",
    undone_action=AuditAction.LINK_UNDONE.value, manual_link_action=AuditAction.LINK_MANUAL.value,
    manual_source=LinkSource.MANUAL.value, unmerged_action=AuditAction.PERSON_UNMERGED.value,
    case_opened_action=AuditAction.CASE_OPENED.value, held_kind=CaseKind.POSSIBLE_MATCH.value,
    not_held_codes=(HeldCode.RETURNED_BY_STEWARD.value, HeldCode.UNMERGED.value),
    spot_kind=CaseKind.SPOT_CHECK.value, confirmed=CaseResolution.CONFIRMED.value,
    rejected=CaseResolution.REJECTED.value, active_states=tuple(s.value for s in ACTIVE_CASE_STATES),
)


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float | None, float | None]:
    """The Wilson score interval of a share ``successes / n`` (None, None when ``n`` is 0)."""
    if n <= 0:
        return None, None
    p = successes / n
    centre = p + z * z / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    denominator = 1 + z * z / n
    return max(0.0, (centre - half) / denominator), min(1.0, (centre + half) / denominator)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def share(successes: int, n: int) -> dict[str, Any]:
    """``estimate`` (successes / n), ``low`` and ``high`` (Wilson 95%), to 4 places; Nones when n is 0."""
    low, high = wilson(successes, n)
    return {"estimate": _round(successes / n) if n else None, "low": _round(low), "high": _round(high)}


@dataclass(frozen=True)
class MatchingQuery:
    """A period (``from`` and ``to`` dates, both inclusive, UTC; ``from`` omitted: since the first link) and a
    bucket for the series."""

    start: date | None
    end: date
    bucket: str

    @classmethod
    def parse(cls, args: Mapping[str, Any], today: date) -> MatchingQuery:
        """Read ``from``, ``to`` (ISO dates or dates) and ``bucket`` (week or month; default month).

        Raises:
            ValidationError: naming every bad parameter together.
        """
        errors: dict[str, list[str]] = {}
        dates = {}
        for name in ("from", "to"):
            value = args.get(name)
            if value in (None, ""):
                dates[name] = None
            elif isinstance(value, date) and not isinstance(value, datetime):
                dates[name] = value
            else:
                try:
                    dates[name] = date.fromisoformat(str(value))
                except ValueError:
                    errors[name] = ["must be a date, YYYY-MM-DD"]
        bucket = args.get("bucket") or "month"
        if bucket not in BUCKETS:
            errors["bucket"] = [f"must be one of {', '.join(BUCKETS)}"]
        end = dates.get("to") or today
        if dates.get("from") and "to" not in errors and dates["from"] > end:
            errors["to"] = ["must be after from (or the same day)"]
        if errors:
            raise ValidationError(f"invalid matching metrics query: {', '.join(sorted(errors))}", errors)
        return cls(dates.get("from"), end, bucket)

    def bounds(self) -> tuple[datetime | None, datetime]:
        """``[start, end)`` as UTC instants: midnight of ``from``, midnight after ``to``."""
        start = None if self.start is None else datetime.combine(self.start, time(), timezone.utc)
        if self.end == date.max:  # no midnight after it: the last instant of the calendar
            return start, datetime.combine(date.max, time.max, timezone.utc)
        return start, datetime.combine(self.end + timedelta(days=1), time(), timezone.utc)


def _spot(sampled: int, confirmed: int, rejected: int, waiting: int) -> dict[str, int]:
    return {"sampled": sampled, "confirmed": confirmed, "rejected": rejected, "open": waiting}


def _precision(links: int, undone: int, spot: Mapping[str, int]) -> dict[str, Any]:
    answered = spot["confirmed"] + spot["rejected"]
    return {
        "from_spot_checks": {**share(spot["confirmed"], answered), "n": answered, "method": METHOD},
        "from_undone": {"auto_links": links, "undone_or_unmerged": undone, **share(links - undone, links),
                        "method": METHOD},
    }


def _figures(links: int, undone: int, spot: Mapping[str, int]) -> dict[str, Any]:
    return {"auto_links": links, "spot_checks": dict(spot), "precision": _precision(links, undone, spot)}


class MatchingMetrics:
    """The matching measures over a period, over one store."""

    def __init__(self, store: Store, clock: Clock):
        self.store = store
        self.clock = clock

    def measure(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """Auto-links, spot-checks and precision (overall, by source system, over time), review share and
        steward decisions per case kind, for ``args`` (see :meth:`MatchingQuery.parse`)."""
        query = MatchingQuery.parse(args, self.clock.now().astimezone(timezone.utc).date())
        start, end = query.bounds()
        table = self.store.matching_metrics
        links = table.auto_links(WORDS, start, end, query.bucket)
        spots = table.spot_checks(WORDS, start, end, query.bucket)
        by_system: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0, 0])
        by_period: dict[date, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0, 0])
        for system, period, n, undone in links:
            for bucket in (by_system[system], by_period[period]):
                bucket[0] += n
                bucket[1] += undone
        for system, period, *counts in spots:
            for bucket in (by_system[system], by_period[period]):
                for i, n in enumerate(counts):
                    bucket[2 + i] += n
        total = [sum(v[i] for v in by_system.values()) for i in range(6)]
        decided, held = table.review_share(WORDS, start, end)
        decisions: dict[str, dict[str, int]] = {}
        for kind, resolution, n in table.decisions(start, end):
            decisions.setdefault(kind, {})[resolution] = n
        return {
            "period": {"from": query.start, "to": query.end, "bucket": query.bucket},
            **_figures(total[0], total[1], _spot(*total[2:])),
            "by_source_system": [{"source_system": system, **_figures(v[0], v[1], _spot(*v[2:]))}
                                 for system, v in sorted(by_system.items())],
            "over_time": [{"period": period, **_figures(v[0], v[1], _spot(*v[2:]))}
                          for period, v in sorted(by_period.items())],
            "review_share": {"records_decided": decided, "held": held,
                             "share": _round(held / decided) if decided else None},
            "decisions_by_case_kind": decisions,
        }
