"""``/v1/admin``: keys, users, the export and model versions for the admin role, on the real app and store.

Also the review UI's session cookie, ``Secure`` when ``MPI_PUBLIC_URL`` says the service is reached over TLS.
"""

from __future__ import annotations

import csv
import io

import pytest
from click.testing import CliRunner

from api import create_app
from conftest import record
from mpi.auth import add_user
from mpi.cli import main
from mpi.identity.export import EXPORT_COLUMNS
from mpi.services import DEFAULT_MODEL_VERSION
from mpi.vocab import AuditAction, EntityType, Role

FOODBANK = {"code": "foodbank", "name": "Metro Food Bank", "kind": "cbo", "service_types": ["food"]}
#: Every admin route: (method, path, body).
ADMIN_ROUTES = [
    ("GET", "/v1/admin/keys", None),
    ("POST", "/v1/admin/keys", {"organisation": "foodbank", "role": "hub"}),
    ("GET", "/v1/admin/keys/KZZZZ2222", None),
    ("DELETE", "/v1/admin/keys/KZZZZ2222", None),
    ("POST", "/v1/admin/keys/KZZZZ2222/revoke", None),
    ("GET", "/v1/admin/users", None),
    ("POST", "/v1/admin/users", {"name": "eve", "role": "admin"}),
    ("GET", "/v1/admin/models", None),
    ("POST", f"/v1/admin/models/{DEFAULT_MODEL_VERSION}/activate", None),
    ("POST", "/v1/organisations", FOODBANK),
    ("GET", "/v1/admin/export", None),
    ("POST", "/v1/admin/backup", None),
]


@pytest.fixture
def tokens(services) -> dict[str, str]:
    """A token of each role (every one of the organisation foodbank)."""
    services.directory.add(FOODBANK, "test")
    return {role.value: add_user(services.store, f"a-{role.value}", role.value, organisation="foodbank")
            for role in Role}


def headers(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


#: Every (role, admin route) but the admin's, and the steward's export (a steward may export).
REFUSED = [(role, *route) for role in ("hub", "coordinator", "steward", "auditor") for route in ADMIN_ROUTES
           if not (role == "steward" and route[1] == "/v1/admin/export")]


@pytest.mark.parametrize("role, method, path, body", REFUSED, ids=[f"{r} {m} {p}" for r, m, p, _ in REFUSED])
def test_admin_routes_refuse_every_other_role_with_403(client, services, tokens, role, method, path, body):
    before = services.store.audit.events(limit=1000)

    answer = client.open(path, method=method, json=body, headers=headers(tokens[role]))

    assert answer.status_code == 403, (role, path, answer.get_json())
    assert answer.get_json()["code"] == "forbidden"
    assert services.store.audit.events(limit=1000) == before


@pytest.mark.parametrize("method, path, body", ADMIN_ROUTES, ids=[f"{m} {p}" for m, p, _ in ADMIN_ROUTES])
def test_admin_routes_refuse_a_caller_without_a_token_with_401(client, method, path, body):
    answer = client.open(path, method=method, json=body)

    assert answer.status_code == 401
    assert answer.get_json()["code"] == "unauthorized"


def test_users_are_added_and_listed_by_an_admin_the_token_shown_once(client, services, tokens):
    added = client.post("/v1/admin/users", json={"name": "cora", "role": "coordinator", "organisation": "foodbank"},
                        headers=headers(tokens["admin"]))

    assert added.status_code == 201
    body = added.get_json()
    assert (body["name"], body["role"], body["organisation"]) == ("cora", "coordinator", "foodbank")
    assert client.get("/v1/organisations", headers=headers(body["token"])).status_code == 200
    listed = client.get("/v1/admin/users", headers=headers(tokens["admin"])).get_json()["users"]
    assert {"name": "cora", "role": "coordinator", "organisation": "foodbank"}.items() <= \
        next(u for u in listed if u["name"] == "cora").items()
    assert all(set(u) == {"name", "role", "organisation", "created_at"} for u in listed)
    event = services.store.audit.events(EntityType.USER, "cora")[0]
    assert (event["action"], event["actor"]) == (AuditAction.USER_ADDED, "user:a-admin")


@pytest.mark.parametrize("body, fields", [
    ({"name": "bad name!", "role": "hub"}, {"name"}),
    ({"name": "cora", "role": "coordinator"}, {"organisation"}),
    ({"name": "cora", "role": "hub", "organisation": "nowhere"}, {"organisation"}),
    ({"name": "cora", "role": "king"}, {"role"}),
    ({"role": "hub"}, {"name"}),
])
def test_a_bad_user_body_is_422_naming_each_field_and_adds_no_one(client, services, tokens, body, fields):
    answer = client.post("/v1/admin/users", json=body, headers=headers(tokens["admin"]))

    assert answer.status_code == 422
    assert set(answer.get_json()["errors"]) == fields
    assert services.store.users.role_of("cora") is None


def test_the_export_streams_the_same_csv_as_mpi_export(client, services, tokens, config, tmp_path):
    for i, person in enumerate(("marisol", "theodore", "marisol")):
        assert client.post("/v1/records", json=record(person, "st-marys-ehr", f"MRN{i}"),
                           headers=headers(tokens["hub"])).status_code in (200, 201)

    answer = client.get("/v1/admin/export", headers=headers(tokens["steward"]))

    assert answer.status_code == 200
    assert answer.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True))))
    assert tuple(rows[0]) == EXPORT_COLUMNS
    assert [r[1] for r in rows[1:]] == ["MRN0", "MRN1", "MRN2"]
    assert rows[1][2] == rows[3][2] != rows[2][2]  # the two records of Marisol are one person
    services.close()
    out = tmp_path / "cli.csv"
    result = CliRunner().invoke(main, ["--db", config["MPI_DB"], "--models-dir", config["MPI_MODELS_DIR"], "export",
                                       "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == answer.get_data()


def test_model_versions_are_listed_and_activated_by_an_admin(client, services, tokens, activate_policy):
    activate_policy(upper_match_weight=12.0)
    copy = services.models.version()

    listed = client.get("/v1/admin/models", headers=headers(tokens["admin"])).get_json()
    assert listed["active"] == copy
    assert {m["version"]: m["active"] for m in listed["models"]} == {DEFAULT_MODEL_VERSION: False, copy: True}
    assert next(m for m in listed["models"] if m["version"] == copy)["policy"]["upper_match_weight"] == 12.0

    activated = client.post(f"/v1/admin/models/{DEFAULT_MODEL_VERSION}/activate", headers=headers(tokens["admin"]))

    assert activated.status_code == 200
    assert activated.get_json() == {"active": DEFAULT_MODEL_VERSION, "previous": copy}
    assert services.models.version() == DEFAULT_MODEL_VERSION
    missing = client.post("/v1/admin/models/no-such-model/activate", headers=headers(tokens["admin"]))
    assert missing.status_code == 404 and missing.get_json()["code"] == "not_found"
    assert services.models.version() == DEFAULT_MODEL_VERSION


def test_organisations_are_added_by_an_admin_through_the_directory_route(client, tokens):
    added = client.post("/v1/organisations", json={"code": "shelter", "name": "Harbor Shelter", "kind": "cbo",
                                                   "service_types": ["housing"]}, headers=headers(tokens["admin"]))

    assert added.status_code == 201
    codes = [o["code"] for o in client.get("/v1/organisations", headers=headers(tokens["hub"])).get_json()["organisations"]]
    assert codes == ["foodbank", "shelter"]


def test_the_admin_routes_are_in_the_openapi_document_with_their_error_responses(client):
    paths = client.get("/v1/openapi.json").get_json()["paths"]

    assert set(paths["/v1/admin/keys"]) == {"get", "post"}
    assert {"get", "delete"} <= set(paths["/v1/admin/keys/{key_id}"])
    assert "404" in paths["/v1/admin/keys/{key_id}/revoke"]["post"]["responses"]
    assert "422" in paths["/v1/admin/keys"]["post"]["responses"]
    assert "text/csv" in paths["/v1/admin/export"]["get"]["responses"]["200"]["content"]
    assert "post" in paths["/v1/admin/models/{version}/activate"]


# ------------------------------------------------------------------------------------ the session cookie

def _signed_in_cookie(services, public_url: str | None) -> str:
    if public_url is not None:
        services.config["MPI_PUBLIC_URL"] = public_url
    app = create_app(services=services)
    client = app.test_client()
    token = add_user(services.store, "sam", "steward")
    client.get("/review/sign-in")
    with client.session_transaction() as session:
        csrf = session["csrf"]
    answer = client.post("/review/sign-in", data={"name": "sam", "token": token, "csrf_token": csrf})
    assert answer.status_code == 303
    return answer.headers["Set-Cookie"]


@pytest.mark.parametrize("public_url, secure", [
    ("https://mpi.example.org", True), ("HTTPS://mpi.example.org/", True), ("http://localhost:8080", False),
    ("", False), (None, False),
])
def test_the_review_session_cookie_is_secure_when_the_public_url_is_https(services, public_url, secure):
    cookie = _signed_in_cookie(services, public_url)

    assert cookie.startswith("mpi_review=")
    assert ("; Secure" in cookie) is secure
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_an_api_key_cannot_sign_in_to_the_review_ui(services):
    from mpi.auth import create_key

    services.directory.add(FOODBANK, "test")
    key, secret = create_key(services.store, "foodbank", "steward", "test")
    client = create_app(services=services).test_client()
    client.get("/review/sign-in")
    with client.session_transaction() as session:
        csrf = session["csrf"]

    answer = client.post("/review/sign-in", data={"name": f"key:{key['key_id']}", "token": secret, "csrf_token": csrf})

    assert answer.status_code == 401


@pytest.mark.parametrize("version", ["no-such-model", "pyg\u00ba\u00da"])
def test_activating_a_model_version_the_folder_does_not_hold_is_a_404(client, services, tokens, version):
    before = services.models.version()
    response = client.post(f"/v1/admin/models/{version}/activate", headers={"Authorization": f"Bearer {tokens['admin']}"})
    assert response.status_code == 404 and response.get_json()["errors"] == {"version": ["no such model version"]}
    assert services.models.version() == before


@pytest.mark.parametrize("expires, says", [("2031-02-30", "not a real date and time"), ("tomorrow", "a date (YYYY-MM-DD)"),
                                           ("2020-01-01", "must be later than now")])
def test_a_key_expiry_of_the_wrong_shape_or_day_or_past_is_a_422_naming_it(client, services, tokens, expires, says):
    response = client.post("/v1/admin/keys", json={"organisation": "foodbank", "role": "hub", "expires": expires},
                           headers={"Authorization": f"Bearer {tokens['admin']}"})
    assert response.status_code == 422 and says in response.get_json()["errors"]["expires"][0]
