"""Seeded synthetic people and their duplicate source records: the generator's public API.

Feeds the demo index, the test fixtures and benchmarks of up to millions of records, so it is
deterministic (one ``random.Random(seed)``, no clock, no set/dict-order dependence), streaming
(an iterator with a bounded shuffle window, so memory stays constant) and standard-library only.

The work is split by concept: :mod:`mpi.synth.population` decides who exists (households,
people, names, birth dates, addresses), :mod:`mpi.synth.sources` renders how each source
system writes a person down, :mod:`mpi.synth.sampling` holds the seeded draws both use and
:mod:`mpi.synth.names` / :mod:`mpi.synth.places` the name, place and habit tables. This module
runs them together.

Two profiles: ``standard`` (six source systems, four metros; the demo, fixtures and tests rely
on its exact output, so it never changes) and ``varied``, harder and more varied, for measuring
a matcher on data it was not tuned on: twelve source systems, seven metros (``metros`` picks
some), transliterated and double surnames, identifier typos and placeholders, moves with new
phones, shared family contacts, same-name neighbours, more twins and Jr/Sr pairs
(:mod:`mpi.synth.varied_population`, :mod:`mpi.synth.varied_sources`). Either can also list its
hard cases (:mod:`mpi.synth.hard_cases`).
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from random import Random

from mpi.synth.hard_cases import HEADER as HARD_CASES_HEADER
from mpi.synth.hard_cases import HardCases
from mpi.synth.population import REFERENCE_DATE, Population
from mpi.synth.sources import COLUMNS, HABITS, RECORDS_PER_PERSON, SourceSystems
from mpi.synth.varied_population import ALL_METROS, VariedPopulation
from mpi.synth.varied_sources import VariedSourceSystems

__all__ = ["COLUMNS", "HABITS", "HARD_CASES_HEADER", "METROS", "PROFILES", "RECORDS_PER_PERSON",
           "REFERENCE_DATE", "SHUFFLE_WINDOW", "generate_records", "small_population",
           "write_csv", "write_population"]

#: Records leave through a shuffle window of this size, so one person's records are not adjacent.
SHUFFLE_WINDOW = 4096
#: Generator profiles: "standard" never changes; "varied" is harder (see the module docstring).
PROFILES = ("standard", "varied")
#: Metro names the varied profile's ``metros`` setting accepts (all of them by default).
METROS = tuple(ALL_METROS)


def generate_records(n_people: int, seed: int = 7, profile: str = "standard", *,
                     metros: tuple[str, ...] | None = None) -> Iterator[dict[str, str]]:
    """Yield source records (RECORD_FIELDS + TRUTH_FIELD, all str, '' for missing).

    Args:
        n_people: how many true people to create; each has 1-6 records.
        seed: the only source of randomness: the same seed gives the same records in the
            same order, whatever the platform or Python hash seed.
        profile: "standard" or "varied" (``PROFILES``).
        metros: varied profile only: the metros people live in (names from ``METROS``);
            None for all of them.

    Returns:
        A lazy iterator; memory stays constant however many people are asked for.

    Raises:
        ValueError: a negative count, an unknown profile or metro, or metros for "standard".
    """
    return _generate(n_people, seed, profile, metros, None)


def _generate(n_people: int, seed: int, profile: str, metros, observe: Callable | None):
    if n_people < 0:
        raise ValueError("n_people must be >= 0")
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; one of {', '.join(PROFILES)}")
    if metros is not None:
        unknown = [m for m in metros if m not in ALL_METROS]
        if profile != "varied" or not metros or unknown:
            raise ValueError("metros is a setting of the varied profile: one or more of "
                             + ", ".join(METROS)
                             + (f" (unknown: {', '.join(unknown)})" if unknown else ""))
        metros = tuple(dict.fromkeys(metros))
    rng = Random(seed)
    # Both constructors draw id-minter starting points from rng: this order fixes the output.
    if profile == "standard":
        sources, population = SourceSystems(rng, n_people), Population(rng, n_people)
    else:
        sources = VariedSourceSystems(rng, n_people)
        population = VariedPopulation(rng, n_people, metros)
    return _shuffled(population, sources, rng, observe)


def _shuffled(population: Population, sources: SourceSystems, rng: Random,
              observe: Callable | None = None) -> Iterator[dict[str, str]]:
    """All records, household by household, through a fixed-size shuffle window.

    ``observe(household, records)``, if given, sees each household's people and their records
    (a list per person) before they enter the window: how hard cases are collected.
    """
    buf, r = [], rng.random
    for household in population.households():
        per_person = [sources.records_for(person) for person in household]
        if observe is not None:
            observe(household, per_person)
        for rec in (rec for records in per_person for rec in records):
            if len(buf) < SHUFFLE_WINDOW:
                buf.append(rec)
            else:
                j = int(r() * SHUFFLE_WINDOW)
                yield buf[j]
                buf[j] = rec
    rng.shuffle(buf)
    yield from buf


def write_csv(path, n_people: int, seed: int = 7, profile: str = "standard", *,
              hard_cases=None, metros: tuple[str, ...] | None = None) -> int:
    """Write generated records as UTF-8 CSV with header RECORD_FIELDS + truth column.

    Args:
        path: the records CSV to write.
        n_people, seed, profile, metros: as for :func:`generate_records`.
        hard_cases: if given, a path to write the population's labelled hard pairs to, in
            people_dev's ``hard_cases.csv`` format (see :mod:`mpi.synth.hard_cases`).

    Returns:
        The number of data rows written to ``path``.
    """
    return _write(path, n_people, seed, profile, metros, hard_cases)["records"]


def write_population(folder, n_people: int, seed: int, profile: str = "varied",
                     **settings) -> dict:
    """Write ``folder/records.csv`` and ``folder/hard_cases.csv`` for one population.

    A benchmark's way to measure on populations no model was tuned on: other seeds, another
    profile, other metros (``settings``: ``metros``).

    Returns:
        ``{"people", "records", "records_per_person": {count: people}, "hard_cases":
        {kind: rows}}``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return _write(folder / "records.csv", n_people, seed, profile, settings.pop("metros", None),
                  folder / "hard_cases.csv", **settings)


def _write(path, n_people, seed, profile, metros, hard_cases_path, **unknown) -> dict:
    if unknown:
        raise ValueError(f"unknown generator settings: {', '.join(sorted(unknown))}")
    cases, sizes = HardCases(), Counter()

    def observe(household, per_person):
        sizes.update(len(records) for records in per_person)
        if hard_cases_path is not None:
            cases.observe(household, per_person)

    records = _generate(n_people, seed, profile, metros, observe)  # checks settings: no file yet
    rows = 0
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        for rec in records:
            writer.writerow(rec)
            rows += 1
    if hard_cases_path is not None:
        with open(hard_cases_path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(HARD_CASES_HEADER)
            writer.writerows(cases.rows)
    return {"people": n_people, "records": rows,
            "records_per_person": dict(sorted(sizes.items())), "hard_cases": cases.counts()}


def small_population(n_people: int = 60, seed: int = 1) -> list[dict[str, str]]:
    """A small, fixed population for tests and examples."""
    return list(generate_records(n_people, seed))
