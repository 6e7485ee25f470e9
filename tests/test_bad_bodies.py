"""Bodies and numbers sent from outside that used to answer 500 or mislead: each a clean 4xx, nothing written.

Each case was found from outside on main (issue 14, point 4): JSON nested a thousand
deep, a number of thousands of digits, a lone UTF-16 surrogate, a body that is not JSON,
an unbounded body, a huge ``min_age_hours`` or ``offset``, control characters in keys,
TRACE without ``Allow``, and a newline in a request path written raw into the log.
"""

from __future__ import annotations

import io
import json
import logging

import pytest

from api import create_app
from conftest import record
from mpi.cli.base import OneLineFormatter
from mpi.services import Services
from referral_network import clock, net_client, net_services, network, referral_body  # noqa: F401
from test_api_errors import assert_error

JSON = {"Content-Type": "application/json"}


def _count(services, table: str) -> int:
    return services.store.db.one(f"SELECT count(*) FROM {table}")[0]


def _nothing_written(services) -> None:
    assert [_count(services, t) for t in ("source_records", "persons", "referrals")] == [0, 0, 0]


@pytest.mark.parametrize(("body", "message"), [
    ("[" * 1000 + "]" * 1000, "nested deeper than 32 levels"),
    ('{"source_system": "ehr", "source_record_id": "1", "first_name": ' + "9" * 5000 + "}", "a number too long"),
    ('{"source_system": "ehr", "source_record_id": "1", "first_name": "Ann"', "not JSON"),
    (b'{"source_system": "ehr", "first_name": "\xff"}', "not UTF-8"),
], ids=["nested", "long-number", "truncated", "not-utf8"])
def test_json_that_cannot_be_read_safely_is_400_naming_why(client, auth, services, body, message):
    response = client.post("/v1/records", data=body, headers={**auth, **JSON})

    assert assert_error(response, 400, "bad_request")["errors"] == {"_body": [message]}
    _nothing_written(services)


def test_a_lone_surrogate_is_refused_by_its_field_before_anything_is_written(client, auth, services):
    # "\ud800" is valid JSON but no text: the store cannot hold it, and its failed write rebuilt the index.
    body = json.dumps(record("marisol", "st-marys-ehr", "MRN-1")).replace('"Marisol"', '"Mari\\ud800sol"')

    response = client.post("/v1/records", data=body, headers={**auth, **JSON})

    assert list(assert_error(response, 400, "bad_request")["errors"]) == ["first_name"]
    _nothing_written(services)
    assert client.post("/v1/records", json=record("marisol", "st-marys-ehr", "MRN-1"), headers=auth).status_code == 200


def test_a_surrogate_inside_a_referral_is_named_by_its_path(net_client, network, net_services):
    body = json.dumps(referral_body()).replace('"Marisol"', '"\\udc00"')

    response = net_client.post("/v1/referrals", data=body, headers={**network.headers["hub-stmarys"], **JSON})

    assert list(assert_error(response, 400, "bad_request")["errors"]) == ["person.first_name"]
    _nothing_written(net_services)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_that_is_not_json_is_415_not_a_missing_field(client, auth, services, content_type):
    data = json.dumps(record("marisol", "st-marys-ehr", "MRN-1"))
    headers = {**auth, **({"Content-Type": content_type} if content_type else {})}

    response = client.post("/v1/records", data=data, headers=headers)

    body = assert_error(response, 415, "unsupported_media_type")
    assert list(body["errors"]) == ["Content-Type"]
    _nothing_written(services)


def test_a_body_over_the_limit_is_413_unread(config):
    services = Services({**config, "MPI_MAX_BODY_BYTES": "4096"})
    client = create_app(services=services).test_client()
    try:
        big = json.dumps({**record("marisol", "st-marys-ehr", "MRN-1"), "address_line2": "x" * 5000})
        response = client.post("/v1/records", data=big, headers=JSON)  # no token: the size is checked first

        body = assert_error(response, 413, "request_entity_too_large")
        assert "4096 bytes" in body["message"] and "MPI_MAX_BODY_BYTES" in body["message"]
        _nothing_written(services)
    finally:
        services.close()


def test_a_bodyless_post_still_reaches_its_view(net_client, network):
    # An acknowledgement carries no body: the body check leaves it to the view (an unknown alert: 404).
    response = net_client.post("/v1/alerts/AL99999999/ack", headers=network.headers["hub-foodbank"])

    assert_error(response, 404, "not_found")


@pytest.mark.parametrize(("path", "name"), [
    ("/v1/review-cases?min_age_hours=1e300", "min_age_hours"),
    (f"/v1/review-cases?offset={2**63}", "offset"),
    (f"/v1/referrals?offset={2**63}", "offset"),
    (f"/v1/alerts?offset={2**63}", "offset"),
    (f"/fhir/Task?_offset={2**63}", "_offset"),
])
def test_numbers_past_what_the_store_can_take_are_422_naming_the_parameter(net_client, network, path, name):
    response = net_client.get(path, headers=network.headers["root"])

    assert list(assert_error(response, 422, "validation_error")["errors"]) == [name]


@pytest.mark.parametrize("key", ["MRN\n1", "MRN\x001", "MRN\t1", "MRN\x7f1"], ids=["newline", "nul", "tab", "del"])
def test_a_record_key_with_a_control_character_is_refused(client, auth, services, key):
    response = client.post("/v1/records", json=record("marisol", "st-marys-ehr", key), headers=auth)

    assert list(assert_error(response, 422, "validation_error")["errors"]) == ["source_record_id"]
    _nothing_written(services)


def test_a_requesters_referral_id_with_a_control_character_is_refused(net_client, network, net_services):
    response = net_client.post("/v1/referrals", json=referral_body(ref="SM\n1"), headers=network.headers["hub-stmarys"])

    assert "requester_referral_id" in assert_error(response, 422, "validation_error")["errors"]
    _nothing_written(net_services)


def test_a_method_not_allowed_says_which_are(client, auth):
    response = client.open("/v1/records", method="TRACE", headers=auth)

    assert_error(response, 405, "method_not_allowed")
    assert set(response.headers["Allow"].split(", ")) == {"OPTIONS", "POST"}


def test_a_newline_in_a_message_cannot_forge_a_log_line():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(OneLineFormatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("test.one-line")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("GET %s 404", "/v1/persons/x\nINFO forged: admin signed in\x00")
    finally:
        logger.removeHandler(handler)

    assert stream.getvalue() == "WARNING GET /v1/persons/x\\x0aINFO forged: admin signed in\\x00 404\n"


# -- a record with nothing to match on ---------------------------------------------------------------------

ONLY_KEYS = {"source_system": "st-marys-ehr", "source_record_id": "MRN-9"}


@pytest.mark.parametrize("fields", [{}, {"first_name": "", "last_name": " ", "birth_date": None, "phone": ""},
                                    {"last_name": "Quintanilla", "sex": "F", "state": "GA"}],
                         ids=["only-keys", "every-field-empty", "a-surname-sex-and-state"])
def test_a_record_with_nothing_to_match_on_is_refused_not_made_a_person(client, auth, services, fields):
    response = client.post("/v1/records", json={**ONLY_KEYS, **fields}, headers=auth)

    body = assert_error(response, 422, "validation_error")
    assert list(body["errors"]) == ["_schema"] and "not enough to match on" in body["errors"]["_schema"][0]
    _nothing_written(services)


@pytest.mark.parametrize("fields", [{}, {"address_line2": "43A QW", "phone": None, "email": None}],
                         ids=["only-keys", "an-address-second-line"])
def test_a_match_with_nothing_to_match_on_is_refused_as_a_submission_is(client, auth, fields):
    """``/v1/match`` refuses what ``/v1/records`` refuses (found by schemathesis: it answered NO_MATCH)."""
    body = assert_error(client.post("/v1/match", json={**ONLY_KEYS, **fields}, headers=auth), 422, "validation_error")
    assert list(body["errors"]) == ["_schema"] and "not enough to match on" in body["errors"]["_schema"][0]


@pytest.mark.parametrize("fields", [{"first_name": "Marisol", "last_name": "Quintanilla"}, {"phone": "404-555-0187"},
                                    {"birth_date": "1984-03-17"}, {"medicaid_id": "GA1234567"}],
                         ids=["names", "phone", "birth-date", "medicaid-id"])
def test_one_thing_to_match_on_is_enough(client, auth, fields):
    assert client.post("/v1/records", json={**ONLY_KEYS, **fields}, headers=auth).status_code == 200


def test_a_referral_whose_person_has_nothing_to_match_on_is_refused_naming_the_person(net_client, network,
                                                                                       net_services):
    response = net_client.post("/v1/referrals", json=referral_body(person=ONLY_KEYS),
                               headers=network.headers["hub-stmarys"])

    assert list(assert_error(response, 422, "validation_error")["errors"]) == ["person"]
    _nothing_written(net_services)
    assert _count(net_services, "review_cases") == 0


# -- values matching cannot use are kept and said ------------------------------------------------------------


def test_an_invalid_phone_email_zip_and_state_are_kept_and_named_in_warnings(client, auth, services):
    sent = {**record("marisol", "st-marys-ehr", "MRN-1"), "phone": "12", "email": "marisol-at-example",
            "postal_code": "XXXXX", "state": "Atlantis", "ssn_last4": "0000"}

    response = client.post("/v1/records", json=sent, headers=auth)

    assert response.status_code == 200
    warnings = response.get_json()["warnings"]
    assert [w["field"] for w in warnings] == ["phone", "email", "postal_code", "state", "ssn_last4"]
    assert all("kept as sent" in w["message"] for w in warnings)
    assert "marisol-at-example" not in response.get_data(as_text=True)
    stored = client.get("/v1/records/st-marys-ehr/MRN-1", headers=auth).get_json()
    assert (stored["raw"]["email"], stored["raw"]["state"]) == ("marisol-at-example", "Atlantis")


def test_a_clean_record_has_no_warnings_and_match_says_them_too(client, auth):
    clean = client.post("/v1/records", json=record("marisol", "st-marys-ehr", "MRN-1"), headers=auth).get_json()
    scored = client.post("/v1/match", json={**record("marisol", "st-marys-ehr", "MRN-2"), "email": "nope"},
                         headers=auth).get_json()

    assert clean["warnings"] == []
    assert scored["warnings"] == [{"field": "email", "message": "not an email address: kept as sent, not used for "
                                                                 "matching"}]
