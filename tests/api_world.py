"""A small real store for the contract tests: organisations, users of every role, persons, cases, referrals.

Built once per test module by :func:`build_world` on a temporary DuckDB file,
through the same services the API calls, so the ids it returns are real ones a
request can name. Imported by ``test_openapi_contract.py`` and
``test_authorisation_matrix.py``.
"""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

from conftest import SHIPPED_MODELS, activate_policy_on, record
from mpi.auth import Caller, add_user
from mpi.exchange.inbound_vocab import InboundKind
from mpi.services import DEFAULT_MODEL_VERSION, Services
from referral_network import ORGANISATIONS, referral_body

#: Every role, with the organisation its user belongs to (the hub and coordinator act for the food bank's side).
ROLE_USERS = {
    "hub": ("w-hub", "st-marys"),
    "coordinator": ("w-coordinator", "foodbank"),
    "steward": ("w-steward", None),
    "admin": ("w-admin", None),
    "auditor": ("w-auditor", None),
}
#: A hub and a coordinator of an organisation on neither side of the world's referrals.
OTHER_ORG_HUB = ("w-other-hub", "bluepath")
OTHER_ORG_COORDINATOR = ("w-other-coordinator", "bluepath")


def services_on(folder: Path) -> Services:
    """Services on a fresh store in ``folder``, with a copy of the shipped model."""
    models = folder / "models"
    models.mkdir(parents=True)
    shutil.copy(SHIPPED_MODELS / f"{DEFAULT_MODEL_VERSION}.json", models)
    return Services({"MPI_DB": str(folder / "mpi.duckdb"), "MPI_MODELS_DIR": str(models)})


#: St Mary's partner system in the world, with one crosswalk version.
WORLD_PARTNER = {"partner_id": "world-partner", "organisation": "st-marys", "name": "St Mary's EHR feed",
                 "endpoint": "https://ehr.example/fhir", "format": "fhir-task", "subscriptions": ["requester"]}


def build_world(services: Services) -> SimpleNamespace:
    """Organisations, a user of each role, three persons, two review cases, a merge, referrals and their ids."""
    services.ensure_active_model("test")
    for org in ORGANISATIONS:
        services.directory.add(org, "test")
    tokens = {role: add_user(services.store, name, role, organisation=org)
              for role, (name, org) in ROLE_USERS.items()}
    tokens["other-hub"] = add_user(services.store, OTHER_ORG_HUB[0], "hub", organisation=OTHER_ORG_HUB[1])
    tokens["other-coordinator"] = add_user(services.store, OTHER_ORG_COORDINATOR[0], "coordinator",
                                           organisation=OTHER_ORG_COORDINATOR[1])

    persons = [services.matching.submit(record(name, "st-marys-ehr", f"MRN-{i}"), "test")["person_id"]
               for i, name in enumerate(("marisol", "theodore", "desmond"))]
    # A policy whose review band holds partial records of Marisol: two open cases.
    partial = {"source_system": "foodbank-cbo", "source_record_id": "FB-1", "first_name": "Marisol",
               "last_name": "Quintanilla", "birth_date": "1984-03-17"}
    weight = services.matching.match(partial, "test")["candidates"][0]["match_weight"]
    activate_policy_on(services, lower_match_weight=weight - 3, upper_match_weight=weight + 3)
    cases = [services.matching.submit({**partial, "source_record_id": f"FB-{i}"}, "test")["review_case_id"]
             for i in (1, 2)]
    merge_id = services.merges.merge(persons[1], persons[2], "user:w-steward", "the same man")
    services.merges.unmerge(merge_id, "user:w-steward", "not the same man after all")

    hub = Caller(ROLE_USERS["hub"][0], "hub", "st-marys")
    referrals = []
    for i, name in enumerate(("theodore", "desmond")):
        body = referral_body(name, f"SM-{i}", person=record(name, "st-marys-ehr", f"MRN-{i + 1}"))
        referrals.append(services.referrals.submit(body, hub)[0]["referral_id"])
    steps = {side: _referrals_in_state(services, hub, side) for side in ("api", "ui")}
    # Four days on, the food bank's acknowledgement clocks have raised their reminders and escalations.
    services.sweep.run(now=services.clock.now() + timedelta(days=4))
    alerts = [a["alert_id"] for a in services.alerts.page(Caller("w-admin", "admin"), limit=10)["alerts"]]
    records = [("st-marys-ehr", f"MRN-{i}") for i in range(3)] + [("foodbank-cbo", "FB-1")]
    inbound = [services.inbound.keep(InboundKind.REFERRAL, None, hub, "text/plain", b"not JSON", "unsupported_media_type",
                                     415, {"Content-Type": ["not JSON: text/plain"]})]
    partner, _ = services.partners.add(WORLD_PARTNER, "test")
    services.partners.add_crosswalk(partner["partner_id"], [{"state": "accepted", "label": "Scheduled"},
                                                            {"state": "cancelled", "label": "Withdrawn"}], None, "test")
    # The partner reports a referral it was never told of: one reconciliation work item.
    services.reconciliation.receive_json(partner["partner_id"], {"rows": [{"referral_id": "RF99999999",
                                                                           "label": "Scheduled"}]}, "test")
    reconciliation_items = [i["item_id"] for i in services.reconciliation.items()["items"]]
    dedup_runs = [services.dedup.run("user:w-admin")["run_id"]]  # a batch dedup run over the world's persons
    return SimpleNamespace(
        tokens=tokens, persons=persons, cases=cases, merge_id=merge_id, referrals=referrals, records=records,
        alerts=alerts, steps=steps, partners=[partner["partner_id"]], inbound=inbound,
        reconciliation_items=reconciliation_items, dedup_runs=dedup_runs,
        names={**{role: name for role, (name, _) in ROLE_USERS.items()}, "other-hub": OTHER_ORG_HUB[0],
               "other-coordinator": OTHER_ORG_COORDINATOR[0]},
        organisations=[o["code"] for o in ORGANISATIONS],
        headers={role: {"Authorization": f"Bearer {token}"} for role, token in tokens.items()},
    )


def _referrals_in_state(services: Services, hub: Caller, prefix: str) -> dict[str, str]:
    """Referrals from St Mary's to the food bank where each step may be taken: one submitted (the performer may
    acknowledge it), one returned as information-incomplete (the requester may correct it), one cancelled (the
    requester may reopen it)."""
    foodbank = Caller(ROLE_USERS["coordinator"][0], "coordinator", "foodbank")
    ids = {}
    for step in ("status", "correction", "reopen"):
        body = referral_body("theodore", f"{prefix}-{step}", person=record("theodore", "st-marys-ehr", "MRN-1"))
        ids[step] = services.referrals.submit(body, hub)[0]["referral_id"]
    services.referrals.change_status(ids["correction"], {"state": "on_hold", "reason": "information-incomplete",
                                                         "party": "provider"}, foodbank)
    services.referrals.change_status(ids["reopen"], {"state": "cancelled", "reason": "need-resolved",
                                                     "party": "requester"}, hub)
    return ids


def known_ids(world: SimpleNamespace) -> dict[str, list]:
    """The real values of each path parameter the API names."""
    return {
        "person_id": world.persons, "case_id": world.cases, "merge_id": [world.merge_id],
        "referral_id": world.referrals, "code": world.organisations, "version_id": ["1", "2"],
        "alert_id": world.alerts, "record": world.records, "partner_id": world.partners, "exception_id": world.inbound,
        "item_id": world.reconciliation_items, "run_id": world.dedup_runs,
    }


def dump(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=1, sort_keys=True))
