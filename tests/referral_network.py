"""A small referral network for the referral tests: four organisations, their users, and referrals as hubs send them.

The services run on a :class:`~mpi.clock.FixedClock` standing on a Monday
morning in Atlanta (:data:`MONDAY_10AM`), so due times, business hours and the
sweep are the test's to move. Imported by the referral test modules.
"""

from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from api import create_app
from conftest import record
from mpi.auth import Caller, add_user
from mpi.clock import FixedClock
from mpi.services import Services

#: Monday 2026-11-23, 10:00 in Atlanta (15:00 UTC): the week of Thanksgiving.
MONDAY_10AM = datetime(2026, 11, 23, 15, 0, tzinfo=timezone.utc)
GA_WEEKDAYS = {"timezone": "America/New_York", "hours": {d: "09:00-17:00" for d in ("mon", "tue", "wed", "thu", "fri")},
               "holidays": {"country": "US", "subdivision": "GA"}}
ORGANISATIONS = (
    {"code": "st-marys", "name": "St Mary's Hospital", "kind": "hospital", "service_types": [],
     "calendar": {**GA_WEEKDAYS, "hours": {d: "00:00-24:00" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
                  "holidays": None}, "supervisors": ["hana"]},
    {"code": "bluepath", "name": "BluePath Health Plan", "kind": "mco", "service_types": ["care-management"],
     "calendar": GA_WEEKDAYS, "supervisors": []},
    {"code": "foodbank", "name": "Metro Food Bank", "kind": "cbo", "service_types": ["food", "home-meals"],
     "calendar": GA_WEEKDAYS, "supervisors": ["fiona"]},
    {"code": "homebase", "name": "HomeBase Housing", "kind": "cbo", "service_types": ["housing", "food"],
     "calendar": GA_WEEKDAYS, "supervisors": ["hugo"]},
)
SERVICE_ADDRESS = {"address_line1": "12 Oak St", "city": "Atlanta", "state": "GA", "postal_code": "30309"}
CONTACT = {"name": "Discharge desk", "phone": "404-555-0100", "email": "desk@stmarys.example"}


def referral_body(name: str = "marisol", ref: str = "SM-1", *, performer: str = "foodbank",
                  service_type: str = "food", urgency: str = "routine", **changes) -> dict:
    """A complete referral from St Mary's for one of the conftest people (its record keyed by ``ref``).

    ``person=`` gives the record itself instead (a partial one, say).
    """
    person_record = changes.pop("person", None) or record(name, "st-marys-ehr", f"MRN-{ref}")
    return {"requester": "st-marys", "requester_referral_id": ref, "performer": performer,
            "service_type": service_type, "urgency": urgency, "reason": "food insecurity after discharge",
            "requester_contact": CONTACT, "consent": "granted", "risk_flags": [], "service_address": SERVICE_ADDRESS,
            "person": person_record, **changes}


def build(services: Services) -> SimpleNamespace:
    """The network's organisations and users; returns tokens (and callers) by user name."""
    services.ensure_active_model("test")
    for org in ORGANISATIONS:
        services.directory.add(org, "test")
    users = {"hub-stmarys": ("hub", "st-marys"), "hub-foodbank": ("hub", "foodbank"),
             "hub-homebase": ("hub", "homebase"), "hub-bluepath": ("hub", "bluepath"),
             "cora": ("coordinator", "foodbank"), "fiona": ("coordinator", "foodbank"),
             "sam": ("steward", None), "root": ("admin", None)}
    tokens, callers = {}, {}
    for name, (role, org) in users.items():
        tokens[name] = add_user(services.store, name, role, organisation=org)
        callers[name] = Caller(name, role, org)
    return SimpleNamespace(tokens=tokens, callers=callers,
                           headers={n: {"Authorization": f"Bearer {t}"} for n, t in tokens.items()})


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(MONDAY_10AM)


@pytest.fixture
def net_services(config, clock):
    services = Services(config, clock=clock)
    yield services
    services.close()


@pytest.fixture
def network(net_services):
    return build(net_services)


@pytest.fixture
def net_client(net_services, network):
    app = create_app(services=net_services)
    app.config["TESTING"] = True
    return app.test_client()
