"""``mpi deliver``: send the outbox's due messages to partners, on its own (``mpi serve`` runs the same worker)."""

from __future__ import annotations

import time

import click

from mpi.cli.base import main
from mpi.services import Services


@main.command()
@click.option("--follow", is_flag=True, help="Keep running: wait for retries and new messages until Ctrl-C.")
@click.pass_obj
def deliver(services: Services, follow: bool) -> None:
    """Deliver the status feedback due now to partners (retrying as scheduled); print what each pass did."""
    worker = services.delivery
    worker.recover()
    totals: dict[str, int] = {}
    try:
        while True:
            counts = worker.run_once()
            for status, n in counts.items():
                totals[status] = totals.get(status, 0) + n
            if counts:
                click.echo("  " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())), err=True)
                continue
            if not follow:
                break
            due = worker.next_due()
            wait = 1.0 if due is None else (due - services.clock.now()).total_seconds()
            time.sleep(min(max(wait, 0.05), 1.0))
    except KeyboardInterrupt:
        pass
    waiting = services.store.outbox.counts()
    click.echo(f"delivered: {totals.get('acknowledged', 0)} acknowledged, {totals.get('failed', 0)} to retry, "
               f"{totals.get('dead', 0)} dead; outbox now: "
               + (", ".join(f"{n} {s}" for s, n in sorted(waiting.items())) or "empty"))
