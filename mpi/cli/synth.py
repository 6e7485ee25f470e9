"""``mpi generate``: a seeded synthetic population with duplicates, as a CSV."""

from __future__ import annotations

import click

from mpi.cli.base import main


@main.command()
@click.option("--output", "output_path", required=True, type=click.Path(), help="CSV file to write.")
@click.option("--people", default=1000, show_default=True, help="True people to generate.")
@click.option("--seed", default=7, show_default=True)
@click.option("--profile", type=click.Choice(["standard", "varied"]), default="standard",
              show_default=True,
              help="standard: the demo's and tests' population (never changes); varied: harder, "
                   "12 source systems, 7 metros.")
@click.option("--metros", default=None,
              help="varied only: comma list of metros to live in (Houston, Chicago, Los Angeles, "
                   "Atlanta, Phoenix, Miami, Detroit); default all.")
@click.option("--hard-cases", "hard_cases_path", type=click.Path(), default=None,
              help="Also write the labelled hard pairs (people_dev's hard_cases.csv format).")
def generate(output_path: str, people: int, seed: int, profile: str, metros: str | None,
             hard_cases_path: str | None) -> None:
    """Write a seeded synthetic population with duplicates (and a truth column)."""
    from mpi.synth.generator import write_csv

    chosen = None if metros is None else tuple(m.strip() for m in metros.split(",") if m.strip())
    try:
        n = write_csv(output_path, people, seed, profile, hard_cases=hard_cases_path,
                      metros=chosen)
    except ValueError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"wrote {n} records for {people} people to {output_path}")
    if hard_cases_path:
        click.echo(f"wrote hard cases to {hard_cases_path}")
