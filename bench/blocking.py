"""Blocking recall: which true pairs the blocking keys put in front of the scorer, and at what cost.

On a labelled set (default people_dev) every record queries the others the way
the online path does (its query keys against every record's stored keys, a key
holding more than the bound skipped), and this prints the true pairs found, the
mean candidate records per query and, per key type, the true pairs sharing it,
those found only through it, the candidates it brings and its largest block.

With ``--store N`` it also measures a latency-benchmark store of N generated
persons (``bench/bulk.py``): for each held-out query, the candidate records it
meets and whether its true person is among them (at a million persons the coarse
keys' blocks pass the bound, which people_dev is too small to show).

Run: ``.venv/bin/python bench/blocking.py [--store 1000000]``.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bulk  # noqa: E402

from mpi import settings
from mpi.errors import ValidationError  # noqa: E402
from mpi.matching import blocking  # noqa: E402
from mpi.records.fields import RECORD_FIELDS  # noqa: E402
from mpi.records.normalise import normalise_record  # noqa: E402
from mpi.records.validation import validate_record  # noqa: E402

DEFAULT_DATA = bulk.ROOT.parent / "shared" / "data" / "people_dev"


def _norm(row: dict) -> dict | None:
    try:
        return normalise_record(validate_record({f: row.get(f) or None for f in RECORD_FIELDS}, strict=False))
    except ValidationError:
        return None


def _kind(key: str) -> str:
    return key.split(":", 1)[0]


def labelled(folder: Path, bound: int) -> dict:
    """Blocking recall and cost on a labelled set (``records.csv`` with ``truth_person_id``)."""
    norms, truth = {}, {}
    with open(folder / "records.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if (norm := _norm(row)) is not None:
                uid = (row["source_system"], row["source_record_id"])
                norms[uid], truth[uid] = norm, row["truth_person_id"]
    postings: dict[str, list] = defaultdict(list)
    for uid, norm in norms.items():
        for key in dict.fromkeys(blocking.record_keys(norm)):
            postings[key].append(uid)
    found: dict[tuple, set[str]] = defaultdict(set)
    candidates, brought, largest = 0, Counter(), Counter()
    for key, posted in postings.items():
        largest[_kind(key)] = max(largest[_kind(key)], len(posted))
    for uid, norm in norms.items():
        seen = set()
        for key in dict.fromkeys(blocking.query_keys(norm)):
            posted = postings.get(key)
            if not posted or len(posted) > blocking.block_bound(key, bound):
                continue
            brought[_kind(key)] += len(posted) - (uid in posted)
            for other in posted:
                if other != uid:
                    seen.add(other)
                    if truth[other] == truth[uid]:
                        found[min(uid, other), max(uid, other)].add(_kind(key))
        candidates += len(seen)
    by_person = Counter(truth.values())
    true_pairs = sum(n * (n - 1) // 2 for n in by_person.values())
    return {"records": len(norms), "true_pairs": true_pairs, "found": len(found),
            "candidates_per_query": candidates / len(norms),
            "kinds": {k: {"share": sum(k in v for v in found.values()),
                          "only": sum(v == {k} for v in found.values()),
                          "candidates_per_query": brought[k] / len(norms), "largest_block": largest[k]}
                      for k in sorted(largest)}}


def store(n_people: int, bound: int) -> dict:
    """Candidates per held-out query and whether its true person is among them, on a benchmark store."""
    from mpi.services import Services

    folder = bulk.build(n_people)
    services = Services({"MPI_DB": str(folder / "store.duckdb")})
    try:
        index = services.matching.index()
        person_of = dict(csv.reader(open(folder / "persons.csv", newline="", encoding="utf-8")))
        counts, found, duplicates = [], 0, 0
        with open(folder / "query.csv", newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                if (norm := _norm(row)) is None:
                    continue
                persons = index.candidate_persons(blocking.query_keys(norm), bound)
                counts.append(sum(len(members) for _, members in persons))
                if (true := person_of.get(row["truth_person_id"])) is not None:
                    duplicates += 1
                    found += any(person_id == true for person_id, _ in persons)
    finally:
        services.close()
    counts.sort()
    return {"persons": len(index.persons), "queries": len(counts), "duplicates": duplicates, "found": found,
            "mean": sum(counts) / len(counts), "p95": counts[int(0.95 * len(counts))],
            "p99": counts[int(0.99 * len(counts))]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with a labelled records.csv")
    parser.add_argument("--bound", type=int, default=int(settings.get("MPI_MAX_BLOCK_SIZE")),
                        help="most records a key may fetch (MPI_MAX_BLOCK_SIZE)")
    parser.add_argument("--store", type=int, nargs="*", default=[], help="also measure these benchmark store sizes")
    args = parser.parse_args()
    r = labelled(args.data, args.bound)
    print(f"{args.data.name}: {r['records']} records, blocking keys v{blocking.BLOCKING_VERSION}, bound {args.bound}")
    print(f"blocking recall {r['found']}/{r['true_pairs']} true pairs ({r['found'] / r['true_pairs']:.2%}),"
          f" {r['true_pairs'] - r['found']} share no key; {r['candidates_per_query']:.1f} candidate records per query")
    print(f"{'key':>5} {'true pairs':>10} {'only by it':>10} {'cand./query':>11} {'largest block':>13}")
    for kind, k in sorted(r["kinds"].items(), key=lambda kv: -kv[1]["share"]):
        print(f"{kind:>5} {k['share']:>10} {k['only']:>10} {k['candidates_per_query']:>11.1f} {k['largest_block']:>13}")
    for n in args.store:
        s = store(n, args.bound)
        print(f"\nstore of {s['persons']} persons: {s['queries']} queries meet {s['mean']:.1f} candidate records"
              f" (p95 {s['p95']}, p99 {s['p99']}); the true person is among them for {s['found']} of"
              f" {s['duplicates']} duplicates")


if __name__ == "__main__":
    main()
