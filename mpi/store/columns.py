"""The columns of every table, in table order: named once here, read by every gateway that selects or writes them.

``schema.py`` creates the tables (its migrations are history and never change);
these tuples are what the code reads and writes today, so a gateway that needs
a table's columns names this tuple instead of spelling them again.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

META = ("key", "value")
PERSONS = ("person_id", "status", "redirect_to", "golden", "created_at", "updated_at")
SOURCE_RECORDS = ("source_system", "source_record_id", "raw", "norm", "received_at", "updated_at")
BLOCKING_KEYS = ("block_key", "source_system", "source_record_id")
LINKS = ("source_system", "source_record_id", "person_id", "decision", "link_source", "score", "probability",
         "evidence", "model_version", "linked_at")
#: A link's columns after the record key: what a link says of the record.
LINK_FIELDS = LINKS[2:]
REVIEW_CASES = ("case_id", "kind", "source_system", "source_record_id", "state", "priority", "resolution", "owner",
                "blocks", "model_version", "created_at", "updated_at", "due_at", "version")
REVIEW_CANDIDATES = ("case_id", "rank", "person_id", "score", "probability", "evidence")
#: Why a case holds its record (migration 18): one row per case, replaced when the case is re-scored.
CASE_REASONS = ("case_id", "code", "sentence", "detail", "recorded_at")
CASE_HOLDS = ("case_id", "held_at", "held_by", "note", "follow_up", "released_at", "released_by")
NOT_DUPLICATE = ("source_system", "source_record_id", "person_id", "case_id", "actor", "reason", "decided_at")
#: Two persons a steward said are different humans (migration 16), ``person_a < person_b``.
PERSONS_APART = ("person_a", "person_b", "case_id", "actor", "reason", "decided_at")
MERGES = ("merge_id", "survivor_id", "loser_id", "actor", "reason", "case_id", "merged_at", "undone_at", "undone_by",
          "undo_reason")
AUDIT_LOG = ("event_id", "occurred_at", "actor", "action", "entity_type", "entity_id", "reason", "detail")
ACCESS_LOG = ("event_id", "occurred_at", "actor", "organisation", "role", "purpose", "action", "method", "route",
              "status", "entities")
USERS = ("name", "role", "token_hash", "created_at", "organisation")
#: ``api_keys`` without ``key_hash``: what is read and shown of a key (its hash is compared, never shown).
API_KEYS = ("key_id", "organisation", "role", "created_at", "created_by", "expires_at", "revoked_at", "revoked_by")
PARTNERS = ("partner_id", "organisation", "name", "endpoint", "format", "subscriptions", "status", "created_at",
            "created_by", "updated_at")
CROSSWALK_VERSIONS = ("version_id", "partner_id", "effective_from", "created_at", "created_by")
CROSSWALK_ROWS = ("line", "state", "reason", "label")
ORGANISATIONS = ("code", "name", "kind", "service_types", "calendar", "supervisors", "created_at", "updated_at")
REFERRALS = (
    "referral_id", "reference", "requester", "requester_referral_id", "performer", "service_type", "urgency",
    "reason", "requester_contact", "consent", "risk_flags", "service_address", "source_system", "source_record_id",
    "person_id", "state", "state_reason", "state_party", "resume_state", "gate", "review_case_id", "gated_since",
    "gated_seconds", "predecessor_id", "received_at", "recorded_at", "updated_at", "closed_at", "business_day_s",
    "ack_target_s", "ack_due_at", "ack_remind_at", "ack_met_at", "ack_business_s",
    "triage_target_s", "triage_due_at", "triage_remind_at", "triage_met_at", "triage_business_s",
    "contact_target_s", "contact_due_at", "contact_remind_at", "contact_met_at", "contact_business_s",
    "expiry_target_s", "expiry_due_at", "next_due_at", "next_clock", "version",
    "accepted_at", "declined_at", "redirected_at", "completed_at", "stepped_at", "pauses",
)
#: Columns of ``referrals`` holding JSON.
REFERRAL_JSON = frozenset({"requester_contact", "risk_flags", "service_address", "pauses"})
REFERRAL_EVENTS = ("referral_id", "seq", "kind", "from_state", "to_state", "event_time", "recorded_time", "actor",
                   "party", "reason", "note", "detail")
ALERTS = ("alert_id", "referral_id", "kind", "clock", "organisation", "recipients", "due_at", "raised_at",
          "acknowledged_at", "acknowledged_by")

#: Columns that hold a time (a snapshot keeps them as ISO text with their offset).
TIMES = frozenset({"created_at", "updated_at", "linked_at", "received_at"})


def loads(text: str | None) -> Any:
    """A JSON column's value as Python (None stays None)."""
    return None if text is None else json.loads(text)


def of_system(rows: Sequence[Sequence[Any]], source_system: str) -> tuple | None:
    """Of rows read by record id (the system first), the rest of the one under ``source_system``, or None.

    DuckDB finds rows through an index only for a filter on its one column, and scans the whole table for one on
    both key columns (``pending.BY_RECORD_ID``): a record is read by its id, and its system compared here.
    """
    return next((tuple(row[1:]) for row in rows if row[0] == source_system), None)


def select(columns: tuple[str, ...], prefix: str = "") -> str:
    """A select list of these columns (``prefix.`` before each, for a join)."""
    return ", ".join(f"{prefix}.{c}" if prefix else c for c in columns)


def marks(n: int) -> str:
    """``?, ?, ...``: ``n`` bound parameters."""
    return ", ".join("?" * n)
INBOUND_EXCEPTIONS = ("exception_id", "kind", "referral_id", "sender", "sender_role", "sender_organisation",
                      "received_at", "content_type", "raw_body", "error_code", "http_status", "reasons", "severity",
                      "owner", "due_at", "remedy", "state", "claimed_by", "claimed_at", "closed_by", "closed_at",
                      "produced_referral_id", "return_reason")
#: The outbox (migration 12): one row per message to a partner.
OUTBOUND_MESSAGES = ("message_id", "idempotency_key", "partner_id", "referral_id", "referral_version", "message_type",
                     "reason", "label", "crosswalk_version", "lossy", "event_time", "recorded_time", "payload",
                     "status", "attempts", "next_attempt_at", "sent_at", "acknowledged_at", "dead_at", "error_code",
                     "http_status", "back_post_id", "back_posted_at")
#: The outbound exception queue (migration 13): patterns of dead messages, their members, manual reports.
OUTBOUND_PATTERNS = ("pattern_id", "partner_id", "message_type", "error_code", "severity", "owner", "opened_at",
                     "due_at", "closed_at", "closed_by", "close_note", "back_post_id")
PATTERN_MESSAGES = ("pattern_id", "message_id", "referral_id", "dead_at", "severity")
MANUAL_REPORTS = ("report_id", "referral_id", "partner_id", "told_by", "method", "state", "reported_at", "note",
                  "recorded_at", "recorded_by")
#: Reconciliation (migration 14): partners' status snapshots, runs, rates per run, work items.
STATUS_SNAPSHOTS = ("snapshot_id", "partner_id", "received_at", "received_by", "source", "row_count")
STATUS_SNAPSHOT_ROWS = ("snapshot_id", "line", "referral_id", "reference", "label", "as_of")
RECONCILIATION_RUNS = ("run_id", "partner_id", "snapshot_id", "ran_at", "trigger", "actor", "grace_s", "compared",
                       "matched", "lagging", "mismatched", "opened", "seen_again", "cleared")
RECONCILIATION_RATES = ("run_id", "partner_id", "ran_at", "stage", "category", "expected_label", "compared",
                        "matched", "lagging", "mismatched")
RECONCILIATION_ITEMS = ("item_id", "partner_id", "referral_id", "reported_id", "our_state", "expected_label",
                        "reported_label", "crosswalk_version", "kind", "severity", "owner", "opened_at", "due_at",
                        "opened_run_id", "last_run_id", "last_seen_at", "seen_count", "state", "cause", "note",
                        "closed_by", "closed_at", "reissues")
#: Batch dedup runs (migration 15): the runs and what each found.
DEDUP_RUNS = ("run_id", "source", "engine", "model_version", "actor", "started_at", "ended_at", "outcome", "counts",
              "error", "report")
DEDUP_FINDINGS = ("run_id", "person_a", "person_b", "match_weight", "record_a", "record_b", "case_id", "merge_id")
