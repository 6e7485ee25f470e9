"""One referral's life, run through the product's own referral code over a stand-in store, for the bulk builder.

``bench/bulk_referrals.py`` cannot send a million referrals through the service,
but it can have the product's code decide every column of them:
:class:`Simulator` builds each referral's intake row as ``ReferralIntake`` does,
stores it with ``ReferralWriter.insert``, and takes each later step through
``ReferralSteps`` (``change_status``, ``correct``, redirects), whose checks against
the lifecycle table refuse any step the simulation gets wrong. They run over
:class:`referral_standin.Store`, a stand-in of the few store calls they make, which keeps the rows,
history (pauses live on the row) and audit events in memory for the builder to insert in bulk.
What the sweep did before the store's gap (expiries, alerts) is written as
``ReferralTable.expire_due`` and ``mpi.store.alerts.raise_due_query`` write it.
"""

from __future__ import annotations

import json
import math
import random
from datetime import datetime, timedelta, timezone
from typing import Any

from referral_directory import BY_CODE, NO_RESPONSE, NO_RESPONSE_DEFAULT, REASONS, hub
from referral_standin import Directory, Events, NoGate, Store

ACTOR_SWEEP = "system:sweep"


# -- one referral's life ----------------------------------------------------------------------------


class Simulator:
    """Runs referrals' lives through the product's writer and steps over a stand-in store; collects the rows."""

    def __init__(self, anchor: datetime, gap_hours: float):
        from mpi.clock import FixedClock
        from mpi.referrals.policy import ReferralPolicy
        from mpi.referrals.transitions import ReferralSteps
        from mpi.referrals.writer import ReferralWriter

        self.anchor = anchor
        self.horizon = anchor - timedelta(hours=gap_hours)
        self.clock = FixedClock(anchor)
        self.store = Store(self.clock)
        self.directory = Directory()
        self.policy = ReferralPolicy.load()
        self.writer = ReferralWriter(self.store, self.directory, self.policy, Events(), self.clock)
        self.steps = ReferralSteps(self.store, self.writer, self.directory, self.policy, NoGate(), self.clock)
        self.out: dict[str, list] = {"referrals": [], "events": [], "audit": [], "alerts": []}

    # -- the plan of one referral: (number, id, received, requester, performer, service, urgency,
    #    record key, person, case id or None, successor (id, number, performer) or None, seed)

    def run(self, plan: tuple) -> None:
        (number, referral_id, received, requester, performer, service, urgency, key, person, case_id,
         successor, seed) = plan
        rng = random.Random(seed)
        self._intake(referral_id, number, received, requester, performer, service, urgency, key, person, case_id,
                     rng)
        snaps = {referral_id: [self._snap(referral_id)]}
        self._life(referral_id, rng, snaps, successor, gated=case_id is not None)
        for rid, taken in snaps.items():
            self._emit(rid, taken)

    def _intake(self, referral_id, number, received, requester, performer, service, urgency, key, person,
                case_id, rng) -> None:
        """The row ``ReferralIntake._store`` builds, then ``ReferralWriter.insert``."""
        from mpi.referrals.intake import reference
        from mpi.referrals.timing import targets

        self.clock.set(received)
        org = BY_CODE[requester]
        address = None
        if urgency == "discharge" or service in ("housing", "home-meals") or rng.random() < 0.5:
            address = {"address_line1": f"{rng.randint(1, 4999)} {rng.choice(_STREETS)}", "address_line2": None,
                       "city": "Atlanta", "state": "GA", "postal_code": rng.choice(_ZIPS)}
        row = {
            "referral_id": referral_id, "reference": reference(number, received), "requester": requester,
            "requester_referral_id": f"{requester.upper()[:4]}-{number:08d}", "performer": performer,
            "service_type": service, "urgency": urgency, "reason": REASONS[service],
            "requester_contact": {"name": f"{org['name']} referral desk",
                                  "phone": f"404-555-{rng.randint(0, 9999):04d}", "email": None},
            "consent": rng.choices(("granted", "unknown", "declined"), (0.92, 0.06, 0.02))[0],
            "service_address": address,
            "risk_flags": rng.choices(([], ["fall-risk"], ["lives-alone"], ["behavioral-health"]),
                                      (0.85, 0.05, 0.06, 0.04))[0],
            "source_system": key[0], "source_record_id": key[1], "person_id": None if case_id else person,
            "state": "submitted", "gate": "identity_pending" if case_id else None, "review_case_id": case_id,
            "gated_since": received if case_id else None, "gated_seconds": 0.0,
            "received_at": received, "recorded_at": received, "updated_at": received, "version": 1,
            **targets(self.policy, urgency, service, self.directory.calendar(performer)),
        }
        self.writer.insert(row, f"user:{hub(requester)}",
                           {"decision": "POSSIBLE_MATCH" if case_id else "MATCH",
                            "policy_version": self.policy.version})

    def _life(self, referral_id: str, rng: random.Random, snaps: dict, successor, gated: bool) -> None:
        """Draw the referral's path and take each step that falls before the anchor."""
        referrals = self.store.referrals
        row = referrals.rows[referral_id]
        performer = row["performer"]
        cal = self.directory.calendar(performer)
        received = row["received_at"]
        ack_t, triage_t, contact_t, expiry_t = (row["ack_target_s"], row["triage_target_s"],
                                                row["contact_target_s"], row["expiry_target_s"])
        day = cal.day_seconds
        hours = timedelta(hours=1)

        def late(median: float, sigma: float = 0.9) -> float:
            return median * math.exp(sigma * rng.gauss(0.0, 1.0))

        if successor is None and rng.random() < NO_RESPONSE.get(performer, NO_RESPONSE_DEFAULT):
            self._expire_if_swept(referral_id, snaps)
            return
        path: list[tuple] = []  # (state or "correction", by, event time, reason, note, extra)
        at = cal.add(received, min(late(0.35 * ack_t), 0.9 * expiry_t))
        first = rng.choices(("acknowledged", "in_triage", "accepted"), (0.65, 0.20, 0.15))[0]
        path.append((first, "performer", at, None, None, None))
        state = first
        u = rng.random()
        if successor is not None:  # the plan chose it to be redirected elsewhere
            at = cal.add(at, late(0.2 * triage_t))
            path.append(("redirected", "performer", at, rng.choice(("no-capacity", "not-eligible",
                                                                     "out-of-service-area")), None, successor))
        elif u < 0.10:  # declined after a look (once accepted: closed as not eligible)
            if state == "acknowledged":
                at = cal.add(at, late(0.25 * triage_t))
                path.append(("in_triage", "performer", at, None, None, None))
            at = cal.add(at, late(0.1 * triage_t))
            if state == "accepted":
                path.append(("closed_not_served", "performer", at, "not-eligible", None, None))
            else:
                path.append(("declined", "performer", at, rng.choice(_DECLINE), None, None))
        elif u < 0.13:  # the requester cancels
            at = at + timedelta(days=rng.uniform(0.5, 10))
            path.append(("cancelled", "requester", at, rng.choice(_CANCEL), None, None))
        elif u < 0.135:  # withdrawn: sent in error
            at = at + timedelta(hours=rng.uniform(1, 48))
            path.append(("entered_in_error", "requester", at, "created-in-error", "sent twice", None))
        else:
            if u < 0.185:  # returned for information, then (mostly) corrected
                at = cal.add(at, late(0.2 * triage_t))
                path.append(("on_hold", "performer", at, "information-incomplete", "no phone number", None))
                if rng.random() < 0.85:
                    at = at + hours * rng.uniform(2, 96)
                    path.append(("correction", "requester", at, None, "phone number added", None))
                else:
                    at = at + timedelta(days=rng.uniform(10, 20))
                    path.append(("cancelled", "requester", at, "need-resolved", None, None))
                    self._take(referral_id, path, snaps, gated, rng)
                    return
            if state != "accepted":
                if state == "acknowledged" and rng.random() < 0.5:
                    at = cal.add(at, late(0.25 * triage_t))
                    path.append(("in_triage", "performer", at, None, None, None))
                at = cal.add(at, late(0.1 * triage_t))
                path.append(("accepted", "performer", at, None, None, None))
            fate = rng.random()
            if fate < 0.04:  # accepted and never touched again: its first-contact clock runs out
                pass
            elif fate < 0.10:  # never reached
                at = cal.add(at, day * rng.uniform(3, 15))
                path.append(("closed_not_served", "performer", at, "unable-to-contact", None, None))
            else:
                if rng.random() < 0.05:  # a waiting list
                    at = cal.add(at, late(0.1 * contact_t))
                    path.append(("on_hold", "performer", at, "no-capacity", None, None))
                    at = cal.add(at, day * rng.uniform(1, 10))
                else:  # first contact about half the target after receipt, and after acceptance
                    contact = cal.add(received, late(0.5 * contact_t))
                    at = contact if contact > at else cal.add(at, late(0.05 * contact_t))
                path.append(("in_progress", "performer", at, None, None, None))
                at = cal.add(at, day * rng.uniform(2, 30))
                outcome = rng.random()
                if outcome < 0.08:  # served, but the outcome never recorded: open for good
                    pass
                elif outcome < 0.80:
                    path.append(("completed", "performer", at, None, None, None))
                else:
                    path.append(("closed_not_served", "performer", at,
                                 rng.choice(("unable-to-contact", "client-declined", "patient-moved")), None, None))
        self._take(referral_id, path, snaps, gated, rng)

    def _take(self, referral_id: str, path: list[tuple], snaps: dict, gated: bool, rng: random.Random) -> None:
        """Take the steps in order, through ``ReferralSteps``, until one falls after the anchor."""
        from mpi.auth import Caller

        referrals = self.store.referrals
        row = referrals.rows[referral_id]
        last = row["updated_at"]
        for state, by, at, reason, note, extra in path:
            if gated and state in ("in_progress", "completed"):
                return  # refused while the identity is pending: the referral waits on its case
            recorded = max(last, at + timedelta(seconds=rng.uniform(1, 180)))
            if recorded > self.anchor:
                return
            self.clock.set(recorded)
            last = recorded
            org = row["performer"] if by == "performer" else row["requester"]
            caller = Caller(hub(org), "hub", org)
            body: dict[str, Any] = {"event_time": at.isoformat()}
            if note:
                body["note"] = note
            if state == "correction":
                body["requester_contact"] = {**(row["requester_contact"] or {}), "phone": "404-555-0199"}
                self.steps.correct(referral_id, body, caller)
            else:
                body.update(state=state, reason=reason)
                if extra is not None:  # a redirect: the successor's id and number come from the plan
                    successor_id, number, performer = extra
                    referrals.successor = (successor_id, number)
                    body["performer"] = performer
                    self.steps.change_status(referral_id, body, caller)
                    snaps[referral_id].append(self._snap(referral_id))
                    snaps[successor_id] = [self._snap(successor_id)]
                    sub = random.Random(number)
                    self._life(successor_id, sub, snaps, None, gated=False)
                    return
                self.steps.change_status(referral_id, body, caller)
            row = referrals.rows[referral_id]
            snaps[referral_id].append(self._snap(referral_id))
        if row["state"] == "submitted":
            self._expire_if_swept(referral_id, snaps)

    def _expire_if_swept(self, referral_id: str, snaps: dict) -> None:
        """What ``Sweep.run`` (``ReferralTable.expire_due``) wrote if it ran after the expiry and before the gap."""
        referrals = self.store.referrals
        row = referrals.rows[referral_id]
        due = row["expiry_due_at"]
        if due is None:
            return
        tick = _tick(due)
        if tick > self.horizon:
            return
        self.clock.set(tick)
        version = row["version"] + 1
        referrals.history.setdefault(referral_id, []).append(
            (referral_id, version, "status", "submitted", "expired", due, tick, ACTOR_SWEEP, "system",
             "expired-no-response", None, None))
        row.update(state="expired", state_reason="expired-no-response", state_party="system",
                   resume_state="submitted", closed_at=due, stepped_at=due, updated_at=tick, next_due_at=None,
                   next_clock=None, version=version)
        self.store.audit.append(ACTOR_SWEEP, "referral.status_changed", "referral", referral_id,
                                "expired-no-response", {"from_state": "submitted", "to_state": "expired",
                                                        "party": "system", "event_time": due.isoformat(),
                                                        "version": version})
        snaps[referral_id].append(self._snap(referral_id))

    def _snap(self, referral_id: str) -> tuple:
        """What the sweep reads of a referral from the moment it last changed."""
        r = self.store.referrals.rows[referral_id]
        return (r["updated_at"], r["state"], r["performer"],
                tuple((r[f"{p}_met_at"], r[f"{p}_due_at"], r[f"{p}_remind_at"]) for p in ("ack", "triage", "contact")))

    def _emit(self, referral_id: str, snaps: list[tuple]) -> None:
        referrals = self.store.referrals
        self.out["referrals"].append(referrals.rows.pop(referral_id))
        self.out["events"] += referrals.history.pop(referral_id, [])
        self.out["alerts"] += _alerts(referral_id, snaps, self.horizon, self.anchor)

    def take_output(self) -> dict[str, list]:
        """What the referrals run since the last call wrote (and the audit events), emptied."""
        out = self.out
        out["audit"] = self.store.audit.rows
        self.store.audit.rows = []
        self.out = {k: [] for k in out}
        return out


_STREETS = ("Oak St", "Peachtree Rd NE", "Ponce de Leon Ave", "Memorial Dr SE", "Cascade Rd SW", "Boulevard NE")
_ZIPS = ("30303", "30308", "30309", "30310", "30312", "30314", "30315", "30318", "30331", "30344")
_DECLINE = ("no-capacity", "not-eligible", "out-of-service-area", "service-not-offered", "unable-to-contact",
            "client-declined", "already-served")
_CANCEL = ("need-resolved", "patient-moved", "client-declined", "duplicate")
_CLOCKS = ("acknowledge", "triage", "first_contact")
OPEN = frozenset({"submitted", "acknowledged", "in_triage", "accepted", "in_progress", "on_hold"})


def _tick(at: datetime) -> datetime:
    """The first run of a once-a-minute sweep at or after ``at``."""
    seconds = math.ceil(at.timestamp() / 60) * 60
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def _alerts(referral_id: str, snaps: list[tuple], horizon: datetime, anchor: datetime) -> list[tuple]:
    """The alerts a once-a-minute sweep raised for a referral until ``horizon`` (``mpi.store.alerts.raise_due_query``).

    Between two changes a referral's clocks stand still; at each run the sweep raises, for a clock
    still running in an open state whose reminder time has passed, a reminder (its due time not yet
    passed) or an escalation, once per (clock, kind, due time). Some are acknowledged by the owner.
    """
    raised: set[tuple] = set()
    out = []
    rng = random.Random(referral_id)
    for i, (start, state, performer, clocks) in enumerate(snaps):
        if state not in OPEN:
            continue
        end = snaps[i + 1][0] if i + 1 < len(snaps) else None
        for clock, (met, due, remind) in zip(_CLOCKS, clocks):
            if met is not None or due is None or remind is None:
                continue
            # A run raises a reminder once the reminder time has passed, up to the due time itself, and an
            # escalation once the due time has passed.
            for kind, begin, until in (("reminder", remind, due), ("escalation", due, None)):
                tick = _tick(max(begin, start))
                if kind == "escalation" and tick == due:
                    tick += timedelta(minutes=1)
                if (until is not None and tick > until) or (end is not None and tick >= end) or tick > horizon:
                    continue
                if (clock, kind, due) in raised:
                    continue
                raised.add((clock, kind, due))
                supervisors = BY_CODE[performer]["supervisors"] if kind == "escalation" else []
                acknowledged = tick + timedelta(hours=rng.uniform(0.2, 30)) if rng.random() < 0.6 else None
                if acknowledged is not None and acknowledged > anchor:
                    acknowledged = None
                out.append((referral_id, kind, clock, performer, json.dumps(supervisors), due, tick, acknowledged,
                            f"user:{hub(performer)}" if acknowledged else None))
    return out


# -- the worker ---------------------------------------------------------------------------------------

_SIM: Simulator | None = None


def init_worker(anchor: datetime, gap_hours: float) -> None:
    global _SIM
    _SIM = Simulator(anchor, gap_hours)


def simulate(plans: list[tuple]) -> dict[str, Any]:
    """Worker: simulate a chunk of referrals; returns their rows as Arrow tables (pickled)."""
    for plan in plans:
        _SIM.run(plan)
    return _arrow(_SIM.take_output())


def _arrow(out: dict[str, list]) -> dict[str, Any]:
    import pyarrow as pa

    from mpi.store.columns import REFERRAL_EVENTS, REFERRAL_JSON, REFERRALS
    from mpi.store.referrals import _dumped  # the store's own JSON of a column (pauses with ISO times)

    ts = pa.timestamp("us", tz="UTC")
    types = {c: ts for c in REFERRALS if c.endswith(("_at", "_since"))}
    types.update({c: pa.float64() for c in REFERRALS if c.endswith("_s") or c == "gated_seconds"})
    types["version"] = pa.int32()
    rows = out["referrals"]
    referrals = pa.table({c: pa.array([_dumped(c, r[c]) if c in REFERRAL_JSON else r[c]
                                       for r in rows], type=types.get(c, pa.string())) for c in REFERRALS})

    def table(columns, data, kinds):
        cols = list(zip(*data)) if data else [[] for _ in columns]
        return pa.table({c: pa.array(list(v), type=kinds.get(c, pa.string())) for c, v in zip(columns, cols)})

    events = table(REFERRAL_EVENTS, out["events"], {"seq": pa.int32(), "event_time": ts, "recorded_time": ts})
    audit = table(("occurred_at", "actor", "action", "entity_type", "entity_id", "reason", "detail"), out["audit"],
                  {"occurred_at": ts})
    alerts = table(("referral_id", "kind", "clock", "organisation", "recipients", "due_at", "raised_at",
                    "acknowledged_at", "acknowledged_by"), out["alerts"],
                   {"due_at": ts, "raised_at": ts, "acknowledged_at": ts})
    return {"referrals": referrals, "events": events, "audit": audit, "alerts": alerts}

