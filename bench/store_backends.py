"""One record's intake on each store backend: DuckDB file against PostgreSQL database, in one run.

Generated people (seeded, with duplicates) are posted one at a time through ``MatchService.submit``,
each its own transaction as ``POST /v1/records`` makes it, into a new DuckDB file and into a new
PostgreSQL database (``--postgres URL`` of an existing, empty database), one after the other in
this process. It prints records/s and the p50/p95/p99 milliseconds of one submit per backend, and
the cost of translating a statement for PostgreSQL the first time (``dialect.to_postgres``, then
cached). Figures also go to ``bench/out/store_backends.json``. The machine is shared: compare the two
backends within one run, not across runs.

Run: ``PYTHONPATH=. .venv/bin/python bench/store_backends.py --postgres postgresql://mpi@127.0.0.1:5432/bench``
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from mpi.services import Services
from mpi.store import dialect
from mpi.store.records import _INDEX_ROWS
from mpi.synth.generator import generate_records

OUT = Path(__file__).parent / "out" / "store_backends.json"


def intake(location: str, records: list[dict], warmup: int) -> dict:
    """Submit every record one by one into the store at ``location``; the timings after ``warmup`` records."""
    services = Services({"MPI_DB": location})
    try:
        services.ensure_active_model("bench")
        times = []
        started = time.perf_counter()
        for i, record in enumerate(records):
            t = time.perf_counter()
            services.matching.submit(record, "bench", strict=False)
            if i >= warmup:
                times.append((time.perf_counter() - t) * 1000)
        total = time.perf_counter() - started
        persons = services.store.persons.count_active()
    finally:
        services.close()
        services.store.close()
    q = statistics.quantiles(times, n=100)
    return {"records": len(records), "persons": persons, "records_per_s": round(len(records) / total, 1),
            "p50_ms": round(q[49], 2), "p95_ms": round(q[94], 2), "p99_ms": round(q[98], 2)}


def translation_ms(sql: str, repeat: int = 20) -> float:
    """Milliseconds to translate one statement uncached (the first run of each statement pays it once)."""
    started = time.perf_counter()
    for _ in range(repeat):
        dialect.to_postgres.__wrapped__(sql)
    return round((time.perf_counter() - started) * 1000 / repeat, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", required=True, help="URL of an existing, empty PostgreSQL database")
    parser.add_argument("--people", type=int, default=300, help="generated people (records are more: duplicates)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--warmup", type=int, default=30)
    args = parser.parse_args()
    records = [{k: v for k, v in r.items() if k != "truth_person_id"}
               for r in generate_records(args.people, seed=args.seed)]
    with tempfile.TemporaryDirectory() as folder:
        results = {"duckdb": intake(str(Path(folder) / "bench.duckdb"), records, args.warmup),
                   "postgresql": intake(args.postgres, records, args.warmup)}
    results["translate_index_rows_ms"] = translation_ms(_INDEX_ROWS)
    print(f"{'backend':<11} {'records':>7} {'persons':>7} {'rec/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}")
    for name in ("duckdb", "postgresql"):
        r = results[name]
        print(f"{name:<11} {r['records']:>7} {r['persons']:>7} {r['records_per_s']:>7} {r['p50_ms']:>7} "
              f"{r['p95_ms']:>7} {r['p99_ms']:>7}")
    print(f"translating the index read for PostgreSQL (once, then cached): {results['translate_index_rows_ms']} ms")
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    sys.exit(main())
