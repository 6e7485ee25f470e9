"""What keeping each instance's caches in step costs, and how soon a revoked key is refused by another instance.

DuckDB (one process): times, in process, the reads every request makes that the
caches serve (the caller behind an API key, behind a user's token, a meta value)
and a buffered access event; run it on two trees to compare (nothing there
should change). PostgreSQL (``--postgres``: a server started for the run from
Debian's packages, ``bench/pg_server.py``): two ``Services`` over one database,
each running its ``index-sync`` work every ``MPI_INDEX_SYNC_SECONDS`` as ``mpi
serve`` does; times one read of the cache generations (what each instance adds
per second), the same hot reads, and over ``--revocations`` keys the seconds
from a revocation committed on the first instance until the second refuses it.
Prints p50, p90 and max.

Run: ``PYTHONPATH=. .venv/bin/python bench/instance_caches.py [--postgres]``.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from mpi.auth import add_user, authenticate, create_key, revoke_key  # noqa: E402
from mpi.background import Background  # noqa: E402
from mpi.errors import Unauthorized  # noqa: E402
from mpi.services import Services  # noqa: E402

MODELS = Path(__file__).resolve().parent.parent / "matching_models"
ORG = {"code": "foodbank", "name": "Metro Food Bank", "kind": "cbo", "service_types": ["food"]}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q / 100))]


def _report(name: str, values: list[float], unit: str = "us", scale: float = 1e6) -> None:
    print(f"{name}: p50 {_pct(values, 50) * scale:.2f} {unit}, p90 {_pct(values, 90) * scale:.2f} {unit}, "
          f"max {max(values) * scale:.2f} {unit} ({len(values)} runs)")


def _timed(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def hot_reads(services: Services, n: int) -> None:
    """The reads each request makes that the caches serve, and one buffered access event."""
    services.directory.add(ORG, "bench")
    _, secret = create_key(services.store, "foodbank", "coordinator", "bench")
    token = add_user(services.store, "cora", "coordinator", organisation="foodbank")
    services.store.access.flush_every(100)
    _report("caller behind an API key (authenticate)", _timed(lambda: authenticate(services.store, secret), n))
    _report("caller behind a user's token (authenticate)", _timed(lambda: authenticate(services.store, token), n))
    _report("active model version (meta)", _timed(services.models.version, n))
    _report("access event appended (buffered)", _timed(lambda: services.store.access.append(
        actor="user:cora", organisation="foodbank", role="coordinator", purpose="TREAT", action="read",
        method="GET", route="/v1/alerts", status=200), n))


def revocation_lag(first: Services, second: Services, keys: int) -> list[float]:
    """Seconds from a revocation committed on ``first`` until ``second`` refuses the key, for ``keys`` keys."""
    lags = []
    for _ in range(keys):
        key, secret = create_key(first.store, "foodbank", "coordinator", "bench")
        while True:  # the second instance knows (and caches) the key
            try:
                authenticate(second.store, secret)
                break
            except Unauthorized:
                time.sleep(0.01)
        revoke_key(first.store, key["key_id"], "bench")
        started = time.perf_counter()
        while True:
            try:
                authenticate(second.store, secret)
            except Unauthorized:
                lags.append(time.perf_counter() - started)
                break
            time.sleep(0.005)
    return lags


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", action="store_true", help="two instances over a PostgreSQL server of the run")
    parser.add_argument("--reads", type=int, default=20_000, help="timed runs of each hot read")
    parser.add_argument("--revocations", type=int, default=20, help="keys revoked on one instance (PostgreSQL)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        if not args.postgres:
            services = Services({"MPI_DB": str(Path(folder) / "mpi.duckdb"), "MPI_MODELS_DIR": str(MODELS)})
            services.ensure_active_model("bench")
            print("DuckDB, one process:")
            hot_reads(services, args.reads)
            services.close()
            return
        from bench.pg_server import running_server
        with running_server(Path(folder)) as server:
            url = server.new_database("mpi_bench")
            config = {"MPI_DB": url, "MPI_MODELS_DIR": str(MODELS)}
            first, second = Services(config), Services(config)
            steps = []
            with contextlib.ExitStack() as stack:
                for services in (first, second):
                    stack.callback(services.close)
                    services.ensure_active_model("bench")
                    steps.append(Background("index-sync", services.keep_in_step,
                                            float(services.config["MPI_INDEX_SYNC_SECONDS"])))
                    steps[-1].start()
                    stack.callback(steps[-1].stop)
                print("PostgreSQL, two instances:")
                hot_reads(first, args.reads)
                _report("one read of the cache generations (per instance, per second)",
                        _timed(second.store.generations.refresh, 500), "ms", 1e3)
                _report(f"revoked on one instance, refused by the other (MPI_INDEX_SYNC_SECONDS="
                        f"{first.config['MPI_INDEX_SYNC_SECONDS']})", revocation_lag(first, second, args.revocations),
                        "s", 1)


if __name__ == "__main__":
    main()
