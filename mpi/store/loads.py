"""The ``loads`` table: how far ``mpi load`` has gone through each file, so a killed load resumes.

A file is known by its size and SHA-256. Its row holds the data rows committed
so far (``rows_done``), written by :meth:`LoadTable.advance` in the transaction
of the batch that committed them: the store never says a row is done that it
does not hold, nor holds a batch whose progress it lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mpi.store.database import Database


@dataclass(frozen=True)
class LoadProgress:
    """One file's load: its identity, rows in all and rows committed, and when it finished (None: not yet)."""

    file_sha256: str
    file_size: int
    file_name: str
    rows_total: int
    rows_done: int
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class LoadTable:
    """Progress of the loads of one store, one row per file (by size and SHA-256)."""

    def __init__(self, db: Database):
        self._db = db

    def get(self, file_sha256: str, file_size: int) -> LoadProgress | None:
        """The progress of a load of this file, or None if none has committed a batch (or it was restarted)."""
        row = self._db.one("SELECT file_sha256, file_size, file_name, rows_total, rows_done, started_at, updated_at, "
                           "finished_at FROM loads WHERE file_sha256 = ? AND file_size = ?", [file_sha256, file_size])
        return LoadProgress(*row) if row else None

    def begin(self, file_sha256: str, file_size: int, file_name: str, rows_total: int, actor: str) -> None:
        """Start this file's load from its first row (forgetting an earlier one's progress)."""
        with self._db.transaction():
            now = self._db.now()
            self._db.execute("DELETE FROM loads WHERE file_sha256 = ? AND file_size = ?", [file_sha256, file_size],
                             flush=False)
            self._db.execute("INSERT INTO loads VALUES (?, ?, ?, ?, 0, ?, ?, ?, NULL)",
                             [file_sha256, file_size, file_name, rows_total, actor, now, now], flush=False)

    def advance(self, file_sha256: str, file_size: int, rows_done: int, finished: bool = False) -> None:
        """Record that the first ``rows_done`` data rows are committed (inside the batch's own transaction)."""
        now = self._db.now()
        self._db.execute("UPDATE loads SET rows_done = ?, updated_at = ?, finished_at = ? "
                         "WHERE file_sha256 = ? AND file_size = ?",
                         [rows_done, now, now if finished else None, file_sha256, file_size], flush=False)
