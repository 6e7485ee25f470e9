"""The ``record_changes`` table: which records each committed transaction changed, in commit order.

Several ``mpi serve`` instances over one PostgreSQL store each hold an in-memory
candidate index of every record. When one instance links a record, opens a case
or merges persons, the others learn of it here: each transaction that changed
records appends their keys as it commits, and every instance reads what was
appended since it last looked (``mpi.identity.sync``) and brings those records
into its index from the store.

Rows are numbered from a sequence while an advisory lock is held to the end of the
transaction, taken as its last work before COMMIT (``before_commit``): so
numbers are committed in order, and a reader that has seen number *n* has seen
every number below it. Over a DuckDB file (one process) nothing is written.
"""

from __future__ import annotations

from collections.abc import Iterable

Key = tuple[str, str]

#: The advisory lock that orders the change log's numbers with their commits.
CHANGE_LOG_LOCK = "record_changes"


class RecordChanges:
    """The change log of records, for instances that share a store."""

    def __init__(self, db):
        self._db = db

    def note(self, keys: Iterable[Key]) -> None:
        """Append the keys changed by the open transaction (its last work before COMMIT)."""
        keys = sorted(set(keys))
        if not keys:
            return
        self._db.lock_keys([CHANGE_LOG_LOCK])
        at = self._db.now()
        self._db.native(
            "INSERT INTO record_changes (seq, source_system, source_record_id, changed_at) "
            "SELECT nextval('mpi_record_changes'), s, r, %s FROM unnest(%s::text[], %s::text[]) AS u(s, r)",
            [at, [k[0] for k in keys], [k[1] for k in keys]], "change log write")

    def last(self) -> int:
        """The number of the last change committed (0 for none)."""
        return int(self._db.one("SELECT coalesce(max(seq), 0) FROM record_changes")[0])

    def since(self, seq: int, limit: int = 10_000) -> list[tuple[int, Key]]:
        """Changes committed after number ``seq``, oldest first (at most ``limit``)."""
        rows = self._db.query("SELECT seq, source_system, source_record_id FROM record_changes WHERE seq > ? "
                              "ORDER BY seq LIMIT ?", [seq, limit])
        return [(r[0], (r[1], r[2])) for r in rows]
