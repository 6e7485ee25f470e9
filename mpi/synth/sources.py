"""Source-record rendering: how each source system writes a person down.

Each person gets 1-6 records from source systems with their own habits (case, accents, id
formats, missing fields; see ``generator_data.SOURCE_HABITS``) and with the noise real intake
adds: nicknames, typos, wrong birth dates, stale addresses, married names, swapped name order,
newborn placeholder names, placeholder SSNs and mojibake.
"""

from __future__ import annotations

from datetime import date
from random import Random

from mpi.records.fields import RECORD_FIELDS, TRUTH_FIELD
from mpi.synth import names
from mpi.synth import places
from mpi.synth.population import DAYS_PER_YEAR, REFERENCE_DATE, Person
from mpi.synth.sampling import Minter, Weighted, choice

COLUMNS = RECORD_FIELDS + (TRUTH_FIELD,)
#: Records per person (count, weight).
RECORDS_PER_PERSON = ((1, 30), (2, 26), (3, 17), (4, 12), (5, 8), (6, 6))
HABITS = places.SOURCE_HABITS

_REF, _YEAR = REFERENCE_DATE.toordinal(), DAYS_PER_YEAR
_STRIP_ACCENTS = str.maketrans("áéíóúñüÁÉÍÓÚÑÜ", "aeiounuAEIOUNU")
_SUFFIX_FORMS = {"Jr": ("Jr", "JR", "Jr."), "Sr": ("Sr", "SR", "Sr."), "II": ("II",)}
_SSN_PLACEHOLDERS = ("0000", "0000", "0000", "9999", "1234")
_MCO, _HOUSING, _FQHC = "bluepath-mco", "housing-first-cbo", "fqhc-eastside"
_RECORD_COUNTS = Weighted(RECORDS_PER_PERSON)
_HOSPITALS = ("st-marys-ehr", "county-general-ehr")


class _Habits:
    """A plain-object copy of a ``SourceHabits``: CPython 3.11 reads its attributes about
    twice as fast as a NamedTuple's, and records read some thirty of them each."""

    def __init__(self, habits):
        self.__dict__.update(habits._asdict())


class SourceSystems:
    """Renders each person's records, minting every system's record ids as it goes.

    ``HABITS`` is the profile's set of source systems; a harder profile
    (:class:`mpi.synth.varied_sources.VariedSourceSystems`) swaps it and adds habits.
    """

    HABITS = HABITS

    def __init__(self, rng: Random, n_people: int):
        """Draws the id minters' starting points from ``rng``, so creation order counts."""
        self.r = rng.random
        cap = len(str(6 * n_people))  # digits for every record landing in one system
        habits = self.HABITS
        self.ids = {s: Minter(rng, max(h.id_width, cap)) for s, h in habits.items()}
        self.habits = {s: _Habits(h) for s, h in habits.items()}
        self.system_tables = {}
        self.dob_noise = {s: h.dob_missing + h.dob_placeholder + h.dob_estimate + h.dob_error
                          for s, h in habits.items()}
        #: Systems whose id is a fixed prefix plus the minted number ("CG{n}" -> "CG").
        self.id_prefix = {s: h.id_format[:-3] for s, h in habits.items()
                          if h.id_format.endswith("{n}") and "{" not in h.id_format[:-3]}

    def records_for(self, p: Person) -> list[dict[str, str]]:
        """1-6 records; a young child's first may be a hospital birth registration."""
        r = self.r
        systems, count, records = self._systems_for(p), _RECORD_COUNTS.pick(r), []
        if p.guardian and _REF - p.dob.toordinal() < 6 * _YEAR and r() < .25:
            count -= 1
            records.append(self._record(p, choice(r, _HOSPITALS), newborn=True))
        for _ in range(count):
            records.append(self._record(p, systems.pick(r)))
        return records

    def _systems_for(self, p: Person) -> Weighted:
        """Where this person turns up: MCO members only, housing services adults only."""
        key = (bool(p.medicaid), p.adult, p.homeless, p.group in ("hispanic", "vietnamese"))
        table = self.system_tables.get(key)
        if table is None:
            member, adult, homeless, boost = key
            table = self.system_tables[key] = Weighted([
                (s, h.weight * (s != _MCO or member) * (s != _HOUSING or adult)
                 * (4 if s == _HOUSING and homeless else 1) * (1.6 if s == _FQHC and boost else 1))
                for s, h in HABITS.items()])
        return table

    def _record(self, p: Person, system: str, newborn: bool = False) -> dict[str, str]:
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
                ssn = (choice(r, _SSN_PLACEHOLDERS) if x < h.ssn_placeholder
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

    def _record_id(self, system: str, h, p: Person) -> str:
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

    def _names(self, p: Person, h, old: bool) -> tuple[str, str, str, str]:
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
        if r() < h.nickname and first in names.NICKNAMES:
            first = choice(r, names.NICKNAMES[first])
        if p.group == "hispanic" and " " in last:
            x = r()
            if x < h.truncate_compound:
                last = last.split()[0]
            elif x < h.truncate_compound + .15:
                last = last.replace(" ", "-")
        elif p.group == "korean":
            first = self._korean_spelling(first)
            if r() < .1 and last in names.KOREAN_ROMANISATIONS:
                last = choice(r, names.KOREAN_ROMANISATIONS[last])
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
            suffix = choice(r, _SUFFIX_FORMS[p.suffix])
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

    def _birth_date(self, p: Person, h, x: float) -> str:
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

    def _contacts(self, p: Person, h, old: bool, newborn: bool) -> tuple[str, str]:
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
            phone = choice(r, h.phone_formats).format(number[:3], number[3:6], number[6:])
        own = p.email or (p.guardian.email if p.guardian and r() < .3 else "")
        if own and not newborn and r() < h.email:
            email = own
            if r() < .03:
                local, domain = own.split("@")
                typos = places.EMAIL_DOMAIN_TYPOS.get(domain)
                email = (f"{local}@{choice(r, typos)}" if typos
                         else f"{self._typo(local)}@{domain}")
            if r() < .05:
                email = email.upper()
        return phone, email

    def _address_fields(self, p: Person, h, old: bool) -> tuple[str, str, str, str, str]:
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
            label = choice(r, ("Apt", "Apt", "#", "Unit", "Apt #") if abbr
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
            line1, city, postal = choice(self.r, metro["shelters"])
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
            near = places.KEY_NEIGHBOURS.get(s[i].lower())
            if not near:
                return s
            c = choice(r, near)
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
