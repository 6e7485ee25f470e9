"""What a store location names: a DuckDB file, or a PostgreSQL database by its URL.

Apart from :mod:`mpi.store.postgres` so that a DuckDB store never imports ``psycopg`` and ``sqlglot``
(about 0.15 s of every command's and service's start).
"""

from __future__ import annotations


def is_postgres_url(value: str) -> bool:
    """Whether a store location names a PostgreSQL database (``postgresql://`` or ``postgres://``)."""
    return str(value).startswith(("postgresql://", "postgres://"))
