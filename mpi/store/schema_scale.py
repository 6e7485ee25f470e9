"""Migrations for running at scale and in several instances (19 onwards). ``schema.py`` appends them after the
steward's; its rules hold here."""

SCALE_MIGRATIONS: list[tuple[int, list[str]]] = [(
    19,
    [
        # Which instance runs each piece of background work (``mpi/store/leases.py``): one row a lease.
        """CREATE TABLE leases (
            name VARCHAR PRIMARY KEY,
            holder VARCHAR NOT NULL,
            expires_at TIMESTAMPTZ NOT NULL
        )""",
    ],
)]

SCALE_MIGRATIONS.append((
    20,
    [
        # Which records each committed transaction changed, in commit order (``mpi/store/changes.py``): how each of
        # several instances over one PostgreSQL store keeps its in-memory index in step with the others' writes.
        # Written only on a shared store; numbered from the sequence mpi_record_changes (made on PostgreSQL).
        """CREATE TABLE record_changes (
            seq BIGINT PRIMARY KEY,
            source_system VARCHAR NOT NULL,
            source_record_id VARCHAR NOT NULL,
            changed_at TIMESTAMPTZ NOT NULL
        )""",
    ],
))

SCALE_MIGRATIONS.append((
    22,
    [
        # A generation per kind of what each instance caches from the store (``mpi/store/generations.py``): bumped
        # in the transaction that writes such a table, read every second by every instance over one PostgreSQL
        # store, which then drops what it cached of that kind (a revoked API key is refused everywhere). Written
        # only on a shared store; a DuckDB file has one process, whose own writes clear its cache.
        """CREATE TABLE cache_generations (
            kind VARCHAR PRIMARY KEY,
            generation BIGINT NOT NULL
        )""",
    ],
))

SCALE_MIGRATIONS.append((
    23,
    [
        # DuckDB reads through an ART index only for a filter on its one column: these three two-column indexes
        # were never read (``EXPLAIN`` of a record's blocking keys, a record's audit trail or its case by both
        # columns: a sequential scan either way), only kept in step with every insert, loaded from the file by the
        # first write after a start (most of the first batch of ``mpi load`` at 1M: 5.8 s against 2.0 s for each
        # batch after) and written again by every checkpoint (646 MiB of the 1M store for the first two). A
        # PostgreSQL store, whose B-trees serve both columns, makes them again (``postgres.SHARED_STORE_INDEXES``).
        "DROP INDEX IF EXISTS blocking_keys_record",
        "DROP INDEX IF EXISTS audit_entity",
        "DROP INDEX IF EXISTS review_cases_record",
    ],
))
