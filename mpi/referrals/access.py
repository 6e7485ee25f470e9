"""Who may see a referral, and on which side of it a caller stands.

A hub or a coordinator acts for its organisation: it sees only the referrals its
organisation requested or performs, and another organisation's referral answers
404 as if it did not exist (its existence is itself information). It takes the
steps of its side only: a requester asking for a performer's step is refused
(403) with the side and organisation that may take it. Stewards read every
referral (a case names the referrals waiting on it) but take no step; an admin
acts on either side; the system (the sweep, identity events) on every side.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mpi.auth import Caller
from mpi.errors import Forbidden, NotFound
from mpi.referrals.lifecycle import Side
from mpi.vocab import Role

#: Roles that send and work referrals for their organisation.
ACTING_ROLES = frozenset({Role.HUB.value, Role.COORDINATOR.value})
#: Roles that see every referral.
READ_ALL_ROLES = frozenset({Role.STEWARD.value, Role.ADMIN.value, "system"})


def visible(referral: Mapping[str, Any], caller: Caller) -> bool:
    """Whether the caller may see this referral at all."""
    if caller.role in READ_ALL_ROLES:
        return True
    org = caller.organisation
    return org is not None and org in (referral["requester"], referral["performer"])


def check_visible(referral: Mapping[str, Any] | None, referral_id: str, caller: Caller) -> Mapping[str, Any]:
    """The referral, or NotFound for a caller who may not see it (the same answer as for no referral)."""
    if referral is None or not visible(referral, caller):
        raise NotFound(f"referral {referral_id} not found")
    return referral


def side_of(referral: Mapping[str, Any], caller: Caller) -> Side:
    """The side a caller takes steps on.

    Raises:
        Forbidden: a caller whose role takes no steps on referrals (a steward, an auditor).
    """
    if caller.role in (Role.ADMIN.value, "system"):
        return Side.EITHER
    if caller.role not in ACTING_ROLES:
        raise Forbidden(f"the {caller.role} role reads referrals but takes no step on them",
                        {"role": [f"{caller.role} may not change referrals"]})
    requester = caller.organisation == referral["requester"]
    performer = caller.organisation == referral["performer"]
    if requester and performer:
        return Side.EITHER
    return Side.REQUESTER if requester else Side.PERFORMER


def refuse_side(referral: Mapping[str, Any], what: str, by: Side) -> Forbidden:
    """The 403 for a step of the other side, naming the side and organisation that may take it."""
    if by is Side.SYSTEM:
        return Forbidden(f"only the system may {what}", {"state": ["taken by the system's sweep only"]})
    org = referral["performer"] if by is Side.PERFORMER else referral["requester"]
    return Forbidden(f"only the {by.value} ({org}) may {what}", {"party": [f"the {by.value}'s step: {org}"]})


def check_requester(requester: str, caller: Caller) -> None:
    """A referral is sent by the caller's own organisation (an admin may send for any).

    Raises:
        Forbidden: a caller of no organisation, of another one, or of a role that sends no referrals.
    """
    if caller.role == Role.ADMIN.value:
        return
    if caller.role not in ACTING_ROLES:
        raise Forbidden(f"the {caller.role} role does not send referrals", {"role": ["hub or coordinator"]})
    if caller.organisation is None:
        raise Forbidden("the caller belongs to no organisation, so it sends no referrals",
                        {"requester": ["the caller belongs to no organisation"]})
    if requester != caller.organisation:
        raise Forbidden(f"a caller sends referrals as its own organisation ({caller.organisation})",
                        {"requester": [f"must be {caller.organisation}"]})
