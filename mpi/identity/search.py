"""Search for stewards: persons found by name, birth date, phone, email, identifier, postcode, record key or id.

Every value is normalised as matching normalises a record (``mpi.records.normalise``), then looked up by
term in the store's ``search_terms`` index (``mpi.store.search``): never a scan of the records.

What finds a person (each criterion given fetches, and a person found by any of them is a result):

- ``name``: one word is a first or last name; two or more are a first name and a last name, split at
  any word, either way round (``Maria de la Cruz``, ``Cruz Maria``; the first four words). A name
  matches *exactly* (same spelling), by *nickname* (the first name a nickname or formal form of the
  other, BILL for WILLIAM, the nickname table's relation) or *phonetically* (the surname's sound, SMYTH
  for SMITH; a first name's sound for one word); a full name takes the weaker grade of its two parts.
- ``birth_date``, ``phone`` (any format: normalised to E.164), ``email``, ``identifier`` (a Medicaid id,
  or SSN last 4), ``source_system`` + ``source_record_id`` (the record's person), ``person_id`` (a
  merged-away id finds the survivor): equal to a record's normalised value.
- ``postal_code``: alone it fetches; with other criteria it only ranks (a person found by them with a
  record in that postcode ranks higher), since a postcode holds thousands of persons.

Ranking: more criteria matched first; then the name's grade (exact, nickname, phonetic); then person id.
A term fetches at most ``MAX_HITS`` records; when one did, ``truncated`` says the search should be narrowed.
Only records linked to a person are found (a record held in a review case belongs to no person yet).
A query is patient data: nothing here logs it or puts it in an exception (only the field names).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

from mpi.errors import ValidationError
from mpi.records.names import first_name_canonicals, names_are_nickname_related
from mpi.records.normalise import normalise_record
from mpi.records.text import NOT_ALNUM
from mpi.store import Store
from mpi.store.search import MAX_HITS, term
from mpi.vocab import PersonStatus

if TYPE_CHECKING:
    from mpi.identity.index import CandidateIndex

#: Grades of a name match, best first (the ranking's second key).
EXACT, NICKNAME, PHONETIC = "exact", "nickname", "phonetic"
_GRADE = {EXACT: 3, NICKNAME: 2, PHONETIC: 1, None: 0}
MAX_PER_PAGE = 100
#: Words of a name looked at (each split of them into a first and a last name is tried).
MAX_NAME_WORDS = 4
#: What the 422 of a value that normalises to nothing says (a placeholder phone, a date in the future...).
UNUSABLE = "nothing usable once normalised"
#: What the 422 of half a record key says.
KEY_TOGETHER = "source_system and source_record_id together"
#: What the 422 of a search with no criterion says.
AT_LEAST_ONE = "give at least one of"
#: A person id as the index mints them.
PERSON_ID = re.compile(r"MPI[0-9]{8}", re.IGNORECASE)
#: Fields of a golden view a result shows.
SUMMARY = ("first_name", "middle_name", "last_name", "birth_date", "sex", "phone", "email", "postal_code")
#: Fields of a record as sent a result shows.
RECORD_FIELDS = ("first_name", "last_name", "birth_date", "sex", "phone", "email", "medicaid_id", "ssn_last4",
                 "address_line1", "city", "postal_code")

_EMAIL = re.compile(r"\S+@\S+")
_DATE = re.compile(r"\b(?:[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}|[0-9]{1,2}/[0-9]{1,2}/[0-9]{4})\b")
_KEY = re.compile(r"(?<!\S)([A-Za-z][\w.-]*)/(\S+)")
_PHONE = re.compile(r"(?:\+?1[\s.-]*)?\(?[2-9][0-9]{2}\)?[\s.-]*[0-9]{3}[\s.-]*[0-9]{4}\b")


@dataclass(frozen=True)
class Criteria:
    """What a steward searches by; each value as typed (normalised here, not by the caller)."""

    name: str | None = None
    birth_date: str | None = None
    phone: str | None = None
    email: str | None = None
    identifier: str | None = None
    postal_code: str | None = None
    source_system: str | None = None
    source_record_id: str | None = None
    person_id: str | None = None

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def given(self) -> dict[str, str]:
        return {k: v.strip() for k, v in asdict(self).items() if v and v.strip()}

    @classmethod
    def from_text(cls, q: str, **also: str | None) -> Criteria:
        """Split one box's text into the criteria it looks like (an email, a date, a ``SYSTEM/ID`` key, a
        person id, a phone, an identifier or postcode (a word with digits: five digits are a postcode),
        else name words); criteria in ``also`` win over what the text gives."""
        found: dict[str, str] = {}
        rest = q
        for name, pattern in (("email", _EMAIL), ("birth_date", _DATE)):
            if m := pattern.search(rest):
                found[name], rest = m.group(0), rest[:m.start()] + " " + rest[m.end():]
        if m := _KEY.search(rest):
            found["source_system"], found["source_record_id"] = m.group(1), m.group(2)
            rest = rest[:m.start()] + " " + rest[m.end():]
        words = []
        for word in rest.split():
            if PERSON_ID.fullmatch(word):
                found["person_id"] = word.upper()
            else:
                words.append(word)
        rest = " ".join(words)
        if m := _PHONE.search(rest):
            found["phone"], rest = m.group(0).strip(), rest[:m.start()] + " " + rest[m.end():]
        names = []
        for word in rest.split():
            if any(c.isdigit() for c in word):
                found["postal_code" if re.fullmatch(r"[0-9]{5}(-[0-9]{4})?", word) else "identifier"] = word
            else:
                names.append(word)
        if names:
            found["name"] = " ".join(names)
        found.update({k: v for k, v in also.items() if v})
        return cls(**found)


@dataclass
class _Query:
    """The criteria normalised: the terms each fetches by, and what a record is graded against."""

    #: The name as (first, last) normalised, each way the words can be split; one word is either name.
    name_ways: list[tuple[dict[str, Any], dict[str, Any]]]
    one_word: bool
    values: dict[str, str]
    fetch: dict[str, list[str]]
    key: tuple[str, str] | None
    person_id: str | None


def _normalised(criteria: Criteria) -> _Query:
    given = criteria.given()
    if not given:
        raise ValidationError("give at least one search criterion", {"_schema": [
            f"{AT_LEAST_ONE}: q, {', '.join(Criteria.names())}"]})
    errors: dict[str, list[str]] = {}
    values: dict[str, str] = {}
    fetch: dict[str, list[str]] = {}
    ways: list[tuple[dict[str, Any], dict[str, Any]]] = []
    if "name" in given:
        tokens = given["name"].split()[:MAX_NAME_WORDS]
        # Every split of the words into a first and a last name, either way round (DE LA CRUZ is one surname).
        splits = [(tokens[:i], tokens[i:]) for i in range(1, len(tokens))] or [(tokens, tokens)]
        for a, b in splits + ([(b, a) for a, b in splits] if len(tokens) > 1 else []):
            first = normalise_record({"first_name": " ".join(a)})
            last = normalise_record({"last_name": " ".join(b)})
            if first["first_name"] and last["last_name"]:
                ways.append((first, last))
        if not ways:
            errors["name"] = [f"a name with letters: {UNUSABLE}"]
        elif len(tokens) == 1:
            first, last = ways[0]
            fetch["name"] = [term("ln", last["last_name"]), term("fn", first["first_name"])] + (
                [term("lp", last["last_name_phonetic"])] if last["last_name_phonetic"] else []) + [
                term("fc", c) for c in sorted(first_name_canonicals(first["first_name"]))]
        else:
            fetch["name"] = list(dict.fromkeys(
                term("nm", c, last["last_name_phonetic"]) for first, last in ways if last["last_name_phonetic"]
                for c in sorted(first_name_canonicals(first["first_name"]))))
    for field, kind in (("birth_date", "dob"), ("phone", "ph"), ("email", "em"), ("postal_code", "zip")):
        if field in given:
            value = normalise_record({field: given[field]})[field]
            if not value:
                errors[field] = [{"birth_date": "a date (YYYY-MM-DD or MM/DD/YYYY), not in the future",
                                  "phone": "a phone with its area code", "email": "an email address",
                                  "postal_code": "a 5-digit ZIP code"}[field] + f": {UNUSABLE}"]
            else:
                values[field] = value
                fetch[field] = [term(kind, value)]
    if "identifier" in given:
        value = NOT_ALNUM.sub("", given["identifier"].upper())
        if not value:
            errors["identifier"] = [f"a Medicaid id or SSN last 4 (letters and digits): {UNUSABLE}"]
        else:
            values["identifier"] = value
            fetch["identifier"] = [term("mid", value)] + ([term("ssn", value)] if re.fullmatch("[0-9]{4}", value)
                                                           else [])
    key = None
    if ("source_system" in given) != ("source_record_id" in given):
        missing = "source_record_id" if "source_system" in given else "source_system"
        errors[missing] = [f"a record key is {KEY_TOGETHER}"]
    elif "source_system" in given:
        key = (given["source_system"], given["source_record_id"])
    if errors:
        raise ValidationError("invalid search", errors)
    if "postal_code" in fetch and len(given) > 1:
        del fetch["postal_code"]  # with other criteria a postcode ranks, it does not fetch
    single = "name" in given and len(given["name"].split()) == 1
    return _Query(ways, single, values, fetch, key, given.get("person_id", "").upper() or None)


def _name_grade(ways: list[tuple[dict[str, Any], dict[str, Any]]], one_word: bool,
                norm: dict[str, Any]) -> str | None:
    first, last = norm.get("first_name"), norm.get("last_name")
    token = first.split()[0] if first else None

    def first_grade(w: dict[str, Any]) -> str | None:
        if not token:
            return None
        if w["first_name"] in (token, first):
            return EXACT
        if names_are_nickname_related(w["first_name"].split()[0], token):
            return NICKNAME
        return PHONETIC if w["first_name_phonetic"] and w["first_name_phonetic"] == norm.get(
            "first_name_phonetic") else None

    def last_grade(w: dict[str, Any]) -> str | None:
        if not last:
            return None
        if w["last_name"] in (last, norm.get("last_name_first_part")):
            return EXACT
        return PHONETIC if w["last_name_phonetic"] and w["last_name_phonetic"] == norm.get(
            "last_name_phonetic") else None

    rank = _GRADE.__getitem__
    if one_word:
        return max((first_grade(ways[0][0]), last_grade(ways[0][1])), key=rank)
    return max((min(first_grade(f), last_grade(la), key=rank) for f, la in ways), key=rank)


def _grades(query: _Query, norm: dict[str, Any]) -> dict[str, str]:
    """The criteria a record matches, with how (``exact``, or the name's grade)."""
    out = {}
    if query.name_ways and (grade := _name_grade(query.name_ways, query.one_word, norm)):
        out["name"] = grade
    for field, value in query.values.items():
        if field == "identifier":
            if value in (norm.get("medicaid_id"), norm.get("ssn_last4")):
                out[field] = EXACT
        elif norm.get(field) == value:
            out[field] = EXACT
    return out


class PersonSearch:
    """Search over the store's index of terms (stewards' reads; the caller records the access).

    ``index`` gives the service's candidate index (``mpi.identity.index``), which holds every record's person
    and normalised form in memory: each record a term finds is then a dict read, where the store takes two
    index lookups by record id (its link, its normalised form), about 20-60 us each at a million persons
    (``bench/search.py``). Without it (a tool over a store file) the store answers.
    """

    def __init__(self, store: Store, index: Callable[[], CandidateIndex] | None = None):
        self._store = store
        self._index = index

    def search(self, criteria: Criteria, page: int = 1, per_page: int = 20) -> dict[str, Any]:
        """One page of persons matching the criteria, ranked (module docstring), with ``total`` and ``truncated``.

        Raises:
            ValidationError: no criterion, or one that normalises to nothing (naming each field).
        """
        if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
            raise ValidationError("invalid page", {"page" if page < 1 else "per_page": [
                "at least 1" if page < 1 else f"from 1 to {MAX_PER_PAGE}"]})
        query = _normalised(criteria)
        search = self._store.search
        wanted = [t for terms in query.fetch.values() for t in terms]
        postings = search.postings(wanted)
        truncated = any(len(keys) >= MAX_HITS for keys in postings.values())
        hit_keys = {k for keys in postings.values() for k in keys}
        if query.key:
            hit_keys.add(query.key)  # its link, if it has one, says whose it is
        person_of, norms = self._linked(hit_keys)
        found: dict[str, dict[str, str]] = {}
        for key, person_id in person_of.items():
            matched = found.setdefault(person_id, {})
            for criterion, grade in _grades(query, norms.get(key, {})).items():
                if _GRADE.get(grade, 3) > _GRADE.get(matched.get(criterion), 0):
                    matched[criterion] = grade
            if key == query.key:
                matched["record"] = EXACT
        if query.person_id:  # a person found by a record is live (a merge moves the loser's records); an id may not be
            for person_id, matched in self._live({query.person_id: {"person_id": EXACT}}).items():
                found.setdefault(person_id, {}).update(matched)
        # A person matching nothing, or (where it only ranks) the postcode alone, is not a result.
        ranks_only = {"postal_code"} if "postal_code" in query.values and "postal_code" not in query.fetch else set()
        found = {p: m for p, m in found.items() if set(m) - ranks_only}
        ranked = sorted(found, key=lambda p: (-len(found[p]), -_GRADE.get(found[p].get("name"), 0), p))
        start = (page - 1) * per_page
        shown = ranked[start:start + per_page]
        records = search.records_of_persons(shown)
        goldens = search.goldens(shown)
        items = []
        for i, person_id in enumerate(shown, start=start + 1):
            golden = goldens.get(person_id, {})
            items.append({
                "rank": i, "person_id": person_id,
                "matched": [{"criterion": c, "how": h} for c, h in sorted(found[person_id].items())],
                "golden": {f: golden.get(f) for f in SUMMARY},
                "records": [{"source_system": r["source_system"], "source_record_id": r["source_record_id"],
                             "decision": r["decision"], "link_source": r["link_source"],
                             **{f: (r["raw"].get(f) or None) for f in RECORD_FIELDS}}
                            for r in records.get(person_id, [])],
            })
        return {"items": items, "page": page, "per_page": per_page, "total": len(ranked), "truncated": truncated}

    def _linked(self, keys: set[tuple[str, str]]) -> tuple[dict[tuple[str, str], str],
                                                            dict[tuple[str, str], dict[str, Any]]]:
        """The person and normalised form of each found record linked to one (from the index when there is one)."""
        if self._index is None:
            person_of = self._store.search.persons_of(keys)
            return person_of, self._store.search.norms(list(person_of))
        index = self._index()
        person_of, norms = {}, {}
        for key in keys:
            entry = index.get(key)
            if entry is not None and entry.person_id:
                person_of[key], norms[key] = entry.person_id, entry.norm
        return person_of, norms

    def _live(self, found: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        """The same matches by live person: a merged-away id's go to its survivor (``how``: ``redirected`` for a
        person id given that was merged away); an id that is no person is dropped."""
        out: dict[str, dict[str, str]] = {}
        pending = dict(found)
        for _ in range(16):  # a chain of merges is short; a loop is the store's to refuse
            if not pending:
                break
            rows = self._store.search.persons(sorted(pending))
            nxt: dict[str, dict[str, str]] = {}
            for person_id, matched in pending.items():
                row = rows.get(person_id)
                if row is None:
                    continue
                if row["status"] == PersonStatus.REDIRECTED.value and row["redirect_to"]:
                    moved = dict(matched)
                    if "person_id" in moved:
                        moved["person_id"] = "redirected"
                    nxt.setdefault(row["redirect_to"], {}).update(moved)
                else:
                    merged = out.setdefault(person_id, {})
                    for c, h in matched.items():
                        if _GRADE.get(h, 3) >= _GRADE.get(merged.get(c), 0):
                            merged[c] = h
            pending = nxt
        return out
