"""``mpi backup`` and ``mpi restore``: the store as one DuckDB file, and that file put back in its place."""

from __future__ import annotations

from pathlib import Path

import click

from mpi.cli.base import main
from mpi.cli.remote import remote
from mpi.services import Services
from mpi.store.backup import restore as restore_store
from mpi.store.urls import is_postgres_url


@main.command()
@click.option("--output", "output_path", required=True, type=click.Path(), help="Backup file to write.")
@click.pass_obj
def backup(services: Services, output_path: str) -> None:
    """Write a consistent copy of the store to a file (while `mpi serve` runs: with --url, POST /v1/admin/backup)."""
    service = remote()
    if service is not None:
        size = service.download("/v1/admin/backup", output_path, method="POST")
        click.echo(f"backed up the store of {service.url} to {output_path} ({size} bytes)")
        return
    # opening a file that is not there would make an empty store to back up (a PostgreSQL store refuses below)
    if not is_postgres_url(services.config["MPI_DB"]) and not Path(services.config["MPI_DB"]).is_file():
        raise click.ClickException(f"no store at {services.config['MPI_DB']} to back up")
    store = services.store  # held by a running service: the CLI's one line says to use --url
    size = store.backup(output_path)
    click.echo(f"backed up {services.config['MPI_DB']} at schema version {store.schema_version()} "
               f"to {output_path} ({size} bytes)")


@main.command()
@click.option("--input", "input_path", required=True, type=click.Path(), help="Backup file to restore.")
@click.option("--force", is_flag=True, help="Replace the store if one exists.")
@click.pass_obj
def restore(services: Services, input_path: str, force: bool) -> None:
    """Put a backup in place of the store (never while a service holds it; over a store only with --force)."""
    target = services.config["MPI_DB"]
    version = restore_store(input_path, target, force=force)
    click.echo(f"restored {input_path} to {target} (schema version {version})")
