"""Chunks of work answered in order by worker processes; a worker that dies stops the work, it never hangs it.

``mpi load`` prepares a file's rows, and ``mpi dedup --input`` normalises them, in
other processes while this one goes on. Both send chunks ahead to a
:class:`~concurrent.futures.ProcessPoolExecutor`, a few per worker at once (a file
of any size is never held in memory whole), and take the answers back in the
order the chunks were sent.

- A worker that dies (the kernel's OOM killer, a ``kill``) breaks the executor:
  every chunk not yet answered fails with ``BrokenProcessPool``, which becomes
  :class:`~mpi.errors.WorkerDied` with the caller's sentence. A
  ``multiprocessing.Pool`` replaced a dead worker without a word and waited for
  its chunk for ever.
- Workers are spawned (fresh interpreters), never forked from this process: by
  then it has threads (pyarrow's allocator and numpy start their own at import),
  and a fork of a threaded process can deadlock or die in the child.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from itertools import islice
from typing import Any

from mpi.errors import WorkerDied


class ChunkPool:
    """``work(chunk, *args)`` of each chunk, in order, from ``workers`` processes (0: here, as each is asked for).

    A context manager: entering starts the workers and sends them ``in_flight``
    chunks each, so they work while the caller gets ready; iterating yields each
    chunk's answer, sending the next chunk as one comes back; leaving stops them
    (the chunks not started are dropped).

    Raises (while iterating):
        WorkerDied: a worker stopped before it answered (``died`` says so, to the user).
    """

    def __init__(self, work: Callable[..., Any], chunks: Iterable[Any], workers: int, *, died: str,
                 args: tuple = (), in_flight: int = 2, start_method: str = "spawn"):
        self._work, self._chunks, self._workers, self._args = work, iter(chunks), workers, args
        self._died, self._in_flight, self._start_method = died, in_flight, start_method
        self._pool: ProcessPoolExecutor | None = None
        self._pending: deque[Future] = deque()

    def __enter__(self) -> ChunkPool:
        if self._workers > 0:
            self._pool = ProcessPoolExecutor(self._workers, mp_context=multiprocessing.get_context(self._start_method))
            self._fill()
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __iter__(self) -> Iterator[Any]:
        if self._pool is None:
            for chunk in self._chunks:
                yield self._work(chunk, *self._args)
            return
        while self._pending:
            try:
                done = self._pending.popleft().result()
                self._fill()
            except BrokenProcessPool:
                raise WorkerDied(self._died) from None
            yield done

    def _fill(self) -> None:
        for chunk in islice(self._chunks, self._in_flight * self._workers - len(self._pending)):
            self._pending.append(self._pool.submit(self._work, chunk, *self._args))
