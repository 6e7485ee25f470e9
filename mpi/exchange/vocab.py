"""The words of the partner exchange, stored as text (one docstring per value)."""

from __future__ import annotations

from enum import StrEnum


class PartnerFormat(StrEnum):
    """How a partner is sent a referral's status."""

    FHIR_TASK = "fhir-task"
    """A FHIR R4 Task PUT to the partner's endpoint."""
    WEBHOOK = "webhook"
    """A JSON event POSTed to the partner's endpoint, signed with the partner's secret."""


class PartnerStatus(StrEnum):
    """Whether a partner is being sent messages."""

    ACTIVE = "active"
    """Messages are delivered as they are queued."""
    PAUSED = "paused"
    """Messages keep queueing but are not sent (the partner's view is stale until it resumes)."""


class Subscription(StrEnum):
    """Which referrals' status changes a partner receives, by how its organisation stands to them.

    A partner receives every status change of each referral any of its subscriptions covers (once,
    however many cover it).
    """

    REQUESTER = "requester"
    """The referrals its organisation requested: feedback at every status point."""
    PERFORMER = "performer"
    """The referrals its organisation performs (sent to it, or redirected to it)."""
    MEMBER = "member"
    """The referrals of its members: persons its organisation holds a source record of (an MCO's members
    are the persons its member records are linked to), whoever requested or performs them."""


class DeliveryStatus(StrEnum):
    """Where an outbound message stands (../shared/domain.md §4: delivery never changes a referral's state)."""

    QUEUED = "queued"
    """Written with the status change, waiting for its turn (its partner active, the messages before it sent)."""
    SENT = "sent"
    """Handed to the partner, its answer not yet recorded (a worker that stops here sends it again, same key)."""
    ACKNOWLEDGED = "acknowledged"
    """The partner answered 2xx: delivered."""
    FAILED = "failed"
    """The last attempt failed for a reason worth retrying (a network error, a timeout, 429, 5xx); the next
    attempt is scheduled (``next_attempt_at``)."""
    DEAD = "dead"
    """No more attempts (its retries spent, or a 4xx other than 429): in the outbound exception queue until
    it is back-posted. The messages after it for the same referral and partner wait behind it."""


#: Statuses of a message still to be delivered (the messages after it for the same referral and partner wait).
UNDELIVERED = (DeliveryStatus.QUEUED.value, DeliveryStatus.SENT.value, DeliveryStatus.FAILED.value,
               DeliveryStatus.DEAD.value)
