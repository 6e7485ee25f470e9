"""The access log through the real app: purpose of use, attempts, ``GET /v1/audit`` and its filters, the auditor's page.

Which route writes which event is ``test_access_coverage.py``; this file is what
the log does with the events: the purpose of use read from its header (an
unknown code refused before anything is written), refused requests recorded as
attempts, the auditor's reads filtered and paged newest first, an unclassified
route still logged by its template, and a read not answered when its event
cannot be written.
"""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest

from conftest import record
from mpi.auth import add_user
from mpi.services import Services
from test_api_errors import assert_error
from test_review_ui import sign_in


@pytest.fixture
def auditor(services) -> dict:
    return {"Authorization": f"Bearer {add_user(services.store, 'audrey', 'auditor')}"}


@pytest.fixture
def person_id(client, auth) -> str:
    return client.post("/v1/records", json=record("marisol", "st-marys-ehr", "MRN-1"), headers=auth).json["person_id"]


def events(services, **filters) -> list[dict]:
    return services.store.access.page(limit=1000, **filters)["events"]


# ------------------------------------------------------------------------------------------ purpose of use

def test_the_purpose_sent_is_recorded_in_any_case_and_the_roles_default_when_none_is(client, auth, services,
                                                                                     person_id):
    client.get(f"/v1/persons/{person_id}", headers={**auth, "X-Purpose-Of-Use": "hpaymt"})
    client.get(f"/v1/persons/{person_id}", headers=auth)

    default, sent = events(services, entity_id=person_id, action="read")
    assert sent["purpose"] == "HPAYMT"
    assert default["purpose"] == "TREAT", "a hub's default purpose is treatment"


@pytest.mark.parametrize("path", ["/v1/health", "/v1/organisations"])
def test_an_empty_purpose_header_is_a_400_as_the_spec_says_even_where_no_phi_is_read(client, auth, path):
    body = assert_error(client.get(path, headers={**auth, "X-Purpose-Of-Use": ""}), 400, "bad_request")
    assert list(body["errors"]) == ["X-Purpose-Of-Use"]


def test_an_unknown_purpose_is_a_400_naming_the_header_and_nothing_is_written(client, auth, services):
    response = client.post("/v1/records", json=record("marisol", "st-marys-ehr", "MRN-1"),
                           headers={**auth, "X-Purpose-Of-Use": "SNOOPING"})

    body = assert_error(response, 400, "bad_request")
    assert list(body["errors"]) == ["X-Purpose-Of-Use"]
    assert "SNOOPING" not in response.get_data(as_text=True)
    assert services.store.counts()["records"] == 0
    [attempt] = events(services)
    assert (attempt["status"], attempt["purpose"]) == (400, None)


# ------------------------------------------------------------------------------------------ attempts

def test_refused_requests_are_logged_as_attempts_naming_what_they_asked_for(client, auth, services, person_id):
    client.get(f"/v1/persons/{person_id}")
    client.get("/v1/review-cases/RC00000042", headers=auth)
    client.get("/v1/persons/MPI99999999", headers=auth)

    missing, forbidden, anonymous = events(services)[:3]
    assert (anonymous["status"], anonymous["actor"], anonymous["role"]) == (401, None, None)
    assert anonymous["entities"] == [{"type": "person", "id": person_id}]
    assert (forbidden["status"], forbidden["actor"], forbidden["role"]) == (403, "user:test-hub", "hub")
    assert forbidden["entities"] == [{"type": "review_case", "id": "RC00000042"}]
    assert (missing["status"], missing["entities"]) == (404, [{"type": "person", "id": "MPI99999999"}])


def test_a_route_no_one_has_classified_is_still_logged_by_its_template(app, client, auth, services):
    app.add_url_rule("/v1/things/<thing_id>", "things.Thing", lambda thing_id: {"thing": thing_id})

    client.get("/v1/things/T-1", headers=auth)

    [event] = events(services)
    assert (event["action"], event["route"], event["method"], event["entities"]) == (
        "route", "/v1/things/<thing_id>", "GET", [])


def test_routes_that_touch_no_phi_write_nothing(client, auth, services):
    client.get("/v1/health")
    client.get("/v1/openapi.json")
    client.get("/v1/organisations", headers=auth)
    client.options("/v1/persons/MPI00000001")

    assert services.store.access.count() == 0


# ------------------------------------------------------------------------------------------ writing it

def test_buffered_events_are_read_back_at_once_and_written_when_the_store_closes(config, client, auth, services,
                                                                               person_id):
    client.get(f"/v1/persons/{person_id}", headers=auth)

    assert [e["action"] for e in events(services)] == ["read", "submit"], "a read of the log writes the buffer first"
    client.get(f"/v1/persons/{person_id}", headers=auth)
    services.close()
    reopened = Services(config)
    try:
        assert [e["event_id"] for e in events(reopened)] == [3, 2, 1]
    finally:
        reopened.close()


def test_written_one_by_one_a_read_is_not_answered_when_its_event_cannot_be_written_but_a_change_keeps_its_answer(
        client, auth, services, person_id):
    services.store.access.flush_every(0)
    services.store.db.query("ALTER TABLE access_log RENAME TO access_log_away")

    read = client.get(f"/v1/persons/{person_id}", headers=auth)
    change = client.post("/v1/records", json=record("theodore", "st-marys-ehr", "MRN-2"), headers=auth)

    assert_error(read, 503, "access_log_unavailable")
    assert "Marisol" not in read.get_data(as_text=True)
    assert change.status_code == 200 and services.store.counts()["records"] == 2


def test_concurrent_requests_get_one_event_each_with_ids_in_order(live_server, hub_token, services, person_id):
    import httpx

    def read(n: int) -> None:
        with httpx.Client(base_url=live_server, headers={"Authorization": f"Bearer {hub_token}"}) as http:
            for _ in range(n):
                assert http.get(f"/v1/persons/{person_id}").status_code == 200

    threads = [threading.Thread(target=read, args=(10,)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    reads = events(services, action="read")
    ids = sorted(e["event_id"] for e in events(services))
    assert len(reads) == 60
    assert ids == list(range(1, len(ids) + 1)), "no id twice, none skipped"
    assert all(e["occurred_at"] <= f["occurred_at"] for e, f in zip(reads[1:], reads))


# ------------------------------------------------------------------------------------------ GET /v1/audit

def test_only_auditors_and_admins_read_the_access_log(client, services, auth, auditor):
    admin = {"Authorization": f"Bearer {add_user(services.store, 'root', 'admin')}"}
    steward = {"Authorization": f"Bearer {add_user(services.store, 'sam', 'steward')}"}

    assert client.get("/v1/audit", headers=auditor).status_code == 200
    assert client.get("/v1/audit", headers=admin).status_code == 200
    assert_error(client.get("/v1/audit", headers=auth), 403, "forbidden")
    assert_error(client.get("/v1/audit", headers=steward), 403, "forbidden")
    assert_error(client.get("/v1/audit"), 401, "unauthorized")


def test_the_access_log_filters_by_each_field(client, services, auth, auditor, person_id):
    steward = {"Authorization": f"Bearer {add_user(services.store, 'sam', 'steward')}",
               "X-Purpose-Of-Use": "HLEGAL"}
    client.get(f"/v1/persons/{person_id}", headers=auth)
    client.get(f"/v1/persons/{person_id}/history", headers=steward)
    client.get("/v1/records/st-marys-ehr/MRN-1", headers=auth)

    def ids(query: str) -> list[str]:
        response = client.get(f"/v1/audit?{query}", headers=auditor)
        assert response.status_code == 200, response.json
        return [e["route"] for e in response.json["events"]]

    assert ids("actor=sam") == ids("actor=user:sam") == ["/v1/persons/<string:person_id>/history"]
    assert ids("role=steward") == ids("purpose=HLEGAL") == ["/v1/persons/<string:person_id>/history"]
    assert ids("entity_type=record&entity_id=st-marys-ehr/MRN-1") == [
        "/v1/records/<string:source_system>/<record_id:source_record_id>", "/v1/persons/<person_id:person_id>",
        "/v1/records"]
    assert ids(f"entity_type=record&entity_id={person_id}") == [], "a person's id is not a record's"
    assert ids("action=submit") == ["/v1/records"]
    assert len(ids(f"entity_id={person_id}")) == 4
    now = services.clock.now()
    assert ids(f"until={(now - timedelta(hours=1)).isoformat().replace('+', '%2B')}") == []
    assert len(ids(f"since={(now - timedelta(hours=1)).isoformat().replace('+', '%2B')}&role=hub")) == 3
    assert ids("organisation=nowhere") == []


def test_the_access_log_pages_newest_first_by_event_id(client, services, auth, auditor, person_id):
    for _ in range(5):
        client.get(f"/v1/persons/{person_id}", headers=auth)

    first = client.get("/v1/audit?limit=4&action=read", headers=auditor).json
    second = client.get(f"/v1/audit?limit=4&action=read&before={first['older']}", headers=auditor).json

    pages = [e["event_id"] for e in first["events"] + second["events"]]
    assert pages == sorted(pages, reverse=True) and len(set(pages)) == 5
    assert first["total"] == second["total"] == 5 and second["older"] is None


@pytest.mark.parametrize("query, field", [("role=janitor", "role"), ("purpose=SNOOP", "purpose"),
                                          ("since=yesterday", "since"), ("limit=0", "limit"),
                                          ("before=-1", "before"), ("entity_type=planet", "entity_type")])
def test_a_bad_filter_is_a_422_naming_it(client, auditor, query, field):
    body = assert_error(client.get(f"/v1/audit?{query}", headers=auditor), 422, "validation_error")
    assert list(body["errors"]) == [field]


def test_the_openapi_document_describes_the_access_log(client):
    spec = client.get("/v1/openapi.json").json
    get = spec["paths"]["/v1/audit"]["get"]

    names = {p["name"] for p in get["parameters"]}
    assert {"actor", "organisation", "role", "purpose", "entity_type", "entity_id", "action", "since", "until",
            "before", "limit"} <= names
    assert "AccessPage" in spec["components"]["schemas"]
    assert {"403", "401"} <= set(get["responses"])
    person = spec["paths"]["/v1/persons/{person_id}"]["get"]
    [header] = [p for p in person["parameters"] if p["in"] == "header"]
    pattern = re.compile(header["schema"]["pattern"])
    assert header["name"] == "X-Purpose-Of-Use" and "TREAT" in header["description"]
    assert all(pattern.match(code) for code in ("TREAT", "hpaymt", " HOPERAT "))
    assert not any(pattern.match(code) for code in ("", "SNOOP", "TREATMENT"))
    assert "400" in person["responses"]


# ------------------------------------------------------------------------------------------ the review UI

def test_an_auditor_signs_in_to_the_access_log_and_opens_nothing_else(app, services, client, auth, person_id):
    token = add_user(services.store, "audrey", "auditor")
    client.get(f"/v1/persons/{person_id}", headers=auth)
    ui = app.test_client()

    signed_in = sign_in(ui, "audrey", token)
    page = ui.get("/review/access?role=hub")

    assert signed_in.headers["Location"].endswith("/review/access")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="access-total">2<' in html and person_id in html
    assert "Marisol" not in html
    assert ">Access log</a>" in html and ">Queue</a>" not in html and "Referrals</a>" not in html
    for other in ("/review/", "/review/referrals", "/review/audit", "/review/metrics", "/review/alerts"):
        assert ui.get(other).status_code == 403, other


def test_the_access_page_is_the_auditors_and_admins_not_a_stewards(app, services):
    steward, admin = app.test_client(), app.test_client()
    sign_in(steward, "sam", add_user(services.store, "sam", "steward"))
    sign_in(admin, "root", add_user(services.store, "root", "admin"))

    assert steward.get("/review/access").status_code == 403
    assert admin.get("/review/access").status_code == 200


def test_the_access_page_refuses_a_filter_it_cannot_read(app, services):
    ui = app.test_client()
    sign_in(ui, "audrey", add_user(services.store, "audrey", "auditor"))

    page = ui.get("/review/access?since=last+week&role=janitor")

    assert page.status_code == 422
    assert "could not be read: role, since" in page.get_data(as_text=True)


def test_a_buffer_larger_than_one_insert_is_written_whole_and_in_order(services):
    access = services.store.access
    access.flush_every(60_000)  # nothing written but by a read or the close
    for n in range(1_234):
        access.append(actor="user:a", organisation=None, role="hub", purpose="TREAT", action="read", method="GET",
                      route="/v1/persons/<person_id:person_id>", status=200, entities=[("person", f"MPI{n:08d}")])

    newest = access.page(limit=1)

    assert newest["total"] == 1_234
    assert newest["events"][0]["entities"] == [{"type": "person", "id": "MPI00001233"}]
    assert newest["events"][0]["event_id"] == 1_234
