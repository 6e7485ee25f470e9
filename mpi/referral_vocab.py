"""The referral tracker's words as enums stored as text (docs/referrals.md, docs/vocabulary.md say what each means).

Apart from :mod:`mpi.vocab` (identity, review, callers, the logs) only to keep each under about 400 lines; both
are the kernel's, imported by every domain that speaks of referrals.
"""

from enum import StrEnum


class ReferralState(StrEnum):
    """The business state of a referral (the lifecycle: ``mpi/referrals/lifecycle.py``)."""

    SUBMITTED = "submitted"
    """Received from the requester; waiting for the performer to acknowledge it."""
    ACKNOWLEDGED = "acknowledged"
    """The performer confirmed receipt (a business act, not a transport acknowledgement)."""
    IN_TRIAGE = "in_triage"
    """The performer is judging eligibility or capacity."""
    ACCEPTED = "accepted"
    """The performer agreed to serve; nothing started yet."""
    IN_PROGRESS = "in_progress"
    """First contact made or the service started (never while the person's identity is pending)."""
    COMPLETED = "completed"
    """The service was delivered."""
    DECLINED = "declined"
    """The performer refused before acting (a coded reason)."""
    REDIRECTED = "redirected"
    """Routed to another performer: a successor referral carries the loop on."""
    CLOSED_NOT_SERVED = "closed_not_served"
    """Accepted, but the service could not be delivered (unable to contact, no show, client withdrew)."""
    ON_HOLD = "on_hold"
    """Waitlisted, waiting on the client, or returned to the requester as information-incomplete."""
    EXPIRED = "expired"
    """Never acknowledged in time: recalled by the system."""
    CANCELLED = "cancelled"
    """Withdrawn by the requester."""
    ENTERED_IN_ERROR = "entered_in_error"
    """Should never have existed (wrong person, created by mistake)."""


class Urgency(StrEnum):
    """How time-critical a referral is."""

    DISCHARGE = "discharge"
    """A hospital discharge: the most time-critical."""
    URGENT = "urgent"
    """Needs attention within hours."""
    ROUTINE = "routine"
    """Everything else."""


class Consent(StrEnum):
    """What the person said about sharing their information for this referral."""

    GRANTED = "granted"
    """Consent to share is recorded."""
    DECLINED = "declined"
    """The person declined to share."""
    UNKNOWN = "unknown"
    """Asked about, but not known."""


class Party(StrEnum):
    """Who made the call behind a status change (the metrics split on it)."""

    PROVIDER = "provider"
    """The performing organisation."""
    CLIENT = "client"
    """The person the referral is for."""
    REQUESTER = "requester"
    """The referring organisation."""
    SYSTEM = "system"
    """The service itself (an expiry)."""


class ReasonCode(StrEnum):
    """Why a referral was declined, closed, paused or withdrawn (with the party that made the call)."""

    NO_CAPACITY = "no-capacity"
    """At capacity, no funds or no slots."""
    NOT_ELIGIBLE = "not-eligible"
    """Fails the program's criteria."""
    OUT_OF_SERVICE_AREA = "out-of-service-area"
    """The client lives outside the service area."""
    SERVICE_NOT_OFFERED = "service-not-offered"
    """The wrong program or service was requested."""
    INFORMATION_INCOMPLETE = "information-incomplete"
    """Missing data or documents: returned to the requester to correct (not terminal)."""
    UNABLE_TO_CONTACT = "unable-to-contact"
    """Contact attempts exhausted."""
    CLIENT_DECLINED = "client-declined"
    """The client refused or is no longer interested."""
    ALREADY_SERVED = "already-served"
    """Active with another provider or program."""
    DUPLICATE = "duplicate"
    """A duplicate referral or client record."""
    SAFETY_CONCERN = "safety-concern"
    """A risk to the provider's or the client's safety."""
    REDIRECTED = "redirected"
    """Routed to another organisation in the network."""
    EXPIRED_NO_RESPONSE = "expired-no-response"
    """No acknowledgement or decision in time."""
    NEED_RESOLVED = "need-resolved"
    """The need was met otherwise."""
    PATIENT_MOVED = "patient-moved"
    """The person moved away."""
    DECEASED = "deceased"
    """The person died."""
    CREATED_IN_ERROR = "created-in-error"
    """The referral was made by mistake (wrong person, test)."""
    IDENTITY_UNRESOLVED = "identity-unresolved"
    """The person's identity could not be settled by a steward."""


class Gate(StrEnum):
    """What blocks a referral's progress without being its state."""

    IDENTITY_PENDING = "identity_pending"
    """A review case for the person is open: no first contact or completion until a steward decides it."""


class OrganisationKind(StrEnum):
    """What kind of organisation requests or performs referrals."""

    HOSPITAL = "hospital"
    """A hospital (discharges)."""
    PRIMARY_CARE = "primary-care"
    """A primary-care practice."""
    MCO = "mco"
    """A managed care organisation (a health plan)."""
    CBO = "cbo"
    """A community-based organisation (food, housing, transport)."""
    BEHAVIORAL_HEALTH = "behavioral-health"
    """A behavioral-health provider."""
    SOCIAL_SERVICES = "social-services"
    """A public social-services agency."""


class AlertKind(StrEnum):
    """A sweep's message about a referral's time target."""

    REMINDER = "reminder"
    """A target nears: sent to the organisation that owns the next step."""
    ESCALATION = "escalation"
    """A target passed: sent to that organisation's supervisors."""
    EXCEPTION_ESCALATION = "exception_escalation"
    """An exchange exception (inbound, outbound, reconciliation) passed its target resolution time: sent to the
    queue's owning team; its ``referral_id`` names the item and its ``clock`` the queue."""
