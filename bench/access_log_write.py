"""How long the access log's writes hold back the rest of the process: Python's GIL while DuckDB takes the rows in.

The service writes its buffered access events from a thread of their own, every
``MPI_ACCESS_LOG_FLUSH_MS``; a request answered meanwhile needs the GIL. So this
runs a thread of small Python work items (2,000 multiply-adds, 70-170 µs each
here, as a request's own Python is) for ``--seconds``, beside the log's writer taking in ``--rate`` events a
second in batches every ``--interval`` seconds, and prints each work item's time:
its p99, p99.9 and longest are what the writes add. Three ways, alternating
rounds on a fresh store file in a temporary folder: ``none`` (no writes), ``json``
(``AccessLog._write`` as the store does it on a DuckDB file: one JSON text DuckDB
reads into rows) and ``bound`` (the same rows as bound values, as the store writes
them on PostgreSQL).

Run: ``.venv/bin/python bench/access_log_write.py`` (``--help`` for the options).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from mpi.store import Store  # noqa: E402
from mpi.store import access  # noqa: E402


def rows(first: int, n: int) -> list[list]:
    """``n`` access events as the log buffers them, ids from ``first``."""
    now = datetime.now(UTC)
    return [[first + i, now, "user:bench", "bench", "hub", None, "match", "POST", "/v1/match", 200,
             [{"type": "person", "id": f"P{i:08d}"}, {"type": "record", "id": f"bench/{i}"}]] for i in range(n)]


def run(store: Store, way: str, seconds: float, interval: float, batch: int) -> list[float]:
    """Work items' times (seconds) while the log's writer writes ``batch`` events every ``interval`` the given way."""
    log = store.access
    stop = threading.Event()
    first = [int(store.db.one("SELECT coalesce(max(event_id), 0) FROM access_log")[0]) + 1]

    def write() -> None:
        while not stop.wait(interval):
            events = rows(first[0], batch)
            first[0] += batch
            if way == "json":
                log._write(events)
            elif way == "bound":
                store.db.append(access._INSERT + ", ".join([log._values] * len(events)), [v for r in events for v in r])

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    times, x, end = [], 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        started = time.perf_counter()
        for i in range(2000):
            x += i * i
        times.append(time.perf_counter() - started)
    stop.set()
    writer.join()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each measurement")
    parser.add_argument("--rate", type=int, default=250, help="access events a second")
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between writes (the log's flush)")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    batch = max(1, round(args.rate * args.interval))
    ways = ("none", "json", "bound")
    times: dict[str, list[float]] = {way: [] for way in ways}
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "access.duckdb")
        try:
            for _ in range(args.rounds):
                for way in ways:
                    times[way] += run(store, way, args.seconds, args.interval, batch)
        finally:
            store.close()
    print(f"{args.rate} events a second, written {batch} at a time every {args.interval} s; small work items in a "
          f"thread beside the writer ({args.rounds} rounds of {args.seconds} s each way)")
    print(f"  {'way':<8}{'items':>8}{'p50 µs':>9}{'p99 µs':>9}{'p99.9 µs':>10}{'max µs':>9}")
    for way in ways:
        t = sorted(times[way])
        n = len(t)
        print(f"  {way:<8}{n:>8}{t[n // 2] * 1e6:>9.0f}{t[int(n * .99)] * 1e6:>9.0f}{t[int(n * .999)] * 1e6:>10.0f}"
              f"{t[-1] * 1e6:>9.0f}")


if __name__ == "__main__":
    main()
