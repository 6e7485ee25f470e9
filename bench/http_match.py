"""What ``POST /v1/match`` costs over HTTP beyond the match itself, and where: one code tree beside another.

On one bench store (built by ``bench/bulk.py``; 100k persons by default) and its held-out
query records, for each code tree (this one, and with ``--before REV`` the tree of a git
revision, extracted with ``git archive``), each on its own copy of the store:

1. **Over HTTP**: ``mpi serve`` (waitress) in its own process on loopback, ``POST /v1/match``
   for every query over one keep-alive connection, after a warm-up. In the first round a
   certain match is the caller's first of that person: its grant is written, as in
   ``bench/latency.py``; later rounds find it there.
2. **In process**, after a warm-up, for every query: ``MatchService.match`` (the matcher
   alone); ``TrustedReads.match`` (the matcher and the trust layer: grants, candidates
   filtered for the caller); and the Flask app through its test client (all of the above,
   plus authentication, the purpose of use, request and answer schemas, the access log).

The caller is a hub of one of the store's source systems. Unless ``--no-grants``, every
stored record is first given to the organisation of its source system (a ``record`` grant),
as a store whose records came in through ``/v1/records`` holds them (the bench store has
none): a trust read that scans ``person_grants`` pays for them. Trees alternate, ``--rounds``
times, so both meet the same noise; the figures are printed per tree (ms, p50/p95/p99 over
all rounds), with the HTTP request's excess over the in-process match.

Run: ``.venv/bin/python bench/http_match.py --before main`` (``--help`` for the rest).
"""

from __future__ import annotations

import argparse
import csv
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from latency import pct, summary  # noqa: E402  (bench/latency.py)
from latency import wait_for_health  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
DEFAULT_FOLDER = ROOT / "var" / "bench" / "people100000-seed7-v2"
#: The caller's organisation: one of the bench store's source systems, so some candidates are its own records.
ORGANISATION = "st-marys-ehr"
USER, TOKEN = "bench-http-match", "bench-http-match-token"
HEADERS = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


def read_queries(folder: Path, limit: int) -> list[dict]:
    """The held-out query records, without their truth column."""
    with open(folder / "query.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))[:limit]
    return [{k: v for k, v in row.items() if k != "truth_person_id"} for row in rows]


# -- the worker: one phase in a process of the tree under test ---------------------------------------------------


def prepare_store(db: str, grants: bool) -> None:
    """The caller (a hub of ORGANISATION) and, with ``grants``, a record grant per stored record to its system."""
    from mpi.auth import add_user
    from mpi.services import Services

    services = Services({"MPI_DB": db})
    store = services.store
    if store.organisations.get(ORGANISATION) is None:
        services.directory.add({"code": ORGANISATION, "name": "Bench", "kind": "hospital", "service_types": []},
                               "bench")
    add_user(store, USER, "hub", token=TOKEN, organisation=ORGANISATION)
    if grants and store.db.one("SELECT count(*) FROM person_grants")[0] == 0:
        with store.transaction():
            store.db.execute("INSERT INTO person_grants (organisation, person_id, how, source_system, source_record_id,"
                             " granted_at) SELECT source_system, person_id, 'record', source_system, source_record_id,"
                             " now() FROM links")
    services.close()


def inprocess(db: str, queries: list[dict], warmup: int) -> dict:
    """The three in-process timings of every query (ms), in one process, after a warm-up of each."""
    from api import create_app
    from mpi.auth import Caller
    from mpi.services import Services

    services = Services({"MPI_DB": db})
    app = create_app(services=services)
    client = app.test_client()
    caller = Caller(USER, "hub", ORGANISATION)
    services.matching.index()
    bodies = [json.dumps(q) for q in queries]

    def matcher(i: int) -> None:
        services.matching.match(queries[i], caller.actor)

    def trust(i: int) -> None:
        services.trust.match(queries[i], caller)

    def flask(i: int) -> None:
        response = client.post("/v1/match", data=bodies[i], headers=HEADERS)
        if response.status_code != 200:
            raise SystemExit(f"/v1/match answered {response.status_code}: {response.get_data()[:300]!r}")

    out = {}
    for name, call in (("matcher", matcher), ("trust", trust), ("flask", flask)):
        for i in range(warmup):
            call(i % len(queries))
        times = []
        for i in range(len(queries)):
            t0 = time.perf_counter()
            call(i)
            times.append((time.perf_counter() - t0) * 1000)
        out[name] = times
    services.close()
    return out


def worker(args: argparse.Namespace) -> None:
    queries = read_queries(Path(args.folder), args.queries)
    if args.phase == "prepare":
        prepare_store(args.db, not args.no_grants)
        print(json.dumps({}))
    else:
        print(json.dumps(inprocess(args.db, queries, args.warmup)))


# -- the driver ------------------------------------------------------------------------------------------------


def run_worker(tree: Path, phase: str, db: Path, args: argparse.Namespace) -> dict:
    command = [str(PYTHON), str(ROOT / "bench" / "http_match.py"), "--phase", phase, "--db", str(db),
               "--folder", str(args.folder), "--queries", str(args.queries), "--warmup", str(args.warmup)]
    if args.no_grants:
        command.append("--no-grants")
    done = subprocess.run(command, cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)}, capture_output=True,
                          text=True)
    if done.returncode != 0:
        sys.exit(f"{phase} in {tree} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def over_http(tree: Path, db: Path, queries: list[dict], warmup: int) -> list[float]:
    """``POST /v1/match`` for every query to ``mpi serve`` of the tree, over one keep-alive connection (ms)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(db.parent / "serve.log", "w")
    proc = subprocess.Popen([str(PYTHON), "-c", "from mpi.cli import main; main()", "--db", str(db), "serve",
                             "--port", str(port), "--threads", "4"], cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)},
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        conn = wait_for_health(port, proc, time.perf_counter(), timeout=600)
        bodies = [json.dumps(q) for q in queries]
        for i in range(warmup):
            _post(conn, bodies[i % len(bodies)])
        times = []
        for body in bodies:
            t0 = time.perf_counter()
            _post(conn, body)
            times.append((time.perf_counter() - t0) * 1000)
        return times
    finally:
        proc.terminate()
        proc.wait(timeout=600)
        log.close()


def _post(conn: http.client.HTTPConnection, body: str) -> None:
    conn.request("POST", "/v1/match", body=body, headers=HEADERS)
    response = conn.getresponse()
    data = response.read()
    if response.status != 200:
        sys.exit(f"/v1/match answered {response.status}: {data[:300]!r}")


def extract(rev: str, target: Path) -> Path:
    """The tree of a git revision of this repository, written out (no worktree: nothing in .git changes)."""
    target.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def _ms(s: dict) -> str:
    return f"{s['p50']:7.2f} {s['p95']:7.2f} {s['p99']:7.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folder", type=Path, default=DEFAULT_FOLDER, help="the bench store's folder (bench/bulk.py)")
    parser.add_argument("--before", help="a git revision to compare this tree with (e.g. main)")
    parser.add_argument("--queries", type=int, default=400, help="most query records")
    parser.add_argument("--warmup", type=int, default=50, help="calls of each kind before timing")
    parser.add_argument("--rounds", type=int, default=2, help="times each tree is measured, alternating")
    parser.add_argument("--no-grants", action="store_true", help="leave person_grants as the bench store has it")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (store copies, serve logs)")
    parser.add_argument("--phase", choices=["prepare", "inprocess"], help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        return worker(args)

    args.folder = args.folder.resolve()
    queries = read_queries(args.folder, args.queries)
    work = Path(tempfile.mkdtemp(prefix="http-match-"))
    try:
        trees = {}
        if args.before:
            trees[f"before ({args.before})"] = extract(args.before, work / "before")
        trees["this tree"] = ROOT
        dbs = {}
        for i, (name, tree) in enumerate(trees.items()):
            (work / f"store{i}").mkdir()
            dbs[name] = work / f"store{i}" / "store.duckdb"
            shutil.copy(args.folder / "store.duckdb", dbs[name])  # never the cached store itself
            run_worker(tree, "prepare", dbs[name], args)
        print(f"# {args.folder.name}: {len(queries)} queries, warm-up {args.warmup}, {args.rounds} rounds,"
              f" record grants {'none' if args.no_grants else 'one per stored record'};"
              f" caller: a hub of {ORGANISATION}", flush=True)
        times: dict[str, dict[str, list[float]]] = {name: {} for name in trees}
        for r in range(args.rounds):
            for name, tree in trees.items():
                # HTTP first: in the first round its certain matches are each organisation's first (a grant written).
                phases = {"http": over_http(tree, dbs[name], queries, args.warmup)}
                phases.update(run_worker(tree, "inprocess", dbs[name], args))
                for phase, values in phases.items():
                    times[name].setdefault(phase, []).extend(values)
                print(f"  round {r + 1}, {name}: http p50 {pct(phases['http'], 50):.2f} ms,"
                      f" matcher p50 {pct(phases['matcher'], 50):.2f} ms", flush=True)
        print("\n## POST /v1/match, ms (p50 p95 p99 over all rounds)")
        print(f"{'tree':<22} {'phase':<34} {'p50':>7} {'p95':>7} {'p99':>7}")
        labels = {"matcher": "MatchService.match (in process)", "trust": "TrustedReads.match (in process)",
                  "flask": "Flask test client (in process)", "http": "mpi serve over HTTP (keep-alive)"}
        result = {}
        for name in trees:
            s = {phase: summary(values) for phase, values in times[name].items()}
            result[name] = s
            for phase in ("matcher", "trust", "flask", "http"):
                print(f"{name:<22} {labels[phase]:<34} {_ms(s[phase])}")
            excess = {q: s["http"][q] - s["matcher"][q] for q in ("p50", "p95", "p99")}
            print(f"{name:<22} {'HTTP minus MatchService.match':<34} {_ms(excess)}")
        if len(trees) == 2:
            (a, sa), (b, sb) = result.items()
            print(f"\nthis tree / before: HTTP p50 {sb['http']['p50'] / sa['http']['p50']:.2f},"
                  f" p99 {sb['http']['p99'] / sa['http']['p99']:.2f}; HTTP's excess over the matcher at p50"
                  f" {sa['http']['p50'] - sa['matcher']['p50']:.2f} -> {sb['http']['p50'] - sb['matcher']['p50']:.2f} ms,"
                  f" at p99 {sa['http']['p99'] - sa['matcher']['p99']:.2f} -> {sb['http']['p99'] - sb['matcher']['p99']:.2f} ms")
    finally:
        if args.keep:
            print(f"(kept {work})")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
