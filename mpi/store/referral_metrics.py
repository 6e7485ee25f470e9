"""Loop measures and operational gauges of referrals as SQL: pure builders, run by :class:`ReferralMetricsTable`.

The loop measures are one pass over the referrals received in a period: every
measure is a conditional count (``count_if``) or a
quantile over stored columns: the clocks (target, business seconds taken, due
times) and the outcomes each referral reached (``accepted_at``, ``declined_at``,
``redirected_at``, ``completed_at``, stamped by the referral writer). Declines
by reason and party are one join of the history's declines to the period's declined
referrals. Nothing
is computed in Python from rows, so a measure over a million referrals costs a
scan, not a million objects.

Every value from outside, and every domain word (states, clocks, the bucket
size), is a bound parameter: the caller (``mpi.referrals.metrics``) passes the
words in, so the store knows no lifecycle. Column names come only from here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mpi.store.database import Database

#: Each clock's name and column prefix in ``referrals``, in the order the measures name them.
CLOCK_PREFIXES = (("acknowledge", "ack"), ("triage", "triage"), ("first_contact", "contact"))
#: Bucket sizes a series may take (the word ``date_trunc`` takes: bound, never spliced).
INTERVALS = ("day", "week", "month")


@dataclass(frozen=True)
class Scope:
    """Which referrals a measure covers: received in ``[start, end)`` (or ``[start, end]``), filtered.

    Args:
        party_of: only referrals this organisation requested or performs (a caller's scope).
        end_inclusive: the period ends at ``end`` itself (the default period, which ends at "now").
    """

    start: datetime
    end: datetime
    performers: Sequence[str] = ()
    requesters: Sequence[str] = ()
    service_types: Sequence[str] = ()
    urgencies: Sequence[str] = ()
    party_of: str | None = None
    end_inclusive: bool = False


@dataclass(frozen=True)
class Words:
    """The lifecycle's words the measures need, passed in by the referral domain and bound as parameters.

    Args:
        open_states: states in which a referral still waits on someone.
        submitted: the state of a referral nobody has answered yet.
        documented_closes: closed states that, with a coded reason, document why a service did not start.
        declined: the state whose history rows are counted by reason and party.
        status_kind: the history kind of a status change.
    """

    open_states: Sequence[str]
    submitted: str
    documented_closes: Sequence[str]
    declined: str
    status_kind: str


def scope_clause(scope: Scope, alias: str = "") -> tuple[str, list[Any]]:
    """The WHERE clause (on ``referrals``, as ``alias`` if given) and parameters of a scope."""
    a = f"{alias}." if alias else ""
    clauses = [f"{a}received_at >= ?", f"{a}received_at {'<=' if scope.end_inclusive else '<'} ?"]
    params: list[Any] = [scope.start, scope.end]
    for column, values in (("performer", scope.performers), ("requester", scope.requesters),
                           ("service_type", scope.service_types), ("urgency", scope.urgencies)):
        if values:
            clauses.append(f"list_contains(?, {a}{column})")
            params.append(list(values))
    if scope.party_of is not None:
        clauses.append(f"({a}requester = ? OR {a}performer = ?)")
        params += [scope.party_of, scope.party_of]
    return " AND ".join(clauses), params


#: The shares a series carries per bucket (and the measures carry overall), as
#: (name, counted when, out of those where).
SHARES = (
    ("acknowledged_within_1_business_day", "ack_business_s <= business_day_s", "TRUE"),
    ("acknowledged_within_target", "ack_business_s <= ack_target_s", "TRUE"),
    ("triaged_within_target", "triage_business_s <= triage_target_s", "TRUE"),
    ("first_contact_within_target", "contact_business_s <= contact_target_s", "TRUE"),
    ("acceptance_rate", "accepted_at IS NOT NULL",
     "accepted_at IS NOT NULL OR declined_at IS NOT NULL OR redirected_at IS NOT NULL"),
    ("completion_rate", "completed_at IS NOT NULL AND accepted_at IS NOT NULL", "accepted_at IS NOT NULL"),
)


def count_if(condition: str) -> str:
    """Rows where ``condition`` holds (DuckDB's ``count_if``, faster than a FILTER; zero, never null, over none)."""
    return f"coalesce(count_if({condition}), 0)"


def _share_columns() -> list[tuple[str, str]]:
    cols = []
    for name, counted, out_of in SHARES:
        cols.append((f"{name}_count", count_if(counted)))
        cols.append((f"{name}_of", "count(*)" if out_of == "TRUE" else count_if(out_of)))
    return cols


def _named(cols: Sequence[tuple[str, str]]) -> str:
    """A select list of named aggregates, a column each: SQL both store databases run (PostgreSQL has no
    STRUCT); the table reads a row back as a mapping by the same names."""
    return ", ".join(f"{expr} AS {name}" for name, expr in cols)


def _loop_columns() -> list[tuple[str, str]]:
    """(name, aggregate over ``m``) of every loop measure (:func:`loop_query`)."""
    cols = [("referrals", "count(*)"), *_share_columns()]
    for _, prefix in CLOCK_PREFIXES:
        cols.append((f"{prefix}_n", f"count({prefix}_business_s)"))
        cols.append((f"{prefix}_hours", f"quantile_cont({prefix}_business_s / 3600.0, [0.5, 0.9])"))
    return cols + [
        ("verified_or_documented", count_if("verified")),
        ("redirects", "count(redirected_at)"),
        ("gated_count", "count(gated_hours)"),
        ("gated_hours", "coalesce(sum(gated_hours), 0)"),
        ("gated_median_hours", "median(gated_hours)"),
        ("overdue", "count(overdue_clock)"),
        *((f"overdue_{clock}", count_if("overdue_clock = ?")) for clock, _ in CLOCK_PREFIXES),
        ("status_unknown", count_if("status_unknown")),
    ]


def _series_columns() -> list[tuple[str, str]]:
    """(name, column or aggregate over ``b``) of a bucket of the series (:func:`series_query`)."""
    return [("period_start", "period_start"), ("referrals", "count(*)"), *_share_columns()]


#: The names of a loop row's columns and of a series row's, in order.
LOOP_MEASURES = tuple(name for name, _ in _loop_columns())
SERIES_COLUMNS = tuple(name for name, _ in _series_columns())


def loop_query(scope: Scope, words: Words, now: datetime) -> tuple[str, list[Any]]:
    """SQL of every loop measure over the referrals in scope: one row, a column each (:data:`LOOP_MEASURES`).

    ``now`` is what "overdue", "status unknown" and the time a referral still gated has been gated
    so far are measured against. What depends on the state or on ``now`` is worked out once per row
    (``m``), then every measure is an aggregate over those columns.
    """
    where, scope_params = scope_clause(scope)
    per_row = (
        "SELECT *, "
        "CASE WHEN list_contains(?, state) AND next_due_at < ? THEN next_clock END AS overdue_clock, "
        "CASE WHEN gated_seconds > 0 OR gate IS NOT NULL THEN (gated_seconds + CASE WHEN gate IS NOT NULL "
        "AND gated_since IS NOT NULL THEN greatest(epoch(?::TIMESTAMPTZ) - epoch(gated_since), 0) ELSE 0 END) "
        "/ 3600.0 END AS gated_hours, "
        "contact_met_at IS NOT NULL OR (list_contains(?, state) AND state_reason IS NOT NULL) AS verified, "
        "state = ? AND ack_due_at < ? AS status_unknown "
        f"FROM referrals WHERE {where}")
    params: list[Any] = [list(words.open_states), now, now, list(words.documented_closes), words.submitted, now,
                         *scope_params]
    params += [clock for clock, _ in CLOCK_PREFIXES]
    return f"WITH m AS ({per_row}) SELECT {_named(_loop_columns())} FROM m", params


def series_query(scope: Scope, interval: str) -> tuple[str, list[Any]]:
    """SQL of the shares per bucket of ``received_at`` (UTC ``day``, ISO ``week`` or ``month``), oldest first.

    Each row holds (:data:`SERIES_COLUMNS`) ``period_start`` (a date), ``referrals`` and each share's count
    and base.
    Buckets without a referral are not returned (the caller fills them).
    """
    where, params = scope_clause(scope)
    sql = ("WITH b AS (SELECT *, CAST(date_trunc(?, timezone('UTC', received_at)) AS DATE) AS period_start "
           f"FROM referrals WHERE {where}) SELECT {_named(_series_columns())} FROM b "
           "GROUP BY period_start ORDER BY period_start")
    return sql, [interval, *params]


def declines_query(scope: Scope, words: Words) -> tuple[str, list[Any]]:
    """SQL of the status changes to ``declined`` of the referrals in scope, counted by reason and party.

    Only referrals ever declined (``declined_at`` stamped) can have one, so only they are joined to the
    history: the join meets the declines, not every referral of the period.
    """
    where, params = scope_clause(scope)
    sql = ("SELECT e.reason, e.party, count(*) AS n FROM referral_events e "
           f"JOIN (SELECT referral_id FROM referrals WHERE declined_at IS NOT NULL AND {where}) r "
           "ON r.referral_id = e.referral_id WHERE e.kind = ? AND e.to_state = ? "
           "GROUP BY ALL ORDER BY n DESC, e.reason NULLS LAST, e.party NULLS LAST")
    return sql, [*params, words.status_kind, words.declined]


def referral_gauges_query(open_states: Sequence[str], now: datetime) -> tuple[str, list[Any]]:
    """SQL counting every referral by state, whether it is gated, and the clock it is overdue on (if open)."""
    sql = ("SELECT state, gate IS NOT NULL AS gated, "
           "CASE WHEN list_contains(?, state) AND next_due_at < ? THEN next_clock END AS overdue_clock, "
           "count(*) FROM referrals GROUP BY ALL")
    return sql, [list(open_states), now]


def case_gauges_query(open_states: Sequence[str]) -> tuple[str, list[Any]]:
    """SQL counting the review cases in ``open_states`` by priority, with the oldest one's creation time."""
    return ("SELECT priority, count(*), min(created_at) FROM review_cases WHERE list_contains(?, state) "
            "GROUP BY priority", [list(open_states)])


class ReferralMetricsTable:
    """Runs the measures' SQL over one store (reads only)."""

    def __init__(self, db: Database):
        self._db = db

    def loop(self, scope: Scope, words: Words, now: datetime) -> dict[str, Any]:
        """Every loop measure over the scope, as one mapping of named values (counts, hours, quantile pairs)."""
        sql, params = loop_query(scope, words, now)
        return dict(zip(LOOP_MEASURES, self._db.one(sql, params)))

    def series(self, scope: Scope, interval: str) -> list[dict[str, Any]]:
        """The shares' counts per bucket that holds any referral, oldest first."""
        sql, params = series_query(scope, interval)
        return [dict(zip(SERIES_COLUMNS, r)) for r in self._db.query(sql, params)]

    def declines(self, scope: Scope, words: Words) -> list[tuple[str | None, str | None, int]]:
        """(reason, party, count) of the declines in scope, most first."""
        sql, params = declines_query(scope, words)
        return [(r[0], r[1], int(r[2])) for r in self._db.query(sql, params)]

    def referral_gauges(self, open_states: Sequence[str], now: datetime) -> list[tuple[str, bool, str | None, int]]:
        """(state, gated, overdue clock or None, count) over every referral."""
        sql, params = referral_gauges_query(open_states, now)
        return [(r[0], bool(r[1]), r[2], int(r[3])) for r in self._db.query(sql, params)]

    def case_gauges(self, open_states: Sequence[str]) -> list[tuple[str, int, datetime]]:
        """(priority, count, oldest creation time) of the review cases in ``open_states``."""
        sql, params = case_gauges_query(open_states)
        return [(r[0], int(r[1]), r[2]) for r in self._db.query(sql, params)]
