"""API keys: an organisation's key with a role, kept only as a hash, refused from its expiry and once revoked.

Through the core, the CLI (on the store) and the API (``/v1/admin/keys``), on a real store file.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from api import create_app
from cli_runner import assert_one_line_error, mpi  # noqa: F401  (mpi: a fixture)
from mpi.auth import Caller, add_user, authenticate, create_key, revoke_key
from mpi.clock import FixedClock
from mpi.cli import main
from mpi.errors import NotFound, Unauthorized, ValidationError
from mpi.services import Services
from mpi.vocab import AuditAction, EntityType

#: Every test here runs on a DuckDB file and on a PostgreSQL database (``conftest.store_location``).
pytestmark = pytest.mark.both_stores

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
FOODBANK = {"code": "foodbank", "name": "Metro Food Bank", "kind": "cbo", "service_types": ["food"]}


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def timed(config, clock):
    """Services on a clock the test moves, with one organisation in the directory."""
    services = Services(config, clock=clock)
    services.directory.add(FOODBANK, "test")
    yield services
    services.close()


@pytest.fixture
def timed_client(timed):
    app = create_app(services=timed)
    app.config["TESTING"] = True
    return app.test_client()


@pytest.fixture
def admin(timed) -> dict:
    return {"Authorization": f"Bearer {add_user(timed.store, 'root', 'admin')}"}


def bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


# ------------------------------------------------------------------------------------------------ core

def test_a_key_is_the_caller_of_its_organisation_with_its_role_and_is_audited_as_key_id(timed):
    key, secret = create_key(timed.store, "foodbank", "hub", "user:root")

    caller = authenticate(timed.store, secret)

    assert caller == {"name": f"key:{key['key_id']}", "role": "hub", "organisation": "foodbank"}
    assert Caller.of(caller).actor == f"key:{key['key_id']}"
    assert key["key_id"].startswith("K") and len(key["key_id"]) == 9
    assert secret.startswith(f"mpi_{key['key_id']}_")
    event = timed.store.audit.events(EntityType.API_KEY, key["key_id"])[0]
    assert (event["action"], event["actor"]) == (AuditAction.KEY_CREATED, "user:root")


def test_a_users_token_shaped_like_a_key_still_finds_the_user_and_a_key_shaped_guess_is_refused(timed):
    # A key's secret is looked up first (it reads mpi_<id>_...); a user's token may look the same and is found after.
    token = add_user(timed.store, "lookalike", "steward", token="mpi_KAAAAAAAA_not-a-key-but-a-users-token")
    key, secret = create_key(timed.store, "foodbank", "hub", "user:root")

    assert authenticate(timed.store, token) == {"name": "lookalike", "role": "steward", "organisation": None}
    assert authenticate(timed.store, secret)["name"] == f"key:{key['key_id']}"
    for guess in (f"mpi_{key['key_id']}_wrong", "not-even-key-shaped"):
        with pytest.raises(Unauthorized, match="a valid bearer token is required"):
            authenticate(timed.store, guess)


def test_a_key_is_stored_only_as_the_hash_of_its_secret(timed):
    key, secret = create_key(timed.store, "foodbank", "steward", "user:root", "2027-01-01")

    rows = timed.store.db.query("SELECT * FROM api_keys")
    columns = [c[0] for c in timed.store.db.query(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'api_keys' ORDER BY ordinal_position")]

    assert len(rows) == 1
    stored = dict(zip(columns, rows[0]))
    assert secret not in [str(v) for v in rows[0]]
    assert not any(secret[-20:] in str(v) for v in rows[0])
    assert stored["key_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert stored["key_id"] == key["key_id"]
    assert secret not in str(timed.store.audit.events(EntityType.API_KEY, key["key_id"]))


def test_a_key_is_refused_from_the_moment_it_expires(timed, clock):
    key, secret = create_key(timed.store, "foodbank", "hub", "user:root", (T0 + timedelta(hours=1)).isoformat())

    clock.set(T0 + timedelta(minutes=59, seconds=59))
    assert authenticate(timed.store, secret)["name"] == f"key:{key['key_id']}"
    clock.set(T0 + timedelta(hours=1))
    with pytest.raises(Unauthorized, match=f"API key {key['key_id']} expired at 2026-03-02 10:00 UTC"):
        authenticate(timed.store, secret)


def test_a_date_expiry_is_its_first_moment_utc_and_a_time_without_offset_is_utc(timed):
    by_date, _ = create_key(timed.store, "foodbank", "hub", "user:root", "2026-03-05")
    by_time, _ = create_key(timed.store, "foodbank", "hub", "user:root", "2026-03-05T12:30")

    assert by_date["expires_at"] == datetime(2026, 3, 5, tzinfo=timezone.utc)
    assert by_time["expires_at"] == datetime(2026, 3, 5, 12, 30, tzinfo=timezone.utc)


def test_a_revoked_key_is_refused_at_once_though_the_caller_was_cached(timed):
    key, secret = create_key(timed.store, "foodbank", "hub", "user:root")
    authenticate(timed.store, secret)
    assert timed.store.keys.by_hash(hashlib.sha256(secret.encode()).hexdigest()) is not None  # cached now

    revoked = revoke_key(timed.store, key["key_id"], "user:root")

    assert revoked["revoked_at"] == T0 and revoked["revoked_by"] == "user:root"
    with pytest.raises(Unauthorized, match=f"API key {key['key_id']} was revoked"):
        authenticate(timed.store, secret)


def test_revoking_twice_keeps_the_first_revocation_and_audits_it_once(timed, clock):
    key, _ = create_key(timed.store, "foodbank", "hub", "user:root")
    revoke_key(timed.store, key["key_id"], "user:root")
    clock.advance(timedelta(hours=2))

    again = revoke_key(timed.store, key["key_id"], "user:other")

    assert (again["revoked_at"], again["revoked_by"]) == (T0, "user:root")
    actions = [e["action"] for e in timed.store.audit.events(EntityType.API_KEY, key["key_id"])]
    assert sorted(actions) == ["key.created", "key.revoked"]


def test_an_unknown_key_cannot_be_revoked(timed):
    with pytest.raises(NotFound):
        revoke_key(timed.store, "KZZZZ2222", "user:root")


@pytest.mark.parametrize("organisation, role, expires, fields", [
    ("nowhere", "hub", None, {"organisation"}),
    ("", "hub", None, {"organisation"}),
    ("foodbank", "superuser", None, {"role"}),
    ("foodbank", "hub", "2026-03-02T08:59", {"expires"}),
    ("foodbank", "hub", "2026-03-02T09:00:00+00:00", {"expires"}),
    ("foodbank", "hub", "next tuesday", {"expires"}),
    ("foodbank", "hub", "2026-13-45", {"expires"}),
    ("nowhere", "superuser", "soon", {"organisation", "role", "expires"}),
])
def test_a_bad_key_request_names_every_bad_field_and_writes_nothing(timed, organisation, role, expires, fields):
    with pytest.raises(ValidationError) as raised:
        create_key(timed.store, organisation, role, "user:root", expires)

    assert set(raised.value.errors) == fields
    assert timed.store.keys.all() == []


# ------------------------------------------------------------------------------------------------ API

def test_an_admin_makes_lists_and_revokes_keys_through_the_api(timed_client, admin, clock):
    made = timed_client.post("/v1/admin/keys", json={"organisation": "foodbank", "role": "coordinator",
                                                     "expires": "2026-04-01"}, headers=admin)
    assert made.status_code == 201, made.get_json()
    key = made.get_json()
    assert key["status"] == "active" and key["created_by"] == "user:root"
    assert key["expires_at"].startswith("2026-04-01T00:00:00")

    assert timed_client.get("/v1/organisations", headers=bearer(key["key"])).status_code == 200
    listed = timed_client.get("/v1/admin/keys", headers=admin).get_json()["keys"]
    assert [k["key_id"] for k in listed] == [key["key_id"]]
    assert "key" not in listed[0] and "key_hash" not in listed[0]

    revoked = timed_client.post(f"/v1/admin/keys/{key['key_id']}/revoke", headers=admin)
    assert revoked.status_code == 200
    assert revoked.get_json()["status"] == "revoked"

    refused = timed_client.get("/v1/organisations", headers=bearer(key["key"]))
    assert refused.status_code == 401
    assert refused.get_json()["code"] == "unauthorized"
    assert refused.get_json()["message"] == f"API key {key['key_id']} was revoked: ask an admin for a new one"
    assert timed_client.get(f"/v1/admin/keys/{key['key_id']}", headers=admin).get_json()["status"] == "revoked"


def test_an_expired_key_gets_401_saying_it_expired_and_lists_as_expired(timed_client, admin, clock):
    key = timed_client.post("/v1/admin/keys", json={"organisation": "foodbank", "role": "hub",
                                                    "expires": "2026-03-03"}, headers=admin).get_json()
    clock.set(datetime(2026, 3, 3, tzinfo=timezone.utc))

    refused = timed_client.get("/v1/organisations", headers=bearer(key["key"]))

    assert refused.status_code == 401
    assert refused.get_json()["message"] == f"API key {key['key_id']} expired at 2026-03-03 00:00 UTC: " \
                                            "ask an admin for a new one"
    assert timed_client.get("/v1/admin/keys", headers=admin).get_json()["keys"][0]["status"] == "expired"


def test_delete_revokes_a_key_too(timed_client, admin):
    key = timed_client.post("/v1/admin/keys", json={"organisation": "foodbank", "role": "hub"},
                            headers=admin).get_json()

    deleted = timed_client.delete(f"/v1/admin/keys/{key['key_id']}", headers=admin)

    assert deleted.status_code == 200 and deleted.get_json()["status"] == "revoked"
    assert timed_client.get("/v1/organisations", headers=bearer(key["key"])).status_code == 401


def test_an_admin_key_acts_under_its_own_name_in_the_audit_log(timed, timed_client, admin):
    admin_key = timed_client.post("/v1/admin/keys", json={"organisation": "foodbank", "role": "admin"},
                                  headers=admin).get_json()

    made = timed_client.post("/v1/admin/keys", json={"organisation": "foodbank", "role": "hub"},
                             headers=bearer(admin_key["key"])).get_json()

    assert made["created_by"] == f"key:{admin_key['key_id']}"
    event = timed.store.audit.events(EntityType.API_KEY, made["key_id"])[0]
    assert event["actor"] == f"key:{admin_key['key_id']}"


@pytest.mark.parametrize("body, fields", [
    ({"organisation": "nowhere", "role": "hub"}, {"organisation"}),
    ({"organisation": "foodbank", "role": "root"}, {"role"}),
    ({"organisation": "foodbank", "role": "hub", "expires": "2020-01-01"}, {"expires"}),
    ({"organisation": "foodbank", "role": "hub", "expires": "tomorrow"}, {"expires"}),
    ({"organisation": "foodbank", "role": "hub", "expires": "9999-12-31T23:59:00-23:59"}, {"expires"}),
    ({"role": "hub"}, {"organisation"}),
    ({"organisation": "foodbank", "role": "hub", "secret": "mine"}, {"secret"}),
])
def test_a_bad_key_body_is_422_naming_each_field(timed_client, admin, body, fields):
    answer = timed_client.post("/v1/admin/keys", json=body, headers=admin)

    assert answer.status_code == 422
    assert set(answer.get_json()) == {"code", "status", "message", "errors"}
    assert set(answer.get_json()["errors"]) == fields
    assert timed_client.get("/v1/admin/keys", headers=admin).get_json()["keys"] == []


def test_revoking_an_unknown_key_is_404_in_the_error_shape(timed_client, admin):
    for answer in (timed_client.post("/v1/admin/keys/KZZZZ2222/revoke", headers=admin),
                   timed_client.delete("/v1/admin/keys/KZZZZ2222", headers=admin),
                   timed_client.get("/v1/admin/keys/KZZZZ2222", headers=admin)):
        assert answer.status_code == 404
        assert answer.get_json()["code"] == "not_found"


# ------------------------------------------------------------------------------------------------ CLI

def test_cli_creates_lists_and_revokes_keys(mpi):
    mpi("orgs", "add", "foodbank", "--name", "Metro Food Bank", "--kind", "cbo")

    created = mpi("keys", "create", "--org", "foodbank", "--role", "hub", "--expires", "2099-12-31")
    lines = dict(line.split(":", 1) for line in created.stdout.splitlines())
    key_id, secret = lines["key id"].strip(), lines["key"].strip()
    assert lines["expires"].strip() == "2099-12-31 00:00 UTC"
    assert "shown this once" in created.stderr
    never = mpi("keys", "create", "--org", "foodbank", "--role", "auditor")
    assert "expires: never" in never.stdout

    listed = mpi("keys", "list").stdout.splitlines()
    assert listed[0].split() == ["id", "org", "role", "created", "expires", "status"]
    assert listed[1].split()[:3] == [key_id, "foodbank", "hub"]
    assert listed[1].split()[-1] == "active"
    assert secret not in mpi("keys", "list").output

    revoked = mpi("keys", "revoke", key_id)
    assert f"key {key_id} revoked at " in revoked.stdout
    assert mpi("keys", "list").stdout.splitlines()[1].split()[-1] == "revoked"


def test_cli_lists_an_expired_key_as_expired(config, clock):
    past = Services(config, clock=clock)
    past.directory.add(FOODBANK, "test")
    key, _ = create_key(past.store, "foodbank", "hub", "test", "2026-03-03")
    past.close()

    result = CliRunner().invoke(main, ["--db", config["MPI_DB"], "--models-dir", config["MPI_MODELS_DIR"],
                                       "keys", "list"])

    assert result.exit_code == 0, result.output
    row = result.stdout.splitlines()[1].split()
    assert row[0] == key["key_id"] and row[-1] == "expired"


def test_cli_key_errors_are_one_line(mpi):
    assert_one_line_error(mpi("keys", "create", "--org", "nowhere", "--role", "hub", ok=False),
                          "invalid key", "organisation")
    mpi("orgs", "add", "foodbank", "--name", "Metro Food Bank", "--kind", "cbo")
    assert_one_line_error(mpi("keys", "create", "--org", "foodbank", "--role", "hub", "--expires", "someday",
                              ok=False), "invalid key", "expires")
    assert_one_line_error(mpi("keys", "revoke", "KZZZZ2222", ok=False), "no API key KZZZZ2222")
    assert "no API keys" in mpi("keys", "list").stdout


def test_no_log_line_or_error_carries_a_key_secret(caplog, timed_client, admin, clock):
    caplog.set_level(logging.DEBUG)
    made = timed_client.post("/v1/admin/keys", json={"organisation": "foodbank", "role": "hub",
                                                     "expires": "2026-03-03"}, headers=admin).get_json()
    answers = [timed_client.get("/v1/organisations", headers=bearer(made["key"]))]
    timed_client.post(f"/v1/admin/keys/{made['key_id']}/revoke", headers=admin)
    answers.append(timed_client.get("/v1/organisations", headers=bearer(made["key"])))

    lines = [r.getMessage() for r in caplog.records]
    assert any(f"caller=key:{made['key_id']}" in line for line in lines)  # there are lines to check
    assert not [line for line in lines if made["key"] in line or made["key"][-24:] in line]
    assert all(made["key"] not in a.get_data(as_text=True) for a in answers)
