"""The ``partners``, ``crosswalk_versions`` and ``crosswalk_rows`` tables: partner systems and their status crosswalks.

A partner's signing secret is stored as it is (the exchange signs each message
with it) and is read only by :meth:`PartnerTable.signing_secret`: every other
read leaves it out. Crosswalk versions are only ever added, never changed.
"""

from __future__ import annotations

import json
from datetime import date

from mpi.store.columns import CROSSWALK_ROWS, CROSSWALK_VERSIONS, PARTNERS, loads, select
from mpi.store.database import Database


def _partner(row: tuple) -> dict:
    partner = dict(zip(PARTNERS, row))
    partner["subscriptions"] = loads(partner["subscriptions"])
    return partner


class PartnerTable:
    """The partners of one store, by partner id, with their crosswalk versions."""

    def __init__(self, db: Database):
        self._db = db
        db.sequence("crosswalk_version", "SELECT max(version_id) FROM crosswalk_versions")

    def add(self, partner: dict, signing_secret: str, created_by: str) -> dict:
        """Store a new partner (its id not taken: the caller checks, under the same transaction)."""
        with self._db.transaction():
            self._db.cached_write("partners")  # the outbox's subscribers, in every instance
            now = self._db.now()
            self._db.execute(
                f"INSERT INTO partners ({select(PARTNERS)}, signing_secret) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [partner["partner_id"], partner["organisation"], partner["name"], partner["endpoint"],
                 partner["format"], json.dumps(partner["subscriptions"]), partner["status"], now, created_by, now,
                 signing_secret])
            return self.get(partner["partner_id"])

    def get(self, partner_id: str) -> dict | None:
        """One partner (never its secret), or None."""
        row = self._db.one(f"SELECT {select(PARTNERS)} FROM partners WHERE partner_id = ?", [partner_id])
        return _partner(row) if row else None

    def all(self) -> list[dict]:
        """Every partner by id (never their secrets)."""
        return [_partner(r) for r in self._db.query(f"SELECT {select(PARTNERS)} FROM partners ORDER BY partner_id")]

    def set_status(self, partner_id: str, status: str, at) -> None:
        """Set a partner's status (``active``, ``paused``; inside a transaction)."""
        self._db.execute("UPDATE partners SET status = ?, updated_at = ? WHERE partner_id = ?", [status, at, partner_id])

    def signing_secret(self, partner_id: str) -> str | None:
        """The secret the exchange signs a partner's messages with (for the signer only; never shown again)."""
        row = self._db.one("SELECT signing_secret FROM partners WHERE partner_id = ?", [partner_id])
        return row[0] if row else None

    def add_crosswalk(self, partner_id: str, effective_from: date, rows: list[dict], created_by: str) -> dict:
        """Store a new crosswalk version with its rows (each with its ``line``); returns it as :meth:`crosswalks`."""
        with self._db.transaction():
            self._db.cached_write("partners")
            version_id = self._db.next_id("crosswalk_version")
            self._db.execute(f"INSERT INTO crosswalk_versions ({select(CROSSWALK_VERSIONS)}) VALUES (?, ?, ?, ?, ?)",
                             [version_id, partner_id, effective_from, self._db.now(), created_by])
            for r in rows:  # a crosswalk is a few dozen rows
                self._db.execute(
                    f"INSERT INTO crosswalk_rows (version_id, {select(CROSSWALK_ROWS)}) VALUES (?, ?, ?, ?, ?)",
                    [version_id, r["line"], r["state"], r["reason"], r["label"]])
            return next(v for v in self.crosswalks(partner_id) if v["version_id"] == version_id)

    def crosswalks(self, partner_id: str) -> list[dict]:
        """A partner's crosswalk versions, oldest first, each with its ``rows`` in line order."""
        versions = [dict(zip(CROSSWALK_VERSIONS, r)) for r in self._db.query(
            f"SELECT {select(CROSSWALK_VERSIONS)} FROM crosswalk_versions WHERE partner_id = ? ORDER BY version_id",
            [partner_id])]
        rows: dict[int, list[dict]] = {v["version_id"]: [] for v in versions}
        for r in self._db.query(
                f"SELECT version_id, {select(CROSSWALK_ROWS)} FROM crosswalk_rows WHERE version_id IN "
                "(SELECT version_id FROM crosswalk_versions WHERE partner_id = ?) ORDER BY version_id, line",
                [partner_id]):
            rows[r[0]].append(dict(zip(CROSSWALK_ROWS, r[1:])))
        return [{**v, "rows": rows[v["version_id"]]} for v in versions]
