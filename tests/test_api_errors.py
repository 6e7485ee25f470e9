"""Every error answers with one JSON shape: ``code``, ``status``, ``message``, ``errors``."""

from __future__ import annotations

import pytest

from api import create_app
from conftest import add_hub, record
from mpi.services import Services

SHAPE = {"code", "status", "message", "errors"}


def assert_error(response, status: int, code: str) -> dict:
    body = response.get_json()
    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert set(body) == SHAPE
    assert (body["status"], body["code"]) == (status, code)
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["errors"], dict)
    assert all(isinstance(v, list) and all(isinstance(m, str) for m in v) for v in body["errors"].values())
    return body


BAD_RECORD = {
    "source_system": "st marys!",
    "first_name": "Marisol",
    "birth_date": "17/03/1984",
    "sex": "female",
    "ssn_last4": "48",
    "favourite_colour": "green",
}
BAD_FIELDS = {"source_system", "source_record_id", "birth_date", "sex", "ssn_last4", "favourite_colour"}


@pytest.mark.parametrize("path", ["/v1/records", "/v1/match"])
def test_422_names_every_bad_field_and_never_echoes_a_value(client, auth, services, path):
    response = client.post(path, json=BAD_RECORD, headers=auth)

    body = assert_error(response, 422, "validation_error")
    assert set(body["errors"]) == BAD_FIELDS
    for field in BAD_FIELDS:
        assert field in body["message"]
    text = response.get_data(as_text=True)
    assert "17/03/1984" not in text and "Marisol" not in text
    assert services.store.counts()["records"] == 0


@pytest.mark.parametrize(
    "field, value",
    [("birth_date", "2999-01-01"), ("birth_date", "1984-02-30"), ("sex", "X"), ("ssn_last4", "12345"),
     ("source_record_id", ""), ("first_name", "x" * 101), ("first_name", 7)],
)
def test_422_for_one_bad_field_names_only_that_field(client, auth, field, value):
    response = client.post("/v1/records", json={**record("marisol", "st-marys-ehr", "MRN-1"), field: value},
                           headers=auth)

    body = assert_error(response, 422, "validation_error")
    assert list(body["errors"]) == [field]


def test_422_when_the_body_is_not_an_object(client, auth):
    assert_error(client.post("/v1/records", json=[1, 2], headers=auth), 422, "validation_error")


def test_400_when_the_body_is_not_json(client, auth):
    response = client.post("/v1/records", data="{not json", headers={**auth, "Content-Type": "application/json"})
    assert_error(response, 400, "bad_request")


@pytest.mark.parametrize(
    "method, path",
    [("post", "/v1/records"), ("post", "/v1/match"), ("get", "/v1/persons/MPI00000001"),
     ("get", "/v1/records/st-marys-ehr/MRN-1"), ("get", "/v1/metrics/referrals")],
)
@pytest.mark.parametrize(
    "header", [None, "Bearer not-a-token", "Basic dXNlcjpwYXNz", "Bearer "], ids=["none", "unknown", "basic", "empty"]
)
def test_401_without_a_valid_bearer_token(client, hub_token, method, path, header):
    headers = {"Authorization": header} if header else {}
    response = getattr(client, method)(path, json=record("marisol", "st-marys-ehr", "MRN-1"), headers=headers)

    assert_error(response, 401, "unauthorized")


def test_401_comes_before_validation(client):
    assert_error(client.post("/v1/records", json=BAD_RECORD), 401, "unauthorized")


def test_health_needs_no_token(client):
    response = client.get("/v1/health")
    assert response.status_code == 200
    assert response.get_json()["status"] == "ok"


@pytest.mark.parametrize(
    "path, word",
    [("/v1/persons/MPI99999999", "MPI99999999"), ("/v1/records/st-marys-ehr/NOPE", "st-marys-ehr/NOPE"),
     ("/v1/no-such-thing", None)],
)
def test_404_shape(client, auth, path, word):
    body = assert_error(client.get(path, headers=auth), 404, "not_found")
    if word:
        assert word in body["message"]


def test_405_shape(client, auth):
    assert_error(client.delete("/v1/records", headers=auth), 405, "method_not_allowed")


def test_503_when_no_model_is_active(tmp_path):
    empty = tmp_path / "no-models"
    empty.mkdir()
    services = Services({"MPI_DB": str(tmp_path / "bare.duckdb"), "MPI_MODELS_DIR": str(empty)})
    try:
        client = create_app(services=services).test_client()
        token = add_hub(services, "hub")
        response = client.post("/v1/records", json=record("marisol", "st-marys-ehr", "MRN-1"),
                               headers={"Authorization": f"Bearer {token}"})

        body = assert_error(response, 503, "model_unavailable")
        assert "mpi train" in body["message"]
        assert services.store.counts()["records"] == 0
    finally:
        services.close()


def test_openapi_documents_the_error_shape(client):
    spec = client.get("/v1/openapi.json").get_json()

    error = spec["components"]["schemas"]["Error"]
    assert set(error["properties"]) == SHAPE
    assert "422" in spec["paths"]["/v1/records"]["post"]["responses"]
