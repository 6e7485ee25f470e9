"""The candidate index's base: built from the store, saved, mapped; retrieval from it beside retrieval in SQL.

On a copy of a store built by ``bench/bulk.py`` (its first size by default), in this process:

1. **Base from the store**: ``RecordTable.index_columns`` read as Arrow and made into columns
   (``Snapshot.from_columns``), then saved beside the store; seconds and resident memory.
2. **Base mapped**: ``Snapshot.open`` of the saved folder (what a start does when the snapshot is
   current); seconds, and resident memory before and after the queries touch it.
3. **Object index** (``--objects``): the index of one Python object per record that start-up built
   before (``CandidateIndex.from_rows`` over ``Store.index_rows``), for comparison.
4. **Retrieval** for each held-out query record (its candidate persons with every member record):
   from the compact index, and from the store's own DuckDB tables in one SQL statement over
   ``blocking_keys``, ``links`` and ``source_records`` (the alternative issue 19 names), with the
   members' normalised forms parsed as the scorer needs them. Both must find the same persons.

Run: ``PYTHONPATH=. .venv/bin/python bench/index_base.py --size 100000``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bulk  # noqa: E402
from latency import pct, read_queries, rss_mb  # noqa: E402

#: Candidate persons with their records, for one query's blocking keys and bounds, from the store's tables.
SQL = """
WITH q AS (SELECT unnest(?) AS block_key, unnest(?) AS bound),
     sized AS (SELECT b.block_key FROM blocking_keys b JOIN q USING (block_key)
               GROUP BY b.block_key, q.bound HAVING count(*) <= q.bound),
     found AS (SELECT DISTINCT l.person_id FROM blocking_keys b JOIN sized USING (block_key)
               JOIN links l USING (source_system, source_record_id))
SELECT l.person_id, r.source_system, r.source_record_id, CAST(r.norm AS VARCHAR)
FROM found JOIN links l USING (person_id) JOIN source_records r USING (source_system, source_record_id)
ORDER BY l.person_id, r.source_system, r.source_record_id
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=100_000, help="generated persons of the bench store")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--objects", action="store_true", help="also build the object index of before (slow, big)")
    args = parser.parse_args()

    from mpi.identity import index_snapshot, upkeep
    from mpi.identity.index import CandidateIndex
    from mpi.matching import blocking
    from mpi.matching.comparisons import FREQUENCY_COLUMNS
    from mpi.records.normalise import normalise_record
    from mpi.records.validation import validate_record
    from mpi.services import Services

    folder = bulk.store_dir(args.size, args.seed)
    db = bulk.copy_store(folder, bulk.CACHE / "index-base-run")
    shutil.rmtree(f"{db}.index", ignore_errors=True)
    services = Services({"MPI_DB": str(db)})
    store, out = services.store, {}
    bound = services.matching.max_block_size

    rss0 = rss_mb(os.getpid())["VmRSS"]
    t0 = time.perf_counter()
    with store.transaction():
        stamp = upkeep._stamp(store)
        columns = store.records.index_columns(FREQUENCY_COLUMNS)
        t_read = time.perf_counter() - t0
        base = index_snapshot.Snapshot.from_columns(columns, stamp)
    t_cold = time.perf_counter() - t0
    peak = rss_mb(os.getpid())["VmRSS"] - rss0
    del columns
    t0 = time.perf_counter()
    base.save(index_snapshot.folder_of(str(db)))
    t_save = time.perf_counter() - t0
    bytes_on_disk = sum(p.stat().st_size for p in index_snapshot.folder_of(str(db)).iterdir())
    del base
    gc.collect()
    rss1 = rss_mb(os.getpid())["VmRSS"]
    t0 = time.perf_counter()
    index = CandidateIndex(index_snapshot.Snapshot.open(index_snapshot.folder_of(str(db))))
    t_open = time.perf_counter() - t0
    rss_open = rss_mb(os.getpid())["VmRSS"] - rss1
    out["base"] = {"records": len(index.entries), "persons": len(index.persons), "read_s": round(t_read, 2),
                   "cold_build_s": round(t_cold, 2), "cold_rss_mb": round(peak), "save_s": round(t_save, 2),
                   "disk_mb": round(bytes_on_disk / 2**20), "open_s": round(t_open, 3), "open_rss_mb": round(rss_open)}
    print(f"base: {json.dumps(out['base'])}", flush=True)

    queries = []
    for q in read_queries(folder)[: args.queries]:
        norm = normalise_record(validate_record(q))
        keys = list(blocking.query_keys(norm))
        queries.append((keys, [blocking.block_bound(k, bound) for k in keys]))
    compact, sql, found_c, found_s = [], [], [], []
    for keys, _ in queries[:20]:  # warm-up
        index.candidate_persons(keys, bound)
    for keys, _ in queries:
        t0 = time.perf_counter()
        found = index.candidate_persons(keys, bound)
        compact.append((time.perf_counter() - t0) * 1000)
        found_c.append(sorted((p, tuple(e.key for e in m)) for p, m in found))
    out["rss_after_queries_mb"] = round(rss_mb(os.getpid())["VmRSS"] - rss1)  # (before DuckDB reads for the SQL)
    for keys, bounds in queries:
        t0 = time.perf_counter()
        rows = store.db.query(SQL, [keys, bounds])
        persons: dict[str, list] = {}
        for person_id, system, record_id, norm in rows:
            norm = json.loads(norm)
            persons.setdefault(person_id, []).append(((system, record_id), tuple(norm), tuple(norm.values())))
        sql.append((time.perf_counter() - t0) * 1000)
        found_s.append(sorted((p, tuple(k for k, _, _ in m)) for p, m in persons.items()))
    same = sum(a == b for a, b in zip(found_c, found_s))
    out["retrieval_ms"] = {name: {"p50": round(pct(t, 50), 3), "p99": round(pct(t, 99), 3)}
                           for name, t in (("compact", compact), ("sql", sql))}
    out["retrieval_same"] = f"{same}/{len(queries)}"
    print(f"retrieval: {json.dumps(out['retrieval_ms'])}, same persons and records: {out['retrieval_same']},"
          f" RSS grown by the mapped base after the queries: {out['rss_after_queries_mb']} MB", flush=True)

    if args.objects:
        del index
        gc.collect()
        rss2 = rss_mb(os.getpid())["VmRSS"]
        t0 = time.perf_counter()
        with store.transaction():
            objects = CandidateIndex.from_rows(store.records.index_rows())
        out["objects"] = {"build_s": round(time.perf_counter() - t0, 1),
                          "rss_mb": round(rss_mb(os.getpid())["VmRSS"] - rss2)}
        times = []
        for keys, _ in queries:
            t0 = time.perf_counter()
            objects.candidate_persons(keys, bound)
            times.append((time.perf_counter() - t0) * 1000)
        out["objects"]["retrieval_ms"] = {"p50": round(pct(times, 50), 3), "p99": round(pct(times, 99), 3)}
        print(f"object index: {json.dumps(out['objects'])}", flush=True)
    services.close()
    path = Path(__file__).resolve().parent / "out" / f"index-base-{args.size}.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"written {path}")


if __name__ == "__main__":
    main()
