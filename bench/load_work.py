"""The work ``bench/load.py`` sends and its clients: generated humans' records, their copies and referrals,
taken from one shared queue by client threads, each over its own keep-alive connection (a closed loop, or an
open one at a fixed offered rate)."""

from __future__ import annotations

import random
import signal
import subprocess
import threading
import time
from collections import defaultdict, deque

import httpx

#: Systems the copies of a human's record are sent as (each a distinct key of the same human).
COPY_SYSTEMS = ("st-marys-records", "bluepath-records", "metro-foodbank-records", "homebase-records")
#: Who refers, and to whom for what.
REQUESTERS = ("st-marys", "bluepath")
PERFORMERS = (("metro-foodbank", "food"), ("homebase", "housing"))
STEPS = ("acknowledged", "in_triage", "accepted", "in_progress", "completed")
GATED_LAST = "accepted"  # a gated referral may be accepted, not started


# -- the work ------------------------------------------------------------------------------------------


def humans(people: int, seed: int) -> list[list[dict]]:
    """The generator's records grouped by human (truth column kept for the checks), in a seeded order."""
    from mpi.synth.generator import generate_records

    by_truth: dict[str, list[dict]] = defaultdict(list)
    for r in generate_records(people, seed=seed):
        by_truth[r["truth_person_id"]].append(r)
    groups = [by_truth[t] for t in sorted(by_truth)]
    random.Random(seed).shuffle(groups)
    return groups


def _fullness(r: dict) -> int:
    return sum(1 for f in ("first_name", "last_name", "birth_date", "phone", "ssn_last4", "medicaid_id",
                           "address_line1", "postal_code", "email") if r.get(f))


def _noisy(r: dict, rng: random.Random) -> dict:
    """The same record as another system might type it: case, spacing, phone punctuation (same normal form)."""
    out = dict(r)
    for f in ("first_name", "last_name", "city", "address_line1", "email"):
        if out.get(f):
            out[f] = rng.choice((str.upper, str.lower, str.title, lambda s: f"  {s} "))(out[f])
    digits = "".join(c for c in out.get("phone") or "" if c.isdigit())[-10:]
    if len(digits) == 10:
        area, exchange, line = digits[:3], digits[3:6], digits[6:]
        out["phone"] = rng.choice((f"({area}) {exchange}-{line}", f"{area}.{exchange}.{line}",
                                   f"+1 {area} {exchange} {line}", digits))
    return out


def tasks_of(index: int, group: list[dict], rng: random.Random) -> list[tuple]:
    """One human's work: its records, copies of its fullest record, a retry or two, maybe a referral."""
    from mpi.records.fields import RECORD_FIELDS

    truth = group[0]["truth_person_id"]
    base = max(group, key=_fullness)
    out = [("record", {f: r[f] for f in RECORD_FIELDS}, truth, False) for r in group]
    systems = rng.sample(COPY_SYSTEMS, rng.randint(2, 4))
    copies = [{**_noisy({f: base[f] for f in RECORD_FIELDS}, rng), "source_system": s,
               "source_record_id": f"L{index:06d}-{s[:2]}"} for s in systems]
    referred = copies.pop() if index % 3 == 0 else None
    out += [("record", c, truth, True) for c in copies]
    out += [t for t in out if rng.random() < 0.1]  # a retry: the same record again
    if referred is not None:
        performer, service = PERFORMERS[index % 2]
        requester = REQUESTERS[index % 4 // 2]
        out.append(("referral", {
            "requester": requester, "requester_referral_id": f"LOAD-{index:06d}", "performer": performer,
            "service_type": service, "urgency": rng.choice(("discharge", "urgent", "routine")),
            "reason": "referred under load", "requester_contact": {"name": "Desk", "phone": "404-555-0100"},
            "consent": "granted", "risk_flags": [],
            "service_address": {k: base[k] or None for k in ("address_line1", "city", "state", "postal_code")},
            "person": referred}, truth, True))
    rng.shuffle(out)
    return out


class Work:
    """The shared queue: a referral's next step first (once the one before it was acknowledged), else new work."""

    def __init__(self, groups: list[list[dict]], seed: int):
        self.groups, self.rng, self.next_group = groups, random.Random(seed), 0
        self.pending: deque = deque()
        self.steps: deque = deque()
        self.lock = threading.Lock()
        self.ledger = {"records": {}, "referrals": {}, "copies": defaultdict(set)}
        self.stats = defaultdict(list)  # kind -> latencies (ms) of acknowledged requests
        self.started = defaultdict(list)  # kind -> when each of them was sent (or due), ``time.monotonic()``
        self.began = time.monotonic()  # when the clients last started (``run_clients``)
        self.errors: list[str] = []
        self.refused = 0  # a gate's 409: the rule working, not an error
        self.cut = 0  # requests in flight when the server was killed: never acknowledged
        self.requests = 0

    def take(self) -> tuple | None:
        with self.lock:
            if self.steps:
                return self.steps.popleft()
            while not self.pending and self.next_group < len(self.groups):
                self.pending.extend(tasks_of(self.next_group, self.groups[self.next_group], self.rng))
                self.next_group += 1
            return self.pending.popleft() if self.pending else None

    def done(self, task: tuple, status: int, body: dict, ms: float) -> None:
        kind, payload, truth, copy = task
        with self.lock:
            self.requests += 1
            if kind == "step" and status == 409 and body.get("code") == "identity_pending":
                self.refused += 1
                return
            if not 200 <= status < 300:
                self.errors.append(f"{kind} {status} {body.get('code')}")
                return
            self.stats[kind].append(ms)
            self.started[kind].append(time.monotonic() - ms / 1000)
            if kind == "record":
                key = (payload["source_system"], payload["source_record_id"])
                self.ledger["records"][key] = truth
                if copy:
                    self.ledger["copies"][truth].add(key)
            elif kind == "referral":
                person = payload["person"]
                key = (person["source_system"], person["source_record_id"])
                self.ledger["records"][key] = truth
                self.ledger["copies"][truth].add(key)
                self.ledger["referrals"].setdefault(body["referral_id"], [])
                if body["state"] == "submitted":
                    self._next(body["referral_id"], payload["performer"], body.get("gate"), "submitted")
            else:
                referral_id, performer, gate, state = payload
                self.ledger["referrals"][referral_id].append(state)
                self._next(referral_id, performer, gate, state)

    def _next(self, referral_id: str, performer: str, gate, state: str) -> None:
        if state == "completed" or (gate and state == GATED_LAST):
            return
        following = STEPS[0] if state == "submitted" else STEPS[STEPS.index(state) + 1]
        self.steps.append(("step", (referral_id, performer, gate, following), None, False))


def client_loop(base: str, tokens: dict[str, str], work: Work, until: float, stop: threading.Event,
                interval: float = 0.0, offset: float = 0.0) -> None:
    """One client: take work and send it over one keep-alive connection until the time is up or it is stopped.

    ``interval`` 0: the next request as soon as the last is answered (a closed loop). Else one request every
    ``interval`` seconds from ``offset`` on (an open loop: the clients together offer a fixed rate), each one's
    latency counted from when it was due, so a request held back by a slow one before it counts its wait too.
    """
    due = time.monotonic() + offset
    with httpx.Client(base_url=base, timeout=60) as http:
        while time.monotonic() < until and not stop.is_set():
            if interval:
                if stop.wait(max(0.0, due - time.monotonic())):
                    return
            task = work.take()
            if task is None:
                return
            kind, payload, _, _ = task
            if kind == "record":
                method, path, user, body = "POST", "/v1/records", "hub-st-marys", payload
            elif kind == "referral":
                method, path, user, body = "POST", "/v1/referrals", f"hub-{payload['requester']}", payload
            else:
                method, path, user, body = ("POST", f"/v1/referrals/{payload[0]}/status", f"hub-{payload[1]}",
                                            {"state": payload[3]})
            t0 = time.perf_counter() - (max(0.0, time.monotonic() - due) if interval else 0.0)
            due += interval
            try:
                response = http.request(method, path, json=body, headers={"Authorization": f"Bearer {tokens[user]}"})
            except httpx.HTTPError as e:
                with work.lock:
                    if stop.is_set():
                        work.cut += 1
                    else:
                        work.errors.append(f"{kind} {type(e).__name__}")
                return
            work.done(task, response.status_code, response.json() if response.content else {},
                      (time.perf_counter() - t0) * 1000)


def run_clients(bases: list[str], tokens: dict, work: Work, clients: int, seconds: float,
                kill: subprocess.Popen | None = None, kill_after: float = 0.0, rate: float = 0.0) -> float:
    """Run the clients for ``seconds`` (or kill a server after ``kill_after`` and stop); returns the time taken.

    Client ``i`` talks to instance ``i mod len(bases)``: with two instances each serves half the clients.
    ``rate`` > 0: the clients offer that many requests a second between them, evenly spread (an open loop).
    """
    stop = threading.Event()
    until = time.monotonic() + seconds
    interval = clients / rate if rate > 0 else 0.0
    work.began = time.monotonic()
    threads = [threading.Thread(target=client_loop, args=(bases[i % len(bases)], tokens, work, until, stop,
                                                          interval, i * interval / clients),
                                daemon=True)
               for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    if kill is not None:
        time.sleep(kill_after)
        stop.set()  # a request cut short by the kill is not an error: it was never acknowledged
        kill.send_signal(signal.SIGKILL)
        kill.wait()
    for t in threads:
        t.join()
    return time.perf_counter() - t0
