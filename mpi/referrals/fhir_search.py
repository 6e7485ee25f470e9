"""FHIR Task search (``GET /fhir/Task?owner=&status=``) over the caller's referral list.

The search is the referral list (:meth:`~mpi.referrals.reads.ReferralReads.page`),
scoped to the caller the same way, newest first. A Task status is a set of list
filters (:func:`~mpi.referrals.fhir.search_filters`); when it takes two (a gated
referral in progress shows ``on-hold``), their pages are merged in the list's own
order, so paging and the total stay exact.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping
from itertools import islice
from typing import Any

from mpi.auth import Caller
from mpi.referrals.fhir import owner_code, search_filters
from mpi.referrals.service import ReferralService

#: The list's "newest" order, which the merge repeats: received_at, then referral_id, both descending.
ORDER = "newest"
_CHUNK = 500


def _newest(referral: Mapping[str, Any]) -> tuple:
    return referral["received_at"], referral["referral_id"]


def _rows(referrals: ReferralService, caller: Caller, filters: Mapping[str, Any], upto: int) -> Iterator[dict]:
    """The first ``upto`` referrals of one filter set, read a chunk at a time."""
    offset = 0
    while offset < upto:
        page = referrals.page(caller, **filters, order=ORDER, limit=min(_CHUNK, upto - offset), offset=offset)
        yield from page["referrals"]
        offset += len(page["referrals"])
        if not page["referrals"] or offset >= page["total"]:
            return


def search(referrals: ReferralService, caller: Caller, *, owner: str | None = None, status: str | None = None,
           count: int = 50, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """One page of the referrals the caller may see whose Task matches, and the count of all that match.

    A redirect's successor is read whole (its Task names the first referral of its chain).

    Raises:
        ValidationError: a bad owner or status (or count, offset: as the list checks them).
    """
    performer = owner_code(owner)
    scoped = [{**f, "performer": performer} for f in search_filters(status)]
    if not scoped:
        return [], 0
    if len(scoped) == 1:
        page = referrals.page(caller, **scoped[0], order=ORDER, limit=count, offset=offset)
        rows, total = page["referrals"], page["total"]
    else:
        total = sum(referrals.page(caller, **f, order=ORDER, limit=1)["total"] for f in scoped)
        merged = heapq.merge(*(_rows(referrals, caller, f, offset + count) for f in scoped), key=_newest,
                             reverse=True)
        rows = list(islice(merged, offset, offset + count))
    return [r if r["predecessor_id"] is None else referrals.get(r["referral_id"], caller) for r in rows], total
