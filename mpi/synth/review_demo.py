"""The demo's review queue as a steward's day has it: every priority, overdue and fresh, holds, blockers.

The demo load holds its records for review days ago (they are all routine and
overdue by now), the dedup run adds its ``POSSIBLE_DUPLICATE`` cases and the
referral week gates a few discharges on cases (urgent, overdue). This adds what a
steward also meets, through the services the API calls, so all of it is audited:

- fresh cases, held just now and so not yet due: two records a hospital sends with
  a referral at discharge and a routine one (the referral waits: ``identity_pending``;
  the cases are ``urgent`` and ``high``), and two a health plan sends on their own
  (``routine``);
- an older case a plan's referral now waits on (``high``, overdue);
- cases on hold for outreach, each with a note and a follow-up date.

Cases ambiguous between two persons come from the seeded population itself (a
record whose top two candidates both score above the lower threshold).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from mpi.auth import Caller
from mpi.errors import MpiError
from mpi.records.fields import RECORD_FIELDS
from mpi.vocab import Role

if TYPE_CHECKING:
    from mpi.services import Services

logger = logging.getLogger(__name__)

#: The hold notes and how many days ahead each follow-up is.
HOLDS = (("call the client's listed phone to confirm the birth date", 2),
         ("ask the clinic for the Medicaid card on file", 5))
#: Fresh records sent with a referral now: (the referral's urgency, the case's priority that follows).
REFERRED_NOW = (("discharge", "urgent"), ("routine", "high"))
#: Fresh records a plan sends on their own now (routine cases).
SENT_NOW = 2


def stage_queue(services: Services, actor: str, echo: Callable[[str], Any] = lambda _: None) -> dict[str, int]:
    """Give the demo queue its variety once (a queue with a hold already has it); return what was added."""
    waiting = services.cases.queue(limit=1000)
    if any(c.get("hold") for c in waiting):
        echo("demo review queue already staged")
        return {}
    plain = [c for c in waiting if c["kind"] == "POSSIBLE_MATCH" and not c.get("blocks")]
    records = [_record_of(services, c) for c in plain]
    records = [r for r in records if r is not None]
    added = {"referred": 0, "sent": 0, "blocked": 0, "held": 0}
    hospital = Caller("demo-hub", Role.HUB.value, "st-marys")
    for i, (urgency, _) in enumerate(REFERRED_NOW):
        if i >= len(records):
            break
        person = {**records[i], "source_system": "st-marys-ehr", "source_record_id": f"MRN-T{i}"}
        body = {"requester": "st-marys", "requester_referral_id": f"DEMO-T{i}", "performer": "metro-foodbank",
                "service_type": "food", "urgency": urgency, "reason": "referred at discharge",
                "requester_contact": {"name": "Referral desk", "phone": "404-555-0100"}, "consent": "granted",
                "risk_flags": [], "person": person,
                "service_address": {k: person.get(k) for k in ("address_line1", "city", "state", "postal_code")}}
        added["referred"] += _try(lambda: services.referrals.submit(body, hospital))
    fresh = []
    for i in range(len(REFERRED_NOW), len(REFERRED_NOW) + SENT_NOW):
        if i < len(records):
            result = _try_result(lambda: services.matching.submit(
                {**records[i], "source_system": "bluepath-records", "source_record_id": f"BLUEPATH-T{i}"}, actor))
            if result and result.get("review_case_id"):
                fresh.append(result["review_case_id"])
                added["sent"] += 1
    older = plain[len(records) // 2] if plain else None
    if older is not None:
        added["blocked"] += _try(lambda: services.cases.set_blocks(
            older["case_id"], [{"kind": "referral", "id": "BLUEPATH-OUTREACH-7", "priority": "high"}], actor,
            "the plan's outreach referral waits on this person"))
    today = services.clock.now().date()
    for case_id, (note, days) in zip(fresh[:1] + [c["case_id"] for c in plain[-1:]], HOLDS):
        case = services.cases.get(case_id)
        added["held"] += _try(lambda: services.cases.hold(
            case_id, "user:demo-steward", "identity needs outreach before a decision", case["version"],
            follow_up=today + timedelta(days=days), note=note))
    echo(f"review queue: {added['referred']} referrals waiting on fresh cases, {added['sent']} fresh routine "
         f"cases, {added['blocked']} older case now blocking a referral, {added['held']} cases on hold")
    return added


def _record_of(services: Services, case: dict) -> dict | None:
    stored = services.store.records.get(case["source_system"], case["source_record_id"])
    return None if stored is None else {f: stored["raw"].get(f) for f in RECORD_FIELDS}


def _try(act: Callable[[], Any]) -> int:
    return 1 if _try_result(act) is not None else 0


def _try_result(act: Callable[[], Any]) -> Any:
    """One staging step; one the services refuse here is left out (logged by its code), as the referral week's."""
    try:
        return act() or {}
    except MpiError as e:
        logger.info("demo review step not taken: %s", e.code)
        return None
