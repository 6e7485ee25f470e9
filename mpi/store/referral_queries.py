"""Referral lists as SQL: a pure builder of the filtered, paged list (the API's list and the worklist), run by ``referrals.py``.

Every value from outside, and every domain word (states, the gate), is a bound
parameter; column names come only from this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from mpi.store.columns import REFERRALS, select

#: Orders a list may take: by what is due first (the worklist), or newest first.
ORDERS = {
    "due": "next_due_at ASC NULLS LAST, received_at, referral_id",
    "newest": "received_at DESC, referral_id DESC",
}


def referral_query(*, now: datetime, open_states: Sequence[str], states: Sequence[str] | None = None,
                   performer: str | None = None, requester: str | None = None, party_of: str | None = None,
                   waiting_on: str | None = None, returned: tuple[str, str] | None = None,
                   gated: bool | None = None, overdue: bool | None = None, urgency: Sequence[str] | None = None,
                   service_type: str | None = None, person_id: str | None = None, order: str = "due",
                   limit: int = 50, offset: int = 0, count: bool = False) -> tuple[str, list[Any]]:
    """SQL and parameters of the referrals matching every filter given.

    Args:
        now: what ``overdue`` is measured against.
        open_states: the states in which a referral still waits on someone.
        party_of: only referrals this organisation requested or performs (a caller's scope).
        waiting_on: only referrals whose next step is this organisation's: open ones it performs
            (but those returned to the requester), and those returned to it as requester.
        returned: ``(state, reason)`` of a referral returned to its requester.
        gated: only gated (True) or only not gated (False) referrals.
        overdue: only referrals past the due time of a clock still running (True), or not (False).
        count: the count of all matches instead of a page.
    """
    clauses: list[str] = []
    params: list[Any] = []

    def where(clause: str, *values: Any) -> None:
        clauses.append(clause)
        params.extend(values)

    if states:
        where("list_contains(?, state)", list(states))
    if performer is not None:
        where("performer = ?", performer)
    if requester is not None:
        where("requester = ?", requester)
    if party_of is not None:
        where("(requester = ? OR performer = ?)", party_of, party_of)
    if waiting_on is not None:
        state, reason = returned or ("", "")
        where("list_contains(?, state) AND CASE WHEN state = ? AND state_reason = ? THEN requester = ? "
              "ELSE performer = ? END", list(open_states), state, reason, waiting_on, waiting_on)
    if gated is not None:
        where("gate IS NOT NULL" if gated else "gate IS NULL")
    if overdue is not None:
        where(("" if overdue else "NOT ") + "coalesce(next_due_at < ?, FALSE)", now)
    if urgency:
        where("list_contains(?, urgency)", list(urgency))
    if service_type is not None:
        where("service_type = ?", service_type)
    if person_id is not None:
        where("person_id = ?", person_id)
    condition = " AND ".join(clauses) or "TRUE"
    if count:
        return f"SELECT count(*) FROM referrals WHERE {condition}", params
    return (f"SELECT {select(REFERRALS)} FROM referrals WHERE {condition} ORDER BY {ORDERS[order]} LIMIT ? OFFSET ?",
            [*params, int(limit), int(offset)])
