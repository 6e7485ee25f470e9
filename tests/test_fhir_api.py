"""``/fhir`` over HTTP: FHIR JSON, the JSON API's tokens and scope, search by owner and status, errors."""

from __future__ import annotations

import pytest

from fhir_referrals import gated_after_start, referral_in, steps, valid
from referral_network import clock, net_client, net_services, network, referral_body  # noqa: F401

SHAPE = {"code", "status", "message", "errors"}


def assert_error(response, status: int, code: str, field: str | None = None) -> None:
    body = response.get_json()
    assert (response.status_code, response.mimetype) == (status, "application/json")
    assert set(body) == SHAPE and (body["status"], body["code"]) == (status, code)
    if field:
        assert field in body["errors"]


def get(client, network, user: str, path: str):
    return client.get(path, headers=network.headers[user])


def fhir_json(response) -> dict:
    assert (response.status_code, response.mimetype) == (200, "application/fhir+json"), response.get_data(True)
    return valid(response.get_json(force=True))


@pytest.fixture
def redirect(net_services, network, clock):
    """A referral St Mary's sent to the food bank, redirected to HomeBase: (first id, successor id)."""
    first = referral_in(net_services, network, clock, "redirected", "SM-R")
    return first["referral_id"], first["successor_ids"][0]


def test_each_resource_answers_as_fhir_json(net_client, network, redirect):
    first, second = redirect
    for path in (f"/fhir/Task/{first}", f"/fhir/Task/{first}/_history", f"/fhir/Task/{first}/_history/1",
                 f"/fhir/ServiceRequest/{first}", "/fhir/Task"):
        fhir_json(get(net_client, network, "hub-stmarys", path))

    task = fhir_json(get(net_client, network, "hub-homebase", f"/fhir/Task/{second}"))
    assert task["partOf"] == [{"reference": f"Task/{first}"}]
    version = fhir_json(get(net_client, network, "hub-stmarys", f"/fhir/Task/{first}/_history/2"))
    assert version["meta"]["versionId"] == "2" and version["status"] == "rejected"


def test_401_without_a_valid_token(net_client, redirect):
    first, _ = redirect
    for path in (f"/fhir/Task/{first}", f"/fhir/Task/{first}/_history", f"/fhir/Task/{first}/_history/1",
                 f"/fhir/ServiceRequest/{first}", "/fhir/Task?status=requested"):
        for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic dXNlcjpwYXNz"}):
            assert_error(net_client.get(path, headers=headers), 401, "unauthorized")


def test_another_organisations_task_is_not_found(net_client, network, redirect):
    first, second = redirect
    for path in (f"/fhir/Task/{first}", f"/fhir/Task/{first}/_history", f"/fhir/Task/{first}/_history/1",
                 f"/fhir/ServiceRequest/{first}"):
        assert_error(get(net_client, network, "hub-bluepath", path), 404, "not_found")
    assert_error(get(net_client, network, "hub-homebase", f"/fhir/Task/{first}"), 404, "not_found")
    assert_error(get(net_client, network, "hub-stmarys", "/fhir/Task/RF99999999"), 404, "not_found")


def test_the_order_is_read_by_every_performer_of_its_chain(net_client, network, redirect):
    first, second = redirect

    request = fhir_json(get(net_client, network, "hub-homebase", f"/fhir/ServiceRequest/{first}"))

    assert request["performer"] == [{"reference": "Organization/homebase"}]
    assert_error(get(net_client, network, "hub-homebase", f"/fhir/ServiceRequest/{second}"), 404, "not_found")


def test_a_version_the_task_never_had_is_not_found(net_client, network, redirect):
    assert_error(get(net_client, network, "hub-stmarys", f"/fhir/Task/{redirect[0]}/_history/9"), 404, "not_found",
                 "version")


def ids(bundle: dict) -> list[str]:
    return [e["resource"]["id"] for e in bundle["entry"]]


@pytest.fixture
def worklist(net_services, network, clock):
    """Six referrals of St Mary's: four to the food bank, one redirected from it to HomeBase, one to BluePath."""
    made = {state: referral_in(net_services, network, clock, state, f"SM-{state}")["referral_id"]
            for state in ("submitted", "acknowledged", "in_triage", "declined", "redirected")}
    made["bluepath"] = net_services.referrals.submit(
        referral_body(ref="SM-BP", performer="bluepath", service_type="care-management"),
        network.callers["hub-stmarys"])[0]["referral_id"]
    made["successor"] = net_services.referrals.get(made["redirected"], network.callers["hub-stmarys"])[
        "successor_ids"][0]
    return made


def test_search_by_owner_finds_only_that_performers_tasks(net_client, network, worklist):
    for owner in ("foodbank", "Organization/foodbank"):
        bundle = fhir_json(get(net_client, network, "hub-stmarys", f"/fhir/Task?owner={owner}"))
        assert bundle["type"] == "searchset" and bundle["total"] == 5
        assert set(ids(bundle)) == {worklist[s] for s in ("submitted", "acknowledged", "in_triage", "declined",
                                                          "redirected")}
        assert all(e["resource"]["owner"] == {"reference": "Organization/foodbank"} for e in bundle["entry"])
        assert all(e["fullUrl"] == f"http://localhost/fhir/Task/{e['resource']['id']}" for e in bundle["entry"])


def test_search_by_status_maps_task_codes_back_to_states(net_client, network, worklist):
    received = fhir_json(get(net_client, network, "hub-stmarys", "/fhir/Task?status=received"))
    assert set(ids(received)) == {worklist["acknowledged"], worklist["in_triage"]}

    either = fhir_json(get(net_client, network, "hub-stmarys", "/fhir/Task?status=requested,rejected&owner=homebase"))
    assert ids(either) == [worklist["successor"]]
    assert either["entry"][0]["resource"]["partOf"] == [{"reference": f"Task/{worklist['redirected']}"}]

    nothing = fhir_json(get(net_client, network, "hub-stmarys", "/fhir/Task?status=draft"))
    assert (nothing["total"], nothing["entry"]) == (0, [])


def test_search_is_scoped_to_the_callers_organisation(net_client, network, worklist):
    homebase = fhir_json(get(net_client, network, "hub-homebase", "/fhir/Task"))
    assert ids(homebase) == [worklist["successor"]]

    bluepath = fhir_json(get(net_client, network, "hub-bluepath", "/fhir/Task?owner=foodbank"))
    assert (bluepath["total"], bluepath["entry"]) == (0, [])
    mine = fhir_json(get(net_client, network, "hub-bluepath", "/fhir/Task"))
    assert ids(mine) == [worklist["bluepath"]]


def test_search_pages_with_count_and_offset_and_links_the_next_page(net_client, network, worklist):
    everything = ids(fhir_json(get(net_client, network, "hub-stmarys", "/fhir/Task")))
    assert len(everything) == 7

    first = fhir_json(get(net_client, network, "hub-stmarys", "/fhir/Task?_count=3"))
    links = {link["relation"]: link["url"] for link in first["link"]}
    assert (first["total"], ids(first)) == (7, everything[:3])
    assert links["next"] == "http://localhost/fhir/Task?_count=3&_offset=3" and "previous" not in links
    last = fhir_json(get(net_client, network, "hub-stmarys", "/fhir/Task?_count=3&_offset=6"))
    assert ids(last) == everything[6:] and "next" not in {link["relation"] for link in last["link"]}


def test_a_gated_referral_in_progress_is_found_as_on_hold_not_in_progress(net_services, net_client, network, clock,
                                                                         worklist):
    gated = gated_after_start(net_services, network, clock, "SM-G")["referral_id"]
    started = referral_in(net_services, network, clock, "in_progress", "SM-S")["referral_id"]
    held = referral_in(net_services, network, clock, "on_hold", "SM-H")["referral_id"]

    on_hold = fhir_json(get(net_client, network, "hub-foodbank", "/fhir/Task?status=on-hold"))
    assert (on_hold["total"], sorted(ids(on_hold))) == (2, sorted([gated, held]))
    assert {e["resource"]["status"] for e in on_hold["entry"]} == {"on-hold"}
    in_progress = fhir_json(get(net_client, network, "hub-foodbank", "/fhir/Task?status=in-progress"))
    assert (in_progress["total"], ids(in_progress)) == (1, [started])
    both = fhir_json(get(net_client, network, "hub-foodbank", "/fhir/Task?status=in-progress,on-hold"))
    assert sorted(ids(both)) == sorted([gated, started, held])

    paged = [ids(fhir_json(get(net_client, network, "hub-foodbank", f"/fhir/Task?status=on-hold,received"
                                                                     f"&_count=1&_offset={n}"))) for n in range(5)]
    whole = ids(fhir_json(get(net_client, network, "hub-foodbank", "/fhir/Task?status=on-hold,received")))
    assert len(whole) == 4 and [i for page in paged for i in page] == whole
    assert whole == sorted(whole, reverse=True), "newest first (received together: the later id first)"


def test_a_bad_search_parameter_is_422_naming_it(net_client, network):
    for query, field in (("status=pending", "status"), ("status=,", "status"), ("owner=Patient/p1", "owner"),
                         ("_count=0", "_count"), ("_count=many", "_count"), ("_offset=-1", "_offset")):
        assert_error(get(net_client, network, "hub-stmarys", f"/fhir/Task?{query}"), 422, "validation_error", field)


def test_openapi_lists_the_fhir_routes_as_fhir_json(net_client):
    spec = net_client.get("/v1/openapi.json").get_json()

    for path in ("/fhir/Task", "/fhir/Task/{referral_id}", "/fhir/Task/{referral_id}/_history",
                 "/fhir/Task/{referral_id}/_history/{version_id}", "/fhir/ServiceRequest/{referral_id}"):
        answers = spec["paths"][path]["get"]["responses"]
        assert "application/fhir+json" in answers["200"]["content"]
    assert "404" in spec["paths"]["/fhir/Task/{referral_id}"]["get"]["responses"]


def test_a_step_shows_in_the_task_at_once(net_services, net_client, network, clock):
    referral = referral_in(net_services, network, clock, "submitted", "SM-N")
    path = f"/fhir/Task/{referral['referral_id']}"
    assert fhir_json(get(net_client, network, "hub-foodbank", path))["status"] == "requested"

    steps(net_services, network, referral["referral_id"], ("hub-foodbank", {"state": "accepted"}))

    task = fhir_json(get(net_client, network, "hub-foodbank", path))
    assert (task["status"], task["meta"]["versionId"]) == ("accepted", "2")
