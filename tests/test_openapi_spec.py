"""The OpenAPI document says what the server enforces, and each fix schemathesis led to keeps its test.

The schemathesis run itself is ``test_openapi_contract.py`` (slow); these are the
fast, focused tests of what it found: one per fix.
"""

from __future__ import annotations

import re

import pytest

from api.spec import ERRORS
from conftest import record
from mpi.auth import add_user
from mpi.records.text import NOT_BLANK

METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture
def spec(client):
    return client.get("/v1/openapi.json").get_json()


def operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def test_every_operation_documents_its_errors_in_the_one_error_shape(spec):
    error = {"$ref": "#/components/schemas/Error"}
    for path, method, operation in operations(spec):
        responses = operation["responses"]
        expected = {"405"}
        if "requestBody" in operation:
            expected |= {"400", "413", "415", "422"}
        if operation.get("security") != []:
            expected |= {"401", "403"}
        if "{" in path:
            expected.add("404")
        assert expected <= set(responses), f"{method.upper()} {path} lacks {sorted(expected - set(responses))}"
        for status in expected:
            content = responses[status].get("content") or spec["components"]["responses"].get(
                responses[status].get("$ref", "").rsplit("/", 1)[-1], {}).get("content")
            if "application/fhir+json" in content:  # FHIR $match answers its errors as OperationOutcomes
                assert content["application/fhir+json"]["schema"] == {"$ref": "#/components/schemas/OperationOutcome"}
            else:
                assert content["application/json"]["schema"] == error, f"{method.upper()} {path} {status}"
    assert set(ERRORS) == {"400", "401", "403", "404", "405", "413", "415", "422"}


def test_the_spec_carries_what_the_server_checks(spec):
    schemas = spec["components"]["schemas"]
    action = schemas["Action"]["properties"]["reason"]
    assert (action["minLength"], action["pattern"]) == (1, NOT_BLANK)
    assert schemas["MergeRequest"]["properties"]["reason"]["pattern"] == NOT_BLANK
    assert schemas["LinkBody"]["properties"]["person_id"]["minLength"] == 1
    assert {"format": "date"} in schemas["Record"]["properties"]["birth_date"]["anyOf"]
    assert schemas["HoldBody"]["properties"]["follow_up"]["format"] == "date"
    assert schemas["StatusChange"]["properties"]["state"]["enum"]
    assert schemas["Record"]["additionalProperties"] is False
    assert [b["required"] for b in schemas["Record"]["anyOf"]][:2] == [["birth_date"], ["phone"]]
    # A nullable nested object is null or that object, never any object.
    address = schemas["Correction"]["properties"]["service_address"]["anyOf"]
    assert {"$ref": "#/components/schemas/ServiceAddress"} in address
    assert {"type": "object", "nullable": True, "enum": [None]} in address


@pytest.mark.parametrize("reason", ["", "   ", "\u2003\u3000", "\x1c"])
def test_a_blank_reason_is_refused_by_the_spec_pattern_and_the_server_alike(client, services, reason):
    token = add_user(services.store, "sam", "steward")
    response = client.post("/v1/persons/merge", json={"survivor_id": "MPI1", "loser_id": "MPI2", "reason": reason},
                           headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 422
    assert "reason" in response.get_json()["errors"]
    assert not re.search(NOT_BLANK, reason)


@pytest.mark.parametrize("path, method", [("/v1/organisations", "post"), ("/v1/metrics/referrals", "get")])
def test_no_token_answers_401_before_a_bad_body_or_query_is_read(client, path, method):
    response = getattr(client, method)(path, json={"code": ""}, query_string={"interval": "fortnight"})

    assert response.status_code == 401


def test_a_hub_posting_an_organisation_is_refused_before_its_body_is_read(client, auth):
    assert client.post("/v1/organisations", json={"code": ""}, headers=auth).status_code == 403


@pytest.mark.parametrize("path, allowed", [
    ("/v1/persons/merge", "OPTIONS, POST"),
    ("/v1/records/st-marys-ehr/MRN-1/undo-link", "OPTIONS, POST"),
    ("/v1/persons/MPI00000001", "GET, HEAD, OPTIONS"),
    ("/v1/records/st-marys-ehr/MRN/1", "GET, HEAD, OPTIONS"),
])
def test_a_path_lists_only_the_methods_it_takes(client, path, allowed):
    response = client.open(path, method="TRACE")

    assert response.status_code == 405
    assert response.headers["Allow"] == allowed


def test_an_organisation_with_supervisors_as_an_object_is_refused(client, services):
    token = add_user(services.store, "root", "admin")
    body = {"code": "acme", "name": "Acme", "kind": "cbo", "supervisors": {}, "service_types": {}}

    response = client.post("/v1/organisations", json=body, headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"supervisors", "service_types"}


@pytest.mark.parametrize("field, value", [("ssn_last4", "١٢٣٤"), ("birth_date", "١٩٨٤-03-17")])
def test_digits_are_ascii_digits_as_the_spec_says(client, auth, field, value):
    response = client.post("/v1/records", json={**record("marisol", "st-marys-ehr", "MRN-1"), field: value},
                           headers=auth)

    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == [field]


@pytest.mark.parametrize("as_of", ["0000-00-00", "2026-02-30", "yesterday"])
def test_history_as_of_must_be_a_real_date_or_date_time(client, services, as_of):
    token = add_user(services.store, "sam", "steward")
    response = client.get(f"/v1/persons/MPI1/history?as_of={as_of}", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == ["as_of"]


@pytest.mark.parametrize("owner, status, code", [("", None, 422), ("a/b", None, 422), ("Organization/x", None, 200),
                                                 (None, ",, ,", 422), (None, " on-hold ,, ready", 200)])
def test_fhir_task_search_parameters_are_checked_as_the_spec_says(client, services, owner, status, code):
    token = add_user(services.store, "sam", "steward")  # reads every referral: no organisation's scope applies
    query = {k: v for k, v in {"owner": owner, "status": status}.items() if v is not None}

    response = client.get("/fhir/Task", query_string=query, headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == code


@pytest.mark.parametrize("role", ["coordinator", "auditor"])
@pytest.mark.parametrize("method, path", [("post", "/v1/records"), ("post", "/v1/match"),
                                          ("get", "/v1/persons/MPI00000001"),
                                          ("get", "/v1/records/st-marys-ehr/MRN-1")])
def test_records_and_persons_are_refused_to_roles_that_do_not_match(client, services, role, method, path):
    services.directory.add({"code": "foodbank", "name": "Food Bank", "kind": "cbo"}, "test")
    token = add_user(services.store, f"u-{role}", role, organisation="foodbank" if role == "coordinator" else None)
    kwargs = {"json": record("marisol", "st-marys-ehr", "MRN-1")} if method == "post" else {}

    response = getattr(client, method)(path, headers={"Authorization": f"Bearer {token}"}, **kwargs)

    # A coordinator reads the persons of its organisation's referrals (minimum necessary): any other is not found.
    assert response.status_code == (404 if (role, path) == ("coordinator", "/v1/persons/MPI00000001") else 403)
    assert services.store.counts()["records"] == 0


def test_the_api_has_no_static_route(app):
    assert "static" not in {rule.endpoint for rule in app.url_map.iter_rules()}


def test_the_loop_measures_document_their_csv_answer(spec):
    content = spec["paths"]["/v1/metrics/referrals"]["get"]["responses"]["200"]["content"]

    assert content["application/json"]["schema"] == {"$ref": "#/components/schemas/ReferralMetrics"}
    assert content["text/csv"]["schema"] == {"type": "string"}


def test_the_loop_measures_take_empty_parameters_as_the_spec_says(client, services, spec):
    token = add_user(services.store, "sam", "steward")
    parameters = {p["name"]: p["schema"] for p in spec["paths"]["/v1/metrics/referrals"]["get"]["parameters"]}

    response = client.get("/v1/metrics/referrals?interval=&format=&to=&from=&urgency=",
                          headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200
    assert "" in parameters["interval"]["enum"] and "" in parameters["format"]["enum"]
    assert "" in parameters["urgency"]["items"]["enum"] and {"maxLength": 0} in parameters["to"]["anyOf"]


def test_no_two_schemas_share_a_name_so_none_is_renamed_behind_our_back(services):
    import warnings

    from api import create_app

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        create_app(services=services).test_client().get("/v1/openapi.json")

    assert [str(w.message) for w in caught if "Multiple schemas resolved" in str(w.message)] == []
