"""Matching measures as SQL over the audit log and the review cases: pure builders, run by :class:`MatchingMetricsTable`.

What ``GET /v1/metrics/matching`` reports (``mpi.stewardship.matching_metrics``)
is counted here, in SQL, never from rows in Python:

- **auto-links**: the matcher's ``MATCH`` links that joined a record to a person
  (audit ``link.created`` / ``link.moved`` with the matcher's reason ``auto MATCH...``,
  whose person differs from the one before), in the period, by source system and
  by bucket of time; each marked **undone** when later a steward took the record
  from that person (``link.undone`` naming it; a steward's link elsewhere,
  ``link.manual`` or a case's ``MANUAL`` link, whose previous person it was) or an
  unmerge took the record away from it (``person.unmerged`` whose survivor it was,
  the record among those restored to the loser);
- **spot-checks**: ``SPOT_CHECK`` cases opened in the period, by resolution and state;
- **review share**: the matcher's decisions in the period (its links, ``auto ...``,
  and the cases it opened to hold a record) and how many held the record;
- **decisions by case kind**: cases resolved in the period, by kind and resolution.

Every domain word (actions, reason prefixes, kinds, states, codes, the bucket) is a
bound parameter passed in by the caller: the store knows no policy. A record is named
``source_system/source_record_id`` in the log; its source system is the part before
the first ``/`` (a source system code has none).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mpi.store.database import Database

#: Bucket sizes of the series over time (the word ``date_trunc`` takes: bound, never spliced).
BUCKETS = ("week", "month")


@dataclass(frozen=True)
class Words:
    """The audit and case words the measures need (bound as parameters).

    Args:
        link_actions: audit actions of a link written (``link.created``, ``link.moved``).
        auto_match_reason: how the matcher's ``MATCH`` link's audit reason starts (``auto MATCH``).
        auto_reason: how any of the matcher's link reasons starts (``auto ``: ``MATCH`` or ``NO_MATCH``).
        undone_action: a steward's undo of a link (``link.undone``; detail ``person_id``: the person left).
        manual_link_action: a steward's link outside a case (``link.manual``).
        manual_source: the link source of a steward's link in a case's audit detail (``MANUAL``).
        unmerged_action: an unmerge (detail ``survivor_id`` and ``records`` restored to the loser).
        case_opened_action: a case opened (detail ``record``, ``kind`` for other kinds than a held record's).
        held_kind: the kind of a case holding a record (``POSSIBLE_MATCH``).
        not_held_codes: ``held_because`` codes of cases the matcher did not open to hold a decision (a steward's
            undo, an unmerge).
        spot_kind: the spot-check kind; confirmed, rejected: its resolutions; active_states: waiting states.
    """

    link_actions: Sequence[str]
    auto_match_reason: str
    auto_reason: str
    undone_action: str
    manual_link_action: str
    manual_source: str
    unmerged_action: str
    case_opened_action: str
    held_kind: str
    not_held_codes: Sequence[str]
    spot_kind: str
    confirmed: str
    rejected: str
    active_states: Sequence[str]


def _period(column: str, start: datetime | None, end: datetime) -> tuple[str, list[Any]]:
    if start is None:
        return f"{column} < ?", [end]
    return f"{column} >= ? AND {column} < ?", [start, end]


def auto_links_query(words: Words, start: datetime | None, end: datetime, bucket: str) -> tuple[str, list[Any]]:
    """Auto-links joining a person in ``[start, end)`` and how many were later undone, by source system and bucket.

    Rows: (source_system, period start date, auto-links, undone or unmerged). Sum them for any total.
    "Later" is by the log's order (``event_id``), which is commit order, never by two equal clock readings.
    """
    period, period_params = _period("occurred_at", start, end)
    sql = f"""
        WITH auto AS (
            SELECT event_id, entity_id AS record, split_part(entity_id, '/', 1) AS source_system,
                   json_extract_string(detail, '$.person_id') AS person_id,
                   CAST(date_trunc(?, timezone('UTC', occurred_at)) AS DATE) AS period_start
            FROM audit_log
            WHERE entity_type = 'record' AND list_contains(?, action) AND starts_with(reason, ?) AND {period}
              AND json_extract_string(detail, '$.person_id') IS DISTINCT FROM
                  json_extract_string(detail, '$.previous_person_id')
        ),
        taken AS (
            SELECT event_id, entity_id AS record, json_extract_string(detail, '$.person_id') AS person_id
            FROM audit_log WHERE entity_type = 'record' AND action = ?
            UNION ALL
            SELECT event_id, entity_id, json_extract_string(detail, '$.previous_person_id')
            FROM audit_log
            WHERE entity_type = 'record'
              AND (action = ? OR (list_contains(?, action) AND json_extract_string(detail, '$.link_source') = ?))
              AND json_extract_string(detail, '$.person_id') IS DISTINCT FROM
                  json_extract_string(detail, '$.previous_person_id')
            UNION ALL
            SELECT event_id, unnest(from_json(json_extract(detail, '$.records'), '["VARCHAR"]')),
                   json_extract_string(detail, '$.survivor_id')
            FROM audit_log WHERE action = ?
        )
        SELECT a.source_system, a.period_start, count(*) AS auto_links,
               count_if(EXISTS (SELECT 1 FROM taken t WHERE t.record = a.record AND t.person_id = a.person_id
                                AND t.event_id > a.event_id)) AS undone
        FROM auto a GROUP BY ALL ORDER BY a.source_system, a.period_start"""
    params = [bucket, list(words.link_actions), words.auto_match_reason, *period_params, words.undone_action,
              words.manual_link_action, list(words.link_actions), words.manual_source, words.unmerged_action]
    return sql, params


def spot_checks_query(words: Words, start: datetime | None, end: datetime, bucket: str) -> tuple[str, list[Any]]:
    """Spot-check cases opened in ``[start, end)``: rows of (source_system, period start, sampled, confirmed,
    rejected, still waiting)."""
    period, period_params = _period("created_at", start, end)
    sql = f"""
        SELECT source_system, CAST(date_trunc(?, timezone('UTC', created_at)) AS DATE) AS period_start,
               count(*) AS sampled, count_if(resolution = ?) AS confirmed, count_if(resolution = ?) AS rejected,
               count_if(list_contains(?, state)) AS waiting
        FROM review_cases WHERE kind = ? AND {period}
        GROUP BY ALL ORDER BY source_system, period_start"""
    return sql, [bucket, words.confirmed, words.rejected, list(words.active_states), words.spot_kind, *period_params]


def review_share_query(words: Words, start: datetime | None, end: datetime) -> tuple[str, list[Any]]:
    """The matcher's decisions in ``[start, end)`` and those that held the record: one row (decided, held)."""
    period, period_params = _period("occurred_at", start, end)
    sql = f"""
        SELECT count_if(entity_type = 'record') + count_if(entity_type = 'review_case') AS decided,
               count_if(entity_type = 'review_case') AS held
        FROM audit_log
        WHERE {period} AND (
            (entity_type = 'record' AND list_contains(?, action) AND starts_with(reason, ?))
            OR (entity_type = 'review_case' AND action = ?
                AND json_extract_string(detail, '$.record') IS NOT NULL
                AND coalesce(json_extract_string(detail, '$.kind'), ?) = ?
                AND NOT list_contains(?, coalesce(json_extract_string(detail, '$.held_because'), ''))))"""
    return sql, [*period_params, list(words.link_actions), words.auto_reason, words.case_opened_action,
                 words.held_kind, words.held_kind, list(words.not_held_codes)]


def decisions_query(start: datetime | None, end: datetime) -> tuple[str, list[Any]]:
    """Cases resolved in ``[start, end)`` (their last change), counted by kind and resolution."""
    period, period_params = _period("updated_at", start, end)
    sql = (f"SELECT kind, resolution, count(*) FROM review_cases WHERE resolution IS NOT NULL AND {period} "
           "GROUP BY ALL ORDER BY kind, resolution")
    return sql, period_params


class MatchingMetricsTable:
    """Runs the matching measures' queries over one store."""

    def __init__(self, db: Database):
        self._db = db

    def auto_links(self, words: Words, start: datetime | None, end: datetime, bucket: str) -> list[tuple]:
        return [tuple(r) for r in self._db.query(*auto_links_query(words, start, end, bucket))]

    def spot_checks(self, words: Words, start: datetime | None, end: datetime, bucket: str) -> list[tuple]:
        return [tuple(r) for r in self._db.query(*spot_checks_query(words, start, end, bucket))]

    def review_share(self, words: Words, start: datetime | None, end: datetime) -> tuple[int, int]:
        row = self._db.one(*review_share_query(words, start, end))
        return int(row[0] or 0), int(row[1] or 0)

    def decisions(self, start: datetime | None, end: datetime) -> list[tuple[str, str, int]]:
        return [tuple(r) for r in self._db.query(*decisions_query(start, end))]
