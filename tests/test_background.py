"""Background work in the serving process (``mpi.background``): runs again at once while more is waiting, wakes
early when told, keeps going after a failed run, and stops letting the run in hand finish."""

from __future__ import annotations

import threading
import time

from mpi.background import Background


def wait_until(condition, seconds=5.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_it_runs_again_at_once_while_more_is_waiting_then_waits():
    runs = []
    work = Background("t", lambda: runs.append(1) or len(runs) < 3, interval=60, at_start=True)
    work.start()
    try:
        wait_until(lambda: len(runs) == 3)
        time.sleep(0.1)
        assert len(runs) == 3, "then it waits the interval"
    finally:
        work.stop()


def test_a_wake_ends_the_wait_and_a_failure_does_not_stop_it():
    runs = []

    def run():
        runs.append(1)
        if len(runs) == 1:
            raise RuntimeError("boom")
        return False

    wake = threading.Event()
    work = Background("t", run, interval=60, wake=wake)
    work.start()
    try:
        time.sleep(0.05)
        assert runs == [], "not at start unless asked"
        wake.set()
        wait_until(lambda: len(runs) == 1)
        wake.set()
        wait_until(lambda: len(runs) == 2)
    finally:
        work.stop()


def test_a_sooner_wait_is_honoured_and_no_interval_runs_nothing():
    runs = []
    work = Background("t", lambda: runs.append(1) and False, interval=60, wait=lambda: 0.01)
    work.start()
    try:
        wait_until(lambda: len(runs) >= 2)
    finally:
        work.stop()
    ran = len(runs)
    idle = Background("t", lambda: runs.append(1), interval=0, at_start=True)
    idle.start()
    time.sleep(0.05)
    idle.stop()
    assert len(runs) == ran
