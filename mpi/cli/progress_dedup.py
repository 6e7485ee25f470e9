"""What a dedup run shows on the terminal while it runs: each phase as it starts, its time and its counts.

:class:`DedupProgress` is the engine's ``progress`` callback
(:data:`mpi.batch.engine.Progress`) and the run's own: it is called with a phase
and, where known, a count (records read, pairs scored, clusters found, persons
found to be one). On a terminal the current phase is one line rewritten in place; anywhere
else (a pipe, a CI log, a test) each phase is one line of its own. It writes to
stderr, so a run's output (``--output``, the run id) stays clean on stdout.

While it is open (``with DedupProgress() as progress:``) Splink's own progress
lines ("Blocking time", "Completed iteration") are quieted: the ``splink`` logger
and its modules' are set to WARNING and put back as they were when the run ends.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import IO, Self

#: Each phase as a reader sees it, and what its count counts. A phase whose name is a result (``scored``,
#: ``clustered``) ends the phase before it; the others start one.
PHASES: dict[str, tuple[str, str]] = {
    "reading": ("reading records", "records"),
    "read": ("read", "records"),
    "preparing": ("preparing", "records"),
    "scoring": ("scoring pairs", "pairs"),
    "scored": ("scored", "pairs"),
    "clustering": ("clustering", "clusters"),
    "clustered": ("clustered", "clusters"),
    "comparing": ("comparing with persons", "persons"),
    "writing": ("writing cases for the persons found to be one", "person pairs"),
}
#: Phases that report what the phase before them found, rather than start a new one.
RESULTS = frozenset({"read", "scored", "clustered"})
#: The loggers quieted while a run shows its own progress.
QUIETED = ("splink",)


class DedupProgress:
    """The terminal's view of a run, called as ``progress(phase, count)``.

    Args:
        stream: where to write (stderr by default).
        tty: whether to rewrite one line in place (default: whether ``stream`` is a terminal).
        clock: seconds, monotonic (for elapsed times).
    """

    def __init__(self, stream: IO[str] | None = None, tty: bool | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)()) if tty is None else tty
        self.clock = clock
        self.started = clock()
        self.counts: dict[str, int] = {}
        self._open_line = False
        self._last: tuple[str, int | None] | None = None
        self._levels: dict[str, int] = {}

    def __enter__(self) -> Self:
        # Each Splink Linker sets the ``splink`` logger back to INFO when it is made, so the level is set on
        # its modules' loggers too: a logger's own level comes before its parent's.
        names = [n for n in logging.root.manager.loggerDict
                 if any(n == q or n.startswith(f"{q}.") for q in QUIETED)]
        for name in {*QUIETED, *names}:
            logger = logging.getLogger(name)
            self._levels[name] = logger.level
            logger.setLevel(logging.WARNING)
        return self

    def __exit__(self, *exc: object) -> None:
        self._end_line()
        for name, level in self._levels.items():
            logging.getLogger(name).setLevel(level)
        self._levels.clear()

    def __call__(self, phase: str, count: int | None = None) -> None:
        if (phase, count) == self._last:  # a run followed by polling tells the same phase again
            return
        self._last = (phase, count)
        label, unit = PHASES.get(phase, (phase, ""))
        if count is not None and unit:
            self.counts[unit] = count
        text = f"[{self.clock() - self.started:7.1f}s] {label}"
        if count is not None:
            text += f": {count:,} {unit}".rstrip()
        if self.tty:
            self.stream.write("\r\x1b[K" + text)
            self._open_line = True
            if phase in RESULTS:
                self._end_line()
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def done(self, outcome: str = "done") -> None:
        """The run's last line: its outcome, total time and what it counted."""
        counted = ", ".join(f"{n:,} {unit}" for unit, n in self.counts.items())
        self._end_line()
        self.stream.write(f"[{self.clock() - self.started:7.1f}s] {outcome}" + (f": {counted}" if counted else "")
                          + "\n")
        self.stream.flush()

    def _end_line(self) -> None:
        if self._open_line:
            self.stream.write("\n")
            self._open_line = False
