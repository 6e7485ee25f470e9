"""The synthetic population: who exists, where they live and how they are related.

People live in households that share an address, a landline and usually a surname, and include
the confusable cases a matcher must keep apart: twins, Jr/Sr pairs, mothers and daughters with one
first name, unrelated namesakes born the same day. Each person carries the true values (names,
birth date, identifiers, contacts, current and previous address) that
:mod:`mpi.generator_sources` then writes down, imperfectly, once per source record.
"""

from __future__ import annotations

from collections import deque
from datetime import date
from random import Random
from typing import Iterator, NamedTuple

from mpi.synth import names
from mpi.synth import places
from mpi.synth.sampling import Minter, Weighted, choice, zipf

#: "Today" in the synthetic world; fixed so output never depends on the real clock.
REFERENCE_DATE = date(2025, 6, 30)
DAYS_PER_YEAR = 365.25

_REF, _YEAR = REFERENCE_DATE.toordinal(), DAYS_PER_YEAR
_EMAIL_CHARS = str.maketrans("áéíóúñüÁÉÍÓÚÑÜ", "aeiounuAEIOUNU", " -'.")
_ORDINAL = {1: "st", 2: "nd", 3: "rd"}
_DIRECTIONS = tuple(places.DIRECTIONS.items())


def _by_sex(male, female, offset):
    return {"M": zipf(male, offset), "F": zipf(female, offset)}


_GROUPS = Weighted([("white", 36), ("hispanic", 33), ("black", 17), ("vietnamese", 9),
                    ("korean", 5)])
_SURNAMES = {"white": zipf(names.SURNAMES_WHITE, 10), "black": zipf(names.SURNAMES_BLACK, 6),
             "hispanic": zipf(names.SURNAMES_HISPANIC, 8),
             "vietnamese": zipf(names.SURNAMES_VIETNAMESE, .6),
             "korean": zipf(names.SURNAMES_KOREAN, 1)}
_ANGLO = _by_sex(names.MALE_ANGLO, names.FEMALE_ANGLO, 8)
_MODERN = _by_sex(names.MALE_MODERN, names.FEMALE_MODERN, 6)
#: Group -> (share given a name of the group's own tradition, those names by sex).
_GIVEN = {"white": (0, None),
          "black": (.35, _by_sex(names.MALE_BLACK, names.FEMALE_BLACK, 4)),
          "hispanic": (.75, _by_sex(names.MALE_HISPANIC, names.FEMALE_HISPANIC, 4)),
          "vietnamese": (.7, _by_sex(names.MALE_VIETNAMESE, names.FEMALE_VIETNAMESE, 3)),
          "korean": (.65, _by_sex(names.MALE_KOREAN, names.FEMALE_KOREAN, 3))}
_METROS = Weighted([(m, m["weight"]) for m in places.METROS])
_CITIES = {m["name"]: Weighted([((c, z), w) for c, w, z in m["cities"]]) for m in places.METROS}
_STREET_TYPES = Weighted([(t[:2], t[2]) for t in places.STREET_TYPES])
_EMAIL_DOMAINS = Weighted(places.EMAIL_DOMAINS)
_CHILD_COUNTS = Weighted([(1, 40), (2, 35), (3, 17), (4, 8)])


class Address(NamedTuple):
    """A residence, with its street line pre-rendered in full and USPS-abbreviated style."""

    full: str
    abbr: str
    unit: str
    city: str
    state: str
    zip5: str
    zip4: str


class Household:
    """People under one roof: one address (and maybe a previous one), landline and Medicaid case.

    ``mco_subscriber`` and ``mco_members`` are filled in as the MCO's records are rendered: the
    plan numbers a household's members under one subscriber.
    """

    __slots__ = ("metro", "address", "prior_address", "landline", "prior_landline",
                 "medicaid", "mco_subscriber", "mco_members")

    def __init__(self, metro, address, landline, medicaid):
        self.metro, self.address, self.landline, self.medicaid = metro, address, landline, medicaid
        self.prior_address, self.prior_landline = None, ""
        self.mco_subscriber, self.mco_members = "", 0


class Person:
    """One true person: the values every source record of them starts from."""

    __slots__ = ("pid", "home", "group", "sex", "first", "middle", "last", "suffix", "maiden",
                 "dob", "dob_str", "ssn4", "medicaid", "cell", "prior_cell", "email", "adult",
                 "homeless", "guardian", "twin", "namesake")

    def __init__(self, home: Household, group: str, sex: str):
        self.home, self.group, self.sex = home, group, sex
        self.middle = self.suffix = self.maiden = self.medicaid = self.cell = ""
        self.prior_cell = self.email = self.twin = ""
        self.homeless, self.guardian, self.namesake = False, None, None


class Population:
    """Builds households one at a time from a shared seeded ``Random``.

    The class attributes are the profile: the tables and rates people are drawn from. A harder
    profile (:class:`mpi.synth.varied_population.VariedPopulation`) swaps them; the draws made
    with them stay in the same order, so the standard profile's output never changes.
    """

    METROS, CITIES, GROUPS, SURNAMES, GIVEN = _METROS, _CITIES, _GROUPS, _SURNAMES, _GIVEN
    MEDICAID_FORMATS, TWIN_NAMES = places.MEDICAID_FORMATS, names.TWIN_NAMES
    #: Per-household rates: moved (a previous address), twins and a Jr per child, namesakes.
    MOVED, TWINS, JUNIORS, NAMESAKES = .22, .07, .14, .04

    def __init__(self, rng: Random, n_people: int):
        """Draws the Medicaid id minters' starting points from ``rng``, so creation order counts."""
        self.r = rng.random
        self.n_people = n_people
        self.pid_format = f"P{{:0{max(7, len(str(n_people)))}d}}"
        self.medicaid_ids = {state: Minter(rng, max(width, len(str(n_people))))
                             for state, (_, width) in self.MEDICAID_FORMATS.items()}
        self.recent = deque(maxlen=512)  # recent adults, to copy namesakes from
        self.email_names = {}

    def households(self) -> Iterator[list[Person]]:
        """Households, each person numbered, until ``n_people`` exist (the last may be cut)."""
        made = 0
        while made < self.n_people:
            people = self._household()[: self.n_people - made]
            for person in people:
                made += 1
                person.pid = self.pid_format.format(made)
            yield people

    def _household(self) -> list[Person]:
        """Single, couple, family or single parent; sometimes a grandparent; sometimes moved."""
        r = self.r
        metro, group = self.METROS.pick(r), self.GROUPS.pick(r)
        home = Household(metro, self._address(metro), self._phone(metro) if r() < .4 else "",
                          r() < .28)
        if r() < self.MOVED:  # older records carry the previous address and landline
            home.prior_address = self._address(metro if r() < .85 else self.METROS.pick(r))
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

    def _single(self, home: Household, group: str) -> Person:
        """A one-person household; sometimes an unrelated namesake born the same day."""
        r = self.r
        if self.recent and r() < self.NAMESAKES:
            other = choice(r, self.recent)
            p = self._person(home, other.group, other.sex, 18, 90, other.last)
            p.first, p.dob, p.dob_str = other.first, other.dob, other.dob_str
        else:
            p = self._person(home, group, "MF"[r() < .5], 18, 90)
        p.homeless = r() < .12
        if p.homeless and not p.medicaid and r() < .5:
            p.medicaid = self._medicaid_id(home)
        return p

    def _couple(self, home, group, lo, hi) -> tuple[Person, Person]:
        """Husband and wife; her maiden name survives in older records or as a middle name."""
        r = self.r
        man = self._person(home, group, "M", lo, hi)
        age = (_REF - man.dob.toordinal()) / _YEAR
        wife_group = group if r() < .88 else self.GROUPS.pick(r)
        woman = self._person(home, wife_group, "F", max(18, age - 6), max(18, age + 3))
        maiden, x = woman.last, r()
        if x < .7:
            woman.last, woman.maiden = man.last, maiden
        elif x < .8:
            woman.last, woman.maiden = f"{maiden}-{man.last}", maiden
        self.recent.extend((man, woman))
        return man, woman

    def _children(self, home, group, father, mother) -> list[Person]:
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
            if father and sex == "M" and not jr_done and r() < self.JUNIORS:
                jr_done = True
                kid.first, kid.middle, kid.last = father.first, father.middle, father.last
                kid.suffix = "Jr" if r() < .85 else "II"
                father.suffix = "Sr" if kid.suffix == "Jr" and r() < .7 else ""
                kid.namesake, father.namesake = father, kid  # a Jr/Sr pair
            elif mother and sex == "F" and r() < .08:
                kid.first = mother.first
            kids.append(kid)
            if r() < self.TWINS:
                kids.append(self._twin_of(kid))
        return kids

    def _twin_of(self, kid: Person) -> Person:
        """Same birth date, surname and address; often a near-identical first name."""
        r = self.r
        twin = self._person(kid.home, kid.group, kid.sex if r() < .6 else "FM"[kid.sex == "F"],
                            0, 0, kid.last)
        twin.dob, twin.dob_str, twin.guardian = kid.dob, kid.dob_str, kid.guardian
        named_after_parent = kid.suffix or kid.first == kid.guardian.first
        if twin.sex == kid.sex and not named_after_parent and r() < .5:
            tradition = kid.group if kid.group in ("hispanic", "vietnamese", "korean") else "anglo"
            kid.first, twin.first = choice(r, self.TWIN_NAMES[kid.sex, tradition])
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

    def _person(self, home, group, sex, lo, hi, last="") -> Person:
        """One person with identifiers and contacts, aged between lo and hi years."""
        r = self.r
        p = Person(home, group, sex)
        days = int(lo * _YEAR) + int(r() * ((hi - lo) * _YEAR + 365))
        p.dob = date.fromordinal(_REF - days)
        p.dob_str, p.adult = p.dob.isoformat(), days >= 18 * _YEAR
        p.first, p.last = self._given(group, sex, p.dob.year), last or self.SURNAMES[group].pick(r)
        if group == "vietnamese" and r() < .8:
            p.middle = choice(r, names.MIDDLE_VIETNAMESE[sex])
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
        share, names = self.GIVEN[group]
        if share and r() < share:
            return names[sex].pick(r)
        return (_MODERN if born >= 2000 and r() < .5 else _ANGLO)[sex].pick(r)

    def _address(self, metro: dict) -> Address:
        r = self.r
        city, zips = self.CITIES[metro["name"]].pick(r)
        if r() < .2:
            k = 1 + int(r() * 110)
            street = f"{k}{'th' if 10 <= k % 100 <= 20 else _ORDINAL.get(k % 10, 'th')}"
        else:
            street = choice(r, places.STREET_NAMES)
        number = str(int(10 ** (1 + r() * 3.3)))
        full_type, short_type = _STREET_TYPES.pick(r)
        if r() < .6:
            full, abbr = f"{number} {street} {full_type}", f"{number} {street} {short_type}"
        else:
            short_dir, full_dir = choice(r, _DIRECTIONS)
            full = f"{number} {full_dir} {street} {full_type}"
            abbr = f"{number} {short_dir} {street} {short_type}"
        unit = "" if r() < .6 else (str(1 + int(r() * 450)) if r() < .8
                                    else f"{1 + int(r() * 12)}{choice(r, 'ABCDEF')}")
        return Address(full, abbr, unit, city, metro["state"], choice(r, zips),
                        str(int(r() * 10000)).zfill(4))

    def _phone(self, metro: dict) -> str:
        """Ten digits in a metro area code; the exchange avoids N11 and 555."""
        r = self.r
        exchange = 201 + int(r() * 788)
        if exchange == 555 or exchange % 100 == 11:
            exchange += 1
        return f"{choice(r, metro['area_codes'])}{exchange}{str(int(r() * 10000)).zfill(4)}"

    def _email(self, p: Person) -> str:
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

    def _medicaid_id(self, home: Household) -> str:
        state = home.metro["state"]
        letter = choice(self.r, "ABCDEFGHJKLMNPQRSTUVWXYZ")
        return self.MEDICAID_FORMATS[state][0].format(n=self.medicaid_ids[state].next(),
                                                      letter=letter)
