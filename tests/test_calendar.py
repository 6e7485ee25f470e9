"""An organisation's business-hours calendar: targets across weekends, holidays, zones and DST changes, and its spec."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mpi.directory.calendar import DEFAULT_SPEC, BusinessCalendar, parse_hours
from mpi.errors import ValidationError

UTC = timezone.utc
NEW_YORK = ZoneInfo("America/New_York")
CHICAGO = ZoneInfo("America/Chicago")
HOUR = 3600.0

DEFAULT = BusinessCalendar.from_spec(None)
GEORGIA = BusinessCalendar.from_spec({"holidays": {"country": "US", "subdivision": "GA"}})
ALWAYS = BusinessCalendar.from_spec({"hours": parse_hours("24/7"), "holidays": None})


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK)


def errors_of(spec) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as raised:
        BusinessCalendar.from_spec(spec)
    return raised.value.errors


# -- the spec ---------------------------------------------------------------------------------------------


def test_no_spec_gives_new_york_office_hours_with_us_federal_holidays():
    assert DEFAULT.as_spec() == {**DEFAULT_SPEC, "holidays": {"country": "US", "subdivision": None}}
    assert DEFAULT.timezone == "America/New_York"
    assert [DEFAULT.is_business_day(date(2026, 11, d)) for d in (23, 26, 27, 28)] == [True, False, True, False]


def test_a_calendar_round_trips_through_its_spec():
    spec = {"timezone": "America/Chicago",
            "hours": {"mon": "08:00-18:00", "tue": "8:00-18:00", "sat": "10:00-14:00", "sun": "00:00-24:00"},
            "holidays": {"country": "US", "subdivision": "GA"},
            "closed": ["2026-12-24", "2026-12-31"]}
    calendar = BusinessCalendar.from_spec(spec)

    assert BusinessCalendar.from_spec(calendar.as_spec()) == calendar
    assert BusinessCalendar.from_spec(DEFAULT.as_spec()) == DEFAULT
    assert calendar.as_spec()["hours"] == {"mon": "08:00-18:00", "tue": "08:00-18:00", "wed": None, "thu": None,
                                           "fri": None, "sat": "10:00-14:00", "sun": "00:00-24:00"}


def test_missing_keys_take_the_default_and_a_day_missing_from_hours_is_closed():
    calendar = BusinessCalendar.from_spec({"timezone": "America/Chicago", "hours": {"mon": "09:00-12:00"}})

    assert calendar.holiday_country == "US" and calendar.closed == frozenset()
    assert [calendar.is_business_day(date(2026, 3, d)) for d in range(2, 9)] == [True] + [False] * 6
    assert calendar.day_seconds == 3 * HOUR


def test_holidays_null_means_no_public_holidays():
    calendar = BusinessCalendar.from_spec({"holidays": None})

    assert calendar.is_business_day(date(2026, 11, 26))
    assert calendar.as_spec()["holidays"] is None


def test_validation_reports_every_problem_together_without_echoing_values():
    errors = errors_of({"timezone": "Mars/Olympus_Mons",
                        "hours": {"mon": "17:00-09:00", "tue": "9am-5pm", "wed": "09:00-24:30", "thu": 9,
                                  "funday": "09:00-17:00"},
                        "holidays": {"country": "XX"},
                        "closed": ["2026-13-01", 20261224, "2026-12-24"],
                        "colour": "blue"})

    assert set(errors) == {"calendar.timezone", "calendar.hours.mon", "calendar.hours.tue", "calendar.hours.wed",
                           "calendar.hours.thu", "calendar.hours.funday", "calendar.holidays.country",
                           "calendar.closed", "calendar.colour"}
    assert errors["calendar.hours.mon"] == ["must be HH:MM-HH:MM with the close after the open"]
    assert errors["calendar.closed"] == ["item 0: a date as YYYY-MM-DD", "item 1: a date as YYYY-MM-DD"]
    assert not any(value in message for messages in errors.values() for message in messages
                   for value in ("Mars", "9am", "XX", "2026-13-01", "blue"))


def test_a_week_without_business_hours_is_rejected():
    assert set(errors_of({"hours": {"sat": None}})) == {"calendar.hours"}
    assert set(errors_of({"hours": None})) == {"calendar.hours"}


def test_an_unknown_subdivision_and_a_malformed_holidays_object_are_rejected():
    assert set(errors_of({"holidays": {"country": "US", "subdivision": "ZZ"}})) == {"calendar.holidays.subdivision"}
    assert set(errors_of({"holidays": {"country": "US", "state": "GA"}})) == {"calendar.holidays"}
    assert set(errors_of({"holidays": "US"})) == {"calendar.holidays"}


def test_a_spec_that_is_not_an_object_is_rejected():
    assert set(errors_of(["09:00-17:00"])) == {"calendar"}
    assert set(errors_of({"closed": "2026-12-24"})) == {"calendar.closed"}


# -- adding business time --------------------------------------------------------------------------------


def test_two_hours_from_friday_1600_are_due_monday_1000():
    assert DEFAULT.add(ny(2026, 3, 13, 16), 2 * HOUR) == ny(2026, 3, 16, 10)


def test_thanksgiving_pushes_a_wednesday_afternoon_target_to_friday():
    assert DEFAULT.add(ny(2026, 11, 25, 16), 2 * HOUR) == ny(2026, 11, 27, 10)


def test_a_state_holiday_after_thanksgiving_pushes_it_on_to_monday():
    assert GEORGIA.add(ny(2026, 11, 25, 16), 2 * HOUR) == ny(2026, 11, 30, 10)


def test_an_extra_closed_day_is_skipped():
    calendar = BusinessCalendar.from_spec({"closed": ["2026-12-23"]})

    assert calendar.add(ny(2026, 12, 22, 16), 2 * HOUR) == ny(2026, 12, 24, 10)
    assert not calendar.is_business_day(date(2026, 12, 23))


@pytest.mark.parametrize(("start", "due"), [
    (ny(2026, 3, 14, 11), ny(2026, 3, 16, 11)),  # Saturday
    (ny(2026, 3, 16, 7, 30), ny(2026, 3, 16, 11)),  # Monday before opening
    (ny(2026, 3, 16, 18), ny(2026, 3, 17, 11)),  # Monday after closing
    (ny(2026, 3, 16, 17), ny(2026, 3, 17, 11)),  # Monday at the closing time
], ids=["saturday", "before-opening", "after-closing", "at-closing"])
def test_a_start_outside_hours_counts_from_the_next_opening(start, due):
    assert DEFAULT.add(start, 2 * HOUR) == due


def test_a_target_that_runs_out_at_closing_is_due_at_the_closing_time():
    assert DEFAULT.add(ny(2026, 3, 16, 9), 8 * HOUR) == ny(2026, 3, 16, 17)


def test_a_target_of_weeks_skips_weekends_and_holidays():
    # Fifteen business days from Monday 2 November 2026: Veterans Day (Wed 11) and Thanksgiving (Thu 26) are out.
    assert DEFAULT.add(ny(2026, 11, 2, 9), 15 * 8 * HOUR) == ny(2026, 11, 23, 17)
    assert DEFAULT.between(ny(2026, 11, 2, 9), ny(2026, 11, 23, 17)) == 15 * 8 * HOUR


def test_hours_are_the_wall_clock_of_the_calendars_zone():
    chicago = BusinessCalendar.from_spec({"timezone": "America/Chicago"})
    start = datetime(2026, 3, 2, 22, 30, tzinfo=UTC)  # Monday 16:30 in Chicago, 17:30 in New York

    assert chicago.add(start, HOUR) == datetime(2026, 3, 3, 9, 30, tzinfo=CHICAGO)
    assert DEFAULT.add(start, HOUR) == ny(2026, 3, 3, 10)
    assert chicago.between(datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 2, 23, tzinfo=UTC)) == 8 * HOUR


def test_add_returns_utc_and_reads_naive_times_as_utc():
    due = DEFAULT.add(datetime(2026, 3, 16, 14), HOUR)

    assert due.tzinfo == UTC and due == datetime(2026, 3, 16, 15, tzinfo=UTC)
    assert DEFAULT.add(ny(2026, 3, 14, 11), 0).tzinfo == UTC
    assert DEFAULT.add(ny(2026, 3, 14, 11), -5) == ny(2026, 3, 14, 11)


# -- DST changes -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("friday", "monday"), [((2026, 3, 6), (2026, 3, 9)), ((2026, 10, 30), (2026, 11, 2))],
                         ids=["spring-forward", "fall-back"])
def test_a_nine_to_five_day_is_eight_hours_across_a_dst_change(friday, monday):
    assert DEFAULT.add(ny(*friday, 16), 2 * HOUR) == ny(*monday, 10)
    assert DEFAULT.between(ny(*friday, 0), ny(*monday, 23)) == 16 * HOUR
    every_day = BusinessCalendar.from_spec({"hours": parse_hours("mon-sun 09:00-17:00")})
    sunday = datetime(*monday, tzinfo=NEW_YORK) - timedelta(days=1)
    assert every_day.between(sunday, sunday + timedelta(hours=23)) == 8 * HOUR
    assert every_day.add(sunday, HOUR) == sunday.replace(hour=10)  # opens at 09:00 on the clock of the day


def test_a_24_hour_service_counts_the_real_length_of_dst_change_days():
    assert ALWAYS.between(ny(2026, 3, 8), ny(2026, 3, 9)) == 23 * HOUR
    assert ALWAYS.between(ny(2026, 11, 1), ny(2026, 11, 2)) == 25 * HOUR
    assert ALWAYS.add(datetime(2026, 3, 7, 12, tzinfo=UTC), 48 * HOUR) == datetime(2026, 3, 9, 12, tzinfo=UTC)


# -- counting business time --------------------------------------------------------------------------------


def test_between_is_zero_unless_the_end_is_after_the_start():
    assert DEFAULT.between(ny(2026, 3, 16, 12), ny(2026, 3, 16, 12)) == 0.0
    assert DEFAULT.between(ny(2026, 3, 16, 12), ny(2026, 3, 16, 10)) == 0.0
    assert DEFAULT.between(ny(2026, 3, 14, 0), ny(2026, 3, 15, 23)) == 0.0


def test_a_year_of_office_hours_counts_every_weekday_but_the_holidays():
    year = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))

    assert DEFAULT.between(*year) == (261 - 11) * 8 * HOUR  # 261 weekdays in 2026, 11 federal holidays on weekdays
    assert DEFAULT.between(*year) == (261 - 11) * 8 * HOUR  # the same again from the days it has kept


def test_day_seconds_is_the_longest_daily_window():
    mixed = BusinessCalendar.from_spec({"hours": parse_hours("mon-fri 08:00-18:00; sat 10:00-14:00")})

    assert (DEFAULT.day_seconds, mixed.day_seconds, ALWAYS.day_seconds) == (8 * HOUR, 10 * HOUR, 24 * HOUR)


def test_is_business_day_reads_a_datetime_in_the_calendars_zone():
    assert not DEFAULT.is_business_day(datetime(2026, 11, 27, 2, tzinfo=UTC))  # still Thanksgiving in New York
    assert DEFAULT.is_business_day(datetime(2026, 11, 27, 12, tzinfo=UTC))


CALENDARS = [DEFAULT, GEORGIA, ALWAYS,
             BusinessCalendar.from_spec({"timezone": "America/Chicago",
                                         "hours": parse_hours("mon-fri 08:00-18:00; sat 10:00-14:00")})]
STARTS = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC))
SECONDS = st.floats(min_value=0.0, max_value=40 * 8 * HOUR, allow_nan=False)


@settings(derandomize=True, max_examples=300, deadline=None)
@given(calendar=st.sampled_from(CALENDARS), start=STARTS, seconds=SECONDS)
def test_between_undoes_add(calendar, start, seconds):
    assert calendar.between(start, calendar.add(start, seconds)) == pytest.approx(seconds, abs=1e-6)


@settings(derandomize=True, max_examples=300, deadline=None)
@given(calendar=st.sampled_from(CALENDARS), start=STARTS, seconds=SECONDS, more=SECONDS)
def test_add_is_monotone(calendar, start, seconds, more):
    assert calendar.add(start, seconds) <= calendar.add(start, seconds + more)
    assert calendar.add(start, seconds) >= start


# -- the CLI's shorthand ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "open_days"), [
    ("mon-fri 09:00-17:00", {d: "09:00-17:00" for d in ("mon", "tue", "wed", "thu", "fri")}),
    ("mon-fri 08:00-18:00; sat 10:00-14:00",
     {**{d: "08:00-18:00" for d in ("mon", "tue", "wed", "thu", "fri")}, "sat": "10:00-14:00"}),
    ("24/7", {d: "00:00-24:00" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}),
    ("Mon,Wed 9:00-12:00", {"mon": "09:00-12:00", "wed": "09:00-12:00"}),
    ("fri-mon 10:00-16:00", {d: "10:00-16:00" for d in ("fri", "sat", "sun", "mon")}),
    ("mon-fri 09:00-17:00; wed closed", {d: "09:00-17:00" for d in ("mon", "tue", "thu", "fri")}),
])
def test_parse_hours_reads_the_shorthands(text, open_days):
    hours = parse_hours(text)

    assert list(hours) == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    assert {day: window for day, window in hours.items() if window is not None} == open_days


@pytest.mark.parametrize("text", ["", "weekdays 9-5", "mon-fri", "mon-fri 17:00-09:00", "mon-fri 09:00-17:00; sat"])
def test_parse_hours_rejects_other_forms_naming_hours(text):
    with pytest.raises(ValidationError) as raised:
        parse_hours(text)

    assert set(raised.value.errors) == {"hours"}
