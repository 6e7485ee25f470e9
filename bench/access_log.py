"""What the access log adds to a request: latency with and without its event, on a few thousand persons.

Builds a store of generated persons (``--people``, 3,000 by default) in a
temporary folder, serves the real app with waitress on loopback, and times
``GET /v1/persons/{id}`` and ``POST /v1/match`` over one keep-alive connection,
alternating rounds in three modes, so the machine's drift falls on each alike:
``off`` (the access-log hook taken out of the app's ``after_request`` functions: the
only difference), ``buffered`` (the default, ``MPI_ACCESS_LOG_FLUSH_MS=100``) and
``each`` (``MPI_ACCESS_LOG_FLUSH_MS=0``: one INSERT per request before it answers).
Also times ``store.access.append`` alone, in process, in both modes. Prints p50,
p90 and mean per request and what each mode adds to ``off``.

Run: ``PYTHONPATH=. .venv/bin/python bench/access_log.py`` (``--help`` for counts).
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import waitress

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from api import create_app  # noqa: E402
from mpi.auth import add_user  # noqa: E402
from mpi.synth.generator import generate_records  # noqa: E402


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q / 100))]


def _hook(app):
    [hook] = [f for f in app.after_request_funcs[None] if f.__name__ == "_record"]
    return hook


def _time(conn, token: str, requests: list[tuple[str, str, bytes | None]]) -> list[float]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    out = []
    for method, path, body in requests:
        start = time.perf_counter()
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        out.append((time.perf_counter() - start) * 1000)
        assert response.status == 200, (method, path, response.status)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=3000)
    parser.add_argument("--requests", type=int, default=2000, help="requests per kind and per setting")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="access-bench-"))
    app = create_app({"MPI_DB": str(folder / "mpi.duckdb")})
    services = app.extensions["mpi"]
    records = list(generate_records(args.people, seed=14))
    start = time.perf_counter()
    person_ids = set()
    for r in records:
        body = {k: v for k, v in r.items() if k != "truth_id" and not k.startswith("truth")}
        result = services.matching.submit(body, "bench:access")
        if result.get("person_id"):
            person_ids.add(result["person_id"])
    print(f"loaded {len(records)} records, {services.store.counts()['persons']} persons "
          f"in {time.perf_counter() - start:.0f} s")
    token = add_user(services.store, "bench-hub", "hub")

    def append_ms(n: int) -> list[float]:
        out = []
        for _ in range(n):
            t0 = time.perf_counter()
            services.store.access.append(actor="user:bench", organisation=None, role="hub", purpose="TREAT",
                                         action="read", method="GET", route="/bench", status=200,
                                         entities=[("person", "MPI00000001")])
            out.append((time.perf_counter() - t0) * 1000)
        return out

    services.store.access.flush_every(0)
    appends = {"each": append_ms(500)}
    services.store.access.flush_every(100)
    appends["buffered"] = append_ms(500)

    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    conn = http.client.HTTPConnection("127.0.0.1", server.effective_port)
    rng = random.Random(14)
    ids = sorted(person_ids)
    queries = [{k: v for k, v in r.items() if not k.startswith("truth")} for r in rng.sample(records, 200)]
    hook = _hook(app)
    modes = ("off", "buffered", "each")
    results: dict[tuple[str, str], list[float]] = {}
    per_round = max(1, args.requests // args.rounds)
    for _ in range(args.rounds):
        for mode in modes:
            hooks = app.after_request_funcs[None]
            if mode == "off":
                hooks.remove(hook)
            elif hook not in hooks:
                hooks.append(hook)
            services.store.access.flush_every(0 if mode == "each" else 100)
            reads = [("GET", f"/v1/persons/{rng.choice(ids)}", None) for _ in range(per_round)]
            matches = [("POST", "/v1/match", json.dumps({**rng.choice(queries), "source_system": "bench",
                                                        "source_record_id": "q"}).encode())
                       for _ in range(per_round)]
            results.setdefault(("GET /v1/persons/{id}", mode), []).extend(_time(conn, token, reads))
            results.setdefault(("POST /v1/match", mode), []).extend(_time(conn, token, matches))
    server.close()

    for mode, values in appends.items():
        print(f"store.access.append alone, {mode}: p50 {_pct(values, 50):.3f} ms, p90 {_pct(values, 90):.3f} ms, "
              f"mean {statistics.mean(values):.3f} ms ({len(values)} appends)")
    print(f"{'request':24} {'access log':>10} {'n':>6} {'p50 ms':>8} {'p90 ms':>8} {'mean ms':>8}")
    for kind in ("GET /v1/persons/{id}", "POST /v1/match"):
        row = {}
        for mode in modes:
            values = results[(kind, mode)]
            row[mode] = (_pct(values, 50), _pct(values, 90), statistics.mean(values))
            print(f"{kind:24} {mode:>10} {len(values):>6} {row[mode][0]:8.2f} {row[mode][1]:8.2f} {row[mode][2]:8.2f}")
        for mode in modes[1:]:
            print(f"{kind:24} {'+' + mode:>10} {'':>6} {row[mode][0] - row['off'][0]:8.2f} "
                  f"{row[mode][1] - row['off'][1]:8.2f} {row[mode][2] - row['off'][2]:8.2f}")
    print(f"access events written: {services.store.access.count()}")
    services.close()


if __name__ == "__main__":
    main()
