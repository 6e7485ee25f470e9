"""Large benchmark stores, built in minutes instead of hours, and cached under var/bench/.

Loading a million generated people (about 2.6 million records) one record at a
time through the decision path would take hours, and what the latency benchmark
needs is an index of that size, not a replay of how it was decided. This
builder therefore writes every record **already linked to its generated
person** (the truth column): one person per true person, every record linked
``AUTO``/``MATCH`` under the active model, with the same rows, blocking keys,
audit events and golden views the decision path would write, through the
store's own table gateways, in transactions of :data:`BATCH` records. Validation and
normalisation (most of the cost) run in a pool of worker processes.

It is a benchmark fixture, not a product feature: a real index holds the
decisions the model made (some records in review, some people split), while
this one holds the truth. For retrieval that is, if anything, the harder case:
every record is linked, so every posted record is a candidate.

Some records are held out of the store, chosen by a seeded hash of the person
and the record (so every size and re-run picks the same way): the queries of
the latency benchmark (``queries.csv``) and the input of the ``mpi load``
benchmark (``load.csv``, a few thousand records, and ``load_large.csv``, some thirty thousand, for the sustained
rate). A held-out record whose person has other records in
the store is a fresh duplicate; one whose person has none is a new person.

With ``split_rate`` above 0 (the batch dedup benchmark, ``bench/dedup.py``) a
seeded share of the stored records are each given a person of their own instead
of their true person's: records loaded before the model was good, left as
duplicates for a dedup run to find. Every build writes ``records.csv``, each
stored record's key and generated truth, to score such a run against.

Run alone: ``.venv/bin/python bench/bulk.py --people 100000``.
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import os
import shutil
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "var" / "bench"
#: Bump when the way stores are built or records held out changes: cached stores are rebuilt.
BUILD_VERSION = 3
#: Records written per store transaction.
BATCH = 50_000
#: Records validated and normalised per task sent to a worker process.
CHUNK = 2_000
#: About this many persons are chosen to give query records, and this many records are held out for `mpi load`.
QUERY_PERSONS = 320
LOAD_RECORDS = 3_000
#: About this many records are held out for a larger `mpi load` (``load_large.csv``: the sustained rate).
LARGE_LOAD_RECORDS = 30_000
ACTOR = "bench:bulk"


def store_dir(n_people: int, seed: int, split_rate: float = 0.0) -> Path:
    """Where the store of one size, seed and split rate is cached (no split: the name it always had)."""
    split = f"-split{split_rate:g}" if split_rate else ""
    return CACHE / f"people{n_people}-seed{seed}{split}-v{BUILD_VERSION}"


def copy_store(source: Path, target: Path) -> Path:
    """A fresh copy of the store in ``source`` as ``target`` (emptied first); returns the copy's file.

    The write-ahead log goes with it: a server that did not shut down cleanly leaves its last writes there.
    So does the candidate index's saved base, which the copy's first start maps if it is still current.
    """
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    db = target / "store.duckdb"
    shutil.copy(source / "store.duckdb", db)
    if (source / "store.duckdb.wal").exists():
        shutil.copy(source / "store.duckdb.wal", target / "store.duckdb.wal")
    if (source / "store.duckdb.index").is_dir():  # the candidate index's saved base (used only if still current)
        shutil.copytree(source / "store.duckdb.index", target / "store.duckdb.index")
    # On disk before anything is timed: the first commit of a command over the copy would otherwise wait while the
    # system writes back the gigabytes just copied (at 1M persons, `mpi load` of 2,992 records took 10.6-15.9 s
    # right after the copy against 9.7-12.3 s after this, in one run of two each).
    os.sync()
    return db


def _unit(text: str) -> float:
    """A stable number in [0, 1) for a text (crc32: the same on every platform and hash seed)."""
    return zlib.crc32(text.encode()) / 2**32


def _role(record: dict[str, str], query_rate: float, load_rate: float, large_rate: float = 0.0) -> str:
    """``store``, ``query``, ``load`` or ``load_large``: half the records (by record hash) of a few chosen persons
    are held out (the persons of each role by a range of their hash, so a role added later moves no other)."""
    person = _unit(record["truth_person_id"])
    if (person >= query_rate + load_rate + large_rate
            or _unit(record["source_system"] + "/" + record["source_record_id"]) < 0.5):
        return "store"
    if person < query_rate:
        return "query"
    return "load" if person < query_rate + load_rate else "load_large"


def _split(record: dict[str, str], seed: int, split_rate: float) -> bool:
    """Whether a stored record is given a person of its own (seeded by the record's key, not its place in the run)."""
    return _unit(f"split/{seed}/{record['source_system']}/{record['source_record_id']}") < split_rate


def _prepare(chunk: list[dict[str, str]]) -> list[tuple]:
    """Worker: validate, normalise and key records (exactly as ``MatchService.submit`` does)."""
    from mpi.errors import ValidationError
    from mpi.matching import blocking
    from mpi.records.fields import RECORD_FIELDS
    from mpi.records.normalise import normalise_record
    from mpi.records.validation import validate_record

    out = []
    for raw in chunk:
        try:
            record = validate_record({f: raw[f] for f in RECORD_FIELDS}, strict=False)
        except ValidationError:
            out.append(None)
            continue
        norm = normalise_record(record)
        out.append((record, norm, blocking.record_keys(norm), raw["truth_person_id"]))
    return out


def _chunks(records: Iterator[dict[str, str]], held: dict[str, list], query_rate: float,
            load_rate: float, large_rate: float) -> Iterator[list[dict[str, str]]]:
    chunk = []
    for raw in records:
        role = _role(raw, query_rate, load_rate, large_rate)
        if role != "store":
            held[role].append(raw)
            continue
        chunk.append(raw)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def build(n_people: int, seed: int = 7, workers: int = 2, echo=print, split_rate: float = 0.0) -> Path:
    """Build (or find cached) the store of ``n_people`` generated people; returns its folder.

    Args:
        split_rate: the share of stored records linked each to a new person of its own rather than to their true
            person's (0: every record with its true person).
    """
    if not 0.0 <= split_rate < 1.0:
        raise ValueError("split_rate must be in [0, 1)")
    folder = store_dir(n_people, seed, split_rate)
    if (folder / "build.json").exists():
        return folder
    from mpi.identity.upkeep import BLOCKING_KEY, NORMALISATION_KEY
    from mpi.identity.survivorship import golden_view
    from mpi.matching import blocking
    from mpi.records.normalise import NORMALISATION_VERSION
    from mpi.services import Services
    from mpi.synth.generator import COLUMNS, generate_records
    from mpi.vocab import AuditAction, Decision, EntityType, LinkSource

    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    services = Services({"MPI_DB": str(tmp / "store.duckdb")})
    store = services.store
    version = services.ensure_active_model(ACTOR)
    query_rate = min(0.2, QUERY_PERSONS / max(n_people, 1))
    load_rate = min(0.2, LOAD_RECORDS / 1.3 / max(n_people, 1))
    large_rate = min(0.2, LARGE_LOAD_RECORDS / 1.3 / max(n_people, 1))
    held: dict[str, list] = {"query": [], "load": [], "load_large": []}
    persons: dict[str, str] = {}
    truth_rows: list[tuple[str, str, str]] = []
    stored = rejected = split = 0
    started = time.perf_counter()
    echo(f"building {folder.name}: {n_people} people, seed {seed}, split rate {split_rate:g}, {workers} workers")
    context = multiprocessing.get_context("fork")
    with context.Pool(workers) as pool:
        prepared = pool.imap(_prepare, _chunks(generate_records(n_people, seed), held, query_rate, load_rate,
                                                          large_rate))
        done = False
        while not done:
            with store.transaction():
                in_batch = 0
                while in_batch < BATCH:
                    chunk = next(prepared, None)
                    if chunk is None:
                        done = True
                        break
                    for item in chunk:
                        if item is None:
                            rejected += 1
                            continue
                        record, norm, keys, truth = item
                        key = (record["source_system"], record["source_record_id"])
                        entity = "/".join(key)
                        truth_rows.append((*key, truth))
                        own = split_rate and _split(record, seed, split_rate)
                        person_id = None if own else persons.get(truth)
                        if person_id is None:
                            person_id = store.persons.create({})
                            if own:
                                split += 1
                            else:
                                persons[truth] = person_id
                            store.audit.append(ACTOR, AuditAction.PERSON_CREATED, EntityType.PERSON, person_id,
                                               None, {"record": entity})
                        store.records.put(*key, record, norm, keys)
                        store.audit.append(ACTOR, AuditAction.RECORD_CREATED, EntityType.RECORD, entity, None,
                                           {"model_version": version})
                        store.persons.set_link(*key, person_id, Decision.MATCH.value, LinkSource.AUTO.value, None,
                                               None, [], version)
                        store.audit.append(ACTOR, AuditAction.LINK_CREATED, EntityType.RECORD, entity,
                                           "bench bulk load (truth)", {"person_id": person_id, "model_version": version})
                    in_batch += len(chunk)
                    stored += len(chunk)
            echo(f"  {stored} records, {len(persons)} persons ({time.perf_counter() - started:.0f} s)")
    # Normalised and keyed by today's rules, as the store records it: the first index build need not
    # normalise or key every record again (``mpi.identity.upkeep``).
    store.meta.set(NORMALISATION_KEY, str(NORMALISATION_VERSION))
    store.meta.set(BLOCKING_KEY, str(blocking.BLOCKING_VERSION))
    written = time.perf_counter() - started
    t0 = time.perf_counter()
    index = services.matching.index()
    index_seconds = time.perf_counter() - t0
    echo(f"  index built in {index_seconds:.1f} s; writing golden views")
    ids = list(index.persons)
    for start in range(0, len(ids), BATCH):
        with store.transaction():
            for person_id in ids[start:start + BATCH]:
                members = index.person_entries(person_id)
                store.persons.set_golden(person_id, golden_view([{"norm": e.norm, "updated_at": e.updated_at}
                                                                 for _, e in members]))
    services.close()
    with open(tmp / "persons.csv", "w", newline="", encoding="utf-8") as f:  # the truth, to score retrieval
        writer = csv.writer(f)
        writer.writerow(["truth_person_id", "person_id"])
        writer.writerows(persons.items())
    with open(tmp / "records.csv", "w", newline="", encoding="utf-8") as f:  # every stored record's truth
        writer = csv.writer(f)
        writer.writerow(["source_system", "source_record_id", "truth_person_id"])
        writer.writerows(truth_rows)
    for role, rows in held.items():
        with open(tmp / f"{role}.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
    info = {
        "people_generated": n_people, "seed": seed, "split_rate": split_rate, "build_version": BUILD_VERSION,
        "model": version,
        "normalisation_version": NORMALISATION_VERSION, "blocking_version": blocking.BLOCKING_VERSION,
        "records_stored": stored - rejected, "records_rejected": rejected, "persons": len(persons) + split,
        "records_split": split, "records_per_person": round((stored - rejected) / max(len(persons) + split, 1), 3),
        "query_records": len(held["query"]),
        "query_duplicates": sum(r["truth_person_id"] in persons for r in held["query"]),
        "load_records": len(held["load"]),
        "load_duplicates": sum(r["truth_person_id"] in persons for r in held["load"]),
        "load_large_records": len(held["load_large"]),
        "write_seconds": round(written, 1), "index_build_seconds": round(index_seconds, 1),
        "total_seconds": round(time.perf_counter() - started, 1),
    }
    (tmp / "build.json").write_text(json.dumps(info, indent=1) + "\n")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    echo(f"  built in {info['total_seconds']} s: {json.dumps(info)}")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, nargs="+", default=[10_000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--split-rate", type=float, default=0.0,
                        help="share of stored records given a person of their own (duplicates for bench/dedup.py)")
    args = parser.parse_args()
    for n in args.people:
        print(build(n, args.seed, args.workers, split_rate=args.split_rate), file=sys.stdout)


if __name__ == "__main__":
    main()
