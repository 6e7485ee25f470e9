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
