"""An organisation's business-hours calendar: the hours in which a referral's time targets run.

A referral's targets (time to acknowledge, to triage, to first contact) are
promises the *performer* organisation makes in its own working time: two hours
sent at 16:00 on a Friday are due at 10:00 on Monday, and a day the organisation
is shut for a public holiday does not count. So a calendar is the organisation's
time zone, one opening window per day of the week (local wall-clock times, so a
09:00-17:00 day is eight hours on the days the clocks change too), its country's
and state's public holidays (the ``holidays`` package) and any extra closed days.

What users write and what an organisation row stores is a plain JSON spec
(:data:`DEFAULT_SPEC` shows its shape); :meth:`BusinessCalendar.from_spec`
validates it once, reporting every problem together, and compiles it into a
frozen :class:`BusinessCalendar` whose :meth:`~BusinessCalendar.as_spec` gives it
back. Nothing here asks the system for the time: callers pass the instants.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import cached_property
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holiday_tables

from mpi.errors import ValidationError

#: Day keys of the spec, Monday first (``date.weekday()`` order).
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

#: What an organisation without a calendar of its own works to: office hours on
#: the east coast, closed on US federal holidays.
DEFAULT_SPEC: dict[str, Any] = {
    "timezone": "America/New_York",
    "hours": {**{day: "09:00-17:00" for day in DAYS[:5]}, "sat": None, "sun": None},
    "holidays": {"country": "US", "subdivision": None},
    "closed": [],
}

_WINDOW = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DAY_NAMES = {**{day: i for i, day in enumerate(DAYS)},
              **{name: i for i, name in enumerate(
                  ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))}}
_HOURS_FORMS = "expected forms such as 'mon-fri 09:00-17:00', 'mon-fri 08:00-18:00; sat 10:00-14:00', " \
               "'sat closed' or '24/7'"
_WINDOW_FORM = "must be HH:MM-HH:MM with the close after the open"

#: The ``holidays`` objects fill in a year the first time a date of it is looked up, which
#: mutates them; one lock keeps two request threads from filling in the same object at once.
_HOLIDAY_LOCK = threading.Lock()


class Window(NamedTuple):
    """One day's opening, in minutes after local midnight (``close`` may be 1440: open until midnight)."""

    open: int
    close: int

    def as_spec(self) -> str:
        return f"{self.open // 60:02d}:{self.open % 60:02d}-{self.close // 60:02d}:{self.close % 60:02d}"


@dataclass(frozen=True)
class BusinessCalendar:
    """When an organisation works, compiled from its spec; counts and adds business time.

    Build one with :meth:`from_spec`: the fields are the validated spec, and
    constructing the class directly skips that validation.

    Attributes:
        zone: the IANA time zone its hours are written in (``America/Chicago``).
        hours: seven entries, Monday first: the day's :class:`Window`, or None when closed.
        holiday_country: the ``holidays`` country code whose public holidays are closed, or None.
        holiday_subdivision: the state or province adding its own holidays, or None.
        closed: further local dates it is closed (an office move, a Christmas Eve).
    """

    zone: str
    hours: tuple[Window | None, ...]
    holiday_country: str | None
    holiday_subdivision: str | None
    closed: frozenset[date]
    #: Closed dates by year (holidays and ``closed``), filled in on first use and shared by threads.
    _closed_by_year: dict[int, frozenset[date]] = field(
        default_factory=dict, init=False, repr=False, compare=False)
    #: Each local date's window as UTC instants (None when closed), made once: a referral's clocks
    #: count every day since it was received, and a zone conversion per day was most of that.
    _windows: dict[date, tuple[datetime, datetime] | None] = field(
        default_factory=dict, init=False, repr=False, compare=False)

    # -- the spec ---------------------------------------------------------------------------------------

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any] | None) -> BusinessCalendar:
        """Validate a calendar spec and compile it; missing keys take :data:`DEFAULT_SPEC`'s.

        Raises:
            ValidationError: naming every bad field (``calendar.timezone``,
                ``calendar.hours.mon``, ...) at once, so a user fixes a spec in one go.
        """
        if spec is None:
            spec = {}
        if not isinstance(spec, Mapping):
            raise ValidationError("invalid business-hours calendar",
                                  {"calendar": ["must be an object with timezone, hours, holidays and closed"]})
        errors: dict[str, list[str]] = {}

        def problem(path: str, message: str) -> None:
            errors.setdefault(f"calendar.{path}", []).append(message)

        for key in sorted(set(spec) - set(DEFAULT_SPEC), key=str):
            problem(str(key), "unknown calendar key (expected timezone, hours, holidays, closed)")
        merged = {**DEFAULT_SPEC, **{k: v for k, v in spec.items() if k in DEFAULT_SPEC}}

        zone = merged["timezone"]
        if not _is_zone(zone):
            problem("timezone", "not an IANA time zone such as America/Chicago")

        hours: list[Window | None] = [None] * 7
        if not isinstance(merged["hours"], Mapping):
            problem("hours", "must map days (mon ... sun) to HH:MM-HH:MM or null")
        else:
            hours_ok = True
            for day, text in merged["hours"].items():
                if day not in DAYS:
                    problem(f"hours.{day}", "not a day; days are mon, tue, wed, thu, fri, sat, sun")
                    hours_ok = False
                elif text is not None:
                    window = _parse_window(text)
                    if window is None:
                        problem(f"hours.{day}", _WINDOW_FORM)
                        hours_ok = False
                    hours[DAYS.index(day)] = window
            if hours_ok and not any(hours):
                problem("hours", "the week has no business hours: open at least one day")

        country, subdivision = _holiday_source(merged["holidays"], problem)

        closed: set[date] = set()
        if not isinstance(merged["closed"], list):
            problem("closed", "must be a list of dates as YYYY-MM-DD")
        else:
            for i, item in enumerate(merged["closed"]):
                day = _parse_date(item)
                if day is None:
                    problem("closed", f"item {i}: a date as YYYY-MM-DD")
                else:
                    closed.add(day)

        if errors:
            raise ValidationError("invalid business-hours calendar", errors)
        return cls(zone=zone, hours=tuple(hours), holiday_country=country, holiday_subdivision=subdivision,
                   closed=frozenset(closed))

    def as_spec(self) -> dict[str, Any]:
        """The plain spec this calendar compiles from (every day listed, closed ones as null)."""
        return {
            "timezone": self.zone,
            "hours": {day: None if window is None else window.as_spec() for day, window in zip(DAYS, self.hours)},
            "holidays": None if self.holiday_country is None
            else {"country": self.holiday_country, "subdivision": self.holiday_subdivision},
            "closed": [day.isoformat() for day in sorted(self.closed)],
        }

    # -- questions --------------------------------------------------------------------------------------

    @property
    def timezone(self) -> str:
        """The IANA name of the zone the hours are written in."""
        return self.zone

    @property
    def day_seconds(self) -> float:
        """The longest day's window in seconds: what "one business day" means when metrics count in days."""
        return float(max(w.close - w.open for w in self.hours if w is not None) * 60)

    def is_business_day(self, day: date) -> bool:
        """Whether the organisation opens at all on a local date (a datetime is read in the calendar's zone)."""
        if isinstance(day, datetime):
            day = _utc(day).astimezone(self._tz).date()
        return self.hours[day.weekday()] is not None and day not in self._closed_in(day.year)

    def add(self, start: datetime, seconds: float) -> datetime:
        """The first instant at which ``seconds`` business seconds have passed since ``start``.

        A target that runs out exactly at a closing time is due at that closing
        time, not at the next opening. Days are walked one at a time, so a target
        of weeks costs a few dozen steps.

        Args:
            start: an aware datetime in any zone (naive is read as UTC).
            seconds: business seconds to add; zero or less gives ``start``.

        Returns:
            An aware UTC datetime.
        """
        start = _utc(start)
        if seconds <= 0:
            return start
        remaining = timedelta(seconds=seconds)
        day = start.astimezone(self._tz).date()
        while True:
            window = self._window(day)
            if window is not None:
                opens, closes = max(window[0], start), window[1]
                if opens < closes:
                    if remaining <= closes - opens:
                        return opens + remaining
                    remaining -= closes - opens
            day += timedelta(days=1)

    def between(self, a: datetime, b: datetime) -> float:
        """Business seconds in ``[a, b]``; 0 when ``b`` is not after ``a``. The inverse of :meth:`add`."""
        a, b = _utc(a), _utc(b)
        if b <= a:
            return 0.0
        total = timedelta()
        day, last = a.astimezone(self._tz).date(), b.astimezone(self._tz).date()
        while day <= last:
            window = self._window(day)
            if window is not None:
                opens, closes = max(window[0], a), min(window[1], b)
                if opens < closes:
                    total += closes - opens
            day += timedelta(days=1)
        return total.total_seconds()

    # -- inside -----------------------------------------------------------------------------------------

    @cached_property
    def _tz(self) -> ZoneInfo:
        return ZoneInfo(self.zone)

    @cached_property
    def _holidays(self) -> holiday_tables.HolidayBase | None:
        if self.holiday_country is None:
            return None
        return holiday_tables.country_holidays(self.holiday_country, subdiv=self.holiday_subdivision, years=())

    def _closed_in(self, year: int) -> frozenset[date]:
        """The year's closed dates: its public holidays and the spec's ``closed`` days."""
        found = self._closed_by_year.get(year)
        if found is None:
            with _HOLIDAY_LOCK:
                found = self._closed_by_year.get(year)
                if found is None:
                    table = self._holidays
                    public = set()
                    if table is not None:
                        table.get(date(year, 1, 1))  # a lookup is what makes the table fill in a year
                        public = {day for day in table if day.year == year}
                    found = frozenset(public | {day for day in self.closed if day.year == year})
                    self._closed_by_year[year] = found
        return found

    def _window(self, day: date) -> tuple[datetime, datetime] | None:
        """A local date's opening as UTC instants, or None when closed.

        The window's edges are local wall-clock times, turned into instants
        through the zone: an edge the clocks skip or repeat reads as ``fold=0``.
        """
        try:
            return self._windows[day]
        except KeyError:
            pass
        window = self.hours[day.weekday()]
        if window is None or day in self._closed_in(day.year):
            found = None
        else:
            midnight = datetime(day.year, day.month, day.day, tzinfo=self._tz)
            # Aware arithmetic within one zone is wall-clock arithmetic: 09:00 stays 09:00 on a DST day.
            found = ((midnight + timedelta(minutes=window.open)).astimezone(timezone.utc),
                     (midnight + timedelta(minutes=window.close)).astimezone(timezone.utc))
        self._windows[day] = found  # the same value from any thread that gets here first
        return found


def parse_hours(text: str) -> dict[str, str | None]:
    """The ``hours`` of a spec from the CLI's shorthand.

    Forms: ``"mon-fri 09:00-17:00"``, segments separated by ``;`` such as
    ``"mon-fri 08:00-18:00; sat 10:00-14:00"``, day lists and ranges (``"mon,wed
    09:00-12:00"``, ``"fri-mon ..."`` wraps round the weekend), ``"sun closed"``, and
    ``"24/7"``. A later segment overrides an earlier one for the days they share;
    days never named are closed.

    Raises:
        ValidationError: on ``hours``, one message per bad segment.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValidationError("invalid hours", {"hours": [_HOURS_FORMS]})
    if text.strip().lower() == "24/7":
        return {day: "00:00-24:00" for day in DAYS}
    hours: dict[str, str | None] = {day: None for day in DAYS}
    problems = []
    for n, segment in enumerate(text.split(";"), start=1):
        days_part, _, time_part = segment.strip().lower().rpartition(" ")
        days = _parse_days(days_part)
        window = None if time_part == "closed" else _parse_window(time_part)
        if days is None or (window is None and time_part != "closed"):
            problems.append(f"segment {n}: {_HOURS_FORMS}")
            continue
        for i in days:
            hours[DAYS[i]] = None if window is None else window.as_spec()
    if problems:
        raise ValidationError("invalid hours", {"hours": problems})
    return hours


def _parse_days(text: str) -> list[int] | None:
    """Day indexes from ``"mon-fri"``, ``"sat,sun"``, ``"mon, wed-thu"``; None if any part is not a day."""
    days: list[int] = []
    for part in text.split(","):
        first, dash, last = (piece.strip() for piece in part.partition("-"))
        if first not in _DAY_NAMES or (dash and last not in _DAY_NAMES):
            return None
        i, j = _DAY_NAMES[first], _DAY_NAMES[last] if dash else _DAY_NAMES[first]
        days += [(i + k) % 7 for k in range((j - i) % 7 + 1)]
    return days


def _parse_window(text: Any) -> Window | None:
    """``"HH:MM-HH:MM"`` as a Window, or None unless it is one with the close after the open."""
    match = _WINDOW.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        return None
    oh, om, ch, cm = (int(g) for g in match.groups())
    if oh > 23 or om > 59 or cm > 59 or ch > 24 or (ch == 24 and cm):
        return None
    opens, closes = oh * 60 + om, ch * 60 + cm
    return Window(opens, closes) if closes > opens else None


def _parse_date(text: Any) -> date | None:
    if not isinstance(text, str) or not _ISO_DATE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _is_zone(name: Any) -> bool:
    if not isinstance(name, str) or not name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def _holiday_source(value: Any, problem: Callable[[str, str], None]) -> tuple[str | None, str | None]:
    """The spec's ``holidays`` as (country, subdivision); reports what is wrong through ``problem``."""
    if value is None:
        return None, None
    if not isinstance(value, Mapping) or set(value) - {"country", "subdivision"}:
        problem("holidays", 'must be null or {"country": "US", "subdivision": "GA" or null}')
        return None, None
    country, subdivision = value.get("country"), value.get("subdivision")
    if not _holidays_known(country, None):
        problem("holidays.country", "no public holidays are known for that code; expected one such as US")
    elif subdivision is not None and not _holidays_known(country, subdivision):
        problem("holidays.subdivision", "not a subdivision of that country; expected one such as GA for US")
    return country, subdivision


def _holidays_known(country: Any, subdivision: Any) -> bool:
    """Whether the ``holidays`` package has tables for a country (and subdivision): asking it is the check."""
    if not isinstance(country, str) or not isinstance(subdivision, (str, type(None))):
        return False
    try:
        holiday_tables.country_holidays(country, subdiv=subdivision, years=())
    except NotImplementedError:
        return False
    return True


def _utc(at: datetime) -> datetime:
    """An instant as an aware UTC datetime (naive is read as UTC, as :mod:`mpi.clock` does)."""
    return at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at.astimezone(timezone.utc)
