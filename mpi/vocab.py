"""Domain words (shared/domain.md) as enums stored as text, never as ordinals."""

from enum import StrEnum


class Decision(StrEnum):
    """Outcome of matching one inbound record against the index."""

    MATCH = "MATCH"
    """Best candidate at or above the upper threshold, none close behind: auto-linked."""
    POSSIBLE_MATCH = "POSSIBLE_MATCH"
    """Between the thresholds, or two persons above the lower one: a review case holds the record."""
    NO_MATCH = "NO_MATCH"
    """Every candidate below the lower threshold: a new person is created."""
    POSSIBLE_DUPLICATE = "POSSIBLE_DUPLICATE"
    """Two existing persons look like one human (batch dedup): a review case to merge."""


class LinkSource(StrEnum):
    """Who made a link: the machine, or a steward (whose word the machine never overturns)."""

    AUTO = "AUTO"
    """Made by the matcher under the active policy."""
    MANUAL = "MANUAL"
    """Made or confirmed by a steward; re-matching never changes it."""


class PersonStatus(StrEnum):
    """Whether a person id is live or points at the survivor of a merge."""

    ACTIVE = "ACTIVE"
    """A live identity."""
    REDIRECTED = "REDIRECTED"
    """Lost a merge; reads follow ``redirect_to``. The id is never reused."""


class CaseState(StrEnum):
    """Life of a review case."""

    OPEN = "open"
    """Waiting for a steward."""
    IN_REVIEW = "in_review"
    """Claimed by a steward."""
    ON_HOLD = "on_hold"
    """Waiting on identity verification by outreach."""
    RESOLVED = "resolved"
    """Decided; see the resolution."""
    WITHDRAWN = "withdrawn"
    """No longer needed (the record was withdrawn or superseded)."""


class CaseResolution(StrEnum):
    """How a steward resolved a review case."""

    LINKED = "linked"
    """The record was linked (MANUAL) to one of the case's candidate persons."""
    NEW_PERSON = "new_person"
    """The record is a human the index did not hold: a new person, linked MANUAL."""
    MERGED = "merged"
    """Two persons were one human: merged, the loser redirecting to the survivor."""
    NOT_DUPLICATE = "not_duplicate"
    """The record is not the candidate person(s); the pair is remembered and never comes back to review."""


class CasePriority(StrEnum):
    """Urgency of a review case, driven by what it blocks."""

    URGENT = "urgent"
    """Blocks a time-critical referral (e.g. hospital discharge of a high-risk person)."""
    HIGH = "high"
    """Blocks an active referral."""
    ROUTINE = "routine"
    """Blocks nothing yet."""


class MatchGrade(StrEnum):
    """FHIR Patient $match grades, as outside clients read our decisions."""

    CERTAIN = "certain"
    """At or above the upper threshold."""
    PROBABLE = "probable"
    """In the review band, in its upper half."""
    POSSIBLE = "possible"
    """In the review band, in its lower half."""
    CERTAINLY_NOT = "certainly-not"
    """Below the lower threshold."""
