"""Preparing the rows of a bulk file in another process while this one matches.

Validating, normalising and keying a record (:func:`mpi.matching.prepare`)
needs neither the index nor the store, and is about a tenth of what ``mpi
load`` spends per record: address standardisation alone parses every line 1.
On a machine with a second core a worker process does it for the rows ahead,
in chunks, while this process matches the rows already prepared. Rows come
back in file order, and at most a few chunks are in flight, so a file of any
size is never held in memory at once.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from mpi.errors import ValidationError
from mpi.identity.matcher import Prepared, prepare

#: Rows per chunk sent to the worker, and chunks in flight at once.
CHUNK = 250
IN_FLIGHT = 4

#: One row's outcome: its line, and the prepared record or the names of its bad fields.
Outcome = tuple[int, Prepared | None, list[str] | None]


def default_workers() -> int:
    """One worker where there is a second core to run it; none (prepare here) on one core."""
    return 1 if (os.cpu_count() or 1) > 1 else 0


class PreparedRows:
    """``(line, prepared, None)`` or ``(line, None, bad_fields)`` for each ``(line, row)``, in order.

    A context manager: entering starts the worker and sends it the first
    chunks, so they are ready by the time the caller (after building its
    index) asks for them; leaving stops it.
    """

    def __init__(self, rows: Iterable[tuple[int, dict[str, Any]]], workers: int | None = None,
                 *, strict: bool = False):
        self._rows = iter(rows)
        self._workers = default_workers() if workers is None else workers
        self._strict = strict
        self._pool = None
        self._pending: deque = deque()

    def __enter__(self) -> PreparedRows:
        if self._workers > 0:
            # spawn: the worker imports the normalisers, not a copy of this process's index.
            self._pool = multiprocessing.get_context("spawn").Pool(self._workers)
            self._fill()
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def __iter__(self) -> Iterator[Outcome]:
        if self._pool is None:
            while chunk := list(islice(self._rows, CHUNK)):
                yield from _prepare_chunk(chunk, self._strict)
            return
        while self._pending:
            done = self._pending.popleft().get()
            self._fill()
            yield from done

    def _fill(self) -> None:
        while len(self._pending) < IN_FLIGHT * self._workers:
            chunk = list(islice(self._rows, CHUNK))
            if not chunk:
                return
            self._pending.append(self._pool.apply_async(_prepare_chunk, (chunk, self._strict)))


def _prepare_chunk(rows: Iterable[tuple[int, dict[str, Any]]], strict: bool) -> list[Outcome]:
    out: list[Outcome] = []
    for line, raw in rows:
        try:
            out.append((line, prepare(raw, strict=strict), None))
        except ValidationError as e:
            out.append((line, None, sorted(e.errors)))
    return out
