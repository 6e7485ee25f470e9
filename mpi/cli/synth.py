"""``mpi generate``: a seeded synthetic population with duplicates, as a CSV."""

from __future__ import annotations

import click

from mpi.cli.base import main


@main.command()
@click.option("--output", "output_path", required=True, type=click.Path(), help="CSV file to write.")
@click.option("--people", default=1000, show_default=True, help="True people to generate.")
@click.option("--seed", default=7, show_default=True)
def generate(output_path: str, people: int, seed: int) -> None:
    """Write a seeded synthetic population with duplicates (and a truth column)."""
    from mpi.synth.generator import write_csv

    n = write_csv(output_path, people, seed)
    click.echo(f"wrote {n} records for {people} people to {output_path}")
