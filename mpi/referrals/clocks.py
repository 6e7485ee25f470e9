"""A referral's time-target clocks: business time since it was received, less the time it was paused.

A performer is held to its targets (acknowledge, triage, first contact) only
for time it could act: every clock stops while the referral is back with its
requester as information-incomplete (or closed), and the first-contact clock
also stops while the referral is gated on an identity review case, since the
performer cannot contact someone before knowing who they are. The caller turns
a referral's history into pause intervals, one list per clock; these pure
functions count and project in the performer's :class:`BusinessCalendar`, so
an evening or a weekend inside a pause is never taken off twice.

A pause is ``(start, end)``; ``end`` is None for a pause still running. Inputs
are aware datetimes in any zone (naive is read as UTC); results are UTC.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime, timezone

from mpi.directory.calendar import BusinessCalendar

Interval = tuple[datetime, datetime | None]


def merge_pauses(pauses: Iterable[Interval]) -> list[Interval]:
    """The union of pauses, sorted, as disjoint UTC intervals.

    Overlapping and touching pauses become one (a referral gated on a case
    while also returned is paused once, not twice). A running pause swallows
    everything after its start, so it is always the last. A pause that does not
    end after it starts covers nothing and is dropped.
    """
    utc = ((_utc(s), None if e is None else _utc(e)) for s, e in pauses)
    cleaned = sorted(((s, e) for s, e in utc if e is None or e > s), key=lambda pause: pause[0])
    merged: list[Interval] = []
    for start, end in cleaned:
        if merged:
            last_start, last_end = merged[-1]
            if last_end is None:
                break
            if start <= last_end:
                merged[-1] = (last_start, None if end is None else max(last_end, end))
                continue
        merged.append((start, end))
    return merged


def clock_elapsed(calendar: BusinessCalendar, start: datetime, end: datetime, pauses: Iterable[Interval]) -> float:
    """Business seconds the clock ran in ``[start, end]``: the calendar's time outside the pauses.

    A running pause counts as paused up to ``end``; pauses before ``start`` take nothing off.
    """
    start, end = _utc(start), _utc(end)
    return math.fsum(calendar.between(a, end if b is None else min(b, end))
                     for a, b in _running(start, pauses) if a < end)


def clock_due(calendar: BusinessCalendar, start: datetime, target_seconds: float,
              pauses: Iterable[Interval]) -> datetime | None:
    """The instant the clock started at ``start`` reaches ``target_seconds`` business seconds.

    Every finished pause the clock meets pushes the due time on by the
    business time it covers (none for a pause over a weekend).

    Returns:
        An aware UTC datetime, or None while a running pause holds the clock
        before it gets there (the due time is unknown until the pause ends).
        A target of zero or less is due at ``start``.
    """
    start = _utc(start)
    if target_seconds <= 0:
        return start
    remaining = float(target_seconds)
    for a, b in _running(start, pauses):
        due = calendar.add(a, remaining)
        if b is None or due <= b:
            return due
        remaining -= calendar.between(a, b)
    return None


def _running(start: datetime, pauses: Iterable[Interval]) -> list[tuple[datetime, datetime | None]]:
    """The stretches from ``start`` on in which the clock runs: the gaps between the merged pauses.

    The last stretch is open-ended (``None``) unless a running pause closes it.
    """
    stretches: list[tuple[datetime, datetime | None]] = []
    at = start
    for p_start, p_end in merge_pauses(pauses):
        if p_end is not None and p_end <= at:
            continue
        if p_start > at:
            stretches.append((at, p_start))
        if p_end is None:
            return stretches
        at = p_end
    stretches.append((at, None))
    return stretches


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at.astimezone(timezone.utc)
