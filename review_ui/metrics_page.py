"""The metrics page's context: the filters a reader set, the headline measures as figures, and the charts.

The page reads the same loop measures as ``GET /v1/metrics/referrals``
(``services.referral_metrics``, definitions in docs/metrics.md). Its form speaks
as a person does: a period *through* a day (the API's ``to`` is the day after,
exclusive), and a bucket size chosen from the period's length unless set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from mpi.referral_vocab import Urgency
from review_ui import charts

INTERVALS = ("day", "week", "month")
URGENCIES = tuple(u.value for u in Urgency)
#: The timeliness chart's lines: (measure, what a reader sees).
TIMELINESS = (
    ("acknowledged_within_1_business_day", "Acknowledged within 1 business day"),
    ("acknowledged_within_target", "Acknowledged within target"),
    ("triaged_within_target", "Triaged within target"),
    ("first_contact_within_target", "First contact within target"),
)
#: The outcomes chart's lines.
OUTCOMES = (
    ("acceptance_rate", "Accepted (of those decided)"),
    ("completion_rate", "Completed (of those accepted)"),
)
#: The API's parameter names as the form names them (for its error messages).
FORM_FIELDS = {"from": "from", "to": "through", "performer": "performer", "urgency": "urgency",
               "interval": "interval"}


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class MetricsFilters:
    """What the reader asked for, as the form holds it (text: shown back as typed)."""

    start: str = ""
    through: str = ""
    performer: str = ""
    urgency: str = ""
    interval: str = ""

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> MetricsFilters:
        def pick(name: str) -> str:
            return (args.get(name) or "").strip()
        return cls(start=pick("from"), through=pick("through"), performer=pick("performer"),
                   urgency=pick("urgency"), interval=pick("interval"))

    def service_args(self, now: datetime) -> dict[str, Any]:
        """The filters as the measures take them; a bucket size from the period's length when none is set."""
        args: dict[str, Any] = {"performer": self.performer or None, "urgency": self.urgency or None}
        if self.start:
            args["from"] = self.start
        through = _day(self.through) if self.through else None
        if through is not None:
            args["to"] = (through + timedelta(days=1)).isoformat()
        elif self.through:
            args["to"] = self.through  # not a date: the measures name it
        args["interval"] = self.interval or self.auto_interval(now)
        return args

    def auto_interval(self, now: datetime) -> str:
        """Days for up to two months, weeks for up to two years, else months (about 60 points at most)."""
        start, through = _day(self.start), _day(self.through)
        end = (through + timedelta(days=1)) if through else now.date()
        days = (end - start).days if start else 30
        return "day" if days <= 62 else "week" if days <= 730 else "month"


@dataclass(frozen=True)
class Figure:
    """One headline measure: its value as read, what it is, and what it is out of."""

    key: str
    label: str
    value: str
    detail: str = ""


@dataclass(frozen=True)
class MetricsPage:
    filters: MetricsFilters
    organisations: tuple[str, ...]
    result: Mapping[str, Any] | None
    figures: tuple[Figure, ...] = ()
    charts: tuple[charts.LineChart, ...] = ()
    declines: tuple[Mapping[str, Any], ...] = ()
    errors: Mapping[str, list[str]] = field(default_factory=dict)

    @property
    def period_text(self) -> str:
        """The period as a reader reads it: 1 Nov 2026 through 30 Nov 2026 (received, UTC)."""
        if not self.result:
            return ""
        start = self.result["period"]["from"]
        end = self.result["period"]["to"]
        last = end - timedelta(microseconds=1) if end.time() == datetime.min.time() else end
        return f"{start.day} {start:%b %Y} through {last.day} {last:%b %Y}"


def _share_figure(key: str, label: str, measure: Mapping[str, Any]) -> Figure:
    return Figure(key, label, charts.percent(measure["share"]), f"{measure['count']} of {measure['of']}")


def _hours(value: float | None) -> str:
    """Business hours to a tenth (the median of a day's work reads 7.5 h, not 8 h)."""
    return "–" if value is None else f"{value:.1f} h"


def figures(result: Mapping[str, Any]) -> tuple[Figure, ...]:
    """The headline measures, in the order a network quotes them (acknowledged within a business day first)."""
    out = [Figure("referrals", "Referrals received", str(result["referrals"]))]
    for key, label in TIMELINESS:
        out.append(_share_figure(key, label, result[key]))
    for key, label in (("to_acknowledge", "Time to acknowledge"), ("to_triage", "Time to triage"),
                       ("to_first_contact", "Time to first contact")):
        i = result["intervals"][key]
        out.append(Figure(key, f"{label} (median)", _hours(i["median_business_hours"]),
                          f"90th percentile {_hours(i['p90_business_hours'])}, business time, n = {i['n']}"))
    out.append(_share_figure("acceptance_rate", "Accepted (of those decided)", result["acceptance_rate"]))
    out.append(_share_figure("completion_rate", "Completed (of those accepted)", result["completion_rate"]))
    out.append(_share_figure("verified_start_or_documented_non_start", "Service start verified or non-start "
                             "documented", result["verified_start_or_documented_non_start"]))
    overdue = result["overdue"]
    by_clock = ", ".join(f"{n} {clock.replace('_', ' ')}" for clock, n in overdue["by_clock"].items())
    out.append(Figure("overdue", "Overdue now", str(overdue["count"]), by_clock))
    unknown = result["status_unknown_beyond_target"]
    out.append(Figure("status_unknown_beyond_target", "No answer past the acknowledgement target",
                      str(unknown["count"]), f"{charts.percent(unknown['share'])} of {unknown['of']}"))
    gated = result["gated"]
    out.append(Figure("gated", "Gated on identity", str(gated["count"]),
                      f"{_hours(gated['total_hours'])} in all, median {_hours(gated['median_hours'])}"
                      if gated["count"] else "none"))
    out.append(Figure("redirects", "Redirected", str(result["redirects"])))
    return tuple(out)


def metrics_page(result: Mapping[str, Any] | None, filters: MetricsFilters, organisations: list[str],
                 errors: Mapping[str, list[str]] | None = None) -> MetricsPage:
    """The page for a result (None when the request was refused: then ``errors`` says why, by form field)."""
    shown_errors = {FORM_FIELDS.get(k, k): v for k, v in (errors or {}).items()}
    if result is None:
        return MetricsPage(filters=filters, organisations=tuple(organisations), result=None, errors=shown_errors)
    interval = result["period"]["interval"] or "day"
    series = result.get("series") or []
    drawn = (charts.build(series, TIMELINESS, "Timeliness: share of referrals received", interval),
             charts.build(series, OUTCOMES, "Outcomes: acceptance and completion", interval))
    return MetricsPage(filters=filters, organisations=tuple(organisations), result=result, figures=figures(result),
                       charts=drawn, declines=tuple(result["declines_by_reason"]), errors=shown_errors)
