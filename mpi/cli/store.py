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
