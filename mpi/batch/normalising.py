"""A bulk file's rows validated and normalised in worker processes, in file order, failing when a worker dies.

At about 180 us a record, normalising is most of ``mpi dedup --input``'s work
before scoring, so chunks of :data:`CHUNK` rows go to worker processes
(:class:`mpi.workers.ChunkPool`: at most :data:`IN_FLIGHT` per worker at once,
answered in the order they were sent, a dead worker :class:`WorkerDied`).

Workers are spawned, not forked from this threaded process (``mpi.workers``
says why). A fork server would be as safe but no quicker: a worker started either way imports the command's ``__main__``
  (the ``mpi`` script: the whole CLI, ~0.8 s) before its first chunk, and a
  server importing it too would have its threads. ``bench/dedup_file_pool.py``
  measures the start: on 50,140 rows the first chunk came back 1-2.5 s after
  the start, against 0.5-1 s forked (more on a loaded machine), of a
  normalising phase of 8-15 s.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any

from mpi.errors import ValidationError
from mpi.matching.comparisons import MODEL_COLUMNS
from mpi.records.normalise import normalise_record
from mpi.records.validation import validate_record
from mpi.workers import ChunkPool

#: Records per task sent to a worker process.
CHUNK = 2_000
#: Chunks sent ahead per worker: one being normalised and one waiting, so no worker idles between chunks.
IN_FLIGHT = 2
#: How workers are started: fresh interpreters, not forks of this threaded process (see above).
START_METHOD = "spawn"

Key = tuple[str, str]
Row = tuple[int, dict[str, str]]
#: One row's outcome from a worker: its row number, its key, and its model row or the names of its bad fields.
Outcome = tuple[int, Key, dict[str, Any] | None, list[str] | None]


def normalise_chunk(chunk: list[Row]) -> list[Outcome]:
    """Worker: validate (leniently, as training does) and normalise each record into its model row."""
    out: list[Outcome] = []
    for row, raw in chunk:
        key = (raw["source_system"], raw["source_record_id"])
        try:
            record = validate_record(raw, strict=False)
        except ValidationError as e:
            out.append((row, key, None, sorted(e.errors)))
            continue
        norm = normalise_record(record)
        out.append((row, (record["source_system"], record["source_record_id"]),
                    {c: norm.get(c) for c in MODEL_COLUMNS}, None))
    return out


def chunks(rows: Iterable[Row]) -> Iterator[list[Row]]:
    """The rows in lists of :data:`CHUNK`, in order."""
    rows = iter(rows)
    while chunk := list(islice(rows, CHUNK)):
        yield chunk


def normalised(rows: Iterable[Row], workers: int, progress: Callable[[int], Any] | None = None,
               start_method: str = START_METHOD) -> Iterator[Outcome]:
    """Each row's outcome, in file order; ``workers`` processes normalise chunks ahead (0: in this one).

    ``progress`` is told each chunk's rows as the chunk comes back. ``start_method`` is for measuring
    the others (``bench/dedup_file_pool.py``); ``fork`` is not safe here (see the module's docstring).

    Raises:
        WorkerDied: a worker stopped before answering; the rows it had, and those after, are not returned.
    """
    died = (f"a worker process normalising the file stopped before it answered (killed, perhaps out of memory) "
            f"with {workers} worker(s); nothing was written: run it again, with fewer --workers or --workers 0")
    with ChunkPool(normalise_chunk, chunks(rows), workers, died=died, in_flight=IN_FLIGHT,
                   start_method=start_method) as answers:
        for done in answers:
            yield from done
            if progress:
                progress(len(done))
