"""``mpi serve`` and ``mpi demo``: the API and the review UI under waitress (the one command that loads the app)."""

from __future__ import annotations

import logging
import signal
import sys
import time

import click

from mpi.cli.base import actor, main, warm_index
from mpi.errors import MpiError
from mpi.identity.warming import warm
from mpi.services import Services

logger = logging.getLogger(__name__)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True)
@click.option("--threads", default=32, show_default=True,
              help="Waitress worker threads: more than the clients that write at once, so their requests wait "
                   "at the store's group commit (one transaction for all that arrived), not in waitress' queue.")
@click.pass_obj
def serve(services: Services, host: str, port: int, threads: int) -> None:
    """Serve the API and the review UI with waitress (a production WSGI server), with the referral sweep, the
    delivery of status feedback to partners, the scheduled reconciliation of their snapshots and (every
    MPI_TRAIN_FROM_DECISIONS_HOURS, if set) training from steward decisions running inside it."""
    import waitress

    from api import create_app

    from mpi.background import Background, Lease
    from mpi.exchange import delivery as exchange_delivery

    services.ensure_active_model(actor())
    app = create_app(services=services)
    if services.store.shared:
        services.index_sync.start()  # before the index is built: a change committed meanwhile is read after
    warm_index(services)
    services.store.grants.present.warm()  # (the grants a match answer need not read: ``grant_filter.py``)
    started = time.perf_counter()  # the first requests do not pay the matcher's first use (``warming.py``)
    click.echo(f"matcher warmed: {warm(services.matching)} stored records matched in "
               f"{time.perf_counter() - started:.1f} s", err=True)

    def sweep_once() -> bool:
        services.sweep.run()
        return False  # one run does all that is due

    def reconcile_again() -> bool:
        services.reconciliation.rerun()  # each partner's latest snapshot, compared again
        return False

    def learn_from_decisions() -> bool:
        try:  # through the single writer, as a request would; a run with too little to learn from is skipped
            services.learning.train("system:train-from-decisions", only_if_new=True)
        except MpiError as e:
            logger.info("scheduled training from decisions skipped: %s", ", ".join(sorted(e.errors)) or e.code)
        return False

    background = [
        Background("referral-sweep", sweep_once, float(services.config["MPI_SWEEP_SECONDS"])),
        Background("train-from-decisions", learn_from_decisions,
                   float(services.config["MPI_TRAIN_FROM_DECISIONS_HOURS"]) * 3600),
        exchange_delivery.in_background(services.delivery, services.outbox.written,
                                        float(services.config["MPI_DELIVERY_SECONDS"])),
        Background("reconcile", reconcile_again, float(services.config["MPI_RECONCILE_SECONDS"])),
    ]
    for work in background:
        # One instance of several over one store runs each: the lease outlives a few missed runs of its holder.
        work.lease = Lease(services.store.leases, work.name, max(60.0, 3 * work.interval))
    if services.store.shared:  # every instance keeps its own caches and index in step (no lease)
        background.append(Background("index-sync", services.keep_in_step,
                                     float(services.config["MPI_INDEX_SYNC_SECONDS"])))
    for work in background:
        work.start()
    click.echo(f"serving on http://{host}:{port}/ (API under /v1, review UI under /review)")
    # SIGTERM (a service manager's stop) ends the server as Ctrl-C does: the workers finish what they hold.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        waitress.serve(app, host=host, port=port, threads=threads, ident="closedloop-mpi")
    finally:
        for work in background:
            work.stop()
        # The next start maps the index's base instead of reading every record (a stop by SIGTERM or Ctrl-C): with
        # what changed since it beside it while that is little, a whole new base only past that (``index_changes``).
        started = time.perf_counter()
        try:
            saved = services.writer.save_index()
            if saved:
                click.echo(f"candidate index {saved} saved in {time.perf_counter() - started:.1f} s", err=True)
        except MpiError as e:
            logger.warning("candidate index snapshot not saved: %s", e.code)


@main.command()
@click.option("--people", default=400, show_default=True, help="Synthetic people in the demo index.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True)
@click.option("--no-serve", is_flag=True, help="Build the demo index and exit.")
@click.pass_context
def demo(ctx: click.Context, people: int, host: str, port: int, no_serve: bool) -> None:
    """Build a demo index and referral network from the seeded generator (once) and serve it."""
    from mpi.clock import ReplayClock
    from mpi.synth.demo import build_demo

    # The demo's history (records, then a week of referrals) is replayed up to now, then the clock runs on.
    services = ctx.obj = Services(ctx.obj.config, clock=ReplayClock())
    ctx.call_on_close(services.close)
    info = build_demo(services, people, actor(), echo=click.echo)
    click.echo(f"demo hub token:         {info['hub_token']}")
    click.echo(f"demo steward token:     {info['steward_token']}")
    click.echo(f"demo coordinator token: {info['coordinator_token']}")
    click.echo(f"demo admin token:       {info['admin_token']}")
    click.echo("(the hub sends referrals for St Mary's Hospital; the coordinator works Metro Food Bank's)")
    if info["hub_person"]:  # a person of one of St Mary's referrals: minimum necessary lets its hub read no other
        click.echo(f"try: curl -H 'Authorization: Bearer {info['hub_token']}' "
                   f"http://{host}:{port}/v1/persons/{info['hub_person']}")
    click.echo(f"review UI sign-in: http://{host}:{port}/review/sign-in  user name: demo-steward  "
               f"token: {info['steward_token']}")
    click.echo(f"worklist sign-in:  http://{host}:{port}/review/sign-in  user name: demo-coordinator  "
               f"token: {info['coordinator_token']}")
    click.echo(f"administer it while it runs: mpi --url http://{host}:{port} --token {info['admin_token']} users list")
    if not no_serve:
        ctx.invoke(serve, host=host, port=port)

