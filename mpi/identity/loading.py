"""Loading many records through the decision path: the one loop ``mpi load`` and the demo share.

:func:`load` submits prepared rows a transaction per :data:`LOAD_BATCH`,
counting decisions and rejected rows. :class:`PreparedRows` prepares the rows
of a bulk file in another process while this one matches:
validating, normalising and keying a record (:func:`mpi.matching.prepare.prepare`)
needs neither the index nor the store, and is about a tenth of what ``mpi
load`` spends per record: address standardisation alone parses every line 1.
On a machine with a second core a worker process does it for the rows ahead,
in chunks, while this process matches the rows already prepared. Rows come
back in file order, and at most a few chunks are in flight, so a file of any
size is never held in memory at once.

:class:`FileLoad` makes a load of a file resumable: the rows committed so far
are recorded in the store (``store.loads``, by the file's size and SHA-256) in
the transaction of each batch, so a load killed part-way goes on after its last
committed row when run again, and a load that finished is not sent again.
Rows already committed are never sent twice: a file that holds one record twice
(an update further down) would otherwise have its earlier version sent again
after the later one.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Any

from mpi.errors import ValidationError
from mpi.matching.prepare import Prepared, prepare
from mpi.records.csvio import fingerprint
from mpi.records.recordfiles import count_rows, read_records
from mpi.workers import ChunkPool

if TYPE_CHECKING:
    from mpi.identity.matcher import MatchService
    from mpi.store.loads import LoadTable

logger = logging.getLogger(__name__)

#: Records written per transaction. Each flush and commit costs DuckDB tens of
#: milliseconds at a million persons whatever its size: 1,000 per batch loaded
#: 279-378 records/s there against 242-262 with 200 (the same 2,992 records, one
#: run); one transaction of all 2,992 was slower again (209 against 240).
LOAD_BATCH = 1000
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
    index) asks for them; leaving stops it (``mpi.workers.ChunkPool``). A
    worker that dies (the OOM killer, a ``kill``) stops the load with
    :class:`~mpi.errors.WorkerDied`; the batches committed before are kept,
    and the load resumes after them.
    """

    def __init__(self, rows: Iterable[tuple[int, dict[str, Any]]], workers: int | None = None,
                 *, strict: bool = False):
        rows = iter(rows)
        # spawned: a worker imports the normalisers, not a copy of this process's index (nor its threads).
        self._pool = ChunkPool(_prepare_chunk, iter(lambda: list(islice(rows, CHUNK)), []),
                               default_workers() if workers is None else workers, args=(strict,), in_flight=IN_FLIGHT,
                               died="a worker process preparing the file's records stopped before it answered "
                                    "(killed, perhaps out of memory); the batches committed so far are kept: run the "
                                    "same command again to resume after them")

    def __enter__(self) -> PreparedRows:
        self._pool.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._pool.__exit__(*exc)

    def __iter__(self) -> Iterator[Outcome]:
        for done in self._pool:
            yield from done


def _prepare_chunk(rows: Iterable[tuple[int, dict[str, Any]]], strict: bool) -> list[Outcome]:
    out: list[Outcome] = []
    for line, raw in rows:
        try:
            out.append((line, prepare(raw, strict=strict), None))
        except ValidationError as e:
            out.append((line, None, sorted(e.errors)))
    return out


@dataclass
class Loaded:
    """What a load did: decisions by kind, and the rows rejected (line, names of the bad fields)."""

    decisions: Counter[str] = field(default_factory=Counter)
    rejected: list[tuple[int, list[str]]] = field(default_factory=list)


class FileLoad:
    """One file's load as the store remembers it: where it resumes (read when made), and its progress written
    per batch (its row by :meth:`begin`, or by the first batch's checkpoint).

    Args:
        loads: the store's progress of loads.
        path: the records file.
        actor: who loads it.
        restart: start from the first row whatever an earlier load of the file committed.
    """

    def __init__(self, loads: LoadTable, path: str, actor: str, *, restart: bool = False):
        self._loads = loads
        self.path = path
        self.size, self.sha256 = fingerprint(path)
        self.rows_total = count_rows(path)
        self._actor = actor
        earlier = None if restart else loads.get(self.sha256, self.size)
        #: Data rows an earlier load of this file committed (skipped now), and whether it went to the end.
        self.skip = earlier.rows_done if earlier else 0
        self.finished = bool(earlier and earlier.finished_at)
        #: Whether this load's progress row is still to be written (a resumed load has its own).
        self._row_due = earlier is None

    def begin(self) -> None:
        """Write the load's progress row, once (a resumed load has its own): the load's first write, apart from
        :meth:`__init__`, which only reads, so a caller can map the index between them. :meth:`checkpoint`
        begins a load not begun."""
        if self._row_due:
            self._loads.begin(self.sha256, self.size, str(self.path), self.rows_total, self._actor)
            self._row_due = False

    @property
    def resumed(self) -> bool:
        """Whether an earlier load of the file had committed rows this one does not send again."""
        return self.skip > 0 or self.finished

    def rows(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """``(line, row)`` of the rows not yet committed (none if the file was loaded to the end)."""
        return iter(()) if self.finished else islice(read_records(self.path), self.skip, None)

    def checkpoint(self, rows_done: int, exhausted: bool) -> None:
        """Record, in the open batch's transaction, that this run has committed ``rows_done`` more rows."""
        self.begin()
        self._loads.advance(self.sha256, self.size, self.skip + rows_done, finished=exhausted)


def load(matching: MatchService, rows: Iterable[Outcome], actor: str,
         progress: Callable[[int], Any] | None = None, batch: int = LOAD_BATCH,
         checkpoint: Callable[[int, bool], Any] | None = None) -> Loaded:
    """Submit prepared rows through the decision path, a store transaction per ``batch``.

    Every row is decided as ``POST /v1/records`` would decide it; ``progress(1)``
    is called after each row, and ``checkpoint(rows taken so far, whether they are all)``
    inside each batch's transaction before it commits (:meth:`FileLoad.checkpoint`).
    Re-matching held records afterwards is the caller's (``MatchService.rematch_open_cases``).
    """
    rows = iter(rows)
    loaded = Loaded()
    exhausted = False
    taken = 0
    while not exhausted:
        with matching.store.transaction():
            in_batch = 0
            for _ in range(batch):
                item = next(rows, None)
                if item is None:
                    exhausted = True
                    break
                in_batch += 1
                line, prepared, bad_fields = item
                if prepared is None:
                    loaded.rejected.append((line, bad_fields))
                else:
                    result = matching.submit_prepared(prepared, actor, with_candidates=False)
                    loaded.decisions[result["decision"]] += 1
                if progress is not None:
                    progress(1)
            taken += in_batch
            if checkpoint is not None and (in_batch or exhausted):
                checkpoint(taken, exhausted)
        if in_batch:
            logger.info("load: %s rows committed", taken)
    return loaded
