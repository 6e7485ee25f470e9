"""``mpi sweep``: reminders, escalations and expiry of referrals, once (``mpi serve`` runs it on a schedule)."""

from __future__ import annotations

import click

from mpi.cli.base import main
from mpi.services import Services


@main.command()
@click.pass_obj
def sweep(services: Services) -> None:
    """Run the referral sweep once: expire, remind, escalate; print what it did."""
    counts = services.sweep.run()
    click.echo(f"sweep at {counts['at'].isoformat(timespec='seconds')}: {counts['expired']} expired, "
               f"{counts['reminders']} reminders, {counts['escalations']} escalations, "
               f"{counts['gates_mended']} gates mended, {counts.get('exception_escalations', 0)} exception "
               "escalations")
