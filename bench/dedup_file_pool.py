"""What starting ``mpi dedup --input``'s normalising workers costs: fork, fork server and spawn, in one run.

The workers used to be forked from the command (a ``multiprocessing.Pool``):
the cheapest start, but a fork of a process that already has threads, and a
pool that waits for ever for the chunk of a worker that died. They are now
spawned by a ProcessPoolExecutor (``mpi/batch/normalising.py``). This measures what that
costs on one generated file (``mpi generate``, default 19,300 people: about
50,000 rows): the normalise phase (:func:`mpi.batch.bulk_file.read_file`:
read, validate, normalise, collect the engine's rows) with

- ``fork-pool``: the old way, ``Pool(workers).imap`` of forked workers;
- ``spawn`` (what runs now) and ``forkserver``: the ProcessPoolExecutor;
- ``inline``: ``--workers 0``, all in one process, for scale.

Each is timed in a fresh child process (so the fork server's start is in its
figure), which imports ``mpi.cli`` as the ``mpi`` script does: a fork-server
or spawned worker imports the parent's ``__main__`` before its first chunk.
Rounds alternate the methods; the machine is shared, so compare within a run.

Run::

    PYTHONPATH=$PWD .venv/bin/python bench/dedup_file_pool.py [--people 19300] [--workers 2] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mpi.cli  # noqa: F401  (imported as the `mpi` script does: workers import it as their __main__)
from mpi.batch import bulk_file, normalising
from mpi.synth.generator import write_csv

METHODS = ("fork-pool", "spawn", "forkserver", "inline")
OUT = Path(__file__).resolve().parent / "out" / "dedup_file_pool.json"


def _fork_pool(rows, workers, progress=None):
    """The normalising as it was: forked workers of a multiprocessing.Pool, chunks in order."""
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        for done in pool.imap(normalising.normalise_chunk, normalising.chunks(rows)):
            yield from done
            if progress:
                progress(len(done))


def child(path: str, method: str, workers: int) -> dict:
    """One normalise phase of ``path`` by ``method``: its seconds and the rows it kept."""
    if method == "fork-pool":
        bulk_file.normalised = _fork_pool
    elif method != "inline":
        bulk_file.normalised = lambda rows, n, progress=None: normalising.normalised(rows, n, progress, method)
    result = bulk_file.DedupFile()
    first: list[float] = []
    started = time.perf_counter()
    keys, _ = bulk_file.read_file(path, result, 0 if method == "inline" else workers,
                                  lambda n: first or first.append(time.perf_counter()))
    return {"seconds": time.perf_counter() - started, "first": first[0] - started, "records": len(keys)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--people", type=int, default=19_300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--child", nargs=2, metavar=("FILE", "METHOD"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], args.workers)))
        return
    methods = args.methods.split(",")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "partner.csv"
        rows = write_csv(path, args.people, args.seed)
        print(f"{rows:,} rows ({args.people:,} people, seed {args.seed}), {args.workers} workers, "
              f"{args.rounds} rounds", file=sys.stderr)
        seconds: dict[str, list[float]] = {m: [] for m in methods}
        firsts: dict[str, list[float]] = {m: [] for m in methods}
        kept: set[int] = set()
        for round_ in range(args.rounds):
            for method in methods if round_ % 2 == 0 else reversed(methods):
                out = subprocess.run([sys.executable, __file__, "--workers", str(args.workers), "--child",
                                      str(path), method], capture_output=True, text=True, check=True)
                figure = json.loads(out.stdout.splitlines()[-1])
                kept.add(figure["records"])
                seconds[method].append(figure["seconds"])
                firsts[method].append(figure["first"])
                print(f"  round {round_ + 1} {method:<10} {figure['seconds']:6.2f} s (first chunk back after "
                      f"{figure['first']:.2f} s)", file=sys.stderr)
    assert len(kept) == 1, f"the methods kept different records: {kept}"
    base = statistics.median(seconds[methods[0]])
    print(f"{'method':<10} {'median s':>9} {'rows/s':>8} {'vs ' + methods[0]:>14} {'first chunk s':>14}")
    for method in methods:
        median = statistics.median(seconds[method])
        print(f"{method:<10} {median:9.2f} {rows / median:8.0f} {median / base:13.2f}x "
              f"{statistics.median(firsts[method]):14.2f}")
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps({"rows": rows, "workers": args.workers, "seconds": seconds, "first_chunk": firsts},
                              indent=1))


if __name__ == "__main__":
    main()
