"""Domain words as enums stored as text, never as ordinals (docs/vocabulary.md says what each means)."""

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


#: States in which a case still waits for a steward (and can be overdue).
ACTIVE_CASE_STATES = (CaseState.OPEN, CaseState.IN_REVIEW, CaseState.ON_HOLD)
#: States in which a case is closed: it holds its record no longer.
CLOSED_CASE_STATES = (CaseState.RESOLVED, CaseState.WITHDRAWN)
#: Most urgent first: the queue's order.
URGENCY = (CasePriority.URGENT, CasePriority.HIGH, CasePriority.ROUTINE)


class Role(StrEnum):
    """What a caller may do."""

    HUB = "hub"
    """A referral hub or source system: submits and matches records, reads persons."""
    STEWARD = "steward"
    """A data steward: works review cases, and everything a hub may do."""
    ADMIN = "admin"
    """Manages models and users, and everything a steward may do."""


#: Roles that may work review cases and sign in to the review UI (their pages carry demographics).
STEWARD_ROLES = frozenset({Role.STEWARD, Role.ADMIN})


class EntityType(StrEnum):
    """What an audit event is about (its ``entity_id`` names which one)."""

    RECORD = "record"
    """A source record, named ``source_system/source_record_id``."""
    PERSON = "person"
    """A person, by person id."""
    REVIEW_CASE = "review_case"
    """A review case, by case id."""
    MODEL = "model"
    """A model version."""
    USER = "user"
    """A user, by name."""
    STORE = "store"
    """The store itself, by the table a change went over (``source_records``, ``blocking_keys``)."""


class Replay(StrEnum):
    """What an audit action does to the records a person holds, for replaying the log (person history)."""

    LINKS = "links"
    """The record (the event's entity) now belongs to ``detail.person_id``."""
    UNLINKS = "unlinks"
    """The record belongs to no one."""
    MERGES = "merges"
    """Every record in ``detail.records`` now belongs to ``detail.survivor_id``; the loser redirects to it."""
    UNMERGES = "unmerges"
    """Those records belong to ``detail.loser_id`` again, and the redirect is gone."""


class AuditAction(StrEnum):
    """Every action the audit log records: who did what to which entity, and why.

    An action that moves records between persons says so (``replay``; with the
    link source the link it writes is recorded under, ``link_source``), and
    person history replays exactly those (``mpi.identity.history``): a new
    action that moves records declares it here, or history cannot follow it.
    """

    replay: Replay | None
    link_source: LinkSource | None

    def __new__(cls, value: str, replay: Replay | None = None, link_source: LinkSource | None = None):
        member = str.__new__(cls, value)
        member._value_ = value
        member.replay = replay
        member.link_source = link_source
        return member

    RECORD_CREATED = "record.created"
    """A source record stored for the first time."""
    RECORD_UPDATED = "record.updated"
    """A source record sent again by its source (the same key): an update."""
    RECORDS_RENORMALISED = "records.renormalised"
    """Every stored record normalised again under new normalisation rules."""
    RECORDS_REKEYED = "records.rekeyed"
    """Every stored record keyed again under new blocking rules."""
    PERSON_CREATED = "person.created"
    """A new person made for a record no one else matched (or a steward's new person)."""
    PERSON_MERGED = "person.merged", Replay.MERGES
    """Two persons merged: the loser's records moved to the survivor, its id redirects there."""
    PERSON_UNMERGED = "person.unmerged", Replay.UNMERGES
    """A merge undone: both persons and their records as they were before it."""
    LINK_CREATED = "link.created", Replay.LINKS, LinkSource.AUTO
    """A record linked to a person it had not been linked to."""
    LINK_MOVED = "link.moved", Replay.LINKS, LinkSource.AUTO
    """A record's link moved from one person to another."""
    LINK_MANUAL = "link.manual", Replay.LINKS, LinkSource.MANUAL
    """A steward linked a record to a person outside a case."""
    LINK_REMOVED = "link.removed", Replay.UNLINKS
    """A record's link removed by re-matching: the record is held for review."""
    LINK_UNDONE = "link.undone", Replay.UNLINKS
    """A steward's link taken back: the record is back in review."""
    CASE_OPENED = "case.opened"
    """A review case opened for a record the matcher could not decide."""
    CASE_RESOLVED = "case.resolved"
    """A case closed because a steward linked its record outside the case."""
    CASE_WITHDRAWN = "case.withdrawn"
    """A case closed as no longer needed (its record was updated, re-matched, or a steward withdrew it)."""
    CASE_CLAIMED = "case.claimed"
    """A steward took a case to work on."""
    CASE_ASSIGNED = "case.assigned"
    """A case given to a steward."""
    CASE_LINKED = "case.linked"
    """A case resolved by linking its record to a candidate."""
    CASE_NEW_PERSON = "case.new_person"
    """A case resolved by making its record a new person."""
    CASE_NOT_DUPLICATE = "case.not_duplicate"
    """A case resolved as not the candidate person(s); the pairs are remembered."""
    CASE_MERGED = "case.merged"
    """A case resolved by a merge of two persons."""
    CASE_ON_HOLD = "case.on_hold"
    """A case held while identity is verified by outreach."""
    CASE_RELEASED = "case.released"
    """A hold ended: the case is back in review."""
    CASE_BLOCKS_SET = "case.blocks_set"
    """What a case blocks was set; its priority and due time follow."""
    MODEL_ACTIVATED = "model.activated"
    """A model version made the one matching uses."""
    USER_ADDED = "user.added"
    """A user created or given a new token."""
