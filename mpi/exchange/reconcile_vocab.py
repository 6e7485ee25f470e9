"""Reconciliation's words (issue 15, point 5), stored as text, and the small rules that grade a mismatch.

What one snapshot row comes to (:class:`Outcome`): it matched, it lags (a one-off
that time or delivery will clear), or it is a real mismatch of a :class:`MismatchKind`.
A real mismatch opens a work item (:class:`ItemState`), closed with a :class:`Cause`.

Severity is by coordination consequence (shared/domain.md §5), as the inbound queue's:

- ``high``: a referral still open whose urgency is ``discharge`` or ``urgent``: someone may act today
  on the wrong view (chase a referral that was declined, wait on one that was accepted);
- ``medium``: any other open referral; a ``redirected`` one (a requester who sees it refused may refer
  the person again: the loop stays open on the successor); an identifier or a label nobody can place;
- ``low``: a referral closed otherwise: late closure news changes no one's next step.
"""

from __future__ import annotations

from enum import StrEnum

from mpi.exchange.inbound_vocab import Severity
from mpi.referral_vocab import ReferralState, Urgency
from mpi.referrals.lifecycle import OPEN_STATES


class Outcome(StrEnum):
    """What the comparison of one snapshot row came to."""

    MATCHED = "matched"
    """The partner shows the label it was last sent (acknowledged), or the one now on its way."""
    LAGGING = "lagging"
    """A one-off lag, not counted against anyone: an update still in flight, a report older than the
    partner's last acknowledged update, or a last action inside the grace period."""
    MISMATCHED = "mismatched"
    """A real mismatch: a work item is opened (or the open one for it seen again)."""


class LagReason(StrEnum):
    """Why a difference is a lag, not a mismatch."""

    IN_FLIGHT = "in_flight"
    """An update for the referral is queued, sent or failing (not yet acknowledged)."""
    SUPERSEDED = "superseded"
    """The row's ``as_of`` is older than the partner's acknowledgement of its last update."""
    GRACE = "grace"
    """The referral's last real action is inside the grace period (``MPI_RECONCILE_GRACE_MINUTES``)."""


class MismatchKind(StrEnum):
    """What kind of real mismatch a work item is."""

    DISAGREEMENT = "disagreement"
    """The partner shows a known label other than the one it last acknowledged (nor one on its way)."""
    UNDELIVERED = "undelivered"
    """No update for the referral was ever acknowledged and none is in flight (dead): the partner shows
    something else than the label of our last update."""
    UNKNOWN_REFERRAL = "unknown_referral"
    """An identifier mismatch: the row names a referral (by our id or the partner's own reference) that
    we do not know, or never told this partner of."""
    UNKNOWN_LABEL = "unknown_label"
    """The partner shows a label no version of its crosswalk maps (nor an internal state's name)."""


class ItemState(StrEnum):
    """Where a reconciliation work item stands."""

    OPEN = "open"
    """Seen in a run and not yet resolved (seen again, it stays this one item)."""
    CLOSED = "closed"
    """Closed by someone, with its cause."""
    CLEARED = "cleared"
    """A later run found the referral matching: closed by the system (no cause: nothing was done)."""


class Cause(StrEnum):
    """Why a mismatch happened, recorded when its work item is closed."""

    IDENTIFIER_MISMATCH = "identifier_mismatch"
    """The two systems name the referral differently (a wrong or missing id on either side)."""
    RECEIVING_LOGIC_FAILURE = "receiving_logic_failure"
    """The partner received the right update and its system showed something else."""
    MISSING_ACKNOWLEDGEMENT = "missing_acknowledgement"
    """The update never reached the partner, or its acknowledgement never reached us."""
    MAPPING_DEFECT = "mapping_defect"
    """The crosswalk mapped the state to a label that says the wrong thing (fixed by a new version)."""
    OUR_ERROR = "our_error"
    """Our state was wrong (the partner's view was right)."""


#: Open referrals: a wrong view of one may change what someone does next.
OPEN = frozenset(s.value for s in OPEN_STATES)
#: Urgencies whose open referrals are graded high.
PRESSING = frozenset({Urgency.DISCHARGE.value, Urgency.URGENT.value})
#: Kinds where the referral is not placed (no state to grade by).
UNPLACED = frozenset({MismatchKind.UNKNOWN_REFERRAL.value, MismatchKind.UNKNOWN_LABEL.value})


def severity_of(kind: str, state: str | None, urgency: str | None) -> Severity:
    """A mismatch's severity by coordination consequence (this module's docstring)."""
    if kind in UNPLACED or state is None or state == ReferralState.REDIRECTED:
        return Severity.MEDIUM
    if state in OPEN:
        return Severity.HIGH if urgency in PRESSING else Severity.MEDIUM
    return Severity.LOW


def stage_of(state: str | None) -> str:
    """The stage a rate is split by: ``open``, ``closed``, or ``unknown`` (no referral placed)."""
    return "unknown" if state is None else "open" if state in OPEN else "closed"


#: The grading rules as the store's run takes them (lists: bound as parameters of its SQL).
RULES = {"open_states": sorted(OPEN), "pressing": sorted(PRESSING), "medium_states": [ReferralState.REDIRECTED.value]}
