"""The ``organisations`` table: the directory of organisations that request and perform referrals.

Every referral step reads its performer's calendar, so organisations are read
through the store's cache of small reads, cleared whenever one is written.
"""

from __future__ import annotations

import json

from mpi.store.columns import ORGANISATIONS, loads, select
from mpi.store.database import Database

_JSON = ("service_types", "calendar", "supervisors")


def _row(row: tuple) -> dict:
    org = dict(zip(ORGANISATIONS, row))
    for column in _JSON:
        org[column] = loads(org[column])
    return org


class OrganisationTable:
    """The organisations of one store, by code."""

    def __init__(self, db: Database):
        self._db = db

    def put(self, code: str, name: str, kind: str, service_types: list[str], calendar: dict,
            supervisors: list[str]) -> bool:
        """Add an organisation or replace its entry (keeping when it was first added); returns whether it is new."""
        with self._db.transaction():
            self._db.cached_write("organisations")
            old = self._db.one("SELECT created_at FROM organisations WHERE code = ?", [code])
            now = self._db.now()
            self._db.execute("DELETE FROM organisations WHERE code = ?", [code])
            self._db.execute(
                f"INSERT INTO organisations ({select(ORGANISATIONS)}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [code, name, kind, json.dumps(service_types), json.dumps(calendar), json.dumps(supervisors),
                 old[0] if old else now, now])
        return old is None

    def get(self, code: str) -> dict | None:
        """One organisation, or None."""
        row = self._db.cache.get(("organisations", code), lambda: self._db.one(
            f"SELECT {select(ORGANISATIONS)} FROM organisations WHERE code = ?", [code], flush=False),
            keep=lambda found: found is not None)
        return _row(row) if row else None

    def all(self) -> list[dict]:
        """Every organisation, by code."""
        return [_row(r) for r in self._db.query(f"SELECT {select(ORGANISATIONS)} FROM organisations ORDER BY code")]
