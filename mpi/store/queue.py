"""The steward's queue as SQL: pure builders of the queue and its counts, run by ``cases.py``.

Queries are *built* here and *run* by the case gateway; every value from outside
(and every domain word: states, priorities) is a bound parameter.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from mpi.store.columns import REVIEW_CASES, select
from mpi.vocab import ACTIVE_CASE_STATES, URGENCY

#: A case's due time: stored when it opens; for a case opened before due times were kept, its
#: creation plus its priority's target (each priority and its interval bound).
_DUE = ("coalesce(due_at, created_at + CASE priority WHEN ? THEN ?::INTERVAL "
        "WHEN ? THEN ?::INTERVAL ELSE ?::INTERVAL END)")
#: Most urgent first: the position of the case's priority in :data:`~mpi.vocab.URGENCY` (bound).
_URGENCY = "coalesce(list_position(?::VARCHAR[], priority), ?)"
AGE_BUCKETS = (("under_4h", timedelta(hours=4)), ("4h_to_24h", timedelta(hours=24)),
               ("1d_to_3d", timedelta(days=3)), ("over_3d", None))
_ACTIVE = [s.value for s in ACTIVE_CASE_STATES]


def _due_params(targets: dict[str, timedelta]) -> list[Any]:
    urgent, high, routine = (p.value for p in URGENCY)
    return [urgent, targets[urgent], high, targets[high], targets[routine]]


def _urgency_params() -> list[Any]:
    return [[p.value for p in URGENCY], len(URGENCY)]


def queue_query(*, states: Sequence[str], targets: dict[str, timedelta], now: datetime,
                priorities: Sequence[str] | None = None, owner: str | None = None,
                source_system: str | None = None, min_age_hours: float | None = None,
                overdue: bool | None = None, limit: int = 100, offset: int = 0,
                active_states: Sequence[str] = tuple(_ACTIVE), kind: str | None = None) -> tuple[str, list[Any]]:
    """SQL and parameters of the queue: cases matching the filters, most urgent first, then oldest."""
    clauses, params = ["list_contains(?, state)"], [list(states)]
    if priorities:
        clauses.append("list_contains(?, priority)")
        params.append(list(priorities))
    if owner is not None:
        clauses.append("owner = ?")
        params.append(owner)
    if source_system is not None:
        clauses.append("source_system = ?")
        params.append(source_system)
    if kind is not None:
        clauses.append("kind = ?")
        params.append(kind)
    if min_age_hours is not None:
        clauses.append("created_at <= ?")
        params.append(now - timedelta(hours=float(min_age_hours)))
    if overdue is not None:
        clauses.append(("" if overdue else "NOT ") + "(due < ? AND list_contains(?, state))")
        params += [now, list(active_states)]
    sql = (f"WITH c AS (SELECT *, {_DUE} AS due FROM review_cases) "
           f"SELECT {select(REVIEW_CASES[:-2])}, due, version FROM c WHERE {' AND '.join(clauses)} "
           f"ORDER BY {_URGENCY}, created_at, case_id LIMIT ? OFFSET ?")
    return sql, [*_due_params(targets), *params, *_urgency_params(), int(limit), int(offset)]


def counts_query(*, states: Sequence[str], targets: dict[str, timedelta], now: datetime) -> tuple[str, list[Any]]:
    """SQL and parameters counting the waiting cases by priority, state, age bucket and overdue."""
    whens, params = [], []
    for name, upper in AGE_BUCKETS:
        if upper is None:
            whens.append("ELSE ?")
            params.append(name)
        else:
            whens.append("WHEN created_at > ? THEN ?")
            params += [now - upper, name]
    sql = (f"WITH c AS (SELECT priority, state, created_at, {_DUE} AS due FROM review_cases "
           "WHERE list_contains(?, state)) "
           f"SELECT priority, state, CASE {' '.join(whens)} END AS bucket, due < ? AS overdue, count(*) "
           "FROM c GROUP BY ALL")
    return sql, [*_due_params(targets), list(states), *params, now]
