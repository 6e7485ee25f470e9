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
