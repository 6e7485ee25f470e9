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

from mpi.referral_vocab import Consent
from mpi.store.database import Database
from mpi.store.grant_filter import GrantFilter
from mpi.vocab import GrantKind, PersonStatus

Key = tuple[str, str]

#: Whether an organisation reaches any of a person's ids (the live one and those merged into it: ``?`` lists
#: them) whole, and as a performer. Each table is read once with ``list_contains`` (a scan of one column)
#: rather than joined through a recursive query: at a million persons, referrals and grants the recursive
#: form took 60-110 ms a read, this one about 6 ms.
_REACH = """
SELECT
    EXISTS (SELECT 1 FROM person_grants g WHERE g.organisation = ? AND g.how = ? AND list_contains(?, g.person_id))
    OR EXISTS (SELECT 1 FROM links l JOIN person_grants g USING (source_system, source_record_id)
               WHERE l.person_id = ? AND g.organisation = ? AND g.how = ?)
    OR EXISTS (SELECT 1 FROM referrals r WHERE list_contains(?, r.person_id)
               AND (r.requester = ? OR (r.performer = ? AND r.consent = ?))),
    EXISTS (SELECT 1 FROM referrals r WHERE list_contains(?, r.person_id) AND r.performer = ?)
"""

#: A grant's identity, in the order :meth:`GrantTable.add` buffers it.
_GRANT = "organisation, person_id, how, source_system, source_record_id"

#: Most record ids one read looks up (a person of thousands of records is read in parts: PostgreSQL binds at most
#: 65,535 values to a statement).
_MOST_IDS = 512


def _padded(ids: list[str]) -> list[str]:
    """The ids, the last repeated up to a power of two: a few statement texts, not one per count (PostgreSQL's
    store translates each text once, ``dialect.py``)."""
    return ids + ids[-1:] * ((1 << (len(ids) - 1).bit_length()) - len(ids)) if ids else ids


class GrantTable:
    """Grants of persons to organisations in one store."""

    def __init__(self, db: Database, present: GrantFilter):
        self._db = db
        #: The pairs a grant or referral row may exist for: most match answers need no read (``grant_filter.py``).
        self.present = present

    def add(self, organisation: str, how: GrantKind, person_id: str | None, key: Key | None = None, *,
            absent: bool = False) -> None:
        """Record that ``organisation`` was given a person (or its record ``key``), once; joins the open transaction.

        Call it inside the transaction that writes the answer, so a grant exists exactly when
        the answer was committed. ``absent``: the caller has just read that the grant is not there
        (:meth:`match_answer`), so it is not read again (the write still adds it only once).
        """
        system, record_id = key if key else (None, None)
        grant = (organisation, person_id, how.value, system, record_id)
        if not absent and not self._db.in_transaction() and self._has(grant):
            return  # granted before: no write transaction (a hub matching the same person again pays one read)
        with self._db.transaction():
            if how is GrantKind.RECORD:
                self.present.note(organisation, record_id)
            elif how is GrantKind.MATCH and self.present.active:
                self._db.after_commit(lambda: self.present.note_match(organisation, person_id))
            # Buffered, and written at the flush only if not stored already (``pending.py``): no read per request,
            # one statement for a group of requests (``group.py``).
            self._db.pending().grants.setdefault(grant, self._db.now())

    def _has(self, grant: tuple) -> bool:
        """Whether the grant (organisation, person id, how, record key) is there already: a read by its person id or
        record id (an index), the rest compared here."""
        person_id, record_id = grant[1], grant[4]
        column, value = ("person_id", person_id) if person_id is not None else ("source_record_id", record_id)
        rows = self._db.query(f"SELECT {_GRANT} FROM person_grants WHERE {column} = ?", [value], flush=False)
        return grant in {tuple(r) for r in rows}

    def merged_into(self, person_id: str) -> list[str]:
        """The person id and every id merged (or retired) into it, at any depth: a grant on any of them holds for
        it. An unmerge clears ``redirect_to``, so the loser's grants go back with it."""
        ids, frontier = [person_id], [person_id]
        while frontier:
            rows = self._db.query("SELECT person_id FROM persons WHERE list_contains(?, redirect_to) AND status = ?",
                                  [frontier, PersonStatus.REDIRECTED.value])
            frontier = [r[0] for r in rows if r[0] not in ids]
            ids.extend(frontier)
        return ids

    def reach(self, organisation: str, person_id: str) -> tuple[bool, bool]:
        """(whole, as performer) for a live person: whether the organisation was given it by its own record,
        a certain match, a referral it requested or one it performs with consent granted; and whether it
        performs any referral for it (consent or not)."""
        ids = self.merged_into(person_id)
        row = self._db.one(_REACH, [organisation, GrantKind.MATCH.value, ids,
                                    person_id, organisation, GrantKind.RECORD.value,
                                    ids, organisation, organisation, Consent.GRANTED.value,
                                    ids, organisation])
        return bool(row[0]), bool(row[1])

    def own_records(self, organisation: str, keys: Iterable[Key]) -> set[Key]:
        """Which of these record keys are the organisation's own: submitted by it, or sent on its referrals."""
        return self.match_answer(organisation, keys, None)[0]

    def match_answer(self, organisation: str, keys: Iterable[Key], person_id: str | None) -> tuple[set[Key], bool]:
        """What a match's answer to the organisation needs, in one read at most: which of these record keys are its
        own (:meth:`own_records`), and whether a certain match gave it ``person_id`` before (a ``match`` grant; False
        for None). Over a DuckDB file the filter (``grant_filter.py``) answers the second, and leaves out of the read
        the records the organisation holds no row for (most answers then read nothing).

        Every row is found by an indexed column (``person_grants_record``, ``referrals_record``,
        ``person_grants_person``) and the organisation compared here: DuckDB scans the whole table for a
        filter on the organisation beside the key, or for ``list_contains`` (3 ms a read at 256k grants, growing
        with them), and looks a dozen keys up in about 1 ms.
        """
        wanted = set(keys)
        ids = sorted({record_id for _, record_id in wanted})
        given = False
        if self.present.active:  # only records the organisation may hold a row for are read (most answers: none)
            may = set(self.present.maybe(organisation, ids))
            ids = [i for i in ids if i in may]
            given = person_id is not None and self.present.given(organisation, person_id)
            person_id = None  # (the filter's answer is the store's)
            if not ids:
                return set(), given
        rows: list[tuple] = []
        for start in range(0, max(len(ids), 1), _MOST_IDS):
            chunk = _padded(ids[start:start + _MOST_IDS])
            parts, params = [], []
            if chunk:
                marks = ", ".join("?" * len(chunk))
                parts += [f"SELECT {_GRANT} FROM person_grants WHERE source_record_id IN ({marks})",
                          "SELECT requester, person_id, 'referral', source_system, source_record_id FROM referrals"
                          f" WHERE source_record_id IN ({marks})"]
                params += chunk * 2
            if person_id is not None and start == 0:
                parts.append(f"SELECT {_GRANT} FROM person_grants WHERE person_id = ?")
                params.append(person_id)
            if parts:
                rows += self._db.query(" UNION ALL ".join(parts), params)
        own, granted = set(), given
        for org, pid, how, system, record_id in rows:
            if org != organisation:
                continue
            if how in (GrantKind.RECORD.value, "referral") and (system, record_id) in wanted:
                own.add((system, record_id))
            elif how == GrantKind.MATCH.value and pid == person_id and system is None and record_id is None:
                granted = True
        return own, granted

    def holders(self, person_id: str, organisations: Iterable[str]) -> set[str]:
        """Which of these organisations hold a record of their own linked to the person (its members, for an MCO)."""
        organisations = list(organisations)
        if not organisations or person_id is None:
            return set()
        rows = self._db.query(
            """SELECT DISTINCT g.organisation FROM links l JOIN person_grants g USING (source_system, source_record_id)
               WHERE l.person_id = ? AND g.how = ? AND list_contains(?, g.organisation)""",
            [person_id, GrantKind.RECORD.value, organisations])
        return {r[0] for r in rows}
