"""A referral's time-target clocks: business time since receipt, stopped while the referral is paused."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mpi.directory.calendar import BusinessCalendar
from mpi.referrals.clocks import clock_due, clock_elapsed, merge_pauses

UTC = timezone.utc
NEW_YORK = ZoneInfo("America/New_York")
HOUR = 3600.0
CALENDAR = BusinessCalendar.from_spec(None)  # New York, Mon-Fri 09:00-17:00, US federal holidays


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK)


MONDAY_9 = ny(2026, 3, 16, 9)


def test_without_pauses_the_clock_is_the_calendar():
    start = ny(2026, 3, 13, 16)

    assert clock_due(CALENDAR, start, 2 * HOUR, []) == CALENDAR.add(start, 2 * HOUR) == ny(2026, 3, 16, 10)
    assert clock_elapsed(CALENDAR, start, ny(2026, 3, 16, 10), []) == 2 * HOUR


def test_a_finished_pause_in_hours_pushes_the_due_time_by_its_length():
    pause = (ny(2026, 3, 16, 10), ny(2026, 3, 16, 11, 30))

    assert clock_due(CALENDAR, MONDAY_9, 4 * HOUR, []) == ny(2026, 3, 16, 13)
    assert clock_due(CALENDAR, MONDAY_9, 4 * HOUR, [pause]) == ny(2026, 3, 16, 14, 30)


def test_a_pause_over_a_weekend_moves_nothing():
    friday_4pm = ny(2026, 3, 13, 16)
    weekend = (ny(2026, 3, 13, 17, 30), ny(2026, 3, 16, 8))

    assert clock_due(CALENDAR, friday_4pm, 2 * HOUR, [weekend]) == ny(2026, 3, 16, 10)


def test_a_pause_reaching_into_hours_on_both_sides_of_a_weekend_counts_only_those_hours():
    friday_4pm = ny(2026, 3, 13, 16)
    pause = (ny(2026, 3, 13, 16, 30), ny(2026, 3, 16, 9, 30))  # half an hour on Friday, half on Monday

    assert clock_due(CALENDAR, friday_4pm, 2 * HOUR, [pause]) == ny(2026, 3, 16, 11)


def test_overlapping_pauses_are_not_counted_twice():
    returned = (ny(2026, 3, 16, 10), ny(2026, 3, 16, 11))
    gated = (ny(2026, 3, 16, 10, 30), ny(2026, 3, 16, 11, 30))

    assert merge_pauses([gated, returned]) == [(returned[0].astimezone(UTC), gated[1].astimezone(UTC))]
    assert clock_due(CALENDAR, MONDAY_9, 4 * HOUR, [returned, gated]) == ny(2026, 3, 16, 14, 30)
    assert clock_elapsed(CALENDAR, MONDAY_9, ny(2026, 3, 16, 17), [returned, gated]) == 6.5 * HOUR


def test_a_running_pause_before_the_due_time_gives_none():
    assert clock_due(CALENDAR, MONDAY_9, 4 * HOUR, [(ny(2026, 3, 16, 12), None)]) is None


def test_a_running_pause_after_the_due_time_leaves_it_alone():
    assert clock_due(CALENDAR, MONDAY_9, 2 * HOUR, [(ny(2026, 3, 16, 12), None)]) == ny(2026, 3, 16, 11)


def test_elapsed_leaves_out_finished_and_running_pauses():
    lunch = (ny(2026, 3, 16, 12), ny(2026, 3, 16, 13))

    assert clock_elapsed(CALENDAR, MONDAY_9, ny(2026, 3, 16, 17), [lunch]) == 7 * HOUR
    assert clock_elapsed(CALENDAR, MONDAY_9, ny(2026, 3, 16, 17), [lunch, (ny(2026, 3, 16, 15), None)]) == 5 * HOUR
    assert clock_elapsed(CALENDAR, MONDAY_9, ny(2026, 3, 16, 12, 30), [lunch]) == 3 * HOUR


def test_a_pause_that_began_before_the_clock_counts_only_from_the_start():
    pause = (ny(2026, 3, 15, 20), ny(2026, 3, 16, 10))  # from Sunday evening to Monday 10:00

    assert clock_due(CALENDAR, MONDAY_9, 2 * HOUR, [pause]) == ny(2026, 3, 16, 12)
    assert clock_elapsed(CALENDAR, MONDAY_9, ny(2026, 3, 16, 12), [pause]) == 2 * HOUR
    assert clock_elapsed(CALENDAR, MONDAY_9, ny(2026, 3, 16, 12), [(ny(2026, 3, 13, 9), ny(2026, 3, 13, 12))]) \
        == 3 * HOUR


def test_a_target_of_zero_is_due_at_the_start():
    assert clock_due(CALENDAR, ny(2026, 3, 14, 11), 0, [(ny(2026, 3, 14, 10), None)]) == ny(2026, 3, 14, 11)


def test_merge_pauses_sorts_joins_touching_pauses_and_lets_a_running_one_swallow_the_rest():
    a, b, c, d = (ny(2026, 3, 16, h) for h in (9, 10, 11, 12))
    utc = [t.astimezone(UTC) for t in (a, b, c, d)]

    assert merge_pauses([(c, d), (a, b)]) == [(utc[0], utc[1]), (utc[2], utc[3])]
    assert merge_pauses([(b, c), (a, b)]) == [(utc[0], utc[2])]
    assert merge_pauses([(c, d), (b, None), (a, b)]) == [(utc[0], None)]
    assert merge_pauses([(c, None), (a, b), (b, b)]) == [(utc[0], utc[1]), (utc[2], None)]
    assert merge_pauses([]) == []


def test_merge_pauses_returns_utc_and_reads_naive_times_as_utc():
    merged = merge_pauses([(datetime(2026, 3, 16, 14), datetime(2026, 3, 16, 15))])

    assert merged == [(datetime(2026, 3, 16, 14, tzinfo=UTC), datetime(2026, 3, 16, 15, tzinfo=UTC))]
    assert merged[0][0].tzinfo == UTC


STARTS = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC))
PAUSES = st.lists(st.tuples(STARTS, st.integers(min_value=1, max_value=5 * 24 * 3600)), max_size=4)


@settings(derandomize=True, max_examples=200, deadline=None)
@given(start=STARTS, target=st.floats(min_value=1.0, max_value=10 * 8 * HOUR), pauses=PAUSES)
def test_the_clock_shows_the_target_at_its_due_time(start, target, pauses):
    intervals = [(s, datetime.fromtimestamp(s.timestamp() + length, UTC)) for s, length in pauses]
    due = clock_due(CALENDAR, start, target, intervals)

    assert clock_elapsed(CALENDAR, start, due, intervals) == pytest.approx(target, abs=1e-5)
