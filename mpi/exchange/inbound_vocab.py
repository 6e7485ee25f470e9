"""The inbound exception queue's words, and the small rules that grade what a kept message carries.

Severity is by coordination consequence (shared/domain.md §5), read from what the
body carries, so it works on a body that is only partly valid:

- ``high``: a referral whose urgency is ``discharge`` (a hospital discharge missed for one field);
- ``medium``: an ``urgent`` referral, a status update that is not a closure, and a body that could
  not be read at all (what it carried is unknown, so it is not graded lowest);
- ``low``: a ``routine`` (or ungraded) referral, and a status update closing a referral (completed,
  declined, closed_not_served, cancelled, ...): late closure news changes no one's next step.

The remedy says who can fix it: a body that is not readable JSON, or a status update for a
referral we do not know (or the sender may not see), must go back to the sender; a readable
body with bad or missing fields can be corrected locally by someone who knows the answer
(a phone call) and replayed. Both actions stay open to staff: the remedy is advice.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from mpi.referral_vocab import Urgency
from mpi.referrals.lifecycle import TERMINAL_STATES


class InboundKind(StrEnum):
    """What a kept message was meant to be."""

    REFERRAL = "referral"
    """A new referral (``POST /v1/referrals``)."""
    STATUS_UPDATE = "status_update"
    """A status update of a referral (``POST /v1/referrals/{id}/status``)."""


class InboundState(StrEnum):
    """Where a kept message is in its recovery."""

    OPEN = "open"
    """Kept, waiting for someone to work it."""
    IN_PROGRESS = "in_progress"
    """Someone claimed it: it shows ``exception recovery in progress``."""
    RESOLVED = "resolved"
    """Corrected and replayed through intake: it names the referral it produced."""
    RETURNED = "returned"
    """Sent back to its sender with a reason."""


#: What a kept message shows while someone works it.
RECOVERY_IN_PROGRESS = "exception recovery in progress"
#: States from which an exception may still be worked (claimed, replayed, returned).
WORKABLE = (InboundState.OPEN.value, InboundState.IN_PROGRESS.value)


class Severity(StrEnum):
    """How much a kept message holds up coordination (the rule is in this module's docstring)."""

    HIGH = "high"
    """A discharge referral."""
    MEDIUM = "medium"
    """An urgent referral, a status update that is not a closure, or an unreadable body."""
    LOW = "low"
    """A routine referral, or a closing status update."""


class Remedy(StrEnum):
    """Who can fix a kept message."""

    CORRECT_LOCALLY = "correct_locally"
    """A readable body with bad or missing fields: staff may correct it and replay it."""
    RETURN_TO_SENDER = "return_to_sender"
    """Unreadable, or about a referral we do not know: only the sender can fix it."""


#: Error codes of bodies that could not be read as JSON at all (``api/bodies.py``).
UNREADABLE_CODES = frozenset({"unsupported_media_type", "bad_request"})


def severity_of(kind: str, data: Any) -> Severity:
    """The severity of a kept message from what it carries (``data``: the parsed body, or None if unreadable)."""
    if not isinstance(data, dict):
        return Severity.MEDIUM
    if kind == InboundKind.REFERRAL:
        urgency = data.get("urgency")
        if urgency == Urgency.DISCHARGE:
            return Severity.HIGH
        return Severity.MEDIUM if urgency == Urgency.URGENT else Severity.LOW
    state = data.get("state")  # anything a sender sent: a list, an object, a number
    return Severity.LOW if isinstance(state, str) and state in TERMINAL_STATES else Severity.MEDIUM


def remedy_of(error_code: str, http_status: int) -> Remedy:
    """Who can fix a kept message, from how it failed."""
    if error_code in UNREADABLE_CODES or http_status == 404:
        return Remedy.RETURN_TO_SENDER
    return Remedy.CORRECT_LOCALLY
