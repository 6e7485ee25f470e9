"""Search terms: each source record's normalised values, posted by term, for stewards to find persons by.

A term is ``kind:value`` of one field of a record's normalised form (``ln:SMITH``,
``lp:SM0``, ``fc:WILLIAM``, ``ph:+14045550199``...), so a search looks values up
by the index on ``term`` and never scans the records. The terms are a pure
function of the normalised form (:func:`terms_of`), which matching's own
normalisation made (nicknames to a canonical first name, surnames to their
sound, phones to E.164): they are written with each record in the same flush
(``pending.py``), replaced when the record is, and keyed by record, so a merge
or a link moves nothing here. Migration 17 fills them for a store that had
records before, with SQL built from the same table of kinds (:func:`fill_sql`).

Finding the person of a record goes through ``links`` by the record id, and a
person's records through ``source_records`` by the record id: DuckDB scans a
table for its two-column keys, so migration 17 indexes the id alone on both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mpi.store.columns import loads

if TYPE_CHECKING:
    from mpi.store.database import Database

Key = tuple[str, str]

#: (kind, field of the normalised form): one term per field that has a value. ``nm`` pairs the canonical
#: first name with the surname's sound, so a two-word name is one selective lookup, not two large ones.
TERM_FIELDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ln", ("last_name",)),
    ("lp", ("last_name_phonetic",)),
    ("fn", ("first_name",)),
    ("fc", ("first_name_canonical",)),
    ("fp", ("first_name_phonetic",)),
    ("nm", ("first_name_canonical", "last_name_phonetic")),
    ("dob", ("birth_date",)),
    ("ph", ("phone",)),
    ("em", ("email",)),
    ("mid", ("medicaid_id",)),
    ("ssn", ("ssn_last4",)),
    ("zip", ("postal_code",)),
)
#: Most postings one term fetches: a common surname's sound holds thousands of records at a million persons.
MAX_HITS = 200


def term(kind: str, *values: str) -> str:
    """The term of a kind and its value(s) (``term("nm", "WILLIAM", "SM0")`` is ``nm:WILLIAM:SM0``)."""
    return ":".join((kind, *values))


def terms_of(norm: Mapping[str, Any]) -> list[str]:
    """The search terms of a normalised record, sorted and without repeats."""
    out = set()
    for kind, fields in TERM_FIELDS:
        values = [norm.get(f) for f in fields]
        if all(values):
            out.add(term(kind, *(str(v) for v in values)))
    return sorted(out)


def fill_sql() -> str:
    """One statement posting the terms of every stored record, read from ``source_records.norm`` (migration 17).

    Built from :data:`TERM_FIELDS`, so it posts exactly what :func:`terms_of` gives (a test holds them equal);
    no DISTINCT is needed, since each kind gives a record one term at most and kinds differ by their prefix.
    The fields are extracted with one list of paths, so each record's JSON is parsed once, not once a field
    (at 100k people that took the statement from 29 s to a few).
    """
    fields = list(dict.fromkeys(f for _, names in TERM_FIELDS for f in names))
    paths = ", ".join(f"'$.{f}'" for f in fields)
    parts = []
    for kind, names in TERM_FIELDS:
        values = [f"nullif(v[{fields.index(f) + 1}], '')" for f in names]
        parts.append(" || ':' || ".join([f"'{kind}'", *values]))
    return ("INSERT INTO search_terms (term, source_system, source_record_id) "
            "SELECT t.term, source_system, source_record_id FROM "
            f"(SELECT source_system, source_record_id, unnest([{', '.join(parts)}]) AS term FROM "
            f"(SELECT source_system, source_record_id, json_extract_string(norm, [{paths}]) AS v "
            "FROM source_records) r) t WHERE t.term IS NOT NULL")


class SearchTable:
    """The ``search_terms`` postings, and the few reads a search makes by index."""

    def __init__(self, db: Database):
        self._db = db

    def postings(self, terms: Sequence[str], limit: int = MAX_HITS) -> dict[str, list[Key]]:
        """The records posted under each term (at most ``limit`` each), by term, in key order.

        One statement of one limited lookup per term: each is an index scan (an ``ORDER BY`` in it
        would make DuckDB scan the table instead, so the order is made here).
        """
        out: dict[str, list[Key]] = {t: [] for t in terms}
        unique = list(dict.fromkeys(terms))
        if not unique:
            return out
        lookup = "(SELECT ? AS term, source_system, source_record_id FROM search_terms WHERE term = ? LIMIT ?)"
        rows = self._db.query(" UNION ALL ".join([lookup] * len(unique)),
                              [v for t in unique for v in (t, t, limit)])
        for t, system, record_id in rows:
            out[t].append((system, record_id))
        for keys in out.values():
            keys.sort()
        return out

    def terms_of_records(self, keys: Iterable[Key]) -> dict[Key, list[str]]:
        """The terms posted for these records (a test's and a migration check's read)."""
        keys = list(keys)
        if not keys:
            return {}
        ids = [k[1] for k in keys]
        rows = self._db.query(f"SELECT source_system, source_record_id, list(term ORDER BY term) FROM search_terms "
                              f"WHERE source_record_id IN ({', '.join('?' * len(ids))}) GROUP BY ALL", ids)
        wanted = set(keys)
        return {(r[0], r[1]): list(r[2]) for r in rows if (r[0], r[1]) in wanted}

    def persons_of(self, keys: Iterable[Key]) -> dict[Key, str]:
        """The person each record is linked to (a record held in a case, linked to none, is absent)."""
        wanted = set(keys)
        if not wanted:
            return {}
        ids = sorted({k[1] for k in wanted})
        rows = self._db.query(f"SELECT source_system, source_record_id, person_id FROM links "
                              f"WHERE source_record_id IN ({', '.join('?' * len(ids))})", ids)
        return {(r[0], r[1]): r[2] for r in rows if (r[0], r[1]) in wanted}

    def persons(self, person_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Persons by id (redirected ones too): status and redirect (a search reads these for every person it
        finds, so not the golden view: :meth:`goldens` reads that for the page shown)."""
        if not person_ids:
            return {}
        rows = self._db.query(f"SELECT person_id, status, redirect_to FROM persons "
                              f"WHERE person_id IN ({', '.join('?' * len(person_ids))})", list(person_ids))
        return {r[0]: {"person_id": r[0], "status": r[1], "redirect_to": r[2]} for r in rows}

    def goldens(self, person_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The golden view of each of these persons, by id."""
        if not person_ids:
            return {}
        rows = self._db.query(f"SELECT person_id, golden FROM persons "
                              f"WHERE person_id IN ({', '.join('?' * len(person_ids))})", list(person_ids))
        return {r[0]: loads(r[1]) for r in rows}

    def records_of_persons(self, person_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """Each person's linked records (key, as sent, normalised, decision), in key order, by person id."""
        if not person_ids:
            return {}
        links = self._db.query(f"SELECT person_id, source_system, source_record_id, decision, link_source FROM links "
                               f"WHERE person_id IN ({', '.join('?' * len(person_ids))})", list(person_ids))
        ids = sorted({r[2] for r in links})
        rows = self._db.query(f"SELECT source_system, source_record_id, raw, norm FROM source_records "
                              f"WHERE source_record_id IN ({', '.join('?' * len(ids))})", ids) if ids else []
        stored = {(r[0], r[1]): (loads(r[2]), loads(r[3])) for r in rows}
        out: dict[str, list[dict[str, Any]]] = {p: [] for p in person_ids}
        for person_id, system, record_id, decision, link_source in sorted(links, key=lambda r: (r[1], r[2])):
            if (system, record_id) in stored:
                raw, norm = stored[(system, record_id)]
                out[person_id].append({"source_system": system, "source_record_id": record_id, "raw": raw,
                                       "norm": norm, "decision": decision, "link_source": link_source})
        return out

    def norms(self, keys: Sequence[Key]) -> dict[Key, dict[str, Any]]:
        """The normalised form of each of these records, by key."""
        if not keys:
            return {}
        ids = sorted({k[1] for k in keys})
        rows = self._db.query(f"SELECT source_system, source_record_id, norm FROM source_records "
                              f"WHERE source_record_id IN ({', '.join('?' * len(ids))})", ids)
        wanted = set(keys)
        return {(r[0], r[1]): loads(r[2]) for r in rows if (r[0], r[1]) in wanted}
