"""What a referral discloses to whom: consent limits what its performer is shown (minimum necessary).

The rule, in two sentences (the README's): a referral's requester, and everyone when the
person's consent is ``granted``, sees the referral whole. Without consent (``declined`` or
``unknown``) its performer, or anyone else who reads it through a chain of redirects, sees
what the service needs (the service, urgency, the requester's contact, where to serve, risks,
the clocks) but not the ``reason`` text when the service type is of a sensitive domain (the
policy's ``sensitive_service_types``), and of the person only a name and a way to contact them
(:mod:`mpi.trust.access` shapes that person view).

Stewards, admins and the system see every referral whole. Each answer says what it
withheld (``withheld``: the fields), so a performer knows to ask the requester.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mpi.auth import Caller
from mpi.referral_vocab import Consent
from mpi.referrals.access import READ_ALL_ROLES
from mpi.referrals.policy import ReferralPolicy

#: The fields withheld from a partner without consent, for a sensitive service type.
SENSITIVE_FIELDS = ("reason",)


def whole_for(referral: Mapping[str, Any], caller: Caller | None) -> bool:
    """Whether the caller sees the referral (and its person) whole: the requester, a reader of everything,
    or anyone once the person consented to share."""
    if caller is None or caller.role in READ_ALL_ROLES:
        return True
    return caller.organisation == referral["requester"] or referral.get("consent") == Consent.GRANTED.value


def withheld(referral: Mapping[str, Any], caller: Caller | None, policy: ReferralPolicy) -> list[str]:
    """The fields of the referral the caller is not shown (none when it sees it whole)."""
    if whole_for(referral, caller) or referral["service_type"] not in policy.sensitive_service_types:
        return []
    return [f for f in SENSITIVE_FIELDS if referral.get(f) is not None]


def disclosed(referral: dict[str, Any], caller: Caller | None, policy: ReferralPolicy) -> dict[str, Any]:
    """The referral as the caller may see it: the withheld fields emptied and named in ``withheld``."""
    hidden = withheld(referral, caller, policy)
    referral["withheld"] = hidden
    for field in hidden:
        referral[field] = None
    return referral
