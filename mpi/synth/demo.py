"""The demo index: a seeded synthetic population loaded once, and two demo users.

``mpi demo`` (and so ``make demo``) must work on a fresh machine with nothing
but the project, so the people come from :mod:`mpi.generator` in memory, never
from files outside the repository. Every record goes through the same decision
path as the API and ``mpi load``. A store that already holds records is left as
it is: running the demo again only issues new tokens for the demo users (a
token is shown once and stored as its hash, so the old ones cannot be printed).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

from mpi.auth import Role, add_user
from mpi.errors import ValidationError
from mpi.records.fields import RECORD_FIELDS
from mpi.services import Services
from mpi.synth.generator import generate_records

logger = logging.getLogger(__name__)

#: Seed of the demo population: the same demo index on every machine.
DEMO_SEED = 7
#: Records per transaction, as ``mpi load`` does.
BATCH = 200
#: The demo users and their roles.
DEMO_USERS = (("demo-hub", Role.HUB), ("demo-steward", Role.STEWARD))


def build_demo(
    services: Services, people: int, actor: str, echo: Callable[[str], Any] = lambda _: None
) -> dict[str, str]:
    """Build the demo index if the store is empty, and issue fresh demo tokens.

    Args:
        services: the services over the demo store.
        people: synthetic people to generate (each has 1-6 records).
        actor: who the audit log names for the load.
        echo: where progress and the summary go (the CLI passes ``click.echo``).

    Returns:
        ``{"hub_token": ..., "steward_token": ...}``: bearer tokens for ``demo-hub``
        (role hub) and ``demo-steward`` (role steward), valid until the next run.
    """
    active = services.ensure_active_model(actor)
    echo(f"active model: {active or 'none'}")
    existing = services.store.counts()
    if existing["records"]:
        echo(f"demo index already built ({existing['records']} records); not reloading")
    else:
        _load(services, people, actor, echo)
    counts = services.store.counts()
    echo(f"index: {counts['persons']} persons, {counts['records']} records, "
         f"{counts['open_cases']} open review cases")
    tokens = {}
    with services.store.transaction():
        for name, role in DEMO_USERS:
            tokens[f"{role.value}_token"] = add_user(services.store, name, role.value)
            services.store.audit(actor, "user.added", "user", name, "demo token issued", {"role": role.value})
    return tokens


def _load(services: Services, people: int, actor: str, echo: Callable[[str], Any]) -> None:
    """Generate the population and submit it in transactions of :data:`BATCH` records."""
    # The truth column is the generator's answer key: the matcher never sees it.
    records = [{f: r[f] for f in RECORD_FIELDS} for r in generate_records(people, DEMO_SEED)]
    total = len(records)
    echo(f"building the demo index: {total} records of {people} synthetic people (seed {DEMO_SEED})")
    decisions: Counter[str] = Counter()
    rejected = 0
    for start in range(0, total, BATCH):
        with services.store.transaction():
            for raw in records[start:start + BATCH]:
                try:
                    decisions[services.matching.submit(raw, actor, strict=False)["decision"]] += 1
                except ValidationError as e:
                    rejected += 1
                    logger.warning("demo record %s/%s rejected: invalid %s", raw["source_system"],
                                   raw["source_record_id"], ", ".join(sorted(e.errors)))
        echo(f"  matched {min(start + BATCH, total)}/{total}")
    summary = ", ".join(f"{d} {decisions[d]}" for d in ("MATCH", "NO_MATCH", "POSSIBLE_MATCH"))
    echo(f"loaded {sum(decisions.values())} records: {summary}; rejected {rejected}")
    # As `mpi load` does: records held before the rest of their person arrived are decided again.
    rematched = services.matching.rematch_open_cases(actor)
    echo(f"re-matched held records: {rematched['linked']} linked")
