"""Background work inside the serving process: a thread that runs one piece of work again and again.

The embedded store has one writing process, so what runs on its own (the
referral sweep, the delivery of status feedback) runs as a thread of ``mpi
serve``, writing through the same store as requests do. :class:`Background` is
that thread: it waits ``interval`` seconds (or less, as ``wait`` says, or until
``wake`` is set), runs the work, and runs it again at once while the work says
more is waiting. A run that fails is logged by the error's type (never its text,
which may hold data) and the next one tries again; :meth:`stop` lets the run in
hand finish.

Several instances over one PostgreSQL store each have these threads; a
:class:`Lease` makes one of them the runner: a thread whose lease another
instance holds skips its runs until that lease lapses.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from typing import Protocol

logger = logging.getLogger(__name__)


#: This process, as a lease holder: host, process id and a random part (a restarted process is another holder).
INSTANCE = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class LeaseStore(Protocol):
    def hold(self, name: str, holder: str, seconds: float) -> bool: ...

    def release(self, name: str, holder: str) -> None: ...


class Lease:
    """The store's lease of one piece of work for this instance, renewed once half of it has run out.

    Args:
        leases: the store's leases (``store.leases``).
        name: the work's name (one lease per piece of work, across instances).
        seconds: how long a lease lasts unrenewed: how long others wait for a holder that died.
    """

    def __init__(self, leases: LeaseStore, name: str, seconds: float, holder: str = INSTANCE):
        self.leases, self.name, self.seconds, self.holder = leases, name, seconds, holder
        self._until = 0.0  # monotonic time before which this instance is known to hold it

    def hold(self) -> bool:
        """Whether this instance runs the work now (taking or renewing the lease in the store when due)."""
        now = time.monotonic()
        if now < self._until - self.seconds / 2:
            return True
        held = self.leases.hold(self.name, self.holder, self.seconds)
        self._until = now + self.seconds if held else 0.0
        return held

    def release(self) -> None:
        if self._until:
            self.leases.release(self.name, self.holder)
            self._until = 0.0


class Background:
    """Runs ``work`` in a thread named ``name`` until stopped.

    Args:
        work: one run; returns whether more is waiting (then it runs again at once).
        interval: seconds between runs (at most); 0 or less runs nothing.
        wake: an event that ends a wait early (set by whoever made work for it).
        wait: seconds to wait now, if sooner than ``interval`` (None: the interval).
        at_start: run once as soon as it starts, rather than after the first wait.
        lease: run only while this instance holds it (several instances over one store: one runs the work).
    """

    def __init__(self, name: str, work: Callable[[], bool], interval: float, *,
                 wake: threading.Event | None = None, wait: Callable[[], float | None] | None = None,
                 at_start: bool = False, lease: Lease | None = None):
        self.name = name
        self.work = work
        self.interval = interval
        self.wake = wake or threading.Event()
        self._wait = wait
        self._at_start = at_start
        self.lease = lease
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.interval <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()
        logger.info("%s runs every %s s", self.name, self.interval)

    def stop(self, timeout: float = 30) -> None:
        self._stop.set()
        self.wake.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
            self._thread = None
        if self.lease is not None:
            try:
                self.lease.release()
            except Exception as e:  # noqa: BLE001  (an unreleased lease lapses by itself)
                logger.error("%s could not release its lease: %s", self.name, type(e).__name__)

    def _loop(self) -> None:
        more = self._at_start
        while not self._stop.is_set():
            if not more:
                self.wake.wait(self._seconds())
                self.wake.clear()
                if self._stop.is_set():
                    return
            try:
                if self.lease is not None and not self.lease.hold():
                    more = False  # another instance runs it
                    continue
                more = bool(self.work())
            except Exception as e:  # noqa: BLE001  (a failed run is logged; the next one tries again)
                logger.error("%s failed: %s", self.name, type(e).__name__)
                more = False

    def _seconds(self) -> float:
        if self._wait is None:
            return self.interval
        try:
            sooner = self._wait()
        except Exception:  # noqa: BLE001  (a wait it cannot work out is the interval)
            return self.interval
        return self.interval if sooner is None else max(0.0, min(self.interval, sooner))
