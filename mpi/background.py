"""Background work inside the serving process: a thread that runs one piece of work again and again.

The embedded store has one writing process, so what runs on its own (the
referral sweep, the delivery of status feedback) runs as a thread of ``mpi
serve``, writing through the same store as requests do. :class:`Background` is
that thread: it waits ``interval`` seconds (or less, as ``wait`` says, or until
``wake`` is set), runs the work, and runs it again at once while the work says
more is waiting. A run that fails is logged by the error's type (never its text,
which may hold data) and the next one tries again; :meth:`stop` lets the run in
hand finish.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)


class Background:
    """Runs ``work`` in a thread named ``name`` until stopped.

    Args:
        work: one run; returns whether more is waiting (then it runs again at once).
        interval: seconds between runs (at most); 0 or less runs nothing.
        wake: an event that ends a wait early (set by whoever made work for it).
        wait: seconds to wait now, if sooner than ``interval`` (None: the interval).
        at_start: run once as soon as it starts, rather than after the first wait.
    """

    def __init__(self, name: str, work: Callable[[], bool], interval: float, *,
                 wake: threading.Event | None = None, wait: Callable[[], float | None] | None = None,
                 at_start: bool = False):
        self.name = name
        self.work = work
        self.interval = interval
        self.wake = wake or threading.Event()
        self._wait = wait
        self._at_start = at_start
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

    def _loop(self) -> None:
        more = self._at_start
        while not self._stop.is_set():
            if not more:
                self.wake.wait(self._seconds())
                self.wake.clear()
                if self._stop.is_set():
                    return
            try:
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
