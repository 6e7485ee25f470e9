"""The demo index: a seeded synthetic population loaded once, a referral network over it, and demo users.

``mpi demo`` (and so ``make demo``) must work on a fresh machine with nothing
but the project, so the people come from :mod:`mpi.synth.generator` in memory, never
from files outside the repository. Every record goes through the same decision
path as the API and ``mpi load``; then :mod:`mpi.synth.referral_demo` adds
organisations and a week of referrals, and :mod:`mpi.synth.review_demo` gives the
review queue a steward's variety (every priority, fresh and overdue, holds). A store that already holds records is left
as it is: running the demo again only issues new tokens for the demo users (a
token is shown once and stored as its hash, so the old ones cannot be printed).

On a :class:`~mpi.clock.ReplayClock` (what ``mpi demo`` runs on) the records
arrive between :data:`ARRIVALS` ago, and the referrals over the week after.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from datetime import timedelta

from mpi.auth import Caller, add_user
from mpi.clock import ReplayClock
from mpi.identity.loading import PreparedRows, load
from mpi.records.fields import RECORD_FIELDS
from mpi.synth.generator import generate_records
from mpi.synth.referral_demo import build_network
from mpi.synth.review_demo import stage_queue
from mpi.vocab import AuditAction, EntityType, Role

if TYPE_CHECKING:
    from mpi.services import Services

logger = logging.getLogger(__name__)

#: Seed of the demo population: the same demo index on every machine.
DEMO_SEED = 7
#: Records between two lines of progress.
PROGRESS_EVERY = 200
#: The demo's steward (the referral network's users are in ``referral_demo.USERS``).
DEMO_USERS = (("demo-steward", Role.STEWARD), ("demo-admin", Role.ADMIN))
#: When the demo's records arrive (on a replay clock): from the first to the second, before now.
ARRIVALS = (timedelta(days=9), timedelta(days=7))


def build_demo(
    services: Services, people: int, actor: str, echo: Callable[[str], Any] = lambda _: None,
    progress: Callable[[int], Any] | None = None,
) -> dict[str, str]:
    """Build the demo index if the store is empty, and issue fresh demo tokens.

    Args:
        services: the services over the demo store.
        people: synthetic people to generate (each has 1-6 records).
        actor: who the audit log names for the load.
        echo: where progress and the summary go (the CLI passes ``click.echo``).
        progress: called with 1 after each record is decided (a test moves its clock on by it).

    Returns:
        Bearer tokens valid until the next run: ``hub_token`` (``demo-hub``, St Mary's hub),
        ``steward_token`` (``demo-steward``), ``admin_token`` (``demo-admin``: keys, users, export and
        models through ``mpi --url``), ``coordinator_token`` (``demo-coordinator``, Metro
        Food Bank) and ``supervisor_token`` (``demo-supervisor``, the food bank's supervisor); and
        ``hub_person``, a person the hub may read (of one of St Mary's referrals).
    """
    active = services.ensure_active_model(actor)
    echo(f"active model: {active or 'none'}")
    existing = services.store.counts()
    if existing["records"]:
        echo(f"demo index already built ({existing['records']} records); not reloading")
    else:
        _load(services, people, actor, echo, progress)
    counts = services.store.counts()
    echo(f"index: {counts['persons']} persons, {counts['records']} records, "
         f"{counts['open_cases']} open review cases")
    tokens = {}
    with services.store.transaction():
        for name, role in DEMO_USERS:
            tokens[f"{role.value}_token"] = add_user(services.store, name, role.value)
            services.store.audit.append(actor, AuditAction.USER_ADDED, EntityType.USER, name, "demo token issued",
                                        {"role": role.value})
    network = build_network(services, actor, DEMO_SEED, echo)
    stage_queue(services, actor, echo)
    return {**tokens, "hub_token": network["demo-hub"], "coordinator_token": network["demo-coordinator"],
            "supervisor_token": network["demo-supervisor"], "hub_person": _a_person_of(services, "st-marys")}


def _a_person_of(services: Services, organisation: str) -> str | None:
    """A person the organisation's hub may read (minimum necessary): the person of one of its referrals."""
    hub = Caller("demo-hub", Role.HUB.value, organisation)
    referrals = services.referrals.page(hub, limit=50)["referrals"]
    return next((r["person_id"] for r in referrals if r.get("person_id")), None)


def _load(services: Services, people: int, actor: str, echo: Callable[[str], Any],
          progress: Callable[[int], Any] | None) -> None:
    """Generate the population and send it through the loop ``mpi load`` uses (``mpi.identity.loading``)."""
    # The truth column is the generator's answer key: the matcher never sees it.
    records = [{f: r[f] for f in RECORD_FIELDS} for r in generate_records(people, DEMO_SEED)]
    total = len(records)
    echo(f"building the demo index: {total} records of {people} synthetic people (seed {DEMO_SEED})")
    done = 0
    replay = services.clock if isinstance(services.clock, ReplayClock) else None
    if replay is not None:
        replay.set_behind(ARRIVALS[0])

    def step(n: int) -> None:
        nonlocal done
        done += n
        if replay is not None:
            replay.set_behind(ARRIVALS[0] - (ARRIVALS[0] - ARRIVALS[1]) * done / max(total, 1))
        if progress is not None:
            progress(n)
        if done % PROGRESS_EVERY == 0 or done == total:
            echo(f"  matched {done}/{total}")

    with PreparedRows(enumerate(records, start=1), workers=0) as rows:
        loaded = load(services.matching, rows, actor, progress=step)
    for line, fields in loaded.rejected:
        logger.warning("demo record %s rejected: invalid %s", line, ", ".join(fields))
    summary = ", ".join(f"{d} {loaded.decisions[d]}" for d in ("MATCH", "NO_MATCH", "POSSIBLE_MATCH"))
    echo(f"loaded {sum(loaded.decisions.values())} records: {summary}; rejected {len(loaded.rejected)}")
    # As `mpi load` does: records held before the rest of their person arrived are decided again.
    rematched = services.matching.rematch_open_cases(actor)
    echo(f"re-matched held records: {rematched['linked']} linked")
    # A batch dedup run over the index, as an operator would run one after a bulk load: its report and the
    # POSSIBLE_DUPLICATE cases it opens are there for the stewards.
    run = services.dedup.run(actor)
    echo(f"dedup run {run['run_id']}: {run['counts']['cases_opened']} POSSIBLE_DUPLICATE cases opened, "
         f"{run['counts']['splits']} persons it would split")
