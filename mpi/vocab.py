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


class CaseKind(StrEnum):
    """What a review case asks a steward (``kind``): the two kinds of match exception, and a spot-check."""

    POSSIBLE_MATCH = "POSSIBLE_MATCH"
    """A record the matcher could not decide, held unlinked with its candidates."""
    POSSIBLE_DUPLICATE = "POSSIBLE_DUPLICATE"
    """Two persons a batch run found that may be one human."""
    SPOT_CHECK = "SPOT_CHECK"
    """A random sample of the matcher's auto-links (``MPI_SPOT_CHECK_ONE_IN``): the record stays linked while a
    steward confirms the link or says it is the wrong person."""


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


class GrantKind(StrEnum):
    """How an organisation was given a person (minimum necessary: it reads only the persons it was given)."""

    RECORD = "record"
    """Its own record, submitted by one of its callers: it reads the person that record is linked to."""
    MATCH = "match"
    """A certain match (``MATCH``) answered to its ``/v1/match``: it reads that person."""


class HeldCode(StrEnum):
    """Why a review case holds its record (or its two persons): ``held_because.code`` on every case."""

    REVIEW_BAND = "review_band"
    """The best person scores between the policy's lower and upper thresholds."""
    AMBIGUOUS = "ambiguous"
    """Two persons score above the lower threshold within the ambiguity margin of each other."""
    HOLD_RULE = "hold_rule"
    """The best person scores above the upper threshold but its evidence meets a hold rule of the policy."""
    CONFLICT = "conflict"
    """The record contradicts one record of the best person (a conflict level of the policy)."""
    POSSIBLE_DUPLICATE = "possible_duplicate"
    """A batch dedup run found two persons that may be one human."""
    RETURNED_BY_STEWARD = "returned_by_steward"
    """A steward's link was undone: the record is back in review whatever its candidates score."""
    UNMERGED = "unmerged"
    """The record's person was unmerged and a referral waits on it: back in review."""
    HELD_WITH_CLUSTER = "held_with_cluster"
    """A batch load's cluster member, held because its representative is in review."""
    RESCORED = "rescored"
    """Scored afresh after identity changed, the record would no longer be held by the policy alone."""
    SPOT_CHECK = "spot_check"
    """An auto-link drawn for a spot-check: the record stays linked; a steward confirms it or rejects it."""
    UNRECORDED = "unrecorded"
    """Opened before reasons were recorded (migration 18): what is known is read from its candidates."""


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
    CONFIRMED = "confirmed"
    """A spot-check's auto-link is right: the record stays linked (the link stays ``AUTO``)."""
    REJECTED = "rejected"
    """A spot-check's auto-link is the wrong person: the link is undone, the pair kept apart, the record decided
    again."""


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
    """An organisation's system: submits and matches records, reads persons, sends and works its referrals."""
    COORDINATOR = "coordinator"
    """A person at an organisation working its referrals (the worklist)."""
    STEWARD = "steward"
    """A data steward: works review cases, and everything a hub may do."""
    ADMIN = "admin"
    """Manages the directory, models and users, and everything a steward may do."""
    AUDITOR = "auditor"
    """Reads the access log."""


class KeyStatus(StrEnum):
    """Whether an API key is accepted now (worked out from its expiry and revocation, never stored)."""

    ACTIVE = "active"
    """Accepted."""
    EXPIRED = "expired"
    """Its expiry has come: refused (401, saying it expired)."""
    REVOKED = "revoked"
    """An admin revoked it: refused from that moment (401, saying it was revoked)."""


#: Roles that may work review cases and sign in to the review UI (their pages carry demographics).
STEWARD_ROLES = frozenset({Role.STEWARD, Role.ADMIN})
#: Roles that submit and match records and read persons and records: a hub, and those who may do all a hub may.
#: A coordinator sees a person only through its referrals, an auditor only the access log.
IDENTITY_ROLES = frozenset({Role.HUB, Role.STEWARD, Role.ADMIN})


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
    ORGANISATION = "organisation"
    """An organisation of the directory, by its code."""
    REFERRAL = "referral"
    """A referral, by referral id."""
    ALERT = "alert"
    """A reminder or escalation of a referral's time target, by alert id."""
    API_KEY = "api_key"
    """An API key of an organisation, by key id (never its secret)."""
    MERGE = "merge"
    """A merge of two persons, by merge id."""
    PARTNER = "partner"
    """A partner system of the exchange, by partner id (never its signing secret)."""
    INBOUND_EXCEPTION = "inbound_exception"
    """A referral or status update that failed validation and was kept, by exception id."""
    OUTBOUND_PATTERN = "outbound_pattern"
    """A pattern of the outbound exception queue (dead messages of one partner, type and error), by pattern id."""
    RECONCILIATION_ITEM = "reconciliation_item"
    """A reconciliation work item: a real mismatch of a partner's view and ours, by item id."""


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
    PERSON_RETIRED = "person.retired"
    """A person whose last record the matcher moved to another person: its id redirects where its records went."""
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
    CASE_RESCORED = "case.rescored"
    """An open case's record scored afresh because a merge, unmerge or link changed its candidates."""
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
    CASE_CONFIRMED = "case.confirmed"
    """A spot-check case resolved: the auto-link it sampled is right."""
    CASE_REJECTED = "case.rejected"
    """A spot-check case resolved: the auto-link it sampled is the wrong person (the link was undone)."""
    CASE_ON_HOLD = "case.on_hold"
    """A case held while identity is verified by outreach."""
    CASE_RELEASED = "case.released"
    """A hold ended: the case is back in review."""
    CASE_BLOCKS_SET = "case.blocks_set"
    """What a case blocks was set; its priority and due time follow."""
    MODEL_ACTIVATED = "model.activated"
    """A model version made the one matching uses."""
    MODEL_TRAINED = "model.trained"
    """A model version learned from steward decisions: what it learned from, its held-out precision, activated or not."""
    USER_ADDED = "user.added"
    """A user created or given a new token."""
    KEY_CREATED = "key.created"
    """An API key made for an organisation and a role (the detail says which, and its expiry)."""
    KEY_REVOKED = "key.revoked"
    """An API key revoked: refused from that moment."""
    PARTNER_ADDED = "partner.added"
    """A partner system added to the exchange (the detail names its organisation, format and subscriptions)."""
    CROSSWALK_VERSION_ADDED = "crosswalk.version_added"
    """A new version of a partner's status crosswalk, with the date it is in force from."""
    ORGANISATION_ADDED = "organisation.added"
    """An organisation added to the directory, or its entry replaced."""
    REFERRAL_SUBMITTED = "referral.submitted"
    """A referral received from its requester (its person through the match decision)."""
    REFERRAL_STATUS_CHANGED = "referral.status_changed"
    """A referral moved to another state of its lifecycle."""
    REFERRAL_CORRECTED = "referral.corrected"
    """The requester corrected a referral returned as information-incomplete: it is back where it was."""
    REFERRAL_REOPENED = "referral.reopened"
    """A closed referral reopened, back in the state it closed from."""
    REFERRAL_GATED = "referral.gated"
    """A referral waits on a review case for its person's identity (``identity_pending``)."""
    REFERRAL_GATE_LIFTED = "referral.gate_lifted"
    """The review case a referral waited on was decided: the referral belongs to a person."""
    REFERRAL_PERSON_CHANGED = "referral.person_changed"
    """A referral's person changed under it (its record moved, or its person was merged away)."""
    ALERTS_RAISED = "alerts.raised"
    """A sweep raised reminders and escalations of time targets (the detail counts them)."""
    ALERT_ACKNOWLEDGED = "alert.acknowledged"
    """Someone acknowledged a reminder or an escalation."""
    INBOUND_KEPT = "inbound.kept"
    """A referral or status update that failed validation, kept in the inbound exception queue."""
    INBOUND_CLAIMED = "inbound.claimed"
    """Someone took an inbound exception to work: it shows exception recovery in progress."""
    INBOUND_REPLAY_FAILED = "inbound.replay_failed"
    """A corrected body replayed through intake and refused again: the exception stays open."""
    INBOUND_RESOLVED = "inbound.resolved"
    """An inbound exception corrected and replayed: it names the referral it produced."""
    INBOUND_RETURNED = "inbound.returned"
    """An inbound exception returned to its sender with a reason."""
    PARTNER_PAUSED = "partner.paused"
    """A partner paused: its messages keep queueing unsent (the detail has the reason)."""
    PARTNER_RESUMED = "partner.resumed"
    """A paused partner resumed: its queued messages flow again, in order."""
    OUTBOUND_BACK_POSTED = "outbound.back_posted"
    """A pattern's or a partner's held messages sent again after a fix; the patterns closed with the note."""
    MANUAL_REPORT_RECORDED = "manual_report.recorded"
    """Staff recorded telling a partner a referral's state by hand (phone, fax, ...) while its feed was down."""
    RECONCILIATION_RUN = "reconciliation.run"
    """A partner's status snapshot reconciled (the detail counts what matched, lagged, mismatched, opened)."""
    RECONCILIATION_CLOSED = "reconciliation.closed"
    """A reconciliation work item closed with its cause."""
    RECONCILIATION_REISSUED = "reconciliation.reissued"
    """A reconciliation work item's fix: the right status update written again to the outbox."""
