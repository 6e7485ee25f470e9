"""The "varied" profile's population: more metros and traditions, and more of the cases that confuse.

On top of the standard population (:mod:`mpi.synth.population`) it adds Arabic and Russian
names (written in several Latin spellings by the sources), more moves that bring a new cell
phone, families sharing one cell phone and email, unrelated same-name neighbours in one ZIP or
street, more twins (some differing only in first-name spelling or middle name) and more Jr/Sr
pairs. Same determinism rules as the standard one: one seeded ``Random``, draws in a fixed order.
"""

from __future__ import annotations

from random import Random

from mpi.synth import names, places, varied_names
from mpi.synth.population import Address, Household, Person, Population, _by_sex
from mpi.synth.sampling import Weighted, choice, zipf

#: Every metro the varied profile knows (the standard four and three more), by name.
ALL_METROS = {m["name"]: m for m in places.METROS + places.VARIED_METROS}
#: The metros a varied population lives in unless told otherwise.
DEFAULT_METROS = tuple(ALL_METROS)

_GROUPS = Weighted([("white", 30), ("hispanic", 30), ("black", 16), ("vietnamese", 8),
                    ("korean", 5), ("arabic", 7), ("russian", 4)])
_SURNAMES = {"white": zipf(names.SURNAMES_WHITE, 10), "black": zipf(names.SURNAMES_BLACK, 6),
             "hispanic": zipf(names.SURNAMES_HISPANIC, 8),
             "vietnamese": zipf(names.SURNAMES_VIETNAMESE, .6),
             "korean": zipf(names.SURNAMES_KOREAN, 1),
             "arabic": zipf(varied_names.SURNAMES_ARABIC, 2),
             "russian": zipf(varied_names.SURNAMES_RUSSIAN, 2)}
_GIVEN = dict(Population.GIVEN)
_GIVEN["arabic"] = (.85, _by_sex(varied_names.MALE_ARABIC, varied_names.FEMALE_ARABIC, 2))
_GIVEN["russian"] = (.85, _by_sex(varied_names.MALE_RUSSIAN, varied_names.FEMALE_RUSSIAN, 3))
_MEDICAID_FORMATS = {**places.MEDICAID_FORMATS, **places.VARIED_MEDICAID_FORMATS}


def metro_table(metro_names: tuple[str, ...] | None) -> tuple[Weighted, dict]:
    """The weighted metros and their cities for a list of metro names (None: the default)."""
    chosen = [ALL_METROS[n] for n in (metro_names or DEFAULT_METROS)]
    return (Weighted([(m, m["weight"]) for m in chosen]),
            {m["name"]: Weighted([((c, z), w) for c, w, z in m["cities"]]) for m in chosen})


class VariedPopulation(Population):
    """A harder population: same households, more confusable people and contacts."""

    GROUPS, SURNAMES, GIVEN = _GROUPS, _SURNAMES, _GIVEN
    MEDICAID_FORMATS = _MEDICAID_FORMATS
    TWIN_NAMES = varied_names.TWIN_NAMES
    #: More moves than ``standard``; twins and Jr/Sr pairs at the standard profile's rates (already
    #: several times life's: about 3% of U.S. births are twins), so their false links weigh in the
    #: figures about as they did on the issue's held-back population, not an order of magnitude more.
    MOVED, TWINS, JUNIORS, NAMESAKES = .4, .07, .14, .05
    #: Same-sex twins given one first name and told apart by the middle name only (rare in life).
    SAME_FIRST_TWINS = .05
    #: A namesake neighbour born the same day (no identifier may tell them apart).
    NEIGHBOUR_SAME_DOB = .1
    #: A household shares one cell phone (and its email) among its members.
    SHARED_CONTACTS = .35
    #: A one-person household is a namesake neighbour of someone recent (same ZIP or street).
    NEIGHBOURS = .06

    def __init__(self, rng: Random, n_people: int, metros: tuple[str, ...] | None = None):
        self.METROS, self.CITIES = metro_table(metros)
        super().__init__(rng, n_people)

    def _household(self) -> list[Person]:
        """The standard household, then new cells after a move and a shared family cell."""
        people = super()._household()
        r = self.r
        home = people[0].home
        if home.prior_address:  # a move usually brings a new cell: the old one is in old records
            for p in people:
                if p.cell and not p.prior_cell and r() < .75:
                    p.prior_cell = self._phone(home.metro)
        holder = next((p for p in people if p.adult and p.cell), None)
        if holder and len(people) > 1 and r() < self.SHARED_CONTACTS:
            for p in people:
                if p is not holder:
                    if not p.adult or r() < .6:
                        p.cell, p.prior_cell = holder.cell, holder.prior_cell
                    if holder.email and (not p.adult or r() < .5):
                        p.email = holder.email
        return people

    def _single(self, home: Household, group: str) -> Person:
        """Sometimes an unrelated namesake of a recent adult, on their street or in their ZIP."""
        r = self.r
        if not self.recent or r() >= self.NEIGHBOURS:
            return super()._single(home, group)
        other = choice(r, self.recent)
        home.metro, home.address = other.home.metro, self._near(other.home.address)
        home.prior_address = None
        p = self._person(home, other.group, other.sex, 18, 90, other.last)
        p.first = other.first
        if r() < self.NEIGHBOUR_SAME_DOB:
            p.dob, p.dob_str = other.dob, other.dob_str
        return p

    def _near(self, a: Address) -> Address:
        """Another house on the same street (or another street in the same ZIP)."""
        r = self.r
        number = str(int(10 ** (1 + r() * 3.3)))
        if r() < .6:
            full, abbr = (f"{number} {a.full.split(' ', 1)[1]}", f"{number} {a.abbr.split(' ', 1)[1]}")
        else:
            street = choice(r, places.STREET_NAMES)
            full, abbr = f"{number} {street} Street", f"{number} {street} St"
        return Address(full, abbr, "", a.city, a.state, a.zip5, str(int(r() * 10000)).zfill(4))

    def _twin_of(self, kid: Person) -> Person:
        """Twins whose records differ only in first-name spelling, or only in middle name."""
        twin = super()._twin_of(kid)
        r = self.r
        if twin.sex == kid.sex and not kid.suffix:
            x = r()
            if x < .35:
                twin.middle = kid.middle  # names differ only by the first name (Jayden/Jaden)
            elif x < .35 + self.SAME_FIRST_TWINS and kid.middle:
                twin.first = kid.first  # differ only by middle name
                twin.middle = self._given(kid.group, kid.sex, kid.dob.year).split()[0]
        return twin
