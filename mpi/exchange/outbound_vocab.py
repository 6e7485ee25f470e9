"""The outbound exception queue's words, and the rule that grades a dead message by coordination consequence.

Severity (the same three words as the inbound queue's, :class:`Severity`) is read
from what the dead message would have told the partner, and from the referral:

- ``high``: any message of a ``discharge`` referral (a hospital discharge whose
  partner is left blind); and the negative or closing news the requester must see
  to act (find another provider, re-send, tell the client): ``declined``,
  ``redirected``, ``closed_not_served``, ``expired``, and ``on_hold`` with reason
  ``information-incomplete`` (returned to the requester to correct);
- ``medium``: news that changes what the partner can expect: ``accepted``,
  ``in_progress``, ``completed`` (the loop closing), ``cancelled``,
  ``entered_in_error``;
- ``low``: receipt news the next update supersedes: ``submitted``,
  ``acknowledged``, ``in_triage``, and ``on_hold`` for any other reason.

A pattern's severity is the highest of its messages': a discharge referral that
joins a pattern raises it, and its target is counted again from when it opened.
"""

from __future__ import annotations

from enum import StrEnum

from mpi.exchange.inbound_vocab import Severity
from mpi.referral_vocab import ReasonCode, ReferralState as S, Urgency

__all__ = ["ManualMethod", "PatternState", "Severity", "severity_of", "highest"]

#: States whose news the requester must see to act on it.
MUST_SEE = frozenset({S.DECLINED.value, S.REDIRECTED.value, S.CLOSED_NOT_SERVED.value, S.EXPIRED.value})
#: States whose news changes what the partner can expect.
EXPECTATION = frozenset({S.ACCEPTED.value, S.IN_PROGRESS.value, S.COMPLETED.value, S.CANCELLED.value,
                         S.ENTERED_IN_ERROR.value})
_RANK = {Severity.LOW.value: 0, Severity.MEDIUM.value: 1, Severity.HIGH.value: 2}


class PatternState(StrEnum):
    """Whether a pattern is still in the queue."""

    OPEN = "open"
    """Dead messages wait in it; later dead messages of its key join it."""
    CLOSED = "closed"
    """Back-posted after the fix, with a note; a later dead message of its key opens a new pattern."""


class ManualMethod(StrEnum):
    """How staff told a partner a referral's state while its feed was down."""

    PHONE = "phone"
    """A call."""
    FAX = "fax"
    """A fax."""
    EMAIL = "email"
    """An email."""
    PORTAL = "portal"
    """The partner's own portal, entered by hand."""
    OTHER = "other"
    """Any other way (the note says which)."""


def severity_of(message_type: str, reason: str | None, urgency: str | None) -> Severity:
    """The severity of one dead message (the rule is in this module's docstring)."""
    if urgency == Urgency.DISCHARGE or message_type in MUST_SEE:
        return Severity.HIGH
    if message_type == S.ON_HOLD and reason == ReasonCode.INFORMATION_INCOMPLETE:
        return Severity.HIGH
    return Severity.MEDIUM if message_type in EXPECTATION else Severity.LOW


def highest(*severities: str) -> str:
    """The most severe of these."""
    return max(severities, key=_RANK.__getitem__)
