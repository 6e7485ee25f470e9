"""Reconciliation's tables: partners' status snapshots, runs and their rates, and the work items of real mismatches.

A run is set-based: one statement joins the snapshot's rows to ``referrals`` (by
our id, or by the partner's own reference: the ``requester_referral_id`` of a
referral its organisation requested) and to the partner's stream of
``outbound_messages`` (the last acknowledged message's label and crosswalk
version, the last message's, whether one is in flight), and grades every row
(:func:`outcome_sql`) into a temporary table. From it, in the same transaction,
the run's counts and its rates per stage, status category and expected label are
inserted, new mismatches open items (numbered after the item sequence), open
items seen again are counted, and open items whose referral now matches are
cleared. Nothing loops over rows in Python, so a 100,000-row snapshot takes seconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import pyarrow as pa

from mpi.errors import Conflict, NotFound
from mpi.store.columns import (
    RECONCILIATION_ITEMS,
    RECONCILIATION_RATES,
    RECONCILIATION_RUNS,
    STATUS_SNAPSHOTS,
    marks,
    select,
)
from mpi.store.database import Database

#: Columns the work queue may be filtered on (whitelisted: values are bound, names are these).
ITEM_FILTERS = ("partner_id", "state", "severity", "kind", "our_state", "owner")
_ITEMS = f"SELECT {select(RECONCILIATION_ITEMS)} FROM reconciliation_items"
_SNAPSHOT_TYPES = {"snapshot_id": pa.int64(), "line": pa.int32(), "referral_id": pa.string(),
                   "reference": pa.string(), "label": pa.string(), "as_of": pa.timestamp("us", tz="UTC")}
# The words a run writes (``mpi.exchange.reconcile_vocab`` names and documents them; the store, below the
# exchange, spells them here, and tests/test_reconciliation.py checks that the two agree).
MATCHED, LAGGING, MISMATCHED = "matched", "lagging", "mismatched"
IN_FLIGHT, SUPERSEDED, GRACE = "in_flight", "superseded", "grace"
DISAGREEMENT, UNDELIVERED, UNKNOWN_REFERRAL, UNKNOWN_LABEL = ("disagreement", "undelivered", "unknown_referral",
                                                              "unknown_label")
OPEN, CLOSED, CLEARED = "open", "closed", "cleared"
#: A mismatch's severity over columns ``kind``, ``our_state``, ``urgency``; its parameters: the rules'
#: ``medium_states``, ``open_states``, ``pressing`` (``reconcile_vocab.severity_of`` is the same rule in Python).
SEVERITY = (f"CASE WHEN kind IN ('{UNKNOWN_REFERRAL}', '{UNKNOWN_LABEL}') OR our_state IS NULL "
            "OR list_contains(?::VARCHAR[], our_state) THEN 'medium' WHEN list_contains(?::VARCHAR[], our_state) "
            "THEN CASE WHEN list_contains(?::VARCHAR[], urgency) THEN 'high' ELSE 'medium' END ELSE 'low' END")
#: Delivery statuses of a message on its way (the words of ``mpi.exchange.vocab.DeliveryStatus``).
_IN_FLIGHT = ("queued", "sent", "failed")
_ACKNOWLEDGED = "acknowledged"


def outcome_sql(table: str) -> tuple[str, list[str]]:
    """The statement that grades every row of a snapshot into ``table`` (a temporary table), and the order of
    its parameters: ``snapshot_id``, ``organisation`` (the partner's, for its own references), ``partner_id``
    (its messages), ``partner_id`` (its crosswalk labels), ``states`` (internal states' names, also labels),
    ``received_at`` (a row's ``as_of`` when it has none), ``grace_from`` (a last action after it is in grace).

    Each row gets ``graded``, ``outcome|detail`` (matched, lagging with its reason, mismatched with its kind),
    the referral placed (``rid``), its state and urgency, and the expected label and crosswalk version.
    """
    flight = ", ".join(f"'{s}'" for s in _IN_FLIGHT)
    reported = "lower(trim(s.label))"
    grade = (
        f"CASE WHEN s.rid IS NULL OR st.last_id IS NULL THEN '{MISMATCHED}|{UNKNOWN_REFERRAL}' "
        f"WHEN {reported} NOT IN (SELECT label FROM known) THEN '{MISMATCHED}|{UNKNOWN_LABEL}' "
        f"WHEN {reported} = lower(trim(a.label)) OR {reported} = lower(trim(l.label)) THEN '{MATCHED}|' "
        f"WHEN st.in_flight THEN '{LAGGING}|{IN_FLIGHT}' "
        f"WHEN a.acknowledged_at IS NOT NULL AND coalesce(s.as_of, $received) < a.acknowledged_at "
        f"THEN '{LAGGING}|{SUPERSEDED}' "
        f"WHEN r.stepped_at > $grace_from THEN '{LAGGING}|{GRACE}' "
        f"WHEN st.acked_id IS NULL THEN '{MISMATCHED}|{UNDELIVERED}' "
        f"ELSE '{MISMATCHED}|{DISAGREEMENT}' END")
    sql = f"""CREATE TEMP TABLE {table} AS
WITH snap AS (SELECT line, referral_id AS given_id, reference, label, as_of FROM status_snapshot_rows
              WHERE snapshot_id = $snapshot),
own AS (SELECT requester_referral_id AS reference, min(referral_id) AS rid FROM referrals
        WHERE requester = $organisation AND requester_referral_id IS NOT NULL GROUP BY requester_referral_id),
placed AS (SELECT snap.*, coalesce(r.referral_id, own.rid) AS rid FROM snap
           LEFT JOIN referrals r ON r.referral_id = snap.given_id
           LEFT JOIN own ON snap.given_id IS NULL AND own.reference = snap.reference),
stream AS (SELECT referral_id, max(message_id) AS last_id,
                  max(message_id) FILTER (WHERE status = '{_ACKNOWLEDGED}') AS acked_id,
                  bool_or(status IN ({flight})) AS in_flight
           FROM outbound_messages WHERE partner_id = $partner GROUP BY referral_id),
known AS (SELECT DISTINCT lower(trim(cr.label)) AS label FROM crosswalk_rows cr
          JOIN crosswalk_versions cv ON cv.version_id = cr.version_id WHERE cv.partner_id = $partner
          UNION SELECT lower(unnest($states::VARCHAR[])))
SELECT s.line, s.given_id, s.reference, s.label AS reported_label, s.rid, r.state AS our_state, r.urgency,
       coalesce(a.label, l.label) AS expected_label,
       CASE WHEN a.label IS NOT NULL THEN a.crosswalk_version ELSE l.crosswalk_version END AS crosswalk_version,
       {grade} AS graded
FROM placed s LEFT JOIN referrals r ON r.referral_id = s.rid
LEFT JOIN stream st ON st.referral_id = s.rid
LEFT JOIN outbound_messages a ON a.message_id = st.acked_id
LEFT JOIN outbound_messages l ON l.message_id = st.last_id"""
    names = ["snapshot", "organisation", "partner", "states", "received", "grace_from"]
    return sql, names


class ReconciliationTable:
    """Snapshots, runs, rates and work items of one store."""

    def __init__(self, db: Database):
        self._db = db
        db.sequence("snapshot", "SELECT max(snapshot_id) FROM status_snapshots")
        db.sequence("reconcile_run", "SELECT max(run_id) FROM reconciliation_runs")
        db.sequence("reconcile_item", "SELECT max(item_id) FROM reconciliation_items", prefix="RI")

    # -- snapshots ------------------------------------------------------------------------------

    def add_snapshot(self, snapshot: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> int:
        """Keep a snapshot and its rows (inside a transaction; the rows in one bulk insert); returns its id."""
        snapshot_id = self._db.next_id("snapshot")
        head = {**snapshot, "snapshot_id": snapshot_id, "row_count": len(rows)}
        self._db.execute(f"INSERT INTO status_snapshots ({select(STATUS_SNAPSHOTS)}) "
                         f"VALUES ({marks(len(STATUS_SNAPSHOTS))})", [head[c] for c in STATUS_SNAPSHOTS])
        columns = {name: pa.array([snapshot_id] * len(rows) if name == "snapshot_id" else [r.get(name) for r in rows],
                                  type=kind) for name, kind in _SNAPSHOT_TYPES.items()}
        table = pa.table(columns)

        def insert(cur) -> None:
            cur.register("snapshot_in", table)
            try:
                cur.execute(f"INSERT INTO status_snapshot_rows SELECT {', '.join(_SNAPSHOT_TYPES)} FROM snapshot_in")
            finally:
                cur.unregister("snapshot_in")
        self._db.run(insert, "keeping a status snapshot")
        return snapshot_id

    def snapshot(self, snapshot_id: int) -> dict[str, Any] | None:
        row = self._db.one(f"SELECT {select(STATUS_SNAPSHOTS)} FROM status_snapshots WHERE snapshot_id = ?",
                           [snapshot_id])
        return dict(zip(STATUS_SNAPSHOTS, row)) if row else None

    def latest_snapshots(self) -> list[dict[str, Any]]:
        """The latest snapshot of each partner (what a scheduled run compares again)."""
        return [dict(zip(STATUS_SNAPSHOTS, r)) for r in self._db.query(
            f"SELECT {select(STATUS_SNAPSHOTS)} FROM status_snapshots WHERE snapshot_id IN "
            "(SELECT max(snapshot_id) FROM status_snapshots GROUP BY partner_id) ORDER BY partner_id")]

    # -- a run ----------------------------------------------------------------------------------

    def run(self, run: Mapping[str, Any], params: Mapping[str, Any], items: Mapping[str, Any]) -> dict[str, Any]:
        """Grade a snapshot, record the run and its rates, open, count and clear items (inside a transaction).

        Args:
            run: ``partner_id``, ``snapshot_id``, ``ran_at``, ``trigger``, ``actor``, ``grace_s``.
            params: the grading's parameters, by the names :func:`outcome_sql` gives.
            items: ``owner``, ``due`` (a due time per severity) and ``rules`` for the items it opens and the
                rates' stages: ``open_states`` (stage open), ``pressing`` (urgencies graded high while open),
                ``medium_states`` (states graded medium whatever else: redirected).

        Returns:
            The run as stored (its counts).
        """
        run_id = self._db.next_id("reconcile_run")
        table = f"reconcile_outcome_{run_id}"
        sql, names = outcome_sql(table)
        order = _placeholder_order(sql, names)
        for name in names:  # each named use is one bound ``?``, in the order they appear
            sql = sql.replace(f"${name}", "?")
        self._db.execute(sql, [params[n] for n in order])
        try:
            counts = self._record(table, run_id, run, items)
        finally:
            self._db.execute(f"DROP TABLE IF EXISTS {table}")
        return counts

    def _record(self, table: str, run_id: int, run: Mapping[str, Any], items: Mapping[str, Any]) -> dict[str, Any]:
        db, now, partner, rules = self._db, run["ran_at"], run["partner_id"], items["rules"]
        db.execute(f"INSERT INTO reconciliation_rates ({select(RECONCILIATION_RATES)}) "
                   "SELECT ?, ?, ?, CASE WHEN our_state IS NULL THEN 'unknown' "
                   "WHEN list_contains(?::VARCHAR[], our_state) "
                   "THEN 'open' ELSE 'closed' END, coalesce(our_state, 'unknown'), expected_label, "
                   f"count(*), count(*) FILTER (WHERE graded LIKE '{MATCHED}|%'), "
                   f"count(*) FILTER (WHERE graded LIKE '{LAGGING}|%'), "
                   f"count(*) FILTER (WHERE graded LIKE '{MISMATCHED}|%') FROM {table} GROUP BY ALL",
                   [run_id, partner, now, rules["open_states"]])
        mismatched = (f"SELECT *, split_part(graded, '|', 2) AS kind, coalesce(rid, given_id, reference) AS subject "
                      f"FROM {table} WHERE graded LIKE '{MISMATCHED}|%'")
        same = ("i.partner_id = ? AND i.state = ? AND coalesce(i.referral_id, i.reported_id) = m.subject "
                "AND i.kind = m.kind AND coalesce(i.our_state, '') = coalesce(m.our_state, '') "
                "AND coalesce(i.expected_label, '') = coalesce(m.expected_label, '') "
                "AND lower(trim(i.reported_label)) = lower(trim(m.reported_label))")
        seen = db.execute(f"UPDATE reconciliation_items i SET last_run_id = ?, last_seen_at = ?, "
                          f"seen_count = seen_count + 1 FROM ({mismatched}) m WHERE {same} RETURNING i.item_id",
                          [run_id, now, partner, OPEN])
        number, numbering = db.numbering("reconcile_item", "m.line")
        due = items["due"]
        severity = SEVERITY
        new = db.execute(
            f"INSERT INTO reconciliation_items ({select(RECONCILIATION_ITEMS)}) "
            f"SELECT 'RI' || lpad(CAST({number} AS VARCHAR), 8, '0'), ?, m.rid, "
            "coalesce(m.given_id, m.reference), m.our_state, m.expected_label, m.reported_label, "
            f"m.crosswalk_version, m.kind, sev, ?, ?, CASE sev WHEN 'high' THEN ? WHEN 'medium' THEN ? ELSE ? END, "
            f"?, ?, ?, 1, ?, NULL, NULL, NULL, NULL, 0 FROM (SELECT *, {severity} AS sev FROM ({mismatched})) m "
            f"WHERE NOT EXISTS (SELECT 1 FROM reconciliation_items i WHERE {same}) RETURNING item_id",
            [*numbering, partner, items["owner"], now, due["high"], due["medium"], due["low"], run_id, run_id, now,
             OPEN, rules["medium_states"], rules["open_states"], rules["pressing"], partner, OPEN])
        db.numbered("reconcile_item", len(new))
        cleared = db.execute(
            f"UPDATE reconciliation_items SET state = ?, closed_at = ?, closed_by = ? WHERE partner_id = ? "
            f"AND state = ? AND referral_id IN (SELECT rid FROM {table} WHERE graded LIKE '{MATCHED}|%') "
            "RETURNING item_id", [CLEARED, now, run["actor"], partner, OPEN])
        totals = db.one(f"SELECT count(*), count(*) FILTER (WHERE graded LIKE '{MATCHED}|%'), "
                        f"count(*) FILTER (WHERE graded LIKE '{LAGGING}|%'), "
                        f"count(*) FILTER (WHERE graded LIKE '{MISMATCHED}|%') FROM {table}")
        stored = {**run, "run_id": run_id, "compared": totals[0], "matched": totals[1], "lagging": totals[2],
                  "mismatched": totals[3], "opened": len(new), "seen_again": len(seen), "cleared": len(cleared)}
        db.execute(f"INSERT INTO reconciliation_runs ({select(RECONCILIATION_RUNS)}) "
                   f"VALUES ({marks(len(RECONCILIATION_RUNS))})", [stored[c] for c in RECONCILIATION_RUNS])
        stored["lags"] = dict(db.query(f"SELECT split_part(graded, '|', 2), count(*) FROM {table} "
                                       f"WHERE graded LIKE '{LAGGING}|%' GROUP BY 1 ORDER BY 1"))
        stored["kinds"] = dict(db.query(f"SELECT split_part(graded, '|', 2), count(*) FROM {table} "
                                        f"WHERE graded LIKE '{MISMATCHED}|%' GROUP BY 1 ORDER BY 1"))
        return stored

    # -- reads ----------------------------------------------------------------------------------

    def runs(self, partner_id: str, limit: int) -> list[dict[str, Any]]:
        """A partner's latest runs, oldest first."""
        rows = self._db.query(f"SELECT {select(RECONCILIATION_RUNS)} FROM reconciliation_runs WHERE partner_id = ? "
                              "ORDER BY run_id DESC LIMIT ?", [partner_id, int(limit)])
        return [dict(zip(RECONCILIATION_RUNS, r)) for r in reversed(rows)]

    def rates(self, run_ids: Sequence[int]) -> list[dict[str, Any]]:
        """The rates of these runs, per stage, status category and expected label."""
        if not run_ids:
            return []
        return [dict(zip(RECONCILIATION_RATES, r)) for r in self._db.query(
            f"SELECT {select(RECONCILIATION_RATES)} FROM reconciliation_rates WHERE run_id IN ({marks(len(run_ids))}) "
            "ORDER BY run_id, stage, category, expected_label", list(run_ids))]

    def patterns(self, partner_id: str | None) -> list[dict[str, Any]]:
        """Open items grouped by signature (partner, kind, our state, expected and reported label): one row each,
        with a count, the first and last time seen, and the crosswalk versions involved; the biggest first."""
        where, params = ("WHERE state = ?", [OPEN])
        if partner_id is not None:
            where, params = where + " AND partner_id = ?", [*params, partner_id]
        names = ("partner_id", "kind", "our_state", "expected_label", "reported_label", "items", "first_seen",
                 "last_seen", "crosswalk_versions", "severity")
        rows = self._db.query(
            "SELECT partner_id, kind, our_state, expected_label, min(reported_label), count(*), min(opened_at), "
            "max(last_seen_at), list(DISTINCT crosswalk_version ORDER BY crosswalk_version) FILTER "
            "(WHERE crosswalk_version IS NOT NULL), "
            "max(CASE severity WHEN 'high' THEN 3 WHEN 'medium' THEN 2 ELSE 1 END) "
            f"FROM reconciliation_items {where} GROUP BY partner_id, kind, our_state, expected_label, "
            "lower(trim(reported_label)) ORDER BY count(*) DESC, partner_id, our_state", params)
        out = []
        for r in rows:
            pattern = dict(zip(names, r))
            pattern["crosswalk_versions"] = list(pattern["crosswalk_versions"] or [])
            pattern["severity"] = {3: "high", 2: "medium", 1: "low"}[pattern["severity"]]
            out.append(pattern)
        return out

    def item(self, item_id: str) -> dict[str, Any]:
        row = self._db.one(f"{_ITEMS} WHERE item_id = ?", [item_id])
        if row is None:
            raise NotFound(f"reconciliation item {item_id} not found", {"item_id": ["no such work item"]})
        return dict(zip(RECONCILIATION_ITEMS, row))

    def items(self, filters: Mapping[str, Any], limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        """A page of the work queue, oldest first (by severity within a time), and how many match."""
        clauses, params = ["TRUE"], []
        for name in ITEM_FILTERS:
            if filters.get(name) is not None:
                clauses.append(f"{name} = ?")
                params.append(filters[name])
        where = " AND ".join(clauses)
        rows = self._db.query(f"{_ITEMS} WHERE {where} ORDER BY opened_at, item_id LIMIT ? OFFSET ?",
                              [*params, int(limit), int(offset)])
        total = self._db.one(f"SELECT count(*) FROM reconciliation_items WHERE {where}", params)[0]
        return [dict(zip(RECONCILIATION_ITEMS, r)) for r in rows], total

    def all_items(self) -> list[dict[str, Any]]:
        """Every item, open and resolved (what governance reads)."""
        return [dict(zip(RECONCILIATION_ITEMS, r)) for r in self._db.query(f"{_ITEMS} ORDER BY item_id")]

    # -- changes --------------------------------------------------------------------------------

    def close(self, item_id: str, cause: str, note: str | None, actor: str, at: datetime) -> None:
        """Close an open item with its cause (inside a transaction), or Conflict."""
        done = self._db.execute("UPDATE reconciliation_items SET state = ?, cause = ?, note = ?, closed_by = ?, "
                                "closed_at = ? WHERE item_id = ? AND state = ? RETURNING item_id",
                                [CLOSED, cause, note, actor, at, item_id, OPEN])
        if not done:
            state = self.item(item_id)["state"]
            raise Conflict(f"reconciliation item {item_id} is {state}: only an open one may be closed",
                           {"state": [f"is {state}"]})

    def count_reissue(self, item_id: str) -> int:
        """Count one more reissue of an item (inside a transaction); returns its number (1 for the first)."""
        row = self._db.one("UPDATE reconciliation_items SET reissues = reissues + 1 WHERE item_id = ? "
                           "RETURNING reissues", [item_id])
        return int(row[0])


def _placeholder_order(sql: str, names: Sequence[str]) -> list[str]:
    """The names of ``$name`` placeholders in the order they appear in ``sql`` (each use is one ``?``)."""
    found: list[tuple[int, str]] = []
    for name in names:
        start = 0
        while (at := sql.find(f"${name}", start)) >= 0:
            found.append((at, name))
            start = at + 1
    return [name for _, name in sorted(found)]
