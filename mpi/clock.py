"""The one clock: every business time (a record's arrival, a link, an audit event, a case's age) comes from it.

The store stamps what it writes and the services measure ages and due times
against one injected :class:`Clock`, so a test sets time instead of patching
a module: :class:`FixedClock` stands still until it is set or advanced.
Nothing else in ``mpi/``, ``api/`` or ``review_ui/`` asks the system for the
time (``tests/test_layering.py`` fails if a module does): :func:`today` is the
calendar date for checks such as "a birth date is not in the future", and
elapsed times for progress and benchmarks (``time.perf_counter``) are not
business times.
"""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta, timezone
from typing import Protocol


class Clock(Protocol):
    """Something that tells the current time, as an aware UTC datetime."""

    def now(self) -> datetime:
        """The current time (aware, UTC)."""
        ...


class SystemClock:
    """The machine's clock: what the service runs on."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class FixedClock:
    """A clock that stands still until it is set or advanced: for tests and for replaying a history.

    Args:
        at: the time it shows (naive times are read as UTC).
    """

    def __init__(self, at: datetime):
        self._lock = threading.Lock()
        self._at = _aware(at)

    def now(self) -> datetime:
        with self._lock:
            return self._at

    def set(self, at: datetime) -> None:
        """Show this time from now on."""
        with self._lock:
            self._at = _aware(at)

    def advance(self, delta: timedelta) -> datetime:
        """Move the time on by ``delta``; returns the new time."""
        with self._lock:
            self._at += delta
            return self._at


class ReplayClock:
    """The system's clock set back by an offset its caller moves, never ahead of the system's.

    For building a history that ends now (the demo's referrals, received over the past
    week): set it ``behind`` the system by the age of each step in turn, oldest first,
    then :meth:`catch_up` and it runs as the system's.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._behind = timedelta(0)
        self._system = SystemClock()

    def now(self) -> datetime:
        with self._lock:
            behind = self._behind
        return self._system.now() - behind

    def set_behind(self, behind: timedelta) -> None:
        """Show the system's time less ``behind`` (never less than nothing: the future is not replayed)."""
        with self._lock:
            self._behind = max(behind, timedelta(0))

    def catch_up(self) -> None:
        """Run as the system's clock from now on."""
        self.set_behind(timedelta(0))


def today() -> date:
    """The calendar's date, for validity checks that are no business time (a birth date cannot be in the future)."""
    return date.today()


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)
