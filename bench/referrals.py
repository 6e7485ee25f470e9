"""The referral tracker at 100k persons and 1M referrals: intake, status changes, the sweep, the metrics, memory.

The store is built and cached by ``bench/bulk_referrals.py`` (over ``bench/bulk.py``'s
person store; see its docstring for what is in it and how it is written) and
copied for each run to ``var/bench/referrals-run/``, since the run writes to it.
Then:

1. **tokens**: a hub user per organisation and an admin, through the real CLI
   (``mpi users add NAME --role hub --org CODE``) before the service opens the store;
2. **serve**: ``mpi serve`` (waitress) in its own process on a loopback port, with
   ``MPI_SWEEP_SECONDS=0`` so the scheduler stays out of the way; its start-up time
   (until ``/v1/health`` answers: the candidate index is built first);
3. **intake**: ``POST /v1/referrals`` of held-out records of the person store (its
   ``query.csv``, then its ``load.csv``: fresh duplicates of stored persons and new
   people; sent again under a new record id once both are used up) as the record
   owner's hub, over one keep-alive connection, after a warm-up whose first request
   is timed on its own (it loads the record keys the identity gate watches); how many
   were linked, made a new person, or gated on a review case;
4. **status changes**: ``POST /v1/referrals/{id}/status`` on open referrals picked
   at random (seeded), each to its next step by its performer's hub (``acknowledged``
   for a submitted one, then ``in_triage``, ``accepted``, ``in_progress``,
   ``completed``), leaving out those the next step is refused for (returned to the
   requester, gated) and those past expiry (the sweep's);
5. **reads**: the worklist's overdue page (``GET /v1/referrals?overdue=true&limit=50``,
   with the count of every match) as an admin and as the busiest performer's hub,
   one referral with its history, and the alerts page;
6. **metrics**: ``GET /v1/metrics/referrals`` over a period covering every referral
   (30 times after one untimed);
7. **memory**: the server's resident and peak resident (VmHWM) memory from ``/proc``;
   the server is then stopped;
8. **the sweep**: ``services.sweep.run()`` in a fresh process on the run's copy, as of
   the store's anchor (a :class:`~mpi.clock.FixedClock`: the builder's "now", so the work
   is the same whenever the benchmark runs), twice: the first expires, reminds and
   escalates; the second finds nothing left (the cost of a sweep with nothing to do).

Every timing is a wall-clock median or percentile on a shared 2-core machine;
tables go to the terminal and JSON to ``bench/out/``.

Run: ``.venv/bin/python bench/referrals.py`` (``--help`` for sizes, counts and seeds).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import csv
import json
import multiprocessing
import os
import pstats
import random
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bulk  # noqa: E402
import bulk_referrals  # noqa: E402
import referral_directory as network  # noqa: E402
from latency import free_port, rss_mb, wait_for_health  # noqa: E402
from referral_requests import ADMIN, Client, intake_phase, metrics_phase, reads_phase, status_phase  # noqa: E402

ROOT = bulk.ROOT
MPI = ROOT / ".venv" / "bin" / "mpi"
OUT = ROOT / "bench" / "out"
RUN = bulk.CACHE / "referrals-run"
TARGETS = {"intake_p99_ms": 25.0, "status_p99_ms": 10.0, "sweep_s": 10.0, "metrics_ms": 500.0}
OPEN = ("submitted", "acknowledged", "in_triage", "accepted", "in_progress", "on_hold")
#: A performer's next step from each open state (an on-hold referral here is on a waiting list).
NEXT = {"submitted": "acknowledged", "acknowledged": "in_triage", "in_triage": "accepted",
        "accepted": "in_progress", "in_progress": "completed", "on_hold": "in_progress"}


# -- the run's store and its users ---------------------------------------------------------------------


def prepare_run(folder: Path) -> Path:
    """A fresh copy of the cached store for this run (the run writes to it)."""
    return bulk.copy_store(folder, RUN)


def issue_tokens(db: Path) -> dict[str, str]:
    """A hub user per organisation and an admin, each through ``mpi users add``; their tokens by user name."""
    users = [(network.hub(o["code"]), "hub", o["code"]) for o in network.ORGANISATIONS] + [(ADMIN, "admin", None)]
    tokens = {}
    for name, role, org in users:
        done = subprocess.run([str(MPI), "--db", str(db), "users", "add", name, "--role", role,
                               *(["--org", org] if org else [])], capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"mpi users add {name} failed:\n{done.stderr[-2000:]}")
        tokens[name] = done.stdout.strip().splitlines()[-1]
    return tokens


def pick_status_targets(db: Path, anchor: datetime, n: int, seed: int) -> list[tuple[str, str, str, str]]:
    """``n`` open referrals whose performer can take the next step: (referral id, performer, from, to)."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "SELECT referral_id, performer, state FROM referrals WHERE list_contains(?, state) "
            "AND NOT (state = 'on_hold' AND state_reason = 'information-incomplete') "
            "AND NOT (state = 'submitted' AND expiry_due_at <= ?) "
            "AND NOT (gate IS NOT NULL AND state IN ('accepted', 'on_hold')) ORDER BY referral_id",
            [list(OPEN), anchor]).fetchall()
    finally:
        con.close()
    chosen = random.Random(seed).sample(rows, min(n, len(rows)))
    return [(rid, performer, state, NEXT[state]) for rid, performer, state in chosen]


def intake_bodies(people: Path, n: int, seed: int, run_tag: str) -> list[dict]:
    """``n`` referrals of held-out records (query.csv, then load.csv; again under new ids when both are used up).

    Each requester's own referral id follows its scheme in the store (``ST-M-00000012``) with the run's tag after
    it, so it sorts among the stored ones: an id sorting after every stored one would let DuckDB's zone maps
    skip the whole table where a real requester's next id does not.
    """
    from mpi.records.fields import RECORD_FIELDS

    records = []
    for name in ("query.csv", "load.csv"):
        with open(people / name, newline="", encoding="utf-8") as f:
            records += [{k: row[k] for k in RECORD_FIELDS} for row in csv.DictReader(f)]
    rng = random.Random(seed)
    services, weights = list(network.SERVICE_MIX), list(network.SERVICE_MIX.values())
    bodies = []
    for i in range(n):
        person = dict(records[i % len(records)])
        if i >= len(records):
            person["source_record_id"] += f"-{i // len(records)}"
        requester = network.SOURCE_ORG[person["source_system"]]
        service = rng.choices(services, weights)[0]
        performer = rng.choice([p for p in network.PERFORMERS[service] if p != requester])
        hospital = network.BY_CODE[requester]["kind"] == "hospital"
        urgency = (rng.choices(("discharge", "urgent", "routine"), (0.3, 0.2, 0.5))[0] if hospital
                   else rng.choices(("urgent", "routine"), (0.15, 0.85))[0])
        bodies.append({
            "requester": requester, "requester_referral_id": f"{requester.upper()[:4]}-{i:08d}-{run_tag}",
            "performer": performer,
            "service_type": service, "urgency": urgency, "reason": network.REASONS[service],
            "requester_contact": {"name": "Referral desk", "phone": "404-555-0100", "email": None},
            "consent": "granted", "risk_flags": [],
            "service_address": {"address_line1": "12 Oak St", "city": "Atlanta", "state": "GA",
                                "postal_code": "30309"},
            "person": person,
        })
    return bodies


def http_phases(db: Path, tokens: dict, bodies: list[dict], targets: list[tuple], args, anchor: datetime,
                read_ids: list[str]) -> dict:
    port = free_port()
    log = open(RUN / "serve.log", "w")
    env = {**os.environ, "MPI_SWEEP_SECONDS": "0"}
    started = time.perf_counter()
    proc = subprocess.Popen([str(MPI), "--db", str(db), "serve", "--port", str(port), "--threads",
                             str(args.threads)], stdout=log, stderr=subprocess.STDOUT, env=env)
    out: dict = {"server_pid": proc.pid}
    try:
        conn = wait_for_health(port, proc, started)
        out["startup_s"] = time.perf_counter() - started
        out["rss_ready_mb"] = rss_mb(proc.pid)["VmRSS"]
        client = Client(conn, tokens)
        with _spy(proc.pid, args.py_spy, "intake"):
            out["intake"] = intake_phase(client, bodies, args.warmup)
        print(f"  intake: {json.dumps(out['intake'])}", flush=True)
        with _spy(proc.pid, args.py_spy, "status"):
            out["status"] = status_phase(client, targets, args.warmup)
        print(f"  status: {json.dumps(out['status']['latency_ms'])}", flush=True)
        out["reads"] = reads_phase(client, args.read_repeat, args.performer, read_ids)
        print(f"  reads: {json.dumps({k: v['latency_ms']['p50'] for k, v in out['reads'].items()})}", flush=True)
        out["metrics"] = metrics_phase(client, args.read_repeat, anchor - timedelta(days=bulk_referrals.DAYS + 30),
                                       datetime.now(timezone.utc) + timedelta(days=1))
        print(f"  metrics: {json.dumps(out['metrics'])}", flush=True)
        memory = rss_mb(proc.pid)
        out["rss_mb"], out["rss_peak_mb"] = memory["VmRSS"], memory["VmHWM"]
    finally:
        proc.terminate()
        proc.wait(timeout=120)
        log.close()
    return out


@contextlib.contextmanager
def _spy(pid: int, folder: str | None, phase: str):
    """py-spy sampling the server through one phase (``--py-spy DIR``: collapsed stacks in DIR/<phase>.txt)."""
    if not folder:
        yield
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    spy = subprocess.Popen([str(ROOT / ".venv" / "bin" / "py-spy"), "record", "--pid", str(pid), "--format", "raw",
                            "--rate", "200", "--output", str(Path(folder) / f"{phase}.txt")],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # attached before the first request
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=60)


# -- the sweep, in a process of its own ----------------------------------------------------------------


def sweep_phase(db: str, anchor_iso: str, profile: str | None) -> dict:
    """``services.sweep.run()`` as of the anchor, twice, in this (fresh) process; the counts and times."""
    from mpi.clock import FixedClock
    from mpi.services import Services

    anchor = datetime.fromisoformat(anchor_iso)
    t0 = time.perf_counter()
    services = Services({"MPI_DB": db}, clock=FixedClock(anchor))
    sweep = services.sweep
    referrals = services.store.referrals
    opened = time.perf_counter() - t0
    open_now = referrals.count(now=anchor, open_states=list(OPEN), states=list(OPEN))
    before = rss_mb(os.getpid())["VmRSS"]
    profiler = cProfile.Profile() if profile else None
    t0 = time.perf_counter()
    if profiler:
        profiler.enable()
    first = sweep.run()
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile)
    first_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    second = sweep.run()
    second_s = time.perf_counter() - t0
    memory = rss_mb(os.getpid())
    services.close()
    counts = {k: v for k, v in first.items() if k != "at"}
    return {"open_referrals": open_now, "first_s": first_s, "first": counts, "second_s": second_s,
            "second": {k: v for k, v in second.items() if k != "at"}, "store_open_s": opened,
            "rss_before_mb": before, "rss_mb": memory["VmRSS"], "rss_peak_mb": memory["VmHWM"]}


# -- the report -------------------------------------------------------------------------------------------


def _verdict(value: float | None, target: float) -> str:
    if value is None:
        return "not available"
    return "met" if value <= target else f"MISSED (x{value / target:.1f})"


def print_report(result: dict) -> None:
    build, http, sweep = result["build"], result["http"], result["sweep"]
    print(f"\n## Referrals at {build['people_generated']} generated persons and {build['referrals_stored']} referrals"
          f" (anchor {build['anchor']}, sweep last ran {build['sweep_gap_hours']:g} h before)")
    print(f"open {build['open']}, of which overdue {build['open_overdue']}; submitted past expiry "
          f"{build['submitted_past_expiry']}; gated on identity {build['gated']}; store "
          f"{result['store_mb']['cached']:.0f} MB cached, {result['store_mb']['after_run']:.0f} MB after the run\n")
    rows = []
    i = http["intake"]["latency_ms"]
    rows.append(("intake: POST /v1/referrals (ms)", f"{i['p50']:.1f} / {i['p95']:.1f} / {i['p99']:.1f}",
                 f"p99 <= {TARGETS['intake_p99_ms']:g}", _verdict(i["p99"], TARGETS["intake_p99_ms"])))
    s = http["status"]["latency_ms"]
    rows.append(("status change: POST .../status (ms)", f"{s['p50']:.1f} / {s['p95']:.1f} / {s['p99']:.1f}",
                 f"p99 <= {TARGETS['status_p99_ms']:g}", _verdict(s["p99"], TARGETS["status_p99_ms"])))
    rows.append((f"sweep over {sweep['open_referrals']} open referrals (s)",
                 f"{sweep['first_s']:.2f} (again: {sweep['second_s']:.2f})", f"<= {TARGETS['sweep_s']:g}",
                 _verdict(sweep["first_s"], TARGETS["sweep_s"])))
    m = http["metrics"]
    ml = m["latency_ms"]
    rows.append((f"metrics: GET /v1/metrics/referrals over {m.get('referrals_counted')} (ms)",
                 f"{ml['p50']:.1f} / {ml['p95']:.1f} / {ml['p99']:.1f}",
                 f"p50 <= {TARGETS['metrics_ms']:g}", _verdict(ml["p50"], TARGETS["metrics_ms"])))
    for name, r in http["reads"].items():
        lat = r["latency_ms"]
        total = f" (total {r['total']})" if r.get("total") is not None else ""
        rows.append((f"{name.replace('_', ' ')}{total} (ms)", f"{lat['p50']:.1f} / {lat['p95']:.1f} / {lat['p99']:.1f}",
                     "", ""))
    rows.append(("server memory: ready / peak (VmHWM) MB", f"{http['rss_ready_mb']:.0f} / {http['rss_peak_mb']:.0f}",
                 "", ""))
    rows.append(("sweep process memory: peak MB", f"{sweep['rss_peak_mb']:.0f}", "", ""))
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'p50 / p95 / p99':>22}  {'target':>14}  verdict")
    for name, value, target, verdict in rows:
        print(f"{name:<{width}}  {value:>22}  {target:>14}  {verdict}")
    print(f"\nintake outcomes: {http['intake']['outcomes']}; first intake {http['intake']['first_ms']:.0f} ms "
          f"(loads the identity gate's record keys); server start-up {http['startup_s']:.1f} s")
    print("status changes by step (n, p50 / p99 ms): " + "; ".join(
        f"{k} {v['n']}, {v['p50']:.1f} / {v['p99']:.1f}" for k, v in http["status"]["by_step"].items()))
    print(f"sweep: {sweep['first']} in {sweep['first_s']:.2f} s; again {sweep['second']} in {sweep['second_s']:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=100_000, help="generated persons of the person store")
    parser.add_argument("--referrals", type=int, default=1_000_000, help="referrals in the store")
    parser.add_argument("--intake", type=int, default=2000, help="timed POST /v1/referrals")
    parser.add_argument("--status", type=int, default=2000, help="timed status changes")
    parser.add_argument("--warmup", type=int, default=50, help="requests of each kind before timing")
    parser.add_argument("--read-repeat", type=int, default=30, help="timed requests of each read and the metrics")
    parser.add_argument("--seed", type=int, default=11, help="seed of the referral store")
    parser.add_argument("--people-seed", type=int, default=7, help="seed of the person store")
    parser.add_argument("--run-seed", type=int, default=5, help="seed of the requests (bodies, referrals picked)")
    parser.add_argument("--sweep-gap-hours", type=float, default=bulk_referrals.SWEEP_GAP_HOURS,
                        help="hours before the anchor since which the store's sweep has not run (a build parameter)")
    parser.add_argument("--store", metavar="FOLDER",
                        help="measure this store built by bench/bulk_referrals.py (another checkout's, say) instead of "
                             "this checkout's cached one for the sizes and seeds given")
    parser.add_argument("--threads", type=int, default=4, help="waitress threads of mpi serve")
    parser.add_argument("--performer", default="metro-foodbank", help="whose worklist and alerts are read")
    parser.add_argument("--py-spy", metavar="DIR",
                        help="sample the server with py-spy (pip install py-spy) through the intake and the status "
                             "changes; collapsed stacks in DIR/intake.txt and DIR/status.txt (timings then include "
                             "its pauses)")
    parser.add_argument("--profile-sweep", metavar="FILE", help="write a cProfile of the first sweep here")
    args = parser.parse_args()

    if args.store:
        folder = Path(args.store)
    else:
        folder = bulk_referrals.build(args.people, args.referrals, args.seed, args.people_seed, args.sweep_gap_hours)
    build = json.loads((folder / "build.json").read_text())
    people = folder.parent / build["people_store"]  # its held-out records
    anchor = datetime.fromisoformat(build["anchor"])
    print(f"# {folder.name}: {build['referrals_stored']} referrals ({build['open']} open) over "
          f"{build['people_generated']} generated persons; copying the store for this run", flush=True)
    db = prepare_run(folder)
    tokens = issue_tokens(db)
    targets = pick_status_targets(db, anchor, args.status + args.warmup, args.run_seed)
    if len(targets) < args.status + args.warmup:
        sys.exit(f"only {len(targets)} open referrals can take a next step; ask for fewer status changes")
    run_tag = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    bodies = intake_bodies(people, args.intake + args.warmup, args.run_seed, run_tag)
    read_ids = [t[0] for t in targets[: args.read_repeat]]
    result = {"build": build, "store_mb": {"cached": (folder / "store.duckdb").stat().st_size / 2**20}}
    result["http"] = http_phases(db, tokens, bodies, targets, args, anchor, read_ids)
    print("  server stopped; the sweep in a process of its own", flush=True)
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        result["sweep"] = pool.apply(sweep_phase, (str(db), build["anchor"], args.profile_sweep))
    result["store_mb"]["after_run"] = db.stat().st_size / 2**20
    print_report(result)
    if args.profile_sweep:
        print(f"\n## cProfile of the first sweep ({args.profile_sweep}), by cumulative time")
        pstats.Stats(args.profile_sweep).sort_stats("cumulative").print_stats(15)
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"referrals-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps({"args": vars(args), "cpus": os.cpu_count(), "targets": TARGETS, **result},
                               indent=1, default=str) + "\n")
    print(f"\nwritten {path}")


if __name__ == "__main__":
    main()
