"""``POST /fhir/Patient/$match`` through the real app on a real store, answers checked with the R4B models."""

from __future__ import annotations

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.parameters import Parameters
from fhir.resources.R4B.patient import Patient

from conftest import PEOPLE, add_hub, add_organisation, record
from mpi.auth import add_user
from mpi.identity.fhir_match import MATCH_GRADE_URL
from mpi.identity.fhir_patient import MEDICAID_SYSTEM, SSN_SYSTEM, patient_record
from mpi.matching.decisions import grade
from mpi.vocab import MatchGrade

URL = "/fhir/Patient/$match"
FHIR_JSON = "application/fhir+json"
GRADE_ORDER = [MatchGrade.CERTAIN, MatchGrade.PROBABLE, MatchGrade.POSSIBLE, MatchGrade.CERTAINLY_NOT]


def patient(person: str, **changes) -> dict:
    """One of the conftest PEOPLE as a FHIR Patient (the identifiers by the documented systems)."""
    p = {**PEOPLE[person], **changes}
    resource = {
        "resourceType": "Patient",
        "name": [{"use": "official", "family": p["last_name"],
                  "given": [v for v in (p["first_name"], p.get("middle_name")) if v]}],
        "gender": {"F": "female", "M": "male"}[p["sex"]],
        "birthDate": p["birth_date"],
        "telecom": [{"system": "phone", "value": p["phone"]}, {"system": "email", "value": p["email"]}],
        "address": [{"use": "home", "line": [p["address_line1"]], "city": p["city"], "state": p["state"],
                     "postalCode": p["postal_code"]}],
        "identifier": [{"system": SSN_SYSTEM, "value": p["ssn_last4"]}],
    }
    if p.get("medicaid_id"):
        resource["identifier"].append({"system": MEDICAID_SYSTEM, "value": p["medicaid_id"]})
    return resource


def parameters(resource: dict | None, **extra) -> dict:
    """A $match Parameters resource; ``extra`` adds onlyCertainMatches / count as given."""
    params = [{"name": "resource", "resource": resource}] if resource is not None else []
    if "only_certain" in extra:
        params.append({"name": "onlyCertainMatches", "valueBoolean": extra["only_certain"]})
    if "count" in extra:
        params.append({"name": "count", "valueInteger": extra["count"]})
    return {"resourceType": "Parameters", "parameter": params}


def match(client, headers, body) -> dict:
    """A successful $match answer, validated as an R4B Bundle (and each Patient, and each outcome)."""
    response = client.post(URL, json=body, headers=headers)
    assert (response.status_code, response.mimetype) == (200, FHIR_JSON), response.get_data(True)
    bundle = response.get_json(force=True)
    Bundle.model_validate(bundle)
    assert bundle["type"] == "searchset"
    for entry in bundle.get("entry", []):
        kind = entry["resource"]["resourceType"]
        (Patient if kind == "Patient" else OperationOutcome).model_validate(entry["resource"])
    return bundle


def matches(bundle: dict) -> list[dict]:
    return [e for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]


def grade_of(entry: dict) -> str:
    (extension,) = entry["search"]["extension"]
    assert extension["url"] == MATCH_GRADE_URL
    return extension["valueCode"]


def submit(client, auth, person: str, system: str, record_id: str, **changes) -> str:
    response = client.post("/v1/records", json=record(person, system, record_id, **changes), headers=auth)
    assert response.status_code == 200, response.get_data(True)
    return response.get_json()["person_id"]


@pytest.fixture
def three(client, auth) -> dict[str, str]:
    """Marisol (two records), Desmond (her birth date) and Theodore in the index: name -> person id."""
    ids = {name: submit(client, auth, name, "st-marys-ehr", f"MRN-{name}") for name in PEOPLE}
    assert submit(client, auth, "marisol", "bluepath-mco", "M-1") == ids["marisol"]
    return ids


def test_the_parameters_sent_are_valid_r4b():
    Parameters.model_validate(parameters(patient("marisol"), only_certain=True, count=2))


def test_a_known_patient_is_the_certain_first_entry_with_her_golden_view(client, auth, three):
    bundle = match(client, auth, parameters(patient("marisol")))

    first = bundle["entry"][0]
    assert first["fullUrl"].endswith(f"/fhir/Patient/{three['marisol']}")
    assert first["resource"]["id"] == three["marisol"]
    assert first["search"]["mode"] == "match" and 0 < first["search"]["score"] <= 1
    assert grade_of(first) == "certain"
    shown = first["resource"]
    assert (shown["name"][0]["family"], shown["birthDate"], shown["gender"]) == ("QUINTANILLA", "1984-03-17",
                                                                                 "female")
    assert {"system": "phone", "value": "+14045550143"} in shown["telecom"]
    text = str(bundle)
    assert "4821" not in text and "MC77120934" not in text  # never her SSN last four nor her Medicaid id
    assert bundle["total"] == len(matches(bundle))


def test_entries_are_ordered_by_score_and_graded_against_the_thresholds(client, auth, services, three,
                                                                        activate_policy):
    # A Patient that shares Marisol's and Desmond's birth date and nothing else decisive.
    probe = patient("marisol", first_name="Maria", last_name="Okafor", phone="214-555-0199",
                    email="m.okafor@example.com", ssn_last4="0000")
    scored = client.post("/v1/match", json={**record("marisol", "probe", "P-1", first_name="Maria",
                                                    last_name="Okafor", phone="214-555-0199",
                                                    email="m.okafor@example.com", ssn_last4="0000")},
                         headers=auth).get_json()["candidates"]
    weights = sorted(c["match_weight"] for c in scored)
    assert len(weights) >= 2
    # Thresholds between the candidates' weights, so each grade band holds someone.
    policy = activate_policy(lower_match_weight=weights[0] + 1e-6, upper_match_weight=weights[-1] + 1.0)

    bundle = match(client, auth, parameters(probe, count=10))

    entries = matches(bundle)
    scores = [e["search"]["score"] for e in entries]
    assert scores == sorted(scores, reverse=True)
    weight = {c["person_id"]: c["match_weight"] for c in scored}
    active = services.matching.active_model().policy
    assert active.lower_match_weight == policy["lower_match_weight"]
    for e in entries:
        expected = grade(weight[e["resource"]["id"]], active)
        assert grade_of(e) == (MatchGrade.PROBABLE if expected is MatchGrade.CERTAIN else expected).value
    assert "certainly-not" in [grade_of(e) for e in entries]
    ruled_out = next(e for e in entries if grade_of(e) == "certainly-not")
    assert set(ruled_out["resource"]) == {"resourceType", "id", "identifier", "active"}  # its id, no demographics


def test_a_hub_sees_only_a_certain_match_whole_and_is_given_that_person(client, auth, services, three):
    """Minimum necessary, as /v1/match: another organisation's hub is shown the golden view of the one certain
    person (and may read it afterwards), the other candidates' ids and scores only; a steward sees them all."""
    other = {"Authorization": f"Bearer {add_hub(services, 'far-hub', 'far-clinic')}"}
    steward = {"Authorization": f"Bearer {add_user(services.store, 'sam', 'steward')}"}
    probe = parameters(patient("marisol"), count=10)
    assert client.get(f"/v1/persons/{three['marisol']}", headers=other).status_code == 404

    as_hub, as_steward = matches(match(client, other, probe)), matches(match(client, steward, probe))

    assert [e["resource"]["id"] for e in as_hub] == [e["resource"]["id"] for e in as_steward]
    assert len(as_hub) >= 2 and grade_of(as_hub[0]) == "certain"
    assert "name" in as_hub[0]["resource"]
    assert all("name" in e["resource"] for e in as_steward if grade_of(e) != "certainly-not")
    assert all(set(e["resource"]) == {"resourceType", "id", "identifier", "active"} for e in as_hub[1:])
    assert client.get(f"/v1/persons/{three['marisol']}", headers=other).status_code == 200
    assert client.get(f"/v1/persons/{as_hub[1]['resource']['id']}", headers=other).status_code == 404


def test_a_hub_is_shown_no_one_of_a_possible_match(client, services, three, activate_policy):
    other = {"Authorization": f"Bearer {add_hub(services, 'far-hub', 'far-clinic')}"}
    steward = {"Authorization": f"Bearer {add_user(services.store, 'sam', 'steward')}"}
    activate_policy(lower_match_weight=-100.0, upper_match_weight=1000.0)  # everyone possible, no one certain
    probe = parameters(patient("marisol"), count=10)

    as_hub, as_steward = matches(match(client, other, probe)), matches(match(client, steward, probe))

    assert {grade_of(e) for e in as_steward} <= {"probable", "possible"} and len(as_steward) >= 2
    assert all("name" in e["resource"] for e in as_steward)
    assert all(set(e["resource"]) == {"resourceType", "id", "identifier", "active"} for e in as_hub)
    assert client.get(f"/v1/persons/{three['marisol']}", headers=other).status_code == 404


def test_count_keeps_the_best_entries(client, auth, three):
    everyone = matches(match(client, auth, parameters(patient("marisol"), count=10)))
    assert len(everyone) >= 2

    one = matches(match(client, auth, parameters(patient("marisol"), count=1)))

    assert [e["resource"]["id"] for e in one] == [everyone[0]["resource"]["id"]] == [three["marisol"]]


def test_only_certain_matches_answers_the_one_certain_person(client, auth, three):
    entries = matches(match(client, auth, parameters(patient("marisol"), only_certain=True)))

    assert [(e["resource"]["id"], grade_of(e)) for e in entries] == [(three["marisol"], "certain")]


def test_only_certain_matches_answers_nothing_when_no_one_is_certain(client, auth, three, activate_policy):
    activate_policy(lower_match_weight=1e5, upper_match_weight=1e6)  # nobody reaches either threshold
    assert matches(match(client, auth, parameters(patient("marisol"))))  # candidates, none certain

    bundle = match(client, auth, parameters(patient("marisol"), only_certain=True))

    assert bundle["total"] == 0 and "entry" not in bundle


def test_an_unknown_patient_answers_an_empty_bundle_not_an_error(client, auth):
    bundle = match(client, auth, parameters(patient("theodore")))
    assert bundle["total"] == 0 and "entry" not in bundle  # FHIR JSON has no empty arrays


def test_a_field_that_cannot_be_matched_on_is_a_warning_outcome_entry(client, auth, three):
    probe = patient("marisol")
    probe["telecom"] = [{"system": "phone", "value": "call me"}]

    bundle = match(client, auth, parameters(probe))

    (outcome,) = [e["resource"] for e in bundle["entry"] if e["search"]["mode"] == "outcome"]
    assert [(i["severity"], i["expression"]) for i in outcome["issue"]] == [("warning", ["Patient.telecom"])]
    assert "call me" not in str(bundle)


def test_nothing_is_written(client, auth, services, three):
    before = services.store.counts()
    answers = [client.post(URL, json=body, headers=auth).status_code
               for body in (parameters(patient("marisol")), parameters(patient("theodore", ssn_last4="1111")),
                            parameters(patient("desmond", first_name="Des")), parameters({"resourceType": "Patient"}))]

    assert answers == [200, 200, 200, 422]
    assert services.store.counts() == before  # persons, records, links, open cases


@pytest.mark.parametrize("role, status", [("hub", 200), ("steward", 200), ("admin", 200), ("auditor", 403)])
def test_hubs_stewards_and_admins_may_match(client, services, three, role, status):
    token = add_user(services.store, f"user-{role}", role, organisation=add_organisation(services, "test-clinic"))
    response = client.post(URL, json=parameters(patient("marisol")), headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == status


def _outcome(response, status: int) -> dict:
    assert (response.status_code, response.mimetype) == (status, FHIR_JSON), response.get_data(True)
    body = response.get_json(force=True)
    OperationOutcome.model_validate(body)
    assert all(i["severity"] == "error" for i in body["issue"])
    return body


def _expressions(outcome: dict) -> set[str]:
    return {x for i in outcome["issue"] for x in i.get("expression", [])}


NO_NAME = {k: v for k, v in patient("marisol").items() if k not in ("name",)}


RESOURCE = {"name": "resource", "resource": patient("marisol")}


@pytest.mark.parametrize("body, field", [
    ({"resourceType": "Patient"}, "Parameters.resourceType"),
    ([1, 2], "resourceType"),
    ({"resourceType": "Parameters"}, "Parameters.parameter"),
    ({"resourceType": "Parameters", "parameter": "resource"}, "Parameters.parameter"),
    (parameters(None, count=2), "Parameters.parameter.resource"),
    (parameters({"resourceType": "Practitioner", "name": [{"family": "Ng"}]}), "Parameters.parameter.resource"),
    ({"resourceType": "Parameters", "parameter": [RESOURCE, RESOURCE]}, "Parameters.parameter.name"),
    (parameters(patient("marisol"), count=0), "Parameters.parameter.valueInteger"),
    (parameters(patient("marisol"), count=-3), "Parameters.parameter.valueInteger"),
    (parameters(patient("marisol"), count="3"), "Parameters.parameter.valueInteger"),
    (parameters(patient("marisol"), count=True), "Parameters.parameter.valueInteger"),
    (parameters(patient("marisol"), count=2**40), "Parameters.parameter.valueInteger"),
    (parameters(patient("marisol"), only_certain="yes"), "Parameters.parameter.valueBoolean"),
    (parameters(patient("marisol"), only_certain=1), "Parameters.parameter.valueBoolean"),
    ({"resourceType": "Parameters", "parameter": [RESOURCE, {"name": "onlyCertainMatches"}]},
     "Parameters.parameter.valueBoolean"),
    ({"resourceType": "Parameters", "parameter": [RESOURCE, {"name": "count", "valueString": "3"}]},
     "Parameters.parameter.valueString"),
    ({"resourceType": "Parameters", "parameter": [RESOURCE, {"name": "limit", "valueInteger": 3}]},
     "Parameters.parameter.name"),
    (parameters({"resourceType": "Patient", "gender": "female"}), "Patient"),
    (parameters({"resourceType": "Patient", "name": [{"family": "Quintanilla"}], "gender": "female"}), "Patient"),
    (parameters({**patient("marisol"), "birthDate": "17/03/1984"}), "Patient.birthDate"),
    (parameters({**patient("marisol"), "birthDate": "1984-02-30"}), "Patient.birthDate"),
    (parameters({**patient("marisol"), "gender": "f"}), "Patient.gender"),
    (parameters({**patient("marisol"), "name": "Marisol"}), "Patient.name"),
    (parameters({**patient("marisol"), "name": [{"given": "Marisol"}]}), "Patient.name.given"),
    (parameters({**patient("marisol"), "telecom": [{"system": "phone", "value": 4045550143}]}),
     "Patient.telecom.value"),
    (parameters({**NO_NAME, "identifier": [{"system": SSN_SYSTEM, "value": "12"}]}), "Patient.identifier.value"),
])
def test_bad_input_is_a_422_operation_outcome_naming_the_field(client, auth, services, body, field):
    before = services.store.counts()

    outcome = _outcome(client.post(URL, json=body, headers=auth), 422)

    assert field in _expressions(outcome)
    assert "Quintanilla" not in str(outcome) and "17/03/1984" not in str(outcome)
    assert services.store.counts() == before


def test_not_enough_to_match_on_says_what_would_do(client, auth):
    outcome = _outcome(client.post(URL, json=parameters({"resourceType": "Patient", "gender": "male"}),
                                   headers=auth), 422)
    assert any("not enough to match on" in i["diagnostics"] for i in outcome["issue"])


def test_a_body_that_is_not_json_is_an_operation_outcome(client, auth):
    _outcome(client.post(URL, data="{not json", headers={**auth, "Content-Type": FHIR_JSON}), 400)
    _outcome(client.post(URL, data="resource=x", headers={**auth, "Content-Type": "text/plain"}), 415)
    _outcome(client.post(URL, headers=auth), 422)  # no body at all


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-token"}])
def test_no_valid_token_is_a_401_operation_outcome(client, headers):
    outcome = _outcome(client.post(URL, json=parameters(patient("marisol")), headers=headers), 401)
    assert outcome["issue"][0]["code"] == "login"


def test_fhir_json_is_accepted_as_the_content_type(client, auth, three):
    import json

    response = client.post(URL, data=json.dumps(parameters(patient("marisol"))),
                           headers={**auth, "Content-Type": FHIR_JSON})
    assert response.status_code == 200
    assert response.get_json(force=True)["entry"][0]["resource"]["id"] == three["marisol"]


def test_identifiers_are_read_by_their_documented_systems_and_types():
    by_system = patient_record({"resourceType": "Patient", "identifier": [
        {"system": SSN_SYSTEM, "value": "123-45-4821"}, {"system": MEDICAID_SYSTEM, "value": "MC77120934"},
        {"system": "urn:oid:2.16.840.1.113883.4.3.13", "value": "ignored"}]})
    by_type = patient_record({"resourceType": "Patient", "identifier": [
        {"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "SS"}]},
         "value": "4821"},
        {"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MA"}]},
         "system": "urn:oid:2.16.840.1.113883.4.3.13", "value": "MC77120934"}]})

    assert by_system == by_type == {"birth_date": None, "ssn_last4": "4821", "medicaid_id": "MC77120934"}


def test_a_body_over_the_size_limit_is_a_413_operation_outcome(client, auth, services):
    limit = int(services.config["MPI_MAX_BODY_BYTES"])
    probe = {**patient("marisol"), "text": {"status": "generated", "div": "x" * (limit + 1)}}
    outcome = _outcome(client.post(URL, json=parameters(probe), headers=auth), 413)
    assert outcome["issue"][0]["code"] == "too-long"
