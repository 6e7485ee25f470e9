"""Leases of background work: one instance of several over one store runs each piece, another takes over once the
holder's lease lapses, and a thread whose lease another instance holds runs nothing."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from mpi.background import Background, Lease
from mpi.clock import FixedClock
from mpi.store import Store

pytestmark = pytest.mark.both_stores


def test_a_lease_is_held_by_one_instance_until_it_lapses_or_is_released(store_location):
    clock = FixedClock(datetime(2026, 12, 7, 9, 0, tzinfo=timezone.utc))
    store = Store(store_location, clock=clock)
    leases = store.leases

    assert leases.hold("referral-sweep", "a", 60)
    assert not leases.hold("referral-sweep", "b", 60)  # a holds it
    assert leases.hold("referral-sweep", "a", 60)  # a renews
    assert leases.hold("delivery", "b", 60)  # another piece of work is another lease
    clock.advance(timedelta(seconds=59))
    assert not leases.hold("referral-sweep", "b", 60)
    clock.advance(timedelta(seconds=2))  # a stopped renewing: lapsed
    assert leases.hold("referral-sweep", "b", 60)
    assert not leases.hold("referral-sweep", "a", 60)
    assert leases.holders()["referral-sweep"][0] == "b"

    leases.release("referral-sweep", "a")  # not a's to release: nothing happens
    assert leases.holders()["referral-sweep"][0] == "b"
    leases.release("referral-sweep", "b")
    assert leases.hold("referral-sweep", "a", 60)
    store.close()


def test_a_background_thread_runs_only_while_its_instance_holds_the_lease(store_location):
    store = Store(store_location)
    runs = {"a": 0, "b": 0}
    ran = threading.Event()

    def work(name):
        def run():
            runs[name] += 1
            ran.set()
            return False
        return run

    a = Background("sweep", work("a"), 0.05, lease=Lease(store.leases, "sweep", 60, holder="a"), at_start=True)
    a.start()
    assert ran.wait(5)
    b = Background("sweep", work("b"), 0.05, lease=Lease(store.leases, "sweep", 60, holder="b"), at_start=True)
    b.start()
    while runs["a"] < 5:
        ran.clear()
        assert ran.wait(5)
    assert runs["b"] == 0  # a holds the lease: b skips every run

    a.stop()  # a clean stop releases the lease: b takes over at its next run
    ran.clear()
    assert ran.wait(5) and runs["b"] >= 1
    b.stop()
    store.close()
