"""The directory of organisations and the users who belong to them: the CLI, the API, validation, the sweep CLI."""

from __future__ import annotations

import pytest

from cli_runner import assert_one_line_error, mpi  # noqa: F401  (mpi: a fixture)
from conftest import HUB_ORGANISATION
from mpi.auth import add_user, authenticate
from mpi.errors import ValidationError
from mpi.store import Store
from test_api_errors import assert_error


def test_mpi_orgs_add_and_list_with_calendar_holidays_and_supervisors(mpi):
    added = mpi("orgs", "add", "foodbank", "--name", "Metro Food Bank", "--kind", "cbo", "--service-type", "food",
                "--service-type", "home-meals", "--timezone", "America/Chicago", "--hours", "mon-fri 08:00-16:30",
                "--holidays", "US-TX", "--supervisor", "fiona")

    assert "foodbank: Metro Food Bank (cbo), performs food, home-meals; America/Chicago" in added.output
    listed = mpi("orgs", "list").output.splitlines()
    assert listed == ["foodbank\tcbo\tfood,home-meals\tAmerica/Chicago\tfiona\tMetro Food Bank"]


def test_mpi_orgs_add_names_every_bad_option_in_one_line(mpi):
    result = mpi("orgs", "add", "bad code!", "--name", "X", "--kind", "cbo", "--timezone", "Mars/Olympus",
                 "--hours", "mon-fri 17:00-09:00", ok=False)

    error = assert_one_line_error(result, "invalid organisation")
    for field in ("code", "calendar.timezone", "calendar.hours"):
        assert field in error


def test_a_user_belongs_to_an_organisation_that_exists_and_a_coordinator_must(mpi, config):
    mpi("orgs", "add", "foodbank", "--name", "Metro Food Bank", "--kind", "cbo")
    token = mpi("users", "add", "cora", "--role", "coordinator", "--org", "foodbank").output.strip()

    assert_one_line_error(mpi("users", "add", "cid", "--role", "coordinator", ok=False), "organisation")
    assert_one_line_error(mpi("users", "add", "hal", "--role", "hub", "--org", "nowhere", ok=False), "organisation")
    store = Store(config["MPI_DB"])
    try:
        assert authenticate(store, token) == {"name": "cora", "role": "coordinator", "organisation": "foodbank"}
    finally:
        store.close()


def test_mpi_sweep_runs_once_and_says_what_it_did(mpi):
    result = mpi("sweep")

    assert "0 expired, 0 reminders, 0 escalations, 0 gates mended" in result.output


# -- the API -----------------------------------------------------------------------------------------------

@pytest.fixture
def admin(services) -> dict:
    return {"Authorization": f"Bearer {add_user(services.store, 'root', 'admin')}"}


FOODBANK = {"code": "foodbank", "name": "Metro Food Bank", "kind": "cbo", "service_types": ["food"],
            "calendar": {"timezone": "America/New_York", "hours": {"mon": "09:00-17:00"},
                         "holidays": {"country": "US", "subdivision": "GA"}}, "supervisors": ["fiona"]}


def test_an_admin_adds_an_organisation_that_every_caller_can_list(client, admin, auth):
    created = client.post("/v1/organisations", json=FOODBANK, headers=admin)

    assert created.status_code == 201
    body = created.get_json()
    assert (body["code"], body["timezone"], body["calendar"]["hours"]["mon"], body["calendar"]["hours"]["tue"]) == (
        "foodbank", "America/New_York", "09:00-17:00", None)
    listed = client.get("/v1/organisations", headers=auth).get_json()["organisations"]
    assert [o["code"] for o in listed] == ["foodbank", HUB_ORGANISATION]  # and the hub's own
    assert client.get("/v1/organisations/foodbank", headers=auth).get_json()["supervisors"] == ["fiona"]


def test_only_an_admin_adds_organisations(client, auth, services):
    assert_error(client.post("/v1/organisations", json=FOODBANK, headers=auth), 403, "forbidden")
    assert [o["code"] for o in services.directory.all()] == [HUB_ORGANISATION]  # the hub's own only


def test_a_bad_organisation_is_422_naming_each_field(client, admin, services):
    body = {**FOODBANK, "kind": "shop", "service_types": ["Food Parcels"],
            "calendar": {"timezone": "Nowhere/Else", "hours": {"mon": "9-5"}, "colour": "red"}}

    error = assert_error(client.post("/v1/organisations", json=body, headers=admin), 422, "validation_error")

    assert {"kind", "service_types", "calendar.timezone", "calendar.hours.mon", "calendar.colour"} <= set(
        error["errors"])
    assert services.directory.all() == []


def test_adding_an_organisation_again_replaces_its_entry_and_is_audited(services):
    services.directory.add(FOODBANK, "test")
    services.directory.add({**FOODBANK, "name": "Metro Food Bank & Pantry"}, "test")

    assert services.directory.get("foodbank")["name"] == "Metro Food Bank & Pantry"
    events = services.store.audit.events("organisation", "foodbank")
    assert [e["detail"]["replaced"] for e in events] == [True, False]


def test_the_calendar_is_compiled_again_after_the_entry_changes(services):
    services.directory.add(FOODBANK, "test")
    before = services.directory.calendar("foodbank")
    services.directory.add({**FOODBANK, "calendar": {**FOODBANK["calendar"], "timezone": "America/Chicago"}}, "test")

    assert before.timezone == "America/New_York"
    assert services.directory.calendar("foodbank").timezone == "America/Chicago"


def test_an_unknown_organisation_is_not_found(client, auth):
    assert_error(client.get("/v1/organisations/nowhere", headers=auth), 404, "not_found")


def test_the_directory_checks_service_types_and_supervisors(services):
    with pytest.raises(ValidationError) as raised:
        services.directory.add({**FOODBANK, "supervisors": ["not a name"], "service_types": "food"}, "test")

    assert set(raised.value.errors) == {"supervisors", "service_types"}
