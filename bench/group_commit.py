"""Group commit without HTTP: concurrent writers in one process, a transaction each against one shared by a group.

``--clients`` threads (16) submit the records of ``bench/load.py``'s work (``--people`` generated humans,
seed 14: the records of one human sent by different threads at once) through ``TrustedReads.submit``, as
``POST /v1/records`` does, on a fresh store of its own per mode: ``each`` runs every writer's unit in a
transaction of its own under the writer lock (the way before group commit), ``grouped`` through
``Store.grouped``. Printed per mode: records/s, p50/p99 ms, commits and records a commit, persons made.
Both modes run in one process one after the other, so a crowded machine crowds both alike (less so than a
run each). What HTTP adds is ``bench/load.py``'s.

Run: ``.venv/bin/python bench/group_commit.py`` (``--help`` for the options).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import load  # noqa: E402
from latency import pct  # noqa: E402

MODES = ("each", "grouped")


def run(mode: str, folder: Path, records: list[dict], clients: int) -> dict:
    from mpi.auth import Caller
    from mpi.services import Services

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    db = folder / "store.duckdb"
    load.build_store(db)
    services = Services({"MPI_DB": str(db)})
    try:
        store = services.store
        if mode == "each":  # the way before: every writer's unit in a transaction of its own
            def alone(work):
                with store.transaction():
                    return work()
            store.db.group.run = alone
        hub = Caller("hub-st-marys", "hub", "st-marys")
        queue, lock, latencies = iter(records), threading.Lock(), []

        def client() -> None:
            while True:
                with lock:
                    r = next(queue, None)
                if r is None:
                    return
                t0 = time.perf_counter()
                services.trust.submit(r, hub)
                ms = (time.perf_counter() - t0) * 1000
                with lock:
                    latencies.append(ms)

        threads = [threading.Thread(target=client) for _ in range(clients)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
        group = store.db.group
        commits = group.groups if mode == "grouped" else len(latencies)
        return {"mode": mode, "records": len(latencies), "seconds": round(elapsed, 1),
                "per_s": round(len(latencies) / elapsed, 1), "p50_ms": round(pct(latencies, 50), 1),
                "p99_ms": round(pct(latencies, 99), 1), "commits": commits,
                "per_commit": round(len(latencies) / max(commits, 1), 1), "persons": store.counts()["persons"]}
    finally:
        services.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--people", type=int, default=300, help="generated humans (their records are the work)")
    parser.add_argument("--folder", type=Path, default=load.bulk.CACHE / "group_commit")
    args = parser.parse_args(argv)
    work = load.Work(load.humans(args.people, 14), 14)
    records = []
    while (task := work.take()) is not None:
        if task[0] == "record":
            records.append(task[1])
    print(f"{len(records)} records of {args.people} humans, {args.clients} threads")
    print(f"  {'mode':<9}{'records/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'commits':>9}{'a commit':>10}{'persons':>9}")
    for mode in MODES:
        f = run(mode, args.folder / mode, records, args.clients)
        print(f"  {mode:<9}{f['per_s']:>10}{f['p50_ms']:>9}{f['p99_ms']:>9}{f['commits']:>9}{f['per_commit']:>10}"
              f"{f['persons']:>9}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
