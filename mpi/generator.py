"""Seeded synthetic people and their duplicate source records.

Feeds the demo index, the test fixtures and benchmarks of up to millions of records, so it is
deterministic (one ``random.Random(seed)``, no clock, no set/dict-order dependence), streaming
(an iterator with a bounded shuffle window, so memory stays constant) and standard-library only.

People live in households that share an address, a landline and usually a surname, and include
the confusable cases a matcher must keep apart: twins, Jr/Sr pairs, mothers and daughters with one
first name, unrelated namesakes born the same day. Each person gets 1-6 records from source
systems with their own habits (case, accents, id formats, missing fields; see
``generator_data.SOURCE_HABITS``) and with the noise real intake adds: nicknames, typos, wrong
birth dates, stale addresses, married names, swapped name order, newborn placeholder names.
"""

from __future__ import annotations

import csv
from bisect import bisect
from collections import deque
from datetime import date
from itertools import accumulate
from random import Random
from typing import Iterator, NamedTuple

from mpi import generator_data as data
from mpi.fields import RECORD_FIELDS, TRUTH_FIELD

COLUMNS = RECORD_FIELDS + (TRUTH_FIELD,)
#: "Today" in the synthetic world; fixed so output never depends on the real clock.
REFERENCE_DATE = date(2025, 6, 30)
#: Records per person (count, weight).
RECORDS_PER_PERSON = ((1, 30), (2, 26), (3, 17), (4, 12), (5, 8), (6, 6))
#: Records leave through a shuffle window of this size, so one person's records are not adjacent.
SHUFFLE_WINDOW = 4096
HABITS = data.SOURCE_HABITS

_REF, _YEAR = REFERENCE_DATE.toordinal(), 365.25
_STRIP_ACCENTS = str.maketrans("áéíóúñüÁÉÍÓÚÑÜ", "aeiounuAEIOUNU")
_EMAIL_CHARS = str.maketrans("áéíóúñüÁÉÍÓÚÑÜ", "aeiounuAEIOUNU", " -'.")
_SUFFIX_FORMS = {"Jr": ("Jr", "JR", "Jr."), "Sr": ("Sr", "SR", "Sr."), "II": ("II",)}
_SSN_PLACEHOLDERS = ("0000", "0000", "0000", "9999", "1234")
_MCO, _HOUSING, _FQHC = "bluepath-mco", "housing-first-cbo", "fqhc-eastside"
_ORDINAL = {1: "st", 2: "nd", 3: "rd"}
_DIRECTIONS = tuple(data.DIRECTIONS.items())


def _choice(r, seq):
    """``rng.choice`` at a fraction of the cost: one ``random()`` call."""
    return seq[int(r() * len(seq))]


class _Weighted:
    """Weighted choice by bisecting cumulative weights: one ``random()`` per draw."""

    __slots__ = ("items", "cum", "total")

    def __init__(self, pairs):
        self.items = tuple(item for item, _ in pairs)
        self.cum = tuple(accumulate(weight for _, weight in pairs))
        self.total = self.cum[-1]

    def pick(self, r):
        return self.items[bisect(self.cum, r() * self.total)]


def _zipf(names: tuple[str, ...], offset: float) -> _Weighted:
    """Rank-frequency weights 1/(rank+offset): a few very common names and a long tail."""
    return _Weighted([(name, 1.0 / (rank + offset)) for rank, name in enumerate(names, 1)])


def _by_sex(male, female, offset):
    return {"M": _zipf(male, offset), "F": _zipf(female, offset)}


_GROUPS = _Weighted([("white", 36), ("hispanic", 33), ("black", 17), ("vietnamese", 9),
                     ("korean", 5)])
_SURNAMES = {"white": _zipf(data.SURNAMES_WHITE, 10), "black": _zipf(data.SURNAMES_BLACK, 6),
             "hispanic": _zipf(data.SURNAMES_HISPANIC, 8),
             "vietnamese": _zipf(data.SURNAMES_VIETNAMESE, .6),
             "korean": _zipf(data.SURNAMES_KOREAN, 1)}
_ANGLO = _by_sex(data.MALE_ANGLO, data.FEMALE_ANGLO, 8)
_MODERN = _by_sex(data.MALE_MODERN, data.FEMALE_MODERN, 6)
#: Group -> (share given a name of the group's own tradition, those names by sex).
_GIVEN = {"white": (0, None),
          "black": (.35, _by_sex(data.MALE_BLACK, data.FEMALE_BLACK, 4)),
          "hispanic": (.75, _by_sex(data.MALE_HISPANIC, data.FEMALE_HISPANIC, 4)),
          "vietnamese": (.7, _by_sex(data.MALE_VIETNAMESE, data.FEMALE_VIETNAMESE, 3)),
          "korean": (.65, _by_sex(data.MALE_KOREAN, data.FEMALE_KOREAN, 3))}
_METROS = _Weighted([(m, m["weight"]) for m in data.METROS])
_CITIES = {m["name"]: _Weighted([((c, z), w) for c, w, z in m["cities"]]) for m in data.METROS}
_STREET_TYPES = _Weighted([(t[:2], t[2]) for t in data.STREET_TYPES])
_EMAIL_DOMAINS = _Weighted(data.EMAIL_DOMAINS)
_RECORD_COUNTS = _Weighted(RECORDS_PER_PERSON)
_CHILD_COUNTS = _Weighted([(1, 40), (2, 35), (3, 17), (4, 8)])
_HOSPITALS = ("st-marys-ehr", "county-general-ehr")


class _Minter:
    """Unique random-looking numbers: start + k * step modulo 10**width, for k = 1, 2, ...

    The step ends in 1, so it is coprime with 10**width and no number repeats until all
    10**width have been used; the caller sizes the width for that never to happen.
    """

    def __init__(self, rng: Random, width: int):
        self.width, self.mod = width, 10**width
        self.step = 2654435761 % self.mod
        self.value = rng.randrange(self.mod)

    def next(self) -> str:
        self.value = (self.value + self.step) % self.mod
        return str(self.value).zfill(self.width)


class _Habits:
    """A plain-object copy of a ``SourceHabits``: CPython 3.11 reads its attributes about
    twice as fast as a NamedTuple's, and records read some thirty of them each."""

    def __init__(self, habits):
        self.__dict__.update(habits._asdict())


class _Address(NamedTuple):
    """A residence, with its street line pre-rendered in full and USPS-abbreviated style."""

    full: str
    abbr: str
    unit: str
    city: str
    state: str
    zip5: str
    zip4: str


class _Household:
    __slots__ = ("metro", "address", "prior_address", "landline", "prior_landline",
                 "medicaid", "mco_subscriber", "mco_members")

    def __init__(self, metro, address, landline, medicaid):
        self.metro, self.address, self.landline, self.medicaid = metro, address, landline, medicaid
        self.prior_address, self.prior_landline = None, ""
        self.mco_subscriber, self.mco_members = "", 0


class _Person:
    __slots__ = ("pid", "home", "group", "sex", "first", "middle", "last", "suffix", "maiden",
                 "dob", "dob_str", "ssn4", "medicaid", "cell", "prior_cell", "email", "adult",
                 "homeless", "guardian", "twin")

    def __init__(self, home: _Household, group: str, sex: str):
        self.home, self.group, self.sex = home, group, sex
        self.middle = self.suffix = self.maiden = self.medicaid = self.cell = ""
        self.prior_cell = self.email = self.twin = ""
        self.homeless, self.guardian = False, None


class _Generator:
    """One seeded run: builds households, then renders each person's records."""

    def __init__(self, n_people: int, seed: int):
        self.rng = rng = Random(seed)
        self.r = rng.random
        self.n_people = n_people
        self.pid_format = f"P{{:0{max(7, len(str(n_people)))}d}}"
        cap = len(str(6 * n_people))  # digits for every record landing in one system
        self.ids = {s: _Minter(rng, max(h.id_width, cap)) for s, h in HABITS.items()}
        self.medicaid_ids = {state: _Minter(rng, max(width, len(str(n_people))))
                             for state, (_, width) in data.MEDICAID_FORMATS.items()}
        self.recent = deque(maxlen=512)  # recent adults, to copy namesakes from
        self.habits = {s: _Habits(h) for s, h in HABITS.items()}
        self.system_tables, self.email_names = {}, {}
        self.dob_noise = {s: h.dob_missing + h.dob_placeholder + h.dob_estimate + h.dob_error
                          for s, h in HABITS.items()}
        #: Systems whose id is a fixed prefix plus the minted number ("CG{n}" -> "CG").
        self.id_prefix = {s: h.id_format[:-3] for s, h in HABITS.items()
                          if h.id_format.endswith("{n}") and "{" not in h.id_format[:-3]}

    def records(self) -> Iterator[dict[str, str]]:
        """All records, passed through a fixed-size shuffle window (constant memory)."""
        buf, r, made = [], self.r, 0
        while made < self.n_people:
            batch = []
            for person in self._household()[: self.n_people - made]:
                made += 1
                person.pid = self.pid_format.format(made)
                batch += self._person_records(person)
            for rec in batch:
                if len(buf) < SHUFFLE_WINDOW:
                    buf.append(rec)
                else:
                    j = int(r() * SHUFFLE_WINDOW)
                    yield buf[j]
                    buf[j] = rec
        self.rng.shuffle(buf)
        yield from buf

    # ---- population ----------------------------------------------------------------------
    def _household(self) -> list[_Person]:
        """Single, couple, family or single parent; sometimes a grandparent; sometimes moved."""
        r = self.r
        metro, group = _METROS.pick(r), _GROUPS.pick(r)
        home = _Household(metro, self._address(metro), self._phone(metro) if r() < .4 else "",
                          r() < .28)
        if r() < .22:  # older records carry the previous address and landline
            home.prior_address = self._address(metro if r() < .85 else _METROS.pick(r))
            home.prior_landline = self._phone(metro) if home.landline else ""
        kind = r()
        if kind < .30:
            return [self._single(home, group)]
        if kind < .50:
            return list(self._couple(home, group, 22, 88))
        if kind < .88:
            father, mother = self._couple(home, group, 22, 52)
            people = [father, mother] + self._children(home, group, father, mother)
            if r() < .07:
                people.append(self._person(home, group, "MF"[r() < .55], 62, 92, father.last))
            return people
        home.medicaid = r() < .55
        parent = self._person(home, group, "FM"[r() < .2], 20, 50)
        mother = parent if parent.sex == "F" else None
        return [parent] + self._children(home, group, None if mother else parent, mother)

    def _single(self, home: _Household, group: str) -> _Person:
        """A one-person household; sometimes an unrelated namesake born the same day."""
        r = self.r
        if self.recent and r() < .04:
            other = _choice(r, self.recent)
            p = self._person(home, other.group, other.sex, 18, 90, other.last)
            p.first, p.dob, p.dob_str = other.first, other.dob, other.dob_str
        else:
            p = self._person(home, group, "MF"[r() < .5], 18, 90)
        p.homeless = r() < .12
        if p.homeless and not p.medicaid and r() < .5:
            p.medicaid = self._medicaid_id(home)
        return p

    def _couple(self, home, group, lo, hi) -> tuple[_Person, _Person]:
        """Husband and wife; her maiden name survives in older records or as a middle name."""
        r = self.r
        man = self._person(home, group, "M", lo, hi)
        age = (_REF - man.dob.toordinal()) / _YEAR
        wife_group = group if r() < .88 else _GROUPS.pick(r)
        woman = self._person(home, wife_group, "F", max(18, age - 6), max(18, age + 3))
        maiden, x = woman.last, r()
        if x < .7:
            woman.last, woman.maiden = man.last, maiden
        elif x < .8:
            woman.last, woman.maiden = f"{maiden}-{man.last}", maiden
        self.recent.extend((man, woman))
        return man, woman

    def _children(self, home, group, father, mother) -> list[_Person]:
        """Children with the family surname; twins, a Jr, a daughter named after her mother."""
        r = self.r
        parent = mother or father
        room = (_REF - parent.dob.toordinal()) / _YEAR - 18  # parent was at least 18
        kids, jr_done = [], False
        for _ in range(_CHILD_COUNTS.pick(r)):
            if room < 0:
                break
            sex = "MF"[r() < .5]
            top = min(30, room) if r() < .12 else min(17, room)  # some adult children at home
            kid = self._person(home, group, sex, 0, top, self._child_surname(group, father, mother))
            kid.guardian = parent
            if father and sex == "M" and not jr_done and r() < .14:
                jr_done = True
                kid.first, kid.middle, kid.last = father.first, father.middle, father.last
                kid.suffix = "Jr" if r() < .85 else "II"
                father.suffix = "Sr" if kid.suffix == "Jr" and r() < .7 else ""
            elif mother and sex == "F" and r() < .08:
                kid.first = mother.first
            kids.append(kid)
            if r() < .07:
                kids.append(self._twin_of(kid))
        return kids

    def _twin_of(self, kid: _Person) -> _Person:
        """Same birth date, surname and address; often a near-identical first name."""
        r = self.r
        twin = self._person(kid.home, kid.group, kid.sex if r() < .6 else "FM"[kid.sex == "F"],
                            0, 0, kid.last)
        twin.dob, twin.dob_str, twin.guardian = kid.dob, kid.dob_str, kid.guardian
        named_after_parent = kid.suffix or kid.first == kid.guardian.first
        if twin.sex == kid.sex and not named_after_parent and r() < .5:
            tradition = kid.group if kid.group in ("hispanic", "vietnamese", "korean") else "anglo"
            kid.first, twin.first = _choice(r, data.TWIN_NAMES[kid.sex, tradition])
        kid.twin, twin.twin = "A", "B"
        return twin

    def _child_surname(self, group, father, mother) -> str:
        """Father's surname; Hispanic children often carry both parents' first surnames."""
        if not father:
            return mother.last
        if group == "hispanic" and mother and self.r() < .35:
            maternal = (mother.maiden or mother.last).split("-")[0].split()[0]
            return f"{father.last.split()[0]} {maternal}"
        return father.last

    def _person(self, home, group, sex, lo, hi, last="") -> _Person:
        """One person with identifiers and contacts, aged between lo and hi years."""
        r = self.r
        p = _Person(home, group, sex)
        days = int(lo * _YEAR) + int(r() * ((hi - lo) * _YEAR + 365))
        p.dob = date.fromordinal(_REF - days)
        p.dob_str, p.adult = p.dob.isoformat(), days >= 18 * _YEAR
        p.first, p.last = self._given(group, sex, p.dob.year), last or _SURNAMES[group].pick(r)
        if group == "vietnamese" and r() < .8:
            p.middle = _choice(r, data.MIDDLE_VIETNAMESE[sex])
        elif group in ("white", "black") and r() < .7 or group == "hispanic" and r() < .4:
            p.middle = self._given(group, sex, p.dob.year).split()[0]
        p.ssn4 = str(1 + int(r() * 9999)).zfill(4)
        if home.medicaid and (not p.adult or r() < .7):
            p.medicaid = self._medicaid_id(home)
        if p.adult or days > 13 * _YEAR and r() < .5:  # adults and some teenagers
            p.cell = self._phone(home.metro) if r() < .92 else ""
            p.email = self._email(p) if r() < (.7 if p.adult else .4) else ""
            p.homeless = p.adult and r() < .015
            if home.prior_address and p.cell and r() < .4:
                p.prior_cell = self._phone(home.metro)
        return p

    def _given(self, group: str, sex: str, born: int) -> str:
        """A given name of the group's tradition, a common American one, or a recent one."""
        r = self.r
        share, names = _GIVEN[group]
        if share and r() < share:
            return names[sex].pick(r)
        return (_MODERN if born >= 2000 and r() < .5 else _ANGLO)[sex].pick(r)

    def _address(self, metro: dict) -> _Address:
        r = self.r
        city, zips = _CITIES[metro["name"]].pick(r)
        if r() < .2:
            k = 1 + int(r() * 110)
            street = f"{k}{'th' if 10 <= k % 100 <= 20 else _ORDINAL.get(k % 10, 'th')}"
        else:
            street = _choice(r, data.STREET_NAMES)
        number = str(int(10 ** (1 + r() * 3.3)))
        full_type, short_type = _STREET_TYPES.pick(r)
        if r() < .6:
            full, abbr = f"{number} {street} {full_type}", f"{number} {street} {short_type}"
        else:
            short_dir, full_dir = _choice(r, _DIRECTIONS)
            full = f"{number} {full_dir} {street} {full_type}"
            abbr = f"{number} {short_dir} {street} {short_type}"
        unit = "" if r() < .6 else (str(1 + int(r() * 450)) if r() < .8
                                    else f"{1 + int(r() * 12)}{_choice(r, 'ABCDEF')}")
        return _Address(full, abbr, unit, city, metro["state"], _choice(r, zips),
                        str(int(r() * 10000)).zfill(4))

    def _phone(self, metro: dict) -> str:
        """Ten digits in a metro area code; the exchange avoids N11 and 555."""
        r = self.r
        exchange = 201 + int(r() * 788)
        if exchange == 555 or exchange % 100 == 11:
            exchange += 1
        return f"{_choice(r, metro['area_codes'])}{exchange}{str(int(r() * 10000)).zfill(4)}"

    def _email(self, p: _Person) -> str:
        r, ascii_ = self.r, self.email_names  # names are few: cache their email spelling
        first, last = ascii_.get(p.first), ascii_.get(p.last)
        if first is None:
            first = ascii_[p.first] = p.first.translate(_EMAIL_CHARS).lower()
        if last is None:
            last = ascii_[p.last] = p.last.translate(_EMAIL_CHARS).lower()
        x = r()
        local = (f"{first}.{last}" if x < .3 else f"{first}{last}{int(r() * 100)}" if x < .55
                 else f"{first[0]}{last}" if x < .75 else f"{last}{first[0]}" if x < .85
                 else f"{first}{p.dob.year % 100:02d}{int(r() * 1000)}")
        return f"{local}@{_EMAIL_DOMAINS.pick(r)}"

    def _medicaid_id(self, home: _Household) -> str:
        state = home.metro["state"]
        letter = _choice(self.r, "ABCDEFGHJKLMNPQRSTUVWXYZ")
        return data.MEDICAID_FORMATS[state][0].format(n=self.medicaid_ids[state].next(),
                                                      letter=letter)

    # ---- records ---------------------------------------------------------------------------
    def _person_records(self, p: _Person) -> list[dict[str, str]]:
        """1-6 records; a young child's first may be a hospital birth registration."""
        r = self.r
        systems, count, records = self._systems_for(p), _RECORD_COUNTS.pick(r), []
        if p.guardian and _REF - p.dob.toordinal() < 6 * _YEAR and r() < .25:
            count -= 1
            records.append(self._record(p, _choice(r, _HOSPITALS), newborn=True))
        for _ in range(count):
            records.append(self._record(p, systems.pick(r)))
        return records

    def _systems_for(self, p: _Person) -> _Weighted:
        """Where this person turns up: MCO members only, housing services adults only."""
        key = (bool(p.medicaid), p.adult, p.homeless, p.group in ("hispanic", "vietnamese"))
        table = self.system_tables.get(key)
        if table is None:
            member, adult, homeless, boost = key
            table = self.system_tables[key] = _Weighted([
                (s, h.weight * (s != _MCO or member) * (s != _HOUSING or adult)
                 * (4 if s == _HOUSING and homeless else 1) * (1.6 if s == _FQHC and boost else 1))
                for s, h in HABITS.items()])
        return table

    def _record(self, p: _Person, system: str, newborn: bool = False) -> dict[str, str]:
        """Render one source record of a person the way that system captures it."""
        h, r = self.habits[system], self.r
        old = r() < h.old  # captured before the person moved or married
        if newborn:
            first, middle, last, suffix = (f"Baby {'Girl' if p.sex == 'F' else 'Boy'}"
                                           f"{' ' + p.twin if p.twin else ''}", "",
                                           p.guardian.last, "")
            birth_date, sex, ssn = p.dob_str, p.sex, ""
        else:
            first, middle, last, suffix = self._names(p, h, old)
            x = r()  # one draw decides whether the birth date is noisy, and how
            birth_date = p.dob_str if x >= self.dob_noise[system] else self._birth_date(p, h, x)
            sex = p.sex if r() >= h.sex_missing else ("U" if r() < .5 else "")
            ssn = ""
            if r() < h.ssn:
                x = r()
                ssn = (_choice(r, _SSN_PLACEHOLDERS) if x < h.ssn_placeholder
                       else self._digit_typo(p.ssn4) if x < h.ssn_placeholder + .015 else p.ssn4)
        medicaid = p.medicaid if p.medicaid and r() < h.medicaid else ""
        phone, email = self._contacts(p, h, old, newborn)
        line1, line2, city, state, postal = self._address_fields(p, h, old)
        x = r()
        if x < h.upper:
            first, middle, last = first.upper(), middle.upper(), last.upper()
            suffix = suffix.upper()
            line1, line2, city = line1.upper(), line2.upper(), city.upper()
        elif x < h.upper + h.lower:
            first, middle, last = first.lower(), middle.lower(), last.lower()
        return dict(zip(COLUMNS, (  # in RECORD_FIELDS order, then the truth column
            system, self._record_id(system, h, p), first, middle, last, suffix, birth_date, sex,
            ssn, medicaid, phone, email, line1, line2, city, state, postal, p.pid)))

    def _record_id(self, system: str, h, p: _Person) -> str:
        """System-specific ids; MCO household members share a subscriber number."""
        if system == _MCO:
            home = p.home
            if not home.mco_subscriber:
                home.mco_subscriber = self.ids[system].next()
            home.mco_members += 1
            return h.id_format.format(n=home.mco_subscriber, member=home.mco_members)
        prefix = self.id_prefix.get(system)
        if prefix is not None:
            return prefix + self.ids[system].next()
        return h.id_format.format(n=self.ids[system].next(), year=2015 + int(self.r() * 11))

    def _names(self, p: _Person, h, old: bool) -> tuple[str, str, str, str]:
        """Name as captured: married/maiden, compound names, nicknames, order swaps, typos."""
        r = self.r
        first, middle, last = p.first, p.middle, p.last
        if p.maiden and old:
            last = p.maiden
        elif p.maiden and not middle and r() < .15:
            middle = p.maiden  # maiden name moved to the middle
        if " " in first and r() < .35:  # "María Guadalupe" -> "María" (+ middle "Guadalupe")
            first, rest = first.split(" ", 1)
            middle = rest if not middle and r() < .4 else middle
        if r() < h.nickname and first in data.NICKNAMES:
            first = _choice(r, data.NICKNAMES[first])
        if p.group == "hispanic" and " " in last:
            x = r()
            if x < h.truncate_compound:
                last = last.split()[0]
            elif x < h.truncate_compound + .15:
                last = last.replace(" ", "-")
        elif p.group == "korean":
            first = self._korean_spelling(first)
            if r() < .1 and last in data.KOREAN_ROMANISATIONS:
                last = _choice(r, data.KOREAN_ROMANISATIONS[last])
        elif p.group == "vietnamese" and middle and r() < .15:
            first, middle = f"{middle} {first}", ""  # "Van Long"
        x = r()
        middle = (middle if x < h.middle_full else middle[:1]
                  if x < h.middle_full + h.middle_initial else "")
        if p.group in ("vietnamese", "korean") and r() < h.swap_order:
            first, last = last, first
        if r() < h.typo:
            if r() < .6:
                first = self._typo(first)
            else:
                last = self._typo(last)
        suffix = ""
        if p.suffix and r() >= h.suffix_missing:
            suffix = _choice(r, _SUFFIX_FORMS[p.suffix])
            if r() < h.suffix_in_last:
                last, suffix = f"{last} {suffix}", ""
        if not (first.isascii() and last.isascii() and middle.isascii()):
            if r() < h.strip_accents:
                first, middle, last = (first.translate(_STRIP_ACCENTS),
                                       middle.translate(_STRIP_ACCENTS),
                                       last.translate(_STRIP_ACCENTS))
            elif r() < h.mojibake:
                first, last = self._mojibake(first), self._mojibake(last)
        return first, middle, last, suffix

    def _korean_spelling(self, name: str) -> str:
        """Ji-hoon / Jihoon / Ji Hoon / Ji-Hoon: one romanised name, spaced four ways."""
        if "-" not in name:
            return name
        head, tail = name.split("-", 1)
        x = self.r()
        return (name if x < .4 else head + tail if x < .7 else f"{head} {tail.title()}" if x < .9
                else f"{head}-{tail.title()}")

    def _birth_date(self, p: _Person, h, x: float) -> str:
        """Missing, the 1900-01-01 placeholder, a January-1st estimate, or a keying error.

        ``x`` is a uniform draw below the system's total noise rate; its sub-interval picks
        the kind, so the common clean case costs one draw and no call.
        """
        if x < h.dob_missing:
            return ""
        x -= h.dob_missing
        if x < h.dob_placeholder:
            return "1900-01-01"
        if x < h.dob_placeholder + h.dob_estimate:  # from a stated age, sometimes a year out
            return f"{p.dob.year + (0 if self.r() < .7 else (-1, 1)[self.r() < .5])}-01-01"
        return self._dob_error(p.dob)

    def _dob_error(self, dob: date) -> str:
        """Day/month swapped, the day's last digit off, year off by one or by a decade."""
        r = self.r
        y, m, d = dob.year, dob.month, dob.day
        x, step = r(), (-1, 1)[r() < .5]
        if x < .35 and d <= 12 and d != m:
            m, d = d, m
        elif x < .65:
            d += step
        elif x < .85:
            y += step
        else:
            y += 10 * step
        try:
            wrong = date(y, m, d)
        except ValueError:  # keep dates valid: loaders should see wrong, not unparseable, data
            return dob.isoformat()
        # Nor in the future (a decade late for a young child), which loaders rightly refuse.
        return dob.isoformat() if wrong > REFERENCE_DATE else wrong.isoformat()

    def _contacts(self, p: _Person, h, old: bool, newborn: bool) -> tuple[str, str]:
        """Own cell, the household landline or a guardian's phone; a child's email is a parent's."""
        r, home = self.r, p.home
        cell = p.prior_cell if old and p.prior_cell else p.cell
        landline = home.prior_landline if old and home.prior_address else home.landline
        guardian = p.guardian.cell if p.guardian else ""
        number = (cell if cell and not newborn and r() < .75 else landline if landline and r() < .6
                  else guardian or landline or cell)
        phone = email = ""
        if number and r() < h.phone:
            number = self._digit_typo(number) if r() < .015 else number
            phone = _choice(r, h.phone_formats).format(number[:3], number[3:6], number[6:])
        own = p.email or (p.guardian.email if p.guardian and r() < .3 else "")
        if own and not newborn and r() < h.email:
            email = own
            if r() < .03:
                local, domain = own.split("@")
                typos = data.EMAIL_DOMAIN_TYPOS.get(domain)
                email = (f"{local}@{_choice(r, typos)}" if typos
                         else f"{self._typo(local)}@{domain}")
            if r() < .05:
                email = email.upper()
        return phone, email

    def _address_fields(self, p: _Person, h, old: bool) -> tuple[str, str, str, str, str]:
        """USPS-ish address with per-system abbreviation, unit placement and ZIP+4 habits."""
        r, home = self.r, p.home
        if p.homeless and r() < h.homeless:
            return self._homeless_address(home.metro)
        if r() < h.address_missing:
            return "", "", "", "", ""
        a = home.prior_address if old and home.prior_address else home.address
        abbr = r() < h.abbreviate
        line1, line2 = a.abbr if abbr else a.full, ""
        if a.unit and r() >= .04:  # the unit is sometimes dropped
            label = _choice(r, ("Apt", "Apt", "#", "Unit", "Apt #") if abbr
                            else ("Apartment", "Apt", "#", "Unit"))
            unit = f"#{a.unit}" if label == "#" else f"{label} {a.unit}"
            if r() < h.unit_inline:
                line1 = f"{line1}, {unit}" if r() < .6 else f"{line1} {unit}"
            else:
                line2 = unit
        city = self._typo(a.city) if r() < .01 else a.city
        return line1, line2, city, a.state, f"{a.zip5}-{a.zip4}" if r() < h.zip4 else a.zip5

    def _homeless_address(self, metro: dict) -> tuple[str, str, str, str, str]:
        """HOMELESS, General Delivery, a shelter shared by strangers, or nothing at all."""
        x = self.r()
        city, _, zips = metro["cities"][0]
        if x < .35:
            return "HOMELESS" if x < .2 else "Homeless", "", city, metro["state"], ""
        if x < .5:
            return "General Delivery", "", city, metro["state"], zips[0]
        if x < .75:
            line1, city, postal = _choice(self.r, metro["shelters"])
            return line1, "", city, metro["state"], postal
        return "", "", "", "", ""

    # ---- noise primitives -----------------------------------------------------------------
    def _typo(self, s: str) -> str:
        """One keying error: adjacent-key substitution, deletion, transposition or doubling."""
        if len(s) < 3:
            return s
        r = self.r
        i, x = 1 + int(r() * (len(s) - 1)), r()
        if x < .3:
            near = data.KEY_NEIGHBOURS.get(s[i].lower())
            if not near:
                return s
            c = _choice(r, near)
            return s[:i] + (c.upper() if s[i].isupper() else c) + s[i + 1:]
        if x < .55:
            return s[:i] + s[i + 1:]
        if x < .8:
            return s[: i - 1] + s[i] + s[i - 1] + s[i + 1:]
        return s[:i] + s[i] + s[i:]

    def _digit_typo(self, digits: str) -> str:
        """One digit mis-keyed by one."""
        r = self.r
        i = int(r() * len(digits))
        return f"{digits[:i]}{(int(digits[i]) + (1 if r() < .5 else 9)) % 10}{digits[i + 1:]}"

    def _mojibake(self, s: str) -> str:
        """Accented text through a wrong encoding: UTF-8 read as Latin-1, or '?'."""
        if s.isascii():
            return s
        if self.r() < .5:
            return s.encode("utf-8").decode("latin-1")
        return "".join(c if c.isascii() else "?" for c in s)


def generate_records(n_people: int, seed: int = 7) -> Iterator[dict[str, str]]:
    """Yield source records (RECORD_FIELDS + TRUTH_FIELD, all str, '' for missing).

    Args:
        n_people: how many true people to create; each has 1-6 records.
        seed: the only source of randomness: the same seed gives the same records in the
            same order, whatever the platform or Python hash seed.

    Returns:
        A lazy iterator; memory stays constant however many people are asked for.
    """
    if n_people < 0:
        raise ValueError("n_people must be >= 0")
    return _Generator(n_people, seed).records()


def write_csv(path, n_people: int, seed: int = 7) -> int:
    """Write generated records as UTF-8 CSV with header RECORD_FIELDS + truth column.

    Returns:
        The number of data rows written.
    """
    rows = 0
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        for rec in generate_records(n_people, seed):
            writer.writerow(rec)
            rows += 1
    return rows


def small_population(n_people: int = 60, seed: int = 1) -> list[dict[str, str]]:
    """A small, fixed population for tests and examples."""
    return list(generate_records(n_people, seed))
