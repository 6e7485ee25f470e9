"""Labelled hard pairs of a generated population, in people_dev's ``hard_cases.csv`` format.

The generator knows who is whom, so it can list the record pairs a matcher finds hardest:

* ``should_match`` false, one pair of records per pair of people (each person's record most
  like their true name, birth date and ZIP), for ALL such pairs of people in the population. A pair of
  people is listed once, under the first kind that fits, in this order: ``twins``, ``jr_sr``,
  ``parent_child_same_name`` (one household, same first and last name, a generation apart),
  ``same_name_same_dob`` (same first name, last name and birth date, related or not),
  ``same_name_neighbours`` (other households, same first and last name, same ZIP),
  ``household_same_surname`` (one household, same last name).
* ``should_match`` true, per person, the first pair of their records that shows each variation:
  ``moved``, ``nickname``, ``name_order_swap``, ``identifier_typo``, ``hyphenated_surname``,
  ``transliterated``, ``married_name_change``, ``newborn_placeholder``.

Names are compared as true values (never the truth column of a record); the note is a fixed
sentence per kind, so the file carries no personal data beyond record keys.
"""

from __future__ import annotations

import re
import unicodedata
from itertools import combinations

from mpi.synth.names import NICKNAMES
from mpi.synth.population import Person
from mpi.synth.varied_names import TRANSLITERATIONS

HEADER = ("kind", "should_match", "source_system_l", "source_record_id_l", "source_system_r",
          "source_record_id_r", "note")
NOTES = {
    "twins": "twins: same birth date, surname and address, different people",
    "jr_sr": "father and son with one name, differing by Jr/Sr and birth date",
    "parent_child_same_name": "parent and child with the same first and last name",
    "same_name_same_dob": "two people with the same first name, last name and birth date",
    "same_name_neighbours": "unrelated people with the same first and last name in one ZIP",
    "household_same_surname": "two people of one household with the same surname",
    "moved": "one person before and after a move (new address, often a new phone)",
    "nickname": "one person under a given name and its nickname",
    "name_order_swap": "one person with given and family name swapped",
    "identifier_typo": "one person with a mis-keyed SSN last four or Medicaid id",
    "hyphenated_surname": "one person's double surname hyphenated, spaced or cut",
    "transliterated": "one person's name in two Latin spellings",
    "married_name_change": "one person under maiden and married surname",
    "newborn_placeholder": "a newborn's placeholder name and a later record",
}
FALSE_KINDS = ("twins", "jr_sr", "parent_child_same_name", "same_name_same_dob",
               "same_name_neighbours", "household_same_surname")
TRUE_KINDS = ("moved", "nickname", "name_order_swap", "identifier_typo", "hyphenated_surname",
              "transliterated", "married_name_change", "newborn_placeholder")
_PLACEHOLDERS = {"0000", "9999", "1234", "00000000", "000000000", "999999999"}
_NICK_OF = {}


def fold(text: str) -> str:
    """Upper case, no accents, punctuation as spaces: how a person would compare two names."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().upper()
    return " ".join(re.sub(r"[^A-Z0-9]", " ", text).split())


for _formal, _nicks in NICKNAMES.items():
    for _nick in _nicks:
        _NICK_OF.setdefault(fold(_nick), set()).add(fold(_formal))


def _spelling_groups() -> dict[str, int]:
    """Folded spelling -> a number shared by every spelling of one name (Mohamed, Muhammad...)."""
    group: dict[str, int] = {}
    for n, (canonical, others) in enumerate(TRANSLITERATIONS.items()):
        members = {fold(canonical), *(fold(o) for o in others)}
        joined = {group[m] for m in members if m in group}
        for name, g in list(group.items()):
            if g in joined:
                group[name] = n
        for m in members:
            group[m] = n
    return group


_SPELLING = _spelling_groups()


class HardCases:
    """Collects hard pairs household by household, as the generator makes them."""

    def __init__(self):
        self.rows: list[tuple[str, ...]] = []
        self._by_name_dob: dict[tuple, list] = {}
        self._by_name_zip: dict[tuple, list] = {}
        self._households = 0

    def observe(self, household: list[Person], records: list[list[dict[str, str]]]) -> None:
        """Take one household's people and, in the same order, each one's records."""
        self._households += 1
        keyed = [(p, _key(p, recs), self._households) for p, recs in zip(household, records)]
        done = set()
        for (a, ka, _), (b, kb, _) in combinations(keyed, 2):
            kind = _household_kind(a, b)
            if kind:
                done.add((a.pid, b.pid))
                self._add(kind, False, ka, kb)
        for p, key, home in keyed:
            name = (fold(p.first), fold(p.last))
            for q, kq, _ in self._by_name_dob.get(name + (p.dob_str,), ()):
                if (q, p.pid) not in done:
                    done.add((q, p.pid))
                    self._add("same_name_same_dob", False, kq, key)
            for q, kq, other_home in self._by_name_zip.get(name + (p.home.address.zip5,), ()):
                if other_home != home and (q, p.pid) not in done:
                    self._add("same_name_neighbours", False, kq, key)
            self._by_name_dob.setdefault(name + (p.dob_str,), []).append((p.pid, key, home))
            self._by_name_zip.setdefault(name + (p.home.address.zip5,), []).append((p.pid, key, home))
        for p, recs in zip(household, records):
            self._true_kinds(p, recs)

    def counts(self) -> dict[str, int]:
        """Rows per kind, in the order kinds are listed in the module docstring."""
        out = {k: 0 for k in FALSE_KINDS + TRUE_KINDS}
        for row in self.rows:
            out[row[0]] += 1
        return out

    def _add(self, kind: str, match: bool, left: tuple, right: tuple) -> None:
        self.rows.append((kind, "true" if match else "false", *left, *right, NOTES[kind]))

    def _true_kinds(self, p: Person, recs: list[dict[str, str]]) -> None:
        found = set()
        for a, b in combinations(recs, 2):
            for kind in TRUE_KINDS:
                if kind not in found and _shows(kind, p, a, b):
                    found.add(kind)
                    self._add(kind, True, _rkey(a), _rkey(b))


def _rkey(rec: dict[str, str]) -> tuple[str, str]:
    return rec["source_system"], rec["source_record_id"]


def _key(p: Person, recs: list[dict[str, str]]) -> tuple[str, str]:
    """The person's record most like their true self: the pair a matcher finds most confusable.

    Scored by true first name, last name, birth date and current ZIP written down; the first
    of the best wins, so a newborn placeholder or a stale record is picked only if all are.
    """
    first, last, zip5 = fold(p.first), fold(p.last), p.home.address.zip5
    best, best_score = recs[0], -1
    for rec in recs:
        score = ((fold(rec["first_name"]) == first) + (fold(rec["last_name"]) == last)
                 + (rec["birth_date"] == p.dob_str) + (rec["postal_code"][:5] == zip5))
        if score > best_score:
            best, best_score = rec, score
    return _rkey(best)


def _household_kind(a: Person, b: Person) -> str:
    if a.twin and b.twin and a.dob == b.dob:
        return "twins"
    if a.namesake is b:
        return "jr_sr"
    if (fold(a.last) == fold(b.last)) and fold(a.first) == fold(b.first):
        if abs(a.dob.year - b.dob.year) >= 15:
            return "parent_child_same_name"
        if a.dob == b.dob:
            return "same_name_same_dob"
    return "household_same_surname" if fold(a.last) == fold(b.last) else ""


def _shows(kind: str, p: Person, a: dict[str, str], b: dict[str, str]) -> bool:
    """Whether two records of person ``p`` show the variation ``kind`` names."""
    fa, fb, la, lb = (fold(a["first_name"]), fold(b["first_name"]), fold(a["last_name"]),
                      fold(b["last_name"]))
    if kind == "moved":
        return (not p.homeless and p.home.prior_address is not None
                and _house(a) and _house(b) and _house(a) != _house(b))
    if kind == "nickname":
        return fa != fb and (fa in _NICK_OF.get(fb, ()) or fb in _NICK_OF.get(fa, ()))
    if kind == "name_order_swap":
        return fa != la and fa == lb and la == fb
    if kind == "identifier_typo":
        return (_near_miss(a["ssn_last4"], b["ssn_last4"])
                or _near_miss(a["medicaid_id"], b["medicaid_id"]))
    if kind == "hyphenated_surname":
        return ("-" in p.last or " " in p.last) and la != lb and _compound_forms(a, b)
    if kind == "transliterated":
        return any(x != y and x in _SPELLING and _SPELLING.get(x) == _SPELLING.get(y)
                   for x, y in ((fa, fb), (la, lb))) or _accent_only(a, b)
    if kind == "married_name_change":
        maiden = fold(p.maiden) if p.maiden else ""
        return bool(maiden) and la != lb and maiden in (la, lb)
    return fold(a["first_name"]).startswith("BABY") != fold(b["first_name"]).startswith("BABY")


def _house(rec: dict[str, str]) -> str:
    """House number, street and ZIP: '' for a homeless or missing address."""
    line = fold(rec["address_line1"])
    if not line or not line[0].isdigit() or not rec["postal_code"]:
        return ""
    return f"{line.split()[0]} {rec['postal_code'][:5]}"


def _near_miss(x: str, y: str) -> bool:
    """One character different, or two adjacent characters swapped; placeholders excluded."""
    if not x or not y or x == y or len(x) != len(y) or x in _PLACEHOLDERS or y in _PLACEHOLDERS:
        return False
    diff = [i for i in range(len(x)) if x[i] != y[i]]
    return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1
                              and x[diff[0]] == y[diff[1]] and x[diff[1]] == y[diff[0]])


def _compound_forms(a: dict[str, str], b: dict[str, str]) -> bool:
    """Both surnames forms of one double surname: hyphenated, spaced, joined or cut."""
    ra, rb = (fold(r["last_name"].replace("-", " ")) for r in (a, b))
    return ra.split()[:1] == rb.split()[:1] and (" " in ra or " " in rb
                                                 or "-" in a["last_name"] + b["last_name"]
                                                 or ra.replace(" ", "") == rb.replace(" ", ""))


def _accent_only(a: dict[str, str], b: dict[str, str]) -> bool:
    """Vietnamese surnames with and without their diacritics (Nguyễn / Nguyen)."""
    la, lb = a["last_name"].upper(), b["last_name"].upper()
    return la != lb and fold(la) == fold(lb) and fold(la) in _SPELLING and (
        not la.isascii() or not lb.isascii()) and "Ã" not in la + lb and "?" not in la + lb
