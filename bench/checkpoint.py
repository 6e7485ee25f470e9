"""What DuckDB's checkpoint costs on a large bench store, one code tree beside another (issue 19).

A DuckDB checkpoint folds the write-ahead log into the store file. At a million persons it was
3-5 s of ``mpi load``'s 16 s (the checkpoint at close), and it stalled a served store taking
records for 5.6 s every ~4,000 records (the log reaching ``MPI_CHECKPOINT_THRESHOLD``), with
every write queued behind it. For each code tree (this one, and with ``--before REV`` the tree
of a git revision, extracted with ``git archive``), alternating ``--rounds`` times, each on a
fresh copy of the store (``bench/bulk.py``'s, never written):

1. **mpi load** of the store's ``load.csv``, in a process of the tree, with the checkpoint at
   close timed apart (an explicit ``CHECKPOINT`` before the connection closes): the load's wall
   time and its checkpoint's.
2. **Served**: ``mpi serve`` of the tree on loopback, then ``--records`` records of
   ``load_large.csv`` sent one ``POST /v1/records`` at a time over one keep-alive connection,
   each timed: the median, the slowest, and the requests over a second (a checkpoint's stall),
   the service's checkpoint threshold lowered (``--threshold``) to see several in one run.

Run: ``.venv/bin/python bench/checkpoint.py --before main`` (``--help`` for the rest). It needs
two free copies of the store's size on disk at most (one copy at a time is made and removed).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bulk  # noqa: E402
from http_match import extract  # noqa: E402
from latency import pct, wait_for_health  # noqa: E402

ROOT = bulk.ROOT
PYTHON = ROOT / ".venv" / "bin" / "python"
DEFAULT_FOLDER = bulk.store_dir(1_000_000, 7)
TOKEN = "bench-checkpoint-token"
#: A request slower than this is counted as a stall.
STALL_S = 1.0


def load_worker(db: str, csv_path: str) -> None:
    """In a process of the tree under test: ``mpi load``, its close's checkpoint run and timed apart."""
    import mpi.store.database as database

    close = database.Database.close

    def timed_close(self) -> None:
        started = time.perf_counter()
        self._con.execute("CHECKPOINT")
        print(f"CHECKPOINT_S {time.perf_counter() - started:.3f}", flush=True)
        close(self)

    database.Database.close = timed_close
    from mpi.cli import main
    sys.argv = ["mpi", "--db", db, "load", "--input", csv_path]
    main()


def prepare_worker(db: str) -> None:
    """In a process of the tree under test: a hub user (its token known) to send the records."""
    from mpi.auth import add_user
    from mpi.services import Services

    services = Services({"MPI_DB": db})
    if services.store.organisations.get("bench") is None:
        services.directory.add({"code": "bench", "name": "Bench", "kind": "hospital", "service_types": []}, "bench")
    add_user(services.store, "bench-checkpoint", "hub", token=TOKEN, organisation="bench")
    services.close()


def _env(tree: Path, threshold: str | None = None) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), "MPI_SWEEP_SECONDS": "0"}
    if threshold:
        env["MPI_CHECKPOINT_THRESHOLD"] = threshold
    return env


def run_load(tree: Path, folder: Path, work: Path) -> dict:
    db = bulk.copy_store(folder, work / "store")
    started = time.perf_counter()
    out = subprocess.run([str(PYTHON), __file__, "--phase", "load", "--db", str(db),
                          "--input", str(folder / "load.csv")], env=_env(tree), capture_output=True, text=True)
    wall = time.perf_counter() - started
    if out.returncode != 0:
        sys.exit(f"mpi load failed: {out.stdout[-2000:]} {out.stderr[-2000:]}")
    checkpoint = next(float(line.split()[1]) for line in out.stdout.splitlines() if line.startswith("CHECKPOINT_S"))
    shutil.rmtree(work / "store")
    return {"wall_s": wall, "checkpoint_s": checkpoint}


def run_served(tree: Path, folder: Path, work: Path, records: list[str], port: int, threshold: str) -> dict:
    db = bulk.copy_store(folder, work / "store")
    subprocess.run([str(PYTHON), __file__, "--phase", "prepare", "--db", str(db)], env=_env(tree), check=True)
    log = open(work / "serve.log", "w")
    started = time.perf_counter()
    proc = subprocess.Popen([str(ROOT / ".venv" / "bin" / "mpi"), "--db", str(db), "serve", "--port", str(port)],
                            env=_env(tree, threshold), stdout=log, stderr=subprocess.STDOUT)
    times = []
    try:
        conn = wait_for_health(port, proc, started)
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        for body in records:
            t0 = time.perf_counter()
            conn.request("POST", "/v1/records", body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            if response.status != 200:
                sys.exit(f"POST /v1/records answered {response.status}: {data[:300]!r}")
            times.append(time.perf_counter() - t0)
    finally:
        proc.terminate()
        proc.wait(timeout=1800)
        log.close()
        shutil.rmtree(work / "store")
    stalls = [t for t in times if t > STALL_S]
    return {"p50_ms": pct(times, 50) * 1000, "max_s": max(times), "stalls": len(stalls), "stalled_s": sum(stalls),
            "at": [i for i, t in enumerate(times) if t > STALL_S]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folder", type=Path, default=DEFAULT_FOLDER, help="the bench store's folder (bench/bulk.py)")
    parser.add_argument("--before", help="a git revision to compare this tree with (e.g. main)")
    parser.add_argument("--rounds", type=int, default=2, help="times each tree is measured, alternating")
    parser.add_argument("--records", type=int, default=5000, help="records sent one request each to mpi serve")
    parser.add_argument("--skip", choices=["load", "served"], help="leave out one of the two measures")
    parser.add_argument("--threshold", default="64MB",
                        help="MPI_CHECKPOINT_THRESHOLD of the service (at 256MB, its default, about 6,400 records "
                             "pass between checkpoints; 64MB shows several in a shorter run)")
    parser.add_argument("--port", type=int, default=18931)
    parser.add_argument("--phase", choices=["load", "prepare"], help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase == "load":
        return load_worker(args.db, args.input)
    if args.phase == "prepare":
        return prepare_worker(args.db)

    folder = args.folder.resolve()
    with open(folder / "load_large.csv", newline="", encoding="utf-8") as f:
        records = [json.dumps({k: v for k, v in row.items() if k != "truth_person_id" and v})
                   for _, row in zip(range(args.records), csv.DictReader(f))]
    work = Path(tempfile.mkdtemp(prefix="checkpoint-", dir=bulk.CACHE))
    try:
        trees = {}
        if args.before:
            trees[f"before ({args.before})"] = extract(args.before, work / "before")
        trees["this tree"] = ROOT
        print(f"# {folder.name}: mpi load of load.csv; {len(records)} records sent one request each,"
              f" MPI_CHECKPOINT_THRESHOLD {args.threshold}", flush=True)
        results: dict[str, dict[str, list]] = {name: {} for name in trees}
        for r in range(args.rounds):
            for name, tree in trees.items():
                got = {}
                if args.skip != "load":
                    got.update(run_load(tree, folder, work))
                if args.skip != "served":
                    got.update(run_served(tree, folder, work, records, args.port, args.threshold))
                for key, value in got.items():
                    results[name].setdefault(key, []).append(value)
                print(f"  round {r + 1}, {name}: " + ", ".join(
                    f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in got.items()), flush=True)
        print("\n## per tree (each round's figure)")
        for name, figures in results.items():
            print(f"{name}:")
            for key, values in figures.items():
                if key != "at":
                    print(f"  {key:<14} " + "  ".join(f"{v:.2f}" if isinstance(v, float) else str(v) for v in values))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
