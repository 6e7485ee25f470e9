"""Loop measures of referrals over a period (``GET /v1/metrics/referrals``, the metrics page) and the gauges a
Prometheus scrape reads.

A request names a period (``from``, ``to``: ISO dates or datetimes, ``to``
exclusive; by default the 30 days up to now), filters (performer, requester,
service type, urgency, each repeatable) and optionally a bucket size for a
series (``interval``: day, week or month). :meth:`MetricsQuery.parse` checks
them all and names every problem in one 422. A hub or coordinator measures only
the referrals its organisation requested or performs, as its lists show it.

The store computes every measure in SQL (``mpi/store/referral_metrics.py``);
this module passes it the lifecycle's words, shapes the answer (a share is
``{count, of, share}``, null when nothing is counted) and renders it as CSV.
``docs/metrics.md`` defines each measure.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from mpi.auth import Caller
from mpi.clock import Clock as TimeSource
from mpi.directory.organisations import Directory
from mpi.errors import Forbidden, ValidationError
from mpi.referral_vocab import ReferralState, Urgency
from mpi.referrals.access import READ_ALL_ROLES
from mpi.referrals.lifecycle import OPEN_STATES, Clock
from mpi.store import Store
from mpi.store.referral_metrics import INTERVALS, SHARES, Scope, Words
from mpi.vocab import ACTIVE_CASE_STATES, CasePriority

logger = logging.getLogger(__name__)

S = ReferralState
#: The default period: the days up to now.
DEFAULT_DAYS = 30
#: The most buckets a series may hold (a day-by-day series of about three years).
MAX_BUCKETS = 1100
FORMATS = ("json", "csv")
#: The lifecycle's words as the store's SQL takes them (what counts as accepted is ``outcomes.py``'s).
WORDS = Words(
    open_states=tuple(sorted(s.value for s in OPEN_STATES)),
    submitted=S.SUBMITTED.value,
    documented_closes=(S.DECLINED.value, S.REDIRECTED.value, S.CLOSED_NOT_SERVED.value, S.CANCELLED.value,
                       S.EXPIRED.value),
    declined=S.DECLINED.value,
    status_kind="status",
)
#: The clocks "overdue" is counted by, in the order they fall due.
OVERDUE_CLOCKS = (Clock.ACKNOWLEDGE.value, Clock.TRIAGE.value, Clock.FIRST_CONTACT.value)
#: Each interval's name and the store's column prefix of its clock.
INTERVAL_NAMES = (("to_acknowledge", "ack"), ("to_triage", "triage"), ("to_first_contact", "contact"))
SHARE_NAMES = tuple(name for name, _, _ in SHARES)


def _as_list(value: str | Iterable[str] | None) -> list[str]:
    """A repeatable parameter as a list of non-empty values (``a,b`` also splits)."""
    if value is None:
        return []
    values = [value] if isinstance(value, str) else list(value)
    return [part.strip() for v in values for part in str(v).split(",") if part.strip()]


def _instant(text: str) -> datetime:
    """An ISO date (its midnight, UTC) or datetime (naive read as UTC) as an aware UTC datetime."""
    text = text.strip()
    if len(text) == 10:
        return datetime.combine(date.fromisoformat(text), time(), timezone.utc)
    at = datetime.fromisoformat(text)
    return (at if at.tzinfo else at.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


def _buckets(start: datetime, end: datetime, interval: str, end_inclusive: bool = False) -> list[date]:
    """Every bucket start from the one holding ``start`` to the one holding the period's last instant."""
    first, last = start.date(), (end if end_inclusive else end - timedelta(microseconds=1)).date()
    if interval == "week":
        first -= timedelta(days=first.weekday())
    elif interval == "month":
        first = first.replace(day=1)
    out = []
    at = first
    while at <= last and len(out) <= MAX_BUCKETS:
        out.append(at)
        if interval == "day":
            at += timedelta(days=1)
        elif interval == "week":
            at += timedelta(days=7)
        else:
            at = (at.replace(day=28) + timedelta(days=4)).replace(day=1)
    return out


@dataclass(frozen=True)
class MetricsQuery:
    """A checked request for the loop measures: the period, the filters, the series' bucket and the format."""

    start: datetime
    end: datetime
    end_inclusive: bool = False
    performer: tuple[str, ...] = ()
    requester: tuple[str, ...] = ()
    service_type: tuple[str, ...] = ()
    urgency: tuple[str, ...] = ()
    interval: str | None = None
    format: str = "json"
    buckets: tuple[date, ...] = field(default=(), compare=False)

    @classmethod
    def parse(cls, args: Mapping[str, Any], now: datetime, directory: Directory | None = None) -> MetricsQuery:
        """Check a request's parameters (strings, as a query string gives them) and name every problem together.

        Args:
            args: ``from``, ``to``, ``performer``, ``requester``, ``service_type``, ``urgency``,
                ``interval``, ``format`` (missing or empty: the default).
            now: the end of the default period.
            directory: when given, performers and requesters must be organisations it knows.

        Raises:
            ValidationError: naming each bad parameter.
        """
        errors: dict[str, list[str]] = {}
        bounds: dict[str, datetime] = {}
        for name in ("from", "to"):
            text = args.get(name)
            if text in (None, ""):
                continue
            try:
                bounds[name] = _instant(str(text))
            except ValueError:
                errors[name] = ["an ISO date (2026-11-01) or datetime (2026-11-01T09:00:00Z)"]
        end = bounds.get("to", now)
        start = bounds.get("from", end - timedelta(days=DEFAULT_DAYS))
        if not errors and start >= end:
            errors["to"] = ["must be after from"]
        filters = {name: _as_list(args.get(name)) for name in ("performer", "requester", "service_type", "urgency")}
        urgencies = [u.value for u in Urgency]
        bad = [u for u in filters["urgency"] if u not in urgencies]
        if bad:
            errors["urgency"] = [f"must be among {', '.join(urgencies)}"]
        if directory is not None:
            for name in ("performer", "requester"):
                unknown = [code for code in filters[name] if not directory.exists(code)]
                if unknown:
                    errors[name] = [f"no such organisation: {', '.join(unknown)}"]
        interval = args.get("interval") or None
        if interval is not None and interval not in INTERVALS:
            errors["interval"] = [f"must be one of {', '.join(INTERVALS)}"]
        fmt = args.get("format") or "json"
        if fmt not in FORMATS:
            errors["format"] = [f"must be one of {', '.join(FORMATS)}"]
        buckets: list[date] = []
        if interval in INTERVALS and not errors:
            buckets = _buckets(start, end, interval, end_inclusive="to" not in bounds)
            if len(buckets) > MAX_BUCKETS:
                errors["interval"] = [f"more than {MAX_BUCKETS} {interval}s in the period: choose a longer interval "
                                      "or a shorter period"]
        if errors:
            raise ValidationError(f"invalid metrics request: {', '.join(sorted(errors))}", errors)
        return cls(start=start, end=end, end_inclusive="to" not in bounds,
                   **{k: tuple(v) for k, v in filters.items()}, interval=interval, format=fmt,
                   buckets=tuple(buckets))

    def scope(self, party_of: str | None) -> Scope:
        return Scope(self.start, self.end, self.performer, self.requester, self.service_type, self.urgency,
                     party_of, self.end_inclusive)


def share(count: int, of: int) -> dict[str, Any]:
    """A share as every measure gives it: the count, what it is out of, and the fraction (null when out of none)."""
    return {"count": int(count), "of": int(of), "share": round(count / of, 4) if of else None}


def _hours(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(float(value), digits)


class ReferralMetrics:
    """The loop measures and operational gauges of one store."""

    def __init__(self, store: Store, directory: Directory, clock: TimeSource):
        self.store = store
        self.directory = directory
        self.clock = clock

    def parse(self, args: Mapping[str, Any], now: datetime | None = None) -> MetricsQuery:
        """A request's parameters checked (see :meth:`MetricsQuery.parse`)."""
        return MetricsQuery.parse(args, now or self.clock.now(), self.directory)

    def measure(self, caller: Caller, args: Mapping[str, Any] | MetricsQuery) -> dict[str, Any]:
        """Every loop measure over the referrals the caller may see, received in the period and matching the filters.

        Raises:
            ValidationError: naming each bad parameter.
            Forbidden: a caller of no organisation whose role does not read every referral.
        """
        now = self.clock.now()
        query = args if isinstance(args, MetricsQuery) else self.parse(args, now)
        scope = query.scope(_party_of(caller))
        row = self.store.referral_metrics.loop(scope, WORDS, now)
        declines = self.store.referral_metrics.declines(scope, WORDS)
        result: dict[str, Any] = {
            "period": {"from": query.start, "to": query.end, "interval": query.interval},
            "filters": {k: list(getattr(query, k)) for k in ("performer", "requester", "service_type", "urgency")},
            "as_of": now,
            "referrals": row["referrals"],
        }
        for name in SHARE_NAMES[:4]:
            result[name] = share(row[f"{name}_count"], row[f"{name}_of"])
        result["intervals"] = {}
        for name, prefix in INTERVAL_NAMES:
            quantiles = row[f"{prefix}_hours"] or [None, None]
            result["intervals"][name] = {"n": row[f"{prefix}_n"], "median_business_hours": _hours(quantiles[0]),
                                         "p90_business_hours": _hours(quantiles[1])}
        result["acceptance_rate"] = share(row["acceptance_rate_count"], row["acceptance_rate_of"])
        result["completion_rate"] = share(row["completion_rate_count"], row["completion_rate_of"])
        result["verified_start_or_documented_non_start"] = share(row["verified_or_documented"], row["referrals"])
        result["declines_by_reason"] = [{"reason": r, "party": p, "count": n} for r, p, n in declines]
        result["redirects"] = row["redirects"]
        result["gated"] = {"count": row["gated_count"], "total_hours": _hours(row["gated_hours"]),
                           "median_hours": _hours(row["gated_median_hours"])}
        result["overdue"] = {"count": row["overdue"],
                             "by_clock": {clock: row[f"overdue_{clock}"] for clock in OVERDUE_CLOCKS}}
        result["status_unknown_beyond_target"] = share(row["status_unknown"], row["referrals"])
        if query.interval:
            result["series"] = self._series(query, scope)
        logger.info("referral metrics for %s: %s referrals, %s to %s", caller.actor, row["referrals"],
                    query.start.isoformat(), query.end.isoformat())
        return result

    def _series(self, query: MetricsQuery, scope: Scope) -> list[dict[str, Any]]:
        """One entry per bucket of the period (empty buckets too, with no shares), oldest first."""
        rows = {r["period_start"]: r for r in self.store.referral_metrics.series(scope, query.interval)}
        series = []
        for start in query.buckets:
            r = rows.get(start)
            entry: dict[str, Any] = {"period_start": start, "referrals": r["referrals"] if r else 0}
            for name in SHARE_NAMES:
                entry[name] = share(r[f"{name}_count"], r[f"{name}_of"])["share"] if r else None
            series.append(entry)
        return series

    def csv(self, result: Mapping[str, Any]) -> str:
        """The measures as CSV: a ``metric,value`` header, then one row per measure, flattened by dots."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["metric", "value"])
        writer.writerows(flatten_measures(result))
        return out.getvalue()

    def gauges(self) -> dict[str, Any]:
        """What a Prometheus scrape reads now: referrals by state, gated and overdue (by clock) referrals, open
        review cases by priority and the age of the oldest."""
        now = self.clock.now()
        by_state = {s.value: 0 for s in ReferralState}
        overdue = {clock: 0 for clock in OVERDUE_CLOCKS}
        gated = 0
        open_states = set(WORDS.open_states)
        for state, is_gated, clock, n in self.store.referral_metrics.referral_gauges(WORDS.open_states, now):
            by_state[state] = by_state.get(state, 0) + n
            if is_gated and state in open_states:
                gated += n
            if clock is not None:
                overdue[clock] = overdue.get(clock, 0) + n
        cases = {p.value: 0 for p in CasePriority}
        oldest = None
        for priority, n, created in self.store.referral_metrics.case_gauges([s.value for s in ACTIVE_CASE_STATES]):
            cases[priority] = cases.get(priority, 0) + n
            oldest = created if oldest is None or created < oldest else oldest
        age = 0.0 if oldest is None else max((now - oldest).total_seconds(), 0.0)
        return {"referrals_by_state": by_state, "gated": gated, "overdue_by_clock": overdue,
                "open_cases_by_priority": cases, "oldest_open_case_age_seconds": age}


def _party_of(caller: Caller) -> str | None:
    """The organisation a caller's measures are scoped to (None: every referral).

    Raises:
        Forbidden: a caller of no organisation whose role does not read every referral.
    """
    if caller.role in READ_ALL_ROLES:
        return None
    if caller.organisation is None:
        raise Forbidden("the caller belongs to no organisation, so it has no referrals to measure",
                        {"organisation": ["none"]})
    return caller.organisation


def _plain(value: Any) -> Any:
    """A value as a CSV cell: numbers as they are, null as empty, times and dates in ISO."""
    if value is None:
        return ""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, bool):
        return str(value).lower()
    return value


def flatten_measures(result: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """The measures as (dotted name, plain value) rows: declines as ``declines_by_reason.REASON.PARTY`` and the
    series as ``series.PERIOD_START.MEASURE`` (the filters are left out: they are the request's own)."""
    rows: list[tuple[str, Any]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), item)
        else:
            rows.append((prefix, _plain(value)))

    for key, value in result.items():
        if key == "filters":
            continue
        if key == "declines_by_reason":
            for d in value:
                rows.append((f"declines_by_reason.{d['reason'] or 'none'}.{d['party'] or 'none'}", d["count"]))
        elif key == "series":
            for entry in value:
                day = entry["period_start"].isoformat()
                rows.extend((f"series.{day}.{k}", _plain(v)) for k, v in entry.items() if k != "period_start")
        else:
            walk(key, value)
    return rows
