"""The ``person_grants`` table, and the one question minimum necessary asks of the store: how far does an
organisation reach a person?

An organisation reaches a person through its own records (a ``record`` grant, keyed by the record:
it holds for whatever person that record is linked to now, so it follows merges, unmerges and a
steward's relinking), through a certain match answered to it (a ``match`` grant on the person id:
it holds for that id and, while that id is merged away, for its survivor), and through its
referrals (the ``referrals`` table names requester and performer, so they need no row). The rule
itself (who reads what) is :mod:`mpi.trust.access`'s; this module only counts.
"""

from __future__ import annotations

from collections.abc import Iterable

from mpi.store.database import Database
from mpi.vocab import Consent, GrantKind, PersonStatus

Key = tuple[str, str]

#: The live person's id and every id merged into it, at any depth (a grant on a merged-away id holds
#: for its survivor; an unmerge clears ``redirect_to``, so the loser's grants go back with it).
_IDS = """WITH RECURSIVE ids(pid) AS (
    SELECT CAST(? AS VARCHAR)
    UNION
    SELECT p.person_id FROM persons p JOIN ids ON p.redirect_to = ids.pid WHERE p.status = ?
)"""

_REACH = _IDS + """
SELECT
    EXISTS (SELECT 1 FROM person_grants g WHERE g.organisation = ? AND g.how = ?
            AND g.person_id IN (SELECT pid FROM ids))
    OR EXISTS (SELECT 1 FROM person_grants g JOIN links l USING (source_system, source_record_id)
               WHERE g.organisation = ? AND g.how = ? AND l.person_id = ?)
    OR EXISTS (SELECT 1 FROM referrals r WHERE r.person_id IN (SELECT pid FROM ids)
               AND (r.requester = ? OR (r.performer = ? AND r.consent = ?))),
    EXISTS (SELECT 1 FROM referrals r WHERE r.person_id IN (SELECT pid FROM ids) AND r.performer = ?)
"""


class GrantTable:
    """Grants of persons to organisations in one store."""

    def __init__(self, db: Database):
        self._db = db

    def add(self, organisation: str, how: GrantKind, person_id: str | None, key: Key | None = None) -> None:
        """Record that ``organisation`` was given a person (or its record ``key``), once; joins the open transaction.

        Call it inside the transaction that writes the answer, so a grant exists exactly when
        the answer was committed.
        """
        system, record_id = key if key else (None, None)
        with self._db.transaction():
            found = self._db.one(
                """SELECT 1 FROM person_grants WHERE organisation = ? AND how = ?
                   AND person_id IS NOT DISTINCT FROM ? AND source_system IS NOT DISTINCT FROM ?
                   AND source_record_id IS NOT DISTINCT FROM ?""",
                [organisation, how.value, person_id, system, record_id], flush=False)
            if found is None:
                self._db.execute(
                    "INSERT INTO person_grants VALUES (?, ?, ?, ?, ?, ?)",
                    [organisation, person_id, how.value, system, record_id, self._db.now()], flush=False)

    def reach(self, organisation: str, person_id: str) -> tuple[bool, bool]:
        """(whole, as performer) for a live person: whether the organisation was given it by its own record,
        a certain match, a referral it requested or one it performs with consent granted; and whether it
        performs any referral for it (consent or not)."""
        row = self._db.one(_REACH, [person_id, PersonStatus.REDIRECTED.value,
                                    organisation, GrantKind.MATCH.value,
                                    organisation, GrantKind.RECORD.value, person_id,
                                    organisation, organisation, Consent.GRANTED.value,
                                    organisation])
        return bool(row[0]), bool(row[1])

    def own_records(self, organisation: str, keys: Iterable[Key]) -> set[Key]:
        """Which of these record keys are the organisation's own: submitted by it, or sent on its referrals."""
        keys = list(keys)
        if not keys:
            return set()
        systems, ids = [k[0] for k in keys], [k[1] for k in keys]
        rows = self._db.query(
            """SELECT source_system, source_record_id FROM person_grants
               WHERE organisation = ? AND how = ? AND list_contains(?, source_record_id)
               UNION
               SELECT source_system, source_record_id FROM referrals
               WHERE requester = ? AND list_contains(?, source_record_id)""",
            [organisation, GrantKind.RECORD.value, ids, organisation, ids])
        wanted = set(zip(systems, ids))
        return {tuple(r) for r in rows} & wanted
