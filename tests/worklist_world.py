"""The coordinators' worklist tests' world: the referral network on its fixed clock, three referrals, and helpers.

Metro Food Bank (``foodbank``) performs food referrals that St Mary's sends.
Cora coordinates at the food bank and Rita at St Mary's; Sam is a steward. On
Monday 10:00 in Atlanta St Mary's refers Theodore (routine: acknowledge within 8
business hours); at 11:00 it refers a sparse record of Marisol for a discharge
(acknowledge within 2 hours), which the policy's review band (placed around the
weight measured, as ``held_cases.py`` does) holds for a steward, so the referral
is gated; and a housing referral goes to HomeBase. At 14:00 the discharge is an
hour overdue. Imported by ``test_worklist.py`` (fixtures and helpers alike).
"""

from __future__ import annotations

import re
from datetime import timedelta
from types import SimpleNamespace

import pytest

from conftest import record
from held_cases import partial, weight_of
from mpi.auth import add_user
from mpi.services import Services
from referral_network import MONDAY_10AM, build, referral_body

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SPARSE_MARISOL = partial("st-marys-ehr", "MRN-SM-1")


@pytest.fixture
def services(config, clock):
    """The app's services on the network's fixed clock (conftest's ``app`` and ``activate_policy`` use these)."""
    services = Services(config, clock=clock)
    yield services
    services.close()


@pytest.fixture
def world(services, activate_policy, clock):
    """The network, Marisol's person, and three referrals from St Mary's (see the module docstring)."""
    net = build(services)
    rita = add_user(services.store, "rita", "coordinator", organisation="st-marys")
    marisol = services.matching.submit(record("marisol", "st-marys-ehr", "MRN-1"), "test")["person_id"]
    weight = weight_of(services, SPARSE_MARISOL)
    activate_policy(lower_match_weight=weight - 3, upper_match_weight=weight + 3)
    hub = net.callers["hub-stmarys"]
    theodore, _ = services.referrals.submit(referral_body("theodore", "SM-2"), hub)
    clock.advance(timedelta(hours=1))
    discharge, _ = services.referrals.submit({**referral_body(ref="SM-1", urgency="discharge"),
                                              "person": SPARSE_MARISOL}, hub)
    housing, _ = services.referrals.submit(referral_body("desmond", "SM-3", performer="homebase",
                                                         service_type="housing"), hub)
    assert discharge["gate"] == "identity_pending" and discharge["review_case_id"]
    assert theodore["gate"] is None and theodore["person_id"]
    clock.set(MONDAY_10AM + timedelta(hours=4))  # 14:00 in Atlanta: the discharge's acknowledgement is late
    return SimpleNamespace(net=net, tokens={**net.tokens, "rita": rita}, marisol=marisol, theodore=theodore,
                           discharge=discharge, housing=housing, case_id=discharge["review_case_id"])


def csrf_of(response) -> str:
    match = CSRF.search(response.get_data(as_text=True))
    assert match, "the page carries no CSRF token"
    return match.group(1)


def sign_in(client, world, name: str, next_url: str | None = None):
    form = client.get("/review/sign-in")
    data = {"name": name, "token": world.tokens[name], "csrf_token": csrf_of(form)}
    if next_url:
        data["next"] = next_url
    return client.post("/review/sign-in", data=data)


@pytest.fixture
def cora(app, world):
    client = app.test_client()
    assert sign_in(client, world, "cora").status_code == 303
    return client


def as_user(app, world, name: str):
    client = app.test_client()
    assert sign_in(client, world, name).status_code == 303
    return client


def post_step(client, referral_id: str, **form):
    page = client.get(f"/review/referrals/{referral_id}")
    return client.post(f"/review/referrals/{referral_id}/status", data={"csrf_token": csrf_of(page), **form})


def rows(page: str) -> list[str]:
    return re.findall(r'data-referral="(RF\d+)"', page)


def options(page: str, select_id: str) -> list[str]:
    select = re.search(rf'<select id="{select_id}"[^>]*>(.*?)</select>', page, re.S)
    assert select, f"no select {select_id}"
    return [v for v in re.findall(r'<option value="([^"]*)"', select.group(1)) if v]
