"""The requests ``bench/referrals.py`` times, over one keep-alive connection to ``mpi serve``."""

from __future__ import annotations

import http.client
import json
import sys
import time
from datetime import datetime
from urllib.parse import urlencode

import referral_directory as network
from latency import summary

#: The admin user the benchmark issues (every referral, the metrics).
ADMIN = "bench-admin"


class Client:
    """One keep-alive connection to the server; each call returns (status, parsed body, milliseconds)."""

    def __init__(self, conn: http.client.HTTPConnection, tokens: dict[str, str]):
        self.conn = conn
        self.tokens = tokens

    def call(self, method: str, path: str, user: str, body: dict | None = None) -> tuple[int, dict, float]:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"}
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        t0 = time.perf_counter()
        self.conn.request(method, path, body=data, headers=headers)
        response = self.conn.getresponse()
        raw = response.read()
        elapsed = (time.perf_counter() - t0) * 1000
        return response.status, (json.loads(raw) if raw else {}), elapsed

    def ok(self, method: str, path: str, user: str, body: dict | None = None, expect=(200, 201)) -> tuple[dict, float]:
        status, data, elapsed = self.call(method, path, user, body)
        if status not in expect:
            sys.exit(f"{method} {path} answered {status}: {json.dumps(data)[:400]}")
        return data, elapsed


def intake_phase(client: Client, bodies: list[dict], warmup: int) -> dict:
    """``POST /v1/referrals``: the first request, a warm-up, then every body timed; the outcomes counted."""
    def send(body):
        data, ms = client.ok("POST", "/v1/referrals", network.hub(body["requester"]), body, expect=(201,))
        return data, ms

    first, first_ms = send(bodies[0])
    for body in bodies[1:warmup]:
        send(body)
    times, outcomes = [], {"linked": 0, "new_person": 0, "gated": 0}
    for body in bodies[warmup:]:
        data, ms = send(body)
        times.append(ms)
        decision = (data["history"][0].get("detail") or {}).get("decision")
        outcomes["gated" if data["gate"] else "linked" if decision == "MATCH" else "new_person"] += 1
    return {"latency_ms": summary(times), "first_ms": first_ms, "outcomes": outcomes}


def status_phase(client: Client, targets: list[tuple], warmup: int) -> dict:
    """``POST /v1/referrals/{id}/status``: each referral to its next step, by its performer's hub."""
    def send(target):
        referral_id, performer, _, state = target
        data, ms = client.ok("POST", f"/v1/referrals/{referral_id}/status", network.hub(performer), {"state": state})
        assert data["state"] == state, data["state"]
        return ms

    for target in targets[:warmup]:
        send(target)
    times, by_step = [], {}
    for target in targets[warmup:]:
        ms = send(target)
        times.append(ms)
        by_step.setdefault(f"{target[2]}->{target[3]}", []).append(ms)
    return {"latency_ms": summary(times), "by_step": {k: summary(v) for k, v in sorted(by_step.items())}}


def reads_phase(client: Client, repeat: int, performer: str, referral_ids: list[str]) -> dict:
    """The overdue worklist page (admin: every referral; a performer's hub: its own), a referral, the alerts."""
    out = {}
    pages = {"overdue_page_admin": ("/v1/referrals?" + urlencode({"overdue": "true", "limit": 50}), ADMIN),
             "overdue_page_performer": ("/v1/referrals?" + urlencode({"overdue": "true", "limit": 50}),
                                        network.hub(performer)),
             "alerts_page_performer": ("/v1/alerts?limit=50", network.hub(performer))}
    for name, (path, user) in pages.items():
        client.ok("GET", path, user)
        times, total = [], None
        for _ in range(repeat):
            data, ms = client.ok("GET", path, user)
            times.append(ms)
            total = data.get("total")
        out[name] = {"latency_ms": summary(times), "total": total}
    times = []
    for referral_id in referral_ids:
        _, ms = client.ok("GET", f"/v1/referrals/{referral_id}", ADMIN)
        times.append(ms)
    out["one_referral"] = {"latency_ms": summary(times)}
    return out


def metrics_phase(client: Client, repeat: int, start: datetime, end: datetime) -> dict:
    """``GET /v1/metrics/referrals`` over ``[start, end)``: one untimed, then ``repeat`` timed."""
    path = "/v1/metrics/referrals?" + urlencode({"from": start.isoformat(), "to": end.isoformat()})
    body, first = client.ok("GET", path, ADMIN)
    times = [client.ok("GET", path, ADMIN)[1] for _ in range(repeat)]
    return {"path": path, "first_ms": first, "latency_ms": summary(times),
            "referrals_counted": body.get("referrals"), "answer_bytes": len(json.dumps(body))}
