"""The "varied" profile's source systems: twelve systems, and the noise the standard six lack.

Each record is first rendered as the standard profile would (:mod:`mpi.synth.sources`), then
given the varied profile's habits (:mod:`mpi.synth.varied_habits`): a transliterated spelling
(Mohammed/Muhammad, Aleksandr/Alexander, Nguyen/Nguyễn, Park/Pak), a double or hyphenated
surname written another way (Garcia-Lopez, Garcia Lopez, Garcia), given and family name swapped
for anyone, an identifier mis-keyed (one digit wrong, two adjacent digits swapped) or replaced
by a placeholder, no birth date on a Jr's or Sr's record, and fields the system never keeps.
"""

from __future__ import annotations

from random import Random

from mpi.synth.population import Person
from mpi.synth.sampling import Weighted, choice
from mpi.synth.sources import _REF, _STRIP_ACCENTS, _YEAR, SourceSystems, _Habits
from mpi.synth.varied_habits import EXTRA_HABITS, VARIED_HABITS
from mpi.synth.varied_names import TRANSLITERATIONS

_SSN_PLACEHOLDERS = ("0000", "9999", "1234")
_MEDICAID_PLACEHOLDERS = ("00000000", "999999999", "000000000")
_ALNUM = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"


class VariedSourceSystems(SourceSystems):
    """Twelve source systems; each record gets its system's extra habits after the standard ones."""

    HABITS = VARIED_HABITS

    def __init__(self, rng: Random, n_people: int):
        super().__init__(rng, n_people)
        self.extra = {s: _Habits(EXTRA_HABITS[s]) for s in self.HABITS}

    def _systems_for(self, p: Person) -> Weighted:
        """Who each system sees: Medicaid members, adults, school-age children or anyone, in
        the states it serves."""
        age = (_REF - p.dob.toordinal()) / _YEAR
        key = (bool(p.medicaid), p.adult, p.homeless, 4 <= age <= 18, p.home.metro["state"])
        table = self.system_tables.get(key)
        if table is None:
            member, adult, homeless, school, state = key
            allowed = {"any": True, "members": member, "adults": adult, "school": school}
            table = self.system_tables[key] = Weighted([
                (s, h.weight * allowed[self.extra[s].who]
                 * (not self.extra[s].states or state in self.extra[s].states)
                 * (4 if homeless and s in ("housing-first-cbo", "shelter-hmis") else 1))
                for s, h in self.HABITS.items()])
        return table

    def _record(self, p: Person, system: str, newborn: bool = False) -> dict[str, str]:
        rec = super()._record(p, system, newborn)
        if newborn:
            return rec
        x, r = self.extra[system], self.r
        self._varied_names(rec, p, x, self.habits[system].strip_accents >= .9)
        if p.namesake and rec["birth_date"] and r() < x.junior_dob_missing:
            rec["birth_date"] = ""
        ssn = rec["ssn_last4"]
        if ssn == p.ssn4:
            y = r()
            if y < x.id_typo:
                rec["ssn_last4"] = self._id_typo(ssn, "0123456789")
            elif y < x.id_typo + x.id_placeholder:
                rec["ssn_last4"] = choice(r, _SSN_PLACEHOLDERS)
        if rec["medicaid_id"]:
            y = r()
            if y < x.id_typo:
                rec["medicaid_id"] = self._id_typo(rec["medicaid_id"], _ALNUM)
            elif y < x.id_typo + x.id_placeholder:
                rec["medicaid_id"] = choice(r, _MEDICAID_PLACEHOLDERS)
        for field in x.drop:
            rec[field] = ""
        return rec

    def _varied_names(self, rec: dict[str, str], p: Person, x, ascii_only: bool) -> None:
        """Transliterate, rewrite a compound surname, or swap given and family name, in place."""
        r = self.r
        for field, true in (("first_name", p.first), ("last_name", p.last)):
            spellings = TRANSLITERATIONS.get(true)
            if spellings and r() < x.translit and rec[field].casefold() == true.casefold():
                spelling = choice(r, spellings)
                if spelling.isascii() or not ascii_only:
                    rec[field] = _like(rec[field], spelling)
        last = rec["last_name"]
        if ("-" in last or " " in last) and r() < x.compound and _bare(last) == _bare(p.last):
            head, tail = last.replace("-", " ").split(" ", 1)  # as this system wrote it
            y = r()
            rec["last_name"] = (f"{head} {tail}" if "-" in last and y < .4
                                else f"{head}-{tail}" if y < .4 else
                                head if y < .8 else f"{head}{tail}")
        if r() < x.swap_any and rec["first_name"] and rec["last_name"]:
            rec["first_name"], rec["last_name"] = rec["last_name"], rec["first_name"]

    def _id_typo(self, value: str, alphabet: str) -> str:
        """One character mis-keyed, or two adjacent characters swapped (never a no-op)."""
        r = self.r
        i = int(r() * len(value))
        if r() < .4 and len(value) > 1:
            i = min(i, len(value) - 2)
            if value[i] != value[i + 1]:
                return value[:i] + value[i + 1] + value[i] + value[i + 2:]
        pool = "0123456789" if value[i].isdigit() else alphabet
        c = choice(r, pool)
        if c == value[i]:
            c = pool[(pool.index(c) + 1) % len(pool)]
        return value[:i] + c + value[i + 1:]


def _bare(name: str) -> str:
    """Upper case, no accents, hyphen as a space: to tell a rewritten surname from a noisy one."""
    return name.translate(_STRIP_ACCENTS).upper().replace("-", " ")


def _like(written: str, spelling: str) -> str:
    """``spelling`` in the case ``written`` was in (upper, lower or as given)."""
    if written.isupper():
        return spelling.upper()
    if written.islower():
        return spelling.lower()
    return spelling
