"""The demo's referral network: four organisations, their people, and a week of referrals in every state.

So that a newcomer sees the loop, ``mpi demo`` adds to the demo index a hospital
and a health plan that refer, a food bank and a housing organisation that
perform, and about sixty referrals received over the past week: some fresh, some
worked through every state of the lifecycle, some returned for information or
redirected, some waiting on real review cases (gated), and some overdue, so the
sweep that runs at the end leaves expiries, reminders and escalations behind.

Everything goes through the services the API calls (intake through the match
decision, guarded status changes, the sweep), on a :class:`~mpi.clock.ReplayClock`
moved from a week ago up to now, so every time is as it would have been. The
people are the demo population's own (seeded), sent again as the hospital's and
the plan's records.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from random import Random
from typing import TYPE_CHECKING, Any

from mpi.auth import Caller, add_user
from mpi.clock import ReplayClock
from mpi.synth import exchange_demo
from mpi.errors import MpiError
from mpi.records.fields import RECORD_FIELDS
from mpi.synth.generator import generate_records
from mpi.vocab import AuditAction, EntityType, Role

if TYPE_CHECKING:
    from mpi.services import Services

logger = logging.getLogger(__name__)

HOURS = {d: "09:00-17:00" for d in ("mon", "tue", "wed", "thu", "fri")}
GEORGIA = {"timezone": "America/New_York", "hours": HOURS, "holidays": {"country": "US", "subdivision": "GA"}}
ORGANISATIONS = (
    {"code": "st-marys", "name": "St Mary's Hospital", "kind": "hospital", "service_types": [],
     "calendar": {**GEORGIA, "hours": {d: "00:00-24:00" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}},
     "supervisors": []},
    {"code": "bluepath", "name": "BluePath Health Plan", "kind": "mco", "service_types": ["care-management"],
     "calendar": GEORGIA, "supervisors": []},
    {"code": "metro-foodbank", "name": "Metro Food Bank", "kind": "cbo", "service_types": ["food", "home-meals"],
     "calendar": GEORGIA, "supervisors": ["demo-supervisor"]},
    {"code": "homebase", "name": "HomeBase Housing", "kind": "cbo", "service_types": ["housing", "food"],
     "calendar": GEORGIA, "supervisors": ["demo-supervisor"]},
)
#: The demo's people of the referral network: (name, role, organisation).
USERS = (("demo-hub", Role.HUB, "st-marys"), ("demo-plan-hub", Role.HUB, "bluepath"),
         ("demo-coordinator", Role.COORDINATOR, "metro-foodbank"), ("demo-homebase", Role.COORDINATOR, "homebase"),
         ("demo-supervisor", Role.COORDINATOR, "metro-foodbank"))
#: Steps of each path a demo referral takes: (state, reason, hours after the previous step).
PATHS: dict[str, list[tuple[str, str | None, float]]] = {
    "submitted": [],
    "acknowledged": [("acknowledged", None, 2)],
    "in_triage": [("acknowledged", None, 1), ("in_triage", None, 3)],
    "accepted": [("acknowledged", None, 1), ("accepted", None, 5)],
    "in_progress": [("acknowledged", None, 1), ("accepted", None, 3), ("in_progress", None, 20)],
    "completed": [("acknowledged", None, 1), ("accepted", None, 3), ("in_progress", None, 20),
                  ("completed", None, 30)],
    "declined": [("acknowledged", None, 2), ("declined", "no-capacity", 3)],
    "redirected": [("acknowledged", None, 1), ("redirected", "out-of-service-area", 2)],
    "closed_not_served": [("acknowledged", None, 1), ("accepted", None, 2), ("closed_not_served",
                                                                            "unable-to-contact", 50)],
    "returned": [("acknowledged", None, 1), ("on_hold", "information-incomplete", 2)],
    "waitlisted": [("acknowledged", None, 1), ("on_hold", "no-capacity", 4)],
    "cancelled": [("cancelled", "need-resolved", 5)],
    "entered_in_error": [("entered_in_error", None, 1)],
}
#: Each path this many times, received at a random time of the past week (the last few a little earlier).
COPIES = 4
WEEK = timedelta(days=7)


@dataclass(order=True)
class _Step:
    behind: timedelta
    order: int
    act: Callable[[], Any] = field(compare=False)


def build_network(services: Services, actor: str, seed: int, echo: Callable[[str], Any]) -> dict[str, str]:
    """Add the demo's organisations and referrals once; return tokens for its users (issued afresh each run)."""
    tokens: dict[str, str] = {}
    if not services.directory.all():
        for org in ORGANISATIONS:
            services.directory.add(org, actor)
    with services.store.transaction():
        for name, role, org in USERS:
            tokens[name] = add_user(services.store, name, role.value, organisation=org)
            services.store.audit.append(actor, AuditAction.USER_ADDED, EntityType.USER, name, "demo token issued",
                                        {"role": role.value, "organisation": org})
    if services.store.referrals.count(now=services.clock.now(), open_states=[]):
        echo("demo referrals already built; not adding more")
        return tokens
    clock = services.clock
    replay = clock if isinstance(clock, ReplayClock) else None
    feed = exchange_demo.add_feed(services, actor)
    try:
        _replay_week(services, seed, replay, echo)
        exchange_demo.settle(services, feed, actor, echo)
    finally:
        feed.close()
    return tokens


def _replay_week(services: Services, seed: int, replay: ReplayClock | None, echo: Callable[[str], Any]) -> None:
    """The week of referrals, step by step on the replayed clock, then a sweep."""
    steps = _plan(services, Random(seed), replay is not None)
    echo(f"building the demo referral network: {len(ORGANISATIONS)} organisations, "
         f"{sum(1 for s in steps if s.order == 0)} referrals over the past week")
    for step in sorted(steps, key=lambda s: (-s.behind, s.order)):
        if replay is not None:
            replay.set_behind(step.behind)
        try:
            step.act()
        except MpiError as e:  # a step the lifecycle refuses here (a gate, say) is simply not taken
            logger.info("demo step not taken: %s", e.code)
    if replay is not None:
        replay.catch_up()
    swept = services.sweep.run()
    counts = services.store.referrals.count(now=services.clock.now(), open_states=[])
    gated = services.store.referrals.count(now=services.clock.now(), open_states=[], gated=True)
    echo(f"referrals: {counts} ({gated} gated on review cases); sweep: {swept['expired']} expired, "
         f"{swept['reminders']} reminders, {swept['escalations']} escalations")


def _plan(services: Services, rng: Random, replayed: bool) -> list[_Step]:
    """Every step of every demo referral, each at its age (how long before now it happens)."""
    people = [{f: r[f] for f in RECORD_FIELDS} for r in generate_records(60, seed=rng.randrange(10**6))]
    held = _held_records(services)
    hospital = Caller("demo-hub", Role.HUB.value, "st-marys")
    plan = Caller("demo-plan-hub", Role.HUB.value, "bluepath")
    performers = {"metro-foodbank": Caller("demo-coordinator", Role.COORDINATOR.value, "metro-foodbank"),
                  "homebase": Caller("demo-homebase", Role.COORDINATOR.value, "homebase")}
    steps: list[_Step] = []
    n = 0
    scenarios = [(path, copy) for copy in range(COPIES) for path in PATHS]
    scenarios += [("expired", i) for i in range(3)] + [("gated", i) for i in range(min(6, len(held)))]
    for path, copy in scenarios:
        n += 1
        requester = hospital if n % 3 else plan
        performer = "metro-foodbank" if n % 4 else "homebase"
        service = rng.choice(["food", "home-meals"]) if performer == "metro-foodbank" else rng.choice(
            ["housing", "food"])
        if path == "redirected":
            service = "food"  # performed by both, so the redirect has somewhere to go
        urgency = rng.choice(["discharge", "urgent", "routine", "routine"]) if requester is hospital else "routine"
        if path == "gated":
            person = {**held[copy], "source_system": "st-marys-ehr", "source_record_id": f"MRN-G{copy}"}
            requester, urgency, age = hospital, "discharge", timedelta(hours=rng.uniform(2, 30))
        else:
            person = {**people[n % len(people)], "source_system": f"{requester.organisation}-records",
                      "source_record_id": f"{requester.organisation.upper()}-{n:04d}"}
            age = timedelta(hours=rng.uniform(1, 24 * 7 - 60)) if path != "submitted" or copy else timedelta(hours=1)
        if path == "expired":
            urgency, age = "discharge", timedelta(hours=rng.uniform(80, 120))
        if not replayed:
            age = timedelta(0)
        body = {"requester": requester.organisation, "requester_referral_id": f"DEMO-{n:04d}",
                "performer": performer, "service_type": service, "urgency": urgency,
                "reason": "referred at discharge" if requester is hospital else "found by the plan's outreach",
                "requester_contact": {"name": "Referral desk", "phone": "404-555-0100"}, "consent": "granted",
                "risk_flags": ["lives-alone"] if n % 5 == 0 else [],
                "service_address": {k: person.get(k) for k in ("address_line1", "city", "state", "postal_code")},
                "person": person}
        steps.append(_Step(age, 0, _intake(services, body, requester)))
        at = age
        # Half the gated referrals were accepted while the steward decides: a start waits on the case.
        path_steps = PATHS["accepted"] if path == "gated" and copy % 2 else PATHS.get(path, [])
        for order, (state, reason, hours) in enumerate(path_steps, start=1):
            at -= timedelta(hours=hours)
            if at <= timedelta(0):
                break
            who = requester if state in ("cancelled", "entered_in_error") else performers[performer]
            change = {"state": state, "reason": reason}
            if state == "redirected":
                change["performer"] = "homebase" if performer == "metro-foodbank" else "metro-foodbank"
                change["note"] = "closer to the client's address"
            if state == "entered_in_error":
                change["note"] = "sent for the wrong client"
            steps.append(_Step(at, order, _status(services, body, requester, change, who)))
    return steps


def _intake(services: Services, body: dict, requester: Caller) -> Callable[[], Any]:
    return lambda: services.referrals.submit(body, requester)


def _status(services: Services, body: dict, requester: Caller, change: dict, who: Caller) -> Callable[[], Any]:
    def act() -> None:
        referral_id = services.store.referrals.by_requester_id(requester.organisation, body["requester_referral_id"])
        if referral_id is not None:
            services.referrals.change_status(referral_id, {k: v for k, v in change.items() if v is not None}, who)
    return act


def _held_records(services: Services) -> list[dict]:
    """The records held in open review cases: sent again as the hospital's, they wait on a steward too."""
    held = []
    for case in services.cases.queue(limit=20):
        stored = services.store.records.get(case["source_system"], case["source_record_id"])
        if stored is not None:
            held.append({f: stored["raw"].get(f) for f in RECORD_FIELDS})
    return held
