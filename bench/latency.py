"""Real-time latency of /v1/match at 10k, 100k and 1M generated persons, beside Splink's own.

For each size (a store built and cached by ``bench/bulk.py``):

1. **HTTP**: ``mpi serve`` (waitress) in its own process on loopback; its start-up
   time (until ``/v1/health`` answers: the candidate index is built first) and
   resident memory; then ``POST /v1/match`` for every query record over one
   keep-alive connection, after a warm-up. Then it is stopped (it saves its
   index's base beside the store) and started again: the restart maps that base.
2. **In process**: ``MatchService.match`` for the same query records, after a
   warm-up, with the candidate persons and records each one meets.
3. **Splink**: for a subset of the queries, the same inbound record against the
   very candidate records the in-process path scored, through Splink's cached
   real-time calls (``compare_records``, wrapped in ``bench/splink_realtime.py``, and
   ``RealtimeScorer.score_pairs`` of ``mpi/matching/splink_adapter.py``), checking
   that Splink gives the same weights.
4. **mpi load** (1M by default; run before step 2, so that one index is in
   memory at a time): a few thousand held-out records (duplicates and new
   people) through the real CLI into a copy of the store; records/s (``bench/latency_load.py``).

The query records are held out of the store by ``bench/bulk.py``: fresh
duplicates of persons in the index and some new people. Everything is printed
as tables and written as JSON to ``bench/out/``. Timings on a busy machine are
noisy; ratios within one run are the robust figures.

Run: ``.venv/bin/python bench/latency.py`` (``--help`` for sizes and counts).
"""

from __future__ import annotations

import argparse
import csv
import http.client
import json
import os
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bulk  # noqa: E402
from latency_load import load_phase  # noqa: E402

ROOT = bulk.ROOT
MPI = ROOT / ".venv" / "bin" / "mpi"
OUT = ROOT / "bench" / "out"
ACTOR = "bench:latency"


# -- small helpers -----------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    return {"n": len(values), "p50": pct(values, 50), "p95": pct(values, 95), "p99": pct(values, 99),
            "max": max(values), "mean": sum(values) / len(values)}


def rss_mb(pid: int) -> dict[str, float]:
    """Resident (VmRSS) and peak resident (VmHWM) memory of a process, in MB, and the resident memory split into the
    process's own (RssAnon) and pages of mapped files (RssFile: the candidate index's saved base, clean pages the
    kernel may drop and read again from the page cache)."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:", "RssAnon:", "RssFile:")):
            name, kb = line.split()[:2]
            out[name[:-1]] = int(kb) / 1024
    return out


def read_queries(folder: Path) -> list[dict]:
    """The held-out query records, without their truth column."""
    from mpi.records.fields import RECORD_FIELDS

    with open(folder / "query.csv", newline="", encoding="utf-8") as f:
        return [{k: row[k] for k in RECORD_FIELDS} for row in csv.DictReader(f)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- HTTP ----------------------------------------------------------------------------------------


def http_phase(folder: Path, queries: list[dict], warmup: int, threads: int) -> dict:
    """``POST /v1/match`` against ``mpi serve`` in its own process, over one keep-alive connection; then again
    after a restart (the stop saved the index's base, which the second start maps: nothing was written since)."""
    from mpi.auth import add_user
    from mpi.services import Services

    db = str(folder / "store.duckdb")
    services = Services({"MPI_DB": db})
    services.directory.add({"code": "bench", "name": "Bench", "kind": "hospital", "service_types": []}, "bench")
    token = add_user(services.store, "bench-latency", "hub", organisation="bench")
    services.close()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    bodies = [json.dumps(q) for q in queries]
    port = free_port()
    first = _served(db, port, threads, folder / "serve.log", bodies, headers, warmup)
    again = _served(db, port, threads, folder / "serve-again.log", bodies, headers, 0)
    ready, memory = first["rss_ready"], first["rss"]
    return {"latency_ms": summary(first["times"]), "startup_s": first["startup_s"],
            "rss_ready_mb": ready.get("VmRSS"), "rss_mb": memory.get("VmRSS"), "rss_peak_mb": memory.get("VmHWM"),
            "rss_anon_mb": memory.get("RssAnon"), "rss_file_mb": memory.get("RssFile"),
            "decisions": first["decisions"], "stop_s": first["stop_s"],
            "restart_s": again["startup_s"], "restart_rss_ready_mb": again["rss_ready"].get("VmRSS"),
            "restart_latency_ms": summary(again["times"]), "restart_rss_mb": again["rss"].get("VmRSS"),
            "restart_rss_anon_mb": again["rss"].get("RssAnon"), "restart_rss_file_mb": again["rss"].get("RssFile")}


def _served(db: str, port: int, threads: int, log_path: Path, bodies: list[str], headers: dict, warmup: int) -> dict:
    """One ``mpi serve``: its start-up, memory when ready, ``warmup`` queries, then each query timed, its memory
    after them, and a graceful stop (the service saves its index's base for the next start)."""
    log = open(log_path, "w")
    started = time.perf_counter()
    proc = subprocess.Popen([str(MPI), "--db", db, "serve", "--port", str(port), "--threads", str(threads)],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        conn = wait_for_health(port, proc, started)
        out = {"startup_s": time.perf_counter() - started, "rss_ready": rss_mb(proc.pid), "times": [],
               "decisions": []}
        for body in (bodies * (1 + warmup // max(len(bodies), 1)))[:warmup]:
            _post(conn, body, headers)
        for body in bodies:
            t0 = time.perf_counter()
            result = _post(conn, body, headers)
            out["times"].append((time.perf_counter() - t0) * 1000)
            out["decisions"].append(result["decision"])
        out["rss"] = rss_mb(proc.pid)
    finally:
        stopping = time.perf_counter()
        proc.terminate()
        proc.wait(timeout=1800)
        log.close()
    out["stop_s"] = time.perf_counter() - stopping
    return out


def wait_for_health(port: int, proc: subprocess.Popen, started: float, timeout: float = 1800) -> http.client.HTTPConnection:
    while time.perf_counter() - started < timeout:
        if proc.poll() is not None:
            sys.exit(f"mpi serve exited with {proc.returncode}; see its log")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            conn.request("GET", "/v1/health")
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                return conn
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit("mpi serve did not become healthy")


def _post(conn: http.client.HTTPConnection, body: str, headers: dict) -> dict:
    conn.request("POST", "/v1/match", body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    if response.status != 200:
        sys.exit(f"/v1/match answered {response.status}: {data[:300]!r}")
    return json.loads(data)


# -- in process and Splink -------------------------------------------------------------------------


def inprocess_phase(folder: Path, queries: list[dict], warmup: int, splink_queries: int) -> dict:
    """``MatchService.match`` in this process; then Splink's real-time scoring of the same candidates."""
    from mpi.matching import blocking
    from mpi.records.normalise import normalise_record
    from mpi.records.validation import validate_record
    from mpi.services import Services

    services = Services({"MPI_DB": str(folder / "store.duckdb")})
    matching = services.matching
    before = rss_mb(os.getpid())["VmRSS"]
    t0 = time.perf_counter()
    index = matching.index()
    index_build = time.perf_counter() - t0
    index_mb = rss_mb(os.getpid())["VmRSS"] - before
    duckdb_mb = services.store.db.memory_bytes() / 2**20
    model = matching.active_model()
    for q in (queries * (1 + warmup // max(len(queries), 1)))[:warmup]:
        matching.match(q, ACTOR)
    times, decisions, candidates = [], [], []
    for q in queries:
        t0 = time.perf_counter()
        result = matching.match(q, ACTOR)
        times.append((time.perf_counter() - t0) * 1000)
        decisions.append(result["decision"])
    for q in queries:
        record = validate_record(q)
        norm = normalise_record(record)
        found = index.candidate_persons(blocking.query_keys(norm), matching.max_block_size,
                                        (record["source_system"], record["source_record_id"]))
        candidates.append((norm, found))
    out = {
        "latency_ms": summary(times), "decisions": decisions, "index_build_s": index_build, "index_rss_mb": index_mb,
        "duckdb_mb": duckdb_mb,
        "records": len(index.entries), "persons": len(index.persons),
        "candidate_persons": summary([len(found) for _, found in candidates]),
        "candidate_records": summary([sum(len(m) for _, m in found) for _, found in candidates]),
    }
    if splink_queries:
        out["splink"] = splink_phase(matching, services.registry, model, queries, times, candidates, splink_queries)
    services.close()
    return out


def splink_phase(matching, registry, model, queries, times, candidates, limit: int) -> dict:
    """Splink's cached real-time scoring of each query against exactly the records the in-process path scored."""
    from mpi.matching.splink_adapter import RealtimeScorer, duckdb_api
    from splink_realtime import CachedCompareRecords

    document = registry.document(model.version)
    splink = RealtimeScorer(document["splink_model"], document["tf_tables"], document["tf_floor"], duckdb_api())
    compare_records = CachedCompareRecords(splink).compare_records
    index = matching.index()
    chosen = [i for i, (_, found) in enumerate(candidates) if found][:limit]
    # Warm-up: the first calls generate and cache Splink's SQL.
    norm, found = candidates[chosen[0]]
    records = [entry.norm for _, members in found for entry in members]
    for _ in range(3):  # (the model's own term frequencies: the SQL is the same whichever)
        compare_records(norm, records)
        splink.score_pairs(norm, records)
    ours, scoring, compare, pairs, worst = [], [], [], [], 0.0
    for i in chosen:
        norm, found = candidates[i]
        records = [entry.norm for _, members in found for entry in members]
        t0 = time.perf_counter()
        # The term frequencies /v1/match uses (the index's pooled with the model's), for both engines; the
        # prior is the model's in both.
        frequencies = model.scorer.frequencies(norm, len(index.entries), index.value_counts)
        query = model.scorer.query(norm, frequencies=frequencies)
        weights = [query.weight(entry.shape, entry.values) for _, members in found for entry in members]
        scoring.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        by_compare = compare_records(norm, records, frequencies)
        compare.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        by_pairs = splink.score_pairs(norm, records, frequencies)
        pairs.append((time.perf_counter() - t0) * 1000)
        worst = max(worst, *(abs(a - b) for a, b in zip(weights, by_compare)),
                    *(abs(a - b) for a, b in zip(weights, by_pairs)))
        ours.append(times[i])
    return {"queries": len(chosen), "match_ms": summary(ours), "scoring_only_ms": summary(scoring),
            "compare_records_ms": summary(compare), "score_pairs_ms": summary(pairs),
            "max_weight_difference": worst}


def _s(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.2f}"


# -- tables ------------------------------------------------------------------------------------------


def _ms(s: dict, keys=("p50", "p95", "p99")) -> str:
    return " ".join(f"{s[k]:7.2f}" for k in keys) if s.get("n") else "      -       -       -"


def print_tables(results: dict) -> None:
    sizes = list(results)
    measured = [n for n in sizes if "inprocess" in results[n]]  # --no-inprocess leaves it out

    def persons(n):
        return results[n]["build"]["persons"]

    if measured:
        print("\n## In process: MatchService.match (ms), after warm-up")
        print(f"{'persons':>9} {'records':>9} {'queries':>7} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}"
              f"  {'cand. persons mean/p99':>22}  {'cand. records mean/p99':>22}")
    for n in measured:
        r = results[n]["inprocess"]
        cp, cr = r["candidate_persons"], r["candidate_records"]
        print(f"{r['persons']:>9} {r['records']:>9} {r['latency_ms']['n']:>7} {_ms(r['latency_ms'])} "
              f"{r['latency_ms']['max']:7.2f}  {cp['mean']:>14.1f} / {cp['p99']:>5}  {cr['mean']:>14.1f} / {cr['p99']:>5}")
    if any("http" in results[n] for n in sizes):
        print("\n## Over HTTP: POST /v1/match to mpi serve (waitress) on loopback, keep-alive (ms)")
        print(f"{'persons':>9} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}  {'start-up s':>10}  {'RSS MB':>8}"
              f"  {'peak RSS MB':>11}  same decisions")
        for n in sizes:
            h = results[n].get("http")
            if not h:
                continue
            same = h["decisions"] == results[n]["inprocess"]["decisions"] if n in measured else "-"
            print(f"{persons(n):>9} {_ms(h['latency_ms'])} {h['latency_ms']['max']:7.2f}"
                  f"  {h['startup_s']:>10.1f}  {h['rss_mb']:>8.0f}  {h['rss_peak_mb']:>11.0f}  {same}")
            if "restart_s" in h:
                print(f"{'restarted':>9} {_ms(h['restart_latency_ms'])} {h['restart_latency_ms']['max']:7.2f}"
                      f"  {h['restart_s']:>10.1f}  {h['restart_rss_mb']:>8.0f}  {'-':>11}"
                      f"  (stop took {h['stop_s']:.1f} s; RSS when ready {h['restart_rss_ready_mb']:.0f} MB; after the"
                      f" queries {h.get('restart_rss_anon_mb') or 0:.0f} MB its own, {h.get('restart_rss_file_mb') or 0:.0f}"
                      " MB pages of the mapped base)")
    if any("splink" in results[n]["inprocess"] for n in measured):
        print("\n## Splink's cached real-time scoring of the same record against the same candidate records (ms)")
        print(f"{'persons':>9} {'queries':>7} | {'match() p50 p95 p99':>23} | {'scoring only':>23} |"
              f" {'compare_records':>23} | {'score_pairs':>23} | {'x p50':>6} {'x p99':>6} {'x p50':>6} {'x p99':>6}"
              f" | max |dw|")
        for n in measured:
            s = results[n]["inprocess"].get("splink")
            if not s:
                continue
            m, c, p = s["match_ms"], s["compare_records_ms"], s["score_pairs_ms"]
            print(f"{persons(n):>9} {s['queries']:>7} | {_ms(m)} | {_ms(s['scoring_only_ms'])} |"
                  f" {_ms(c)} | {_ms(p)} | {c['p50'] / m['p50']:6.1f} {c['p99'] / m['p99']:6.1f}"
                  f" {p['p50'] / m['p50']:6.1f} {p['p99'] / m['p99']:6.1f} | {s['max_weight_difference']:.1e}")
        print("  x = Splink's time / match() time (compare_records, then score_pairs), at p50 and p99;"
              " |dw| = largest weight difference between the engines")
    if any("load" in results[n] for n in sizes):
        print("\n## mpi load into the index (held-out duplicates and new people, real CLI)")
        print(f"{'persons':>9} {'records':>8} {'wall s':>7} {'records/s':>9} {'matching s':>10} {'matched/s':>9}"
              f" {'index s':>7} {'re-match s':>10} {'re-score s':>10}  decisions")
        for n in sizes:
            for ld in (results[n].get("load"), results[n].get("load_large")):
                if ld:
                    print(f"{persons(n):>9} {ld['records']:>8} {ld['wall_s']:>7.1f}"
                          f" {ld['records'] / ld['wall_s']:>9.0f} {ld['matching_s']:>10.1f}"
                          f" {ld['records_per_s']:>9} {ld['index_build_s']:>7.1f} {_s(ld.get('rematch_s')):>10}"
                          f" {_s(ld.get('rescore_s')):>10}  {ld['decisions']}")
        print("  records/s = records / the whole command's wall time; matched/s = while matching only; re-match and"
              " re-score: the load's end, after matching")
    if measured:
        print("\n## Store and index")
        print(f"{'persons':>9} {'records':>9} {'rec/person':>10} {'bulk build s':>12} {'index build s':>13}"
              f" {'index RSS MB':>12} {'of it DuckDB MB':>15} {'store MB':>9}")
    for n in measured:
        r, b = results[n]["inprocess"], results[n]["build"]
        print(f"{r['persons']:>9} {r['records']:>9} {b['records_per_person']:>10} {b['total_seconds']:>12.0f}"
              f" {r['index_build_s']:>13.1f} {r['index_rss_mb']:>12.0f} {r.get('duckdb_mb', 0):>15.0f}"
              f" {results[n]['store_mb']:>9.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000],
                        help="generated persons per index")
    parser.add_argument("--seed", type=int, default=7, help="generator seed")
    parser.add_argument("--queries", type=int, default=400, help="most query records per size")
    parser.add_argument("--warmup", type=int, default=50, help="requests before timing")
    parser.add_argument("--splink-queries", type=int, default=100, help="queries also scored by Splink (0: none)")
    parser.add_argument("--no-http", action="store_true", help="skip the HTTP measurement")
    parser.add_argument("--no-inprocess", action="store_true",
                        help="skip the in-process measurement and Splink's beside it (HTTP and load only)")
    parser.add_argument("--threads", type=int, default=4, help="waitress threads of mpi serve")
    parser.add_argument("--load-sizes", type=int, nargs="*", default=[1_000_000],
                        help="sizes at which to time mpi load (none: skip)")
    args = parser.parse_args()

    results = {}
    for n in args.sizes:
        folder = bulk.build(n, args.seed)
        queries = read_queries(folder)[: args.queries]
        result = {"build": json.loads((folder / "build.json").read_text()),
                  "store_mb": (folder / "store.duckdb").stat().st_size / 2**20}
        build = result["build"]
        print(f"\n# {n} persons generated ({folder.name}): {build['persons']} persons and {build['records_stored']}"
              f" records in the store; {len(queries)} queries ({build['query_duplicates']} of"
              f" {build['query_records']} held out are duplicates of a stored person, the rest new people)", flush=True)
        if not args.no_http:
            result["http"] = http_phase(folder, queries, args.warmup, args.threads)
            print(f"  http: {json.dumps(result['http']['latency_ms'])}", flush=True)
        if n in (args.load_sizes or []):  # before this process holds an index of its own: memory
            result["load"] = load_phase(folder)
            print(f"  load: {json.dumps(result['load'])}", flush=True)
            if (folder / "load_large.csv").exists():
                result["load_large"] = load_phase(folder, "load_large.csv")
                print(f"  load (large file): {json.dumps(result['load_large'])}", flush=True)
        if not args.no_inprocess:
            result["inprocess"] = inprocess_phase(folder, queries, args.warmup, args.splink_queries)
            print(f"  in process: {json.dumps(result['inprocess']['latency_ms'])}", flush=True)
        results[n] = result
    print_tables(results)
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"latency-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps({"args": vars(args), "cpus": os.cpu_count(), "results": results}, indent=1) + "\n")
    print(f"\nwritten {path}")


if __name__ == "__main__":
    main()
