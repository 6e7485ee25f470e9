"""Seeded synthetic people and their duplicate source records: the generator's public API.

Feeds the demo index, the test fixtures and benchmarks of up to millions of records, so it is
deterministic (one ``random.Random(seed)``, no clock, no set/dict-order dependence), streaming
(an iterator with a bounded shuffle window, so memory stays constant) and standard-library only.

The work is split by concept: :mod:`mpi.generator_population` decides who exists (households,
people, names, birth dates, addresses), :mod:`mpi.generator_sources` renders how each source
system writes a person down, :mod:`mpi.generator_sampling` holds the seeded draws both use and
:mod:`mpi.generator_data` the name, place and habit tables. This module runs them together.
"""

from __future__ import annotations

import csv
from random import Random
from typing import Iterator

from mpi.synth.population import REFERENCE_DATE, Population
from mpi.synth.sources import COLUMNS, HABITS, RECORDS_PER_PERSON, SourceSystems

__all__ = ["COLUMNS", "HABITS", "RECORDS_PER_PERSON", "REFERENCE_DATE", "SHUFFLE_WINDOW",
           "generate_records", "small_population", "write_csv"]

#: Records leave through a shuffle window of this size, so one person's records are not adjacent.
SHUFFLE_WINDOW = 4096


def generate_records(n_people: int, seed: int = 7) -> Iterator[dict[str, str]]:
    """Yield source records (RECORD_FIELDS + TRUTH_FIELD, all str, '' for missing).

    Args:
        n_people: how many true people to create; each has 1-6 records.
        seed: the only source of randomness: the same seed gives the same records in the
            same order, whatever the platform or Python hash seed.

    Returns:
        A lazy iterator; memory stays constant however many people are asked for.
    """
    if n_people < 0:
        raise ValueError("n_people must be >= 0")
    rng = Random(seed)
    # Both constructors draw id-minter starting points from rng: this order fixes the output.
    sources = SourceSystems(rng, n_people)
    population = Population(rng, n_people)
    return _shuffled(population, sources, rng)


def _shuffled(population: Population, sources: SourceSystems,
              rng: Random) -> Iterator[dict[str, str]]:
    """All records, household by household, through a fixed-size shuffle window."""
    buf, r = [], rng.random
    for household in population.households():
        batch = []
        for person in household:
            batch += sources.records_for(person)
        for rec in batch:
            if len(buf) < SHUFFLE_WINDOW:
                buf.append(rec)
            else:
                j = int(r() * SHUFFLE_WINDOW)
                yield buf[j]
                buf[j] = rec
    rng.shuffle(buf)
    yield from buf


def write_csv(path, n_people: int, seed: int = 7) -> int:
    """Write generated records as UTF-8 CSV with header RECORD_FIELDS + truth column.

    Returns:
        The number of data rows written.
    """
    rows = 0
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        for rec in generate_records(n_people, seed):
            writer.writerow(rec)
            rows += 1
    return rows


def small_population(n_people: int = 60, seed: int = 1) -> list[dict[str, str]]:
    """A small, fixed population for tests and examples."""
    return list(generate_records(n_people, seed))
