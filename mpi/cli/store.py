"""``mpi init``: create or migrate the store and activate the default model."""

from __future__ import annotations

import click

from mpi.cli.base import actor, main
from mpi.services import Services


@main.command()
@click.pass_obj
def init(services: Services) -> None:
    """Create (or migrate) the store and activate the default model if none is active."""
    version = services.store.schema_version()
    active = services.ensure_active_model(actor())
    click.echo(f"store {services.config['MPI_DB']} at schema version {version}; active model: {active or 'none'}")


@main.command("migrate-store")
@click.option("--to", "to", required=True, metavar="URL",
              help="The PostgreSQL store to move into (postgresql://user@host:port/database): an empty database.")
@click.pass_obj
def migrate_store(services: Services, to: str) -> None:
    """Copy this DuckDB store (--db, not served while it runs) into a PostgreSQL database, every table in one
    transaction; then serve with MPI_DB set to the URL. The DuckDB file is left as it was."""
    import time

    from mpi.store import Store
    from mpi.store.urls import is_postgres_url
    from mpi.store.transfer import copy_store

    if not is_postgres_url(to):
        raise click.UsageError(f"--to must be a postgresql:// URL, not {to!r}")
    if is_postgres_url(services.config["MPI_DB"]):
        raise click.UsageError("the store to move (--db / MPI_DB) must be a DuckDB file")
    started = time.perf_counter()
    target = Store(to)
    try:
        def progress(table: str, rows: int) -> None:
            if rows:
                click.echo(f"  {table}: {rows} rows", err=True)

        counts = copy_store(services.store.db, target.db, progress)
    finally:
        target.close()
    Store(to).close()  # opened again: each id sequence continues after the largest id now in the target
    click.echo(f"moved {sum(counts.values())} rows of {len(counts)} tables into {_safe(to)} in "
               f"{time.perf_counter() - started:.1f} s; serve it with MPI_DB={_safe(to)}")


def _safe(url: str) -> str:
    """A store URL without its password (it is printed)."""
    from mpi.store.postgres import _safe as without_password

    return without_password(url)
