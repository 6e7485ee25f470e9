"""Concurrent load on the real service, then a SIGKILL mid-load: nothing acknowledged lost, nothing half-written.

1. **store**: a fresh store in ``--folder`` with the demo's referral network (its four
   organisations, ``mpi.synth.referral_demo``), a hub token per organisation and an admin.
2. **load**: ``mpi serve`` in its own process on a loopback port (``MPI_SWEEP_SECONDS=0``),
   and ``--clients`` threads (16), each with its own keep-alive ``httpx`` connection, for
   ``--seconds``. The work is the generator's (``mpi.synth``, ``--people`` humans, seeded):
   human by human, every record of the human (the generator's own, with its noise) and
   two to four *copies* of its fullest record under other systems' keys with format noise
   only (case, spacing, phone punctuation), shuffled and taken from one queue, so the
   records of one human are sent by different clients at the same time. Some records are
   sent twice (a retry). A third of the humans are also referred: a copy is sent as the
   person of a referral from the hospital or the plan (``POST /v1/referrals``), which the
   performer's hub then moves step by step (acknowledged, in triage, accepted, in
   progress, completed; a gated one stops at accepted), each step queued once the one
   before it was acknowledged. Printed: requests, errors (any transport failure, 5xx or
   4xx but a gate's 409: must be 0), p50/p99 per kind (for the whole run, and for the requests sent after its
   first ``--settle`` seconds, the server's first requests left out), throughput, and the CPU a request cost the
   server and the clients, with the bound that puts on a closed loop here. With ``--rate R`` the clients
   offer R requests a second between them instead (an open loop, each request's latency counted
   from when it was due): what a steady stream sees below the service's capacity, where a closed
   loop of 16 clients always finds 16 requests queued (latency = clients / throughput).
3. **kill**: the same load again, and after ``--kill-after`` seconds the server is killed
   with SIGKILL while requests are in flight; it is restarted on the same store.
4. **checks** (the exit status is non-zero if one fails): through the API of the restarted
   server, every acknowledged (2xx) record is there with its person or its review case,
   every acknowledged referral is there with each acknowledged state change in its history;
   then, with the server stopped, ``mpi export`` gives each record's person, and for each
   generated human the copies of its record, which any arrival order links to one person,
   are on exactly one person (two would be a race); and the store holds nothing
   half-written: no live person without records, no link to a missing person or record,
   no record neither linked nor held by a case, no referral without its intake event.

With ``--postgres`` the store is a PostgreSQL database instead (a server started for the run
from Debian's packages in a temporary folder, durable as in production: fsync on), or with
``--store postgresql://...`` one of yours (an empty database); ``--instances 2`` then serves it
from two ``mpi serve`` processes, the clients shared between them, and the kill takes the
first one down while the other serves on.

Run: ``.venv/bin/python bench/load.py`` (``--help`` for the options). Figures on a shared
2-core machine are noisy; the checks are the point.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bulk  # noqa: E402
from latency import free_port, pct  # noqa: E402
from load_checks import check_acknowledged, check_half_written, check_persons, mpi  # noqa: E402
from load_work import Work, humans, run_clients  # noqa: E402  (Work: tests use it through this module)

ROOT = bulk.ROOT
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "out"


# -- the server ----------------------------------------------------------------------------------------


def build_store(db: Path | str) -> dict[str, str]:
    """A fresh store with the demo's organisations; a hub token per organisation and an admin's."""
    from mpi.auth import add_user
    from mpi.services import Services
    from mpi.synth.referral_demo import ORGANISATIONS

    services = Services({"MPI_DB": str(db)})
    try:
        services.ensure_active_model("bench:load")
        for org in ORGANISATIONS:
            services.directory.add(org, "bench:load")
        tokens = {f"hub-{o['code']}": add_user(services.store, f"hub-{o['code']}", "hub", organisation=o["code"])
                  for o in ORGANISATIONS}
        tokens["load-admin"] = add_user(services.store, "load-admin", "admin")
    finally:
        services.close()
    return tokens


def serve(db: Path | str, port: int, threads: int, log) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPI_SWEEP_SECONDS": "0"}
    proc = subprocess.Popen(mpi(db, "serve", "--port", str(port), "--threads", str(threads)), env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"mpi serve exited with {proc.returncode}; see {log.name}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=5).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    sys.exit("mpi serve did not become healthy")


# -- the run -------------------------------------------------------------------------------------------


def figures(work: Work, elapsed: float, settle: float = 0.0) -> dict:
    """The load phase's figures; ``settled_*``: of the requests sent ``settle`` seconds or more after it began (a
    server just started answers its first requests slowly: at 80 requests/s its first second held most of the
    tail)."""
    kinds = {}
    for k, v in sorted(work.stats.items()):
        if v:
            settled = [ms for ms, at in zip(v, work.started[k]) if at - work.began >= settle]
            kinds[k] = {"n": len(v), "p50_ms": round(pct(v, 50), 1), "p99_ms": round(pct(v, 99), 1),
                        "settled_n": len(settled), "settled_p50_ms": round(pct(settled, 50), 1) if settled else None,
                        "settled_p99_ms": round(pct(settled, 99), 1) if settled else None}
    acknowledged = sum(len(v) for v in work.stats.values())
    return {"requests": work.requests, "acknowledged": acknowledged, "errors": len(work.errors),
            "refused_by_gate": work.refused, "seconds": round(elapsed, 1),
            "throughput_per_s": round(acknowledged / elapsed, 1) if elapsed else 0.0, "by_kind": kinds,
            "settle_s": settle}


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds a process has used so far (Linux's ``/proc``; 0.0 where there is none)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_per_request(servers: list[float], clients: float, acknowledged: int, clients_n: int) -> dict:
    """CPU milliseconds a request of the load cost the servers and the clients (this process), and what that
    allows on this machine: a closed loop can answer at most cores / (CPU a request) a second, so each of
    its clients waits at least clients / that for an answer (Little's law)."""
    per = max(acknowledged, 1)
    server_ms, client_ms = 1000 * sum(servers) / per, 1000 * clients / per
    cores = os.cpu_count() or 1
    bound = 1000 * cores / (server_ms + client_ms) if server_ms + client_ms else 0.0
    return {"servers_ms": round(server_ms, 2), "clients_ms": round(client_ms, 2), "cores": cores,
            "most_per_s": round(bound, 1), "least_mean_ms": round(1000 * clients_n / bound, 1) if bound else None}


def group_commit(base: str) -> dict | None:
    """The server's group commit counters (``/metrics``): units of work and the commits that held them."""
    counters = {}
    for line in httpx.get(f"{base}/metrics", timeout=30).text.splitlines():
        name, _, value = line.partition(" ")
        if name in ("mpi_store_group_commits_total", "mpi_store_group_units_total"):
            counters[name.split("_")[3]] = int(float(value))
    if len(counters) < 2:
        return None  # a server without group commit
    return {**counters, "units_per_commit": round(counters["units"] / max(counters["commits"], 1), 1)}


def _grouping(counters: list[dict | None]) -> dict | None:
    """The instances' group commit counters, summed."""
    found = [c for c in counters if c]
    if not found:
        return None
    units, commits = sum(c["units"] for c in found), sum(c["commits"] for c in found)
    return {"units": units, "commits": commits, "units_per_commit": round(units / max(commits, 1), 1)}


def _own_cpu() -> float:
    times = os.times()
    return times.user + times.system


def show(title: str, f: dict) -> None:
    print(f"\n{title}: {f['requests']} requests in {f['seconds']} s, {f['acknowledged']} acknowledged "
          f"({f['throughput_per_s']}/s), errors {f['errors']}, refused by the gate {f['refused_by_gate']}")
    settled = f"sent after the first {f['settle_s']:g} s"
    print(f"  {'kind':<10}{'n':>8}{'p50 ms':>10}{'p99 ms':>10}  | {settled}: {'n':>6}{'p50 ms':>10}{'p99 ms':>10}")
    for kind, k in f["by_kind"].items():
        print(f"  {kind:<10}{k['n']:>8}{k['p50_ms']:>10}{k['p99_ms']:>10}  | {'':<{len(settled) + 1}} {k['settled_n']:>6}"
              f"{k['settled_p50_ms'] or '-':>10}{k['settled_p99_ms'] or '-':>10}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (threads, one connection each)")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the load phase")
    parser.add_argument("--rate", type=float, default=0.0,
                        help="requests a second the clients offer between them in the load phase (an open loop, "
                             "latency counted from when each was due); 0: each client sends on as soon as answered")
    parser.add_argument("--settle", type=float, default=1.0,
                        help="seconds at the load's start left out of the settled figures printed beside the whole "
                             "run's (the server's first requests)")
    parser.add_argument("--kill-after", type=float, default=5.0, help="seconds of load before the SIGKILL")
    parser.add_argument("--people", type=int, default=6000, help="generated humans (work for the whole run)")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--threads", type=int, default=32, help="waitress threads of mpi serve (its default)")
    parser.add_argument("--folder", type=Path, default=bulk.CACHE / "load", help="where the store is made afresh")
    parser.add_argument("--postgres", action="store_true",
                        help="a PostgreSQL store on a server started for the run (Debian's packages, fsync on)")
    parser.add_argument("--store", default=None, metavar="URL", help="a PostgreSQL store of yours (an empty database)")
    parser.add_argument("--instances", type=int, default=1, help="mpi serve processes over the store (PostgreSQL)")
    parser.add_argument("--json", type=Path, default=OUT / "load.json", help="figures as JSON")
    args = parser.parse_args(argv)
    if args.instances > 1 and not (args.postgres or args.store):
        parser.error("--instances above 1 needs a PostgreSQL store (--postgres or --store URL): a DuckDB file has "
                     "one writing process")

    args.folder.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        db = _store(args, stack)
        return _run(args, db)


def _store(args, stack: contextlib.ExitStack) -> Path | str:
    """The store's location: a fresh DuckDB file in the folder, or a PostgreSQL database (fresh if started here)."""
    if args.store:
        return args.store
    if args.postgres:
        from pg_server import running_server  # (bench/pg_server.py)

        return stack.enter_context(running_server(args.folder / "postgres")).new_database("mpi_load")
    db = args.folder / "store.duckdb"
    for stale in args.folder.glob("store.duckdb*"):  # the file, its log, and the index base a stop saved
        shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
    return db


def _run(args, db: Path | str) -> int:
    where = "a PostgreSQL database" if str(db).startswith("postgresql://") else str(db)
    print(f"store: {where}, demo network, {args.people} generated humans (seed {args.seed}), {args.clients} "
          f"clients, {args.instances} instance(s)")
    tokens = build_store(db)
    work = Work(humans(args.people, args.seed), args.seed)
    ports = [free_port() for _ in range(args.instances)]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    result: dict = {"clients": args.clients, "rate": args.rate or None, "people": args.people, "seed": args.seed, "instances": args.instances,
                    "backend": "postgresql" if where != str(db) else "duckdb"}
    with open(args.folder / "serve.log", "w") as log:
        servers = [serve(db, port, args.threads, log) for port in ports]
        before = [cpu_seconds(server.pid) for server in servers], _own_cpu()
        try:
            result["load"] = figures(work, run_clients(bases, tokens, work, args.clients, args.seconds,
                                                       rate=args.rate), args.settle)
        except BaseException:
            for server in servers:
                server.kill()
            raise
        cpu = result["load"]["cpu"] = cpu_per_request(
            [cpu_seconds(server.pid) - was for server, was in zip(servers, before[0])], _own_cpu() - before[1],
            result["load"]["acknowledged"], args.clients)
        show("load", result["load"])
        cpu["database_counted"] = result["backend"] == "duckdb"  # (PostgreSQL's server runs processes of its own)
        print(f"  CPU a request: {cpu['servers_ms']} ms the server(s), {cpu['clients_ms']} ms the clients"
              f"{'' if cpu['database_counted'] else ', PostgreSQL not counted'}; on {cpu['cores']} cores a closed "
              f"loop answers at most {cpu['most_per_s']}/s, so {args.clients} clients wait {cpu['least_mean_ms']} ms "
              f"on average at least{'' if cpu['database_counted'] else ' (more: the database uses the cores too)'}")
        result["load"]["group_commit"] = grouping = _grouping([group_commit(base) for base in bases])
        if grouping:
            print(f"  group commit: {grouping['units']} units of work in {grouping['commits']} commits "
                  f"({grouping['units_per_commit']} a commit)")
        before = {"requests": work.requests, "acknowledged": sum(len(v) for v in work.stats.values())}
        errors_before_kill = list(work.errors)
        run_clients(bases, tokens, work, args.clients, args.kill_after + 60, kill=servers[0],
                    kill_after=args.kill_after)
        result["kill"] = {"requests": work.requests - before["requests"],
                          "acknowledged": sum(len(v) for v in work.stats.values()) - before["acknowledged"],
                          "errors": len(work.errors) - len(errors_before_kill), "in_flight_at_kill": work.cut}
        print(f"\nSIGKILL after {args.kill_after} s of load: {result['kill']['requests']} answered before it "
              f"({result['kill']['acknowledged']} acknowledged), {work.cut} in flight cut off; restarting on the "
              "same store")
        servers[0] = serve(db, ports[0], args.threads, log)
        try:
            problems = check_acknowledged(bases[0], tokens["load-admin"], work)
        finally:
            for server in servers:
                server.terminate()
                server.wait(timeout=60)
    result["errors"] = work.errors[:20]
    problems += [f"request error: {e}" for e in work.errors[:20]]
    persons, split = check_persons(db, work, args.folder)
    counts, half = check_half_written(db)
    problems += split + half
    result.update(persons, counts=counts, acknowledged_records=len(work.ledger["records"]),
                  acknowledged_referrals=len(work.ledger["referrals"]),
                  acknowledged_steps=sum(len(s) for s in work.ledger["referrals"].values()),
                  humans_with_copies=len(work.ledger["copies"]), problems=problems)
    print(f"\nafter the restart: {result['acknowledged_records']} acknowledged records, "
          f"{result['acknowledged_referrals']} referrals and {result['acknowledged_steps']} state changes checked")
    print(f"store: {counts}")
    print("persons per human, copies of its record sent at once (must all be 1): "
          f"{persons['copies_persons_per_human']}")
    print(f"persons per human, all its records (the generator's noise may split a human apart, by the model's "
          f"decision, not a race): {persons['records_persons_per_human']}")
    print(f"half-written: {'none' if not half else '; '.join(half)}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2, default=str))
    if problems:
        print(f"\nFAILED: {len(problems)} problems")
        for p in problems[:30]:
            print(f"  {p}")
        return 1
    print("\nall checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
