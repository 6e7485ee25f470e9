"""Partners of the exchange and their versioned status crosswalks: through the core, the CLI and ``/v1/partners``.

On a real store file; the remote CLI against the real app on loopback.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from click.testing import CliRunner

from cli_runner import assert_one_line_error, mpi  # noqa: F401  (mpi: a fixture)
from conftest import add_hub, add_organisation
from mpi.auth import add_user
from mpi.cli import main
from mpi.errors import Conflict, NotFound, ValidationError
from mpi.exchange.crosswalk import NoLabel, rows_from_csv
from mpi.vocab import AuditAction, EntityType

#: Every test here runs on a DuckDB file and on a PostgreSQL database (``conftest.store_location``).
pytestmark = pytest.mark.both_stores

BLUEPATH = {"partner_id": "bluepath-fhir", "organisation": "bluepath", "name": "BluePath MCO FHIR feed",
            "endpoint": "https://fhir.bluepath.example/Task", "format": "fhir-task",
            "subscriptions": ["member", "requester"]}
#: Version 1: redirected shown as "Declined", as declined is (lossy); version 2 tells them apart.
V1 = ("state,reason,label\n"
      "accepted,,Scheduled\n"
      "declined,,Declined\n"
      "redirected,,declined \n"
      "closed_not_served,unable-to-contact,Could not reach\n"
      "closed_not_served,,Closed\n")
V2 = ("state,reason,label\n"
      "accepted,,Scheduled\n"
      "declined,,Declined\n"
      "redirected,,Referred elsewhere\n")


@pytest.fixture
def partners(services):
    add_organisation(services, "bluepath", kind="mco")
    return services.partners


@pytest.fixture
def admin(services) -> dict:
    add_organisation(services, "bluepath", kind="mco")
    return {"Authorization": f"Bearer {add_user(services.store, 'root', 'admin')}"}


# ------------------------------------------------------------------------------------------------ core

def test_a_partner_is_added_with_a_secret_shown_once_and_kept_to_sign_and_is_audited(partners, services):
    partner, secret = partners.add(BLUEPATH, "test")
    assert secret.startswith("whsec_") and len(secret) > 40
    # Subscriptions in their declared order; active when added.
    assert partner["subscriptions"] == ["requester", "member"] and partner["status"] == "active"
    assert services.store.partners.signing_secret("bluepath-fhir") == secret
    shown = partners.get("bluepath-fhir")
    assert secret not in repr(shown) and secret not in repr(partners.all())
    event = [e for e in services.store.audit.events(EntityType.PARTNER, "bluepath-fhir")]
    assert [e["action"] for e in event] == [AuditAction.PARTNER_ADDED]
    assert secret not in repr(event)


def test_a_partner_names_each_bad_field_and_a_taken_id_conflicts(partners):
    with pytest.raises(ValidationError) as bad:
        partners.add({"partner_id": "X", "organisation": "nowhere", "name": "", "endpoint": "ftp://x",
                      "format": "csv", "subscriptions": ["everyone"]}, "test")
    assert set(bad.value.errors) == {"partner_id", "organisation", "name", "endpoint", "format", "subscriptions"}
    with pytest.raises(ValidationError) as creds:
        partners.add({**BLUEPATH, "endpoint": "https://user:pw@fhir.example/"}, "test")
    assert set(creds.value.errors) == {"endpoint"} and "pw" not in str(creds.value)
    partners.add(BLUEPATH, "test")
    with pytest.raises(Conflict):
        partners.add(BLUEPATH, "test")
    assert len(partners.all()) == 1


def test_the_label_is_the_one_of_the_version_in_force_at_the_time(partners):
    partners.add(BLUEPATH, "test")
    v1 = partners.add_crosswalk_csv("bluepath-fhir", V1, "2026-03-01", "test")
    v2 = partners.add_crosswalk_csv("bluepath-fhir", V2, "2026-06-01", "test")
    with pytest.raises(NoLabel) as before:
        partners.label_for("bluepath-fhir", "redirected", None, date(2026, 2, 28))
    assert "2026-03-01" in before.value.message
    # In force from the first moment (UTC) of its date.
    with pytest.raises(NoLabel):
        partners.label_for("bluepath-fhir", "accepted", None, datetime(2026, 2, 28, 23, 59, tzinfo=timezone.utc))
    first = partners.label_for("bluepath-fhir", "redirected", None, datetime(2026, 3, 1, tzinfo=timezone.utc))
    assert (first.label, first.version_id, first.lossy) == ("declined", v1["version_id"], True)
    between = partners.label_for("bluepath-fhir", "redirected", None, date(2026, 5, 31))
    assert between.version_id == v1["version_id"]
    after = partners.label_for("bluepath-fhir", "redirected", None, date(2027, 1, 1))
    assert (after.label, after.version_id, after.lossy) == ("Referred elsewhere", v2["version_id"], False)


def test_a_reason_row_wins_over_the_state_row_and_unknown_or_unmapped_states_are_errors(partners):
    partners.add(BLUEPATH, "test")
    partners.add_crosswalk_csv("bluepath-fhir", V1, "2026-03-01", "test")
    at = date(2026, 4, 1)
    assert partners.label_for("bluepath-fhir", "closed_not_served", "unable-to-contact", at).label == "Could not reach"
    assert partners.label_for("bluepath-fhir", "closed_not_served", "client-declined", at).label == "Closed"
    with pytest.raises(ValidationError) as unknown:
        partners.label_for("bluepath-fhir", "scheduled", None, at)
    assert set(unknown.value.errors) == {"state"}
    with pytest.raises(NoLabel) as unmapped:
        partners.label_for("bluepath-fhir", "on_hold", None, at)
    assert set(unmapped.value.errors) == {"state"}
    with pytest.raises(NotFound):
        partners.label_for("no-such-partner", "accepted", None, at)


def test_lossy_marks_where_two_states_share_a_label_and_not_where_one_state_has_two(partners):
    partners.add(BLUEPATH, "test")
    version = partners.add_crosswalk_csv("bluepath-fhir", V1, "2026-03-01", "test")
    lossy = {(r["state"], r["reason"]) for r in version["rows"] if r["lossy"]}
    # "Declined" and "declined " are one label to a partner's screen.
    assert lossy == {("declined", None), ("redirected", None)}
    assert version["lossy_rows"] == 2
    later = partners.add_crosswalk_csv("bluepath-fhir", V2, "2026-06-01", "test")
    assert later["lossy_rows"] == 0
    # Earlier versions stay as they were.
    assert [v["lossy_rows"] for v in partners.get("bluepath-fhir")["crosswalks"]] == [2, 0]


def test_a_csv_names_each_bad_row_by_its_line_and_nothing_is_written(partners, services):
    partners.add(BLUEPATH, "test")
    text = ("state,reason,label\n"
            "accepted,,Scheduled\n"
            "scheduled,,Scheduled\n"          # line 3: not an internal state
            "\n"
            "declined,no-such-reason,Declined\n"  # line 5: not a reason code
            "completed,,\n"                   # line 6: no label
            "accepted,,Booked\n"              # line 7: accepted mapped twice
            "cancelled,too,many,values\n")    # line 8
    with pytest.raises(ValidationError) as bad:
        partners.add_crosswalk_csv("bluepath-fhir", text, "2026-03-01", "test")
    assert list(bad.value.errors) == ["line 3", "line 5", "line 6", "line 7", "line 8"]
    assert "state" in bad.value.errors["line 3"][0] and "reason" in bad.value.errors["line 5"][0]
    assert "label" in bad.value.errors["line 6"][0] and "line 2" in bad.value.errors["line 7"][0]
    assert partners.get("bluepath-fhir")["crosswalks"] == []
    with pytest.raises(ValidationError) as header:
        rows_from_csv("state,label\naccepted,Scheduled\n")
    assert list(header.value.errors) == ["line 1"]
    with pytest.raises(ValidationError) as when:
        partners.add_crosswalk_csv("bluepath-fhir", V2, "01/03/2026", "test")
    assert list(when.value.errors) == ["effective_from"]


def test_a_crosswalk_version_is_audited_and_defaults_to_today(partners, services):
    partners.add(BLUEPATH, "test")
    version = partners.add_crosswalk_csv("bluepath-fhir", V2, None, "test")
    assert version["effective_from"] == services.store.db.now().astimezone(timezone.utc).date()
    actions = [e["action"] for e in services.store.audit.events(EntityType.PARTNER, "bluepath-fhir")]
    assert actions == [AuditAction.CROSSWALK_VERSION_ADDED, AuditAction.PARTNER_ADDED]  # newest first


# ------------------------------------------------------------------------------------------------ API

def test_an_admin_adds_lists_and_shows_partners_through_the_api(client, admin, services):
    created = client.post("/v1/partners", json=BLUEPATH, headers=admin)
    assert created.status_code == 201, created.get_json()
    secret = created.get_json()["signing_secret"]
    assert secret == services.store.partners.signing_secret("bluepath-fhir")
    listed = client.get("/v1/partners", headers=admin)
    assert [p["partner_id"] for p in listed.get_json()["partners"]] == ["bluepath-fhir"]
    assert listed.get_json()["partners"][0]["latest_crosswalk"] is None
    version = client.post("/v1/partners/bluepath-fhir/crosswalk", headers=admin, json={
        "effective_from": "2026-03-01", "rows": [{"state": "declined", "label": "Declined"},
                                                 {"state": "redirected", "label": "Declined"},
                                                 {"state": "accepted", "reason": None, "label": "Scheduled"}]})
    assert version.status_code == 201, version.get_json()
    assert version.get_json()["lossy_rows"] == 2 and version.get_json()["effective_from"] == "2026-03-01"
    shown = client.get("/v1/partners/bluepath-fhir", headers=admin)
    assert shown.status_code == 200
    body = shown.get_json()
    assert [v["version_id"] for v in body["crosswalks"]] == [version.get_json()["version_id"]]
    assert [r["lossy"] for r in body["crosswalks"][0]["rows"]] == [True, True, False]
    for answer in (listed, shown, client.get("/v1/partners", headers=admin)):
        assert secret not in answer.get_data(as_text=True)
    assert client.post("/v1/partners", json=BLUEPATH, headers=admin).status_code == 409


def test_partners_are_for_admins_only(client, services, admin):
    hub = {"Authorization": f"Bearer {add_hub(services, 'bluepath-hub', 'bluepath')}"}
    assert client.get("/v1/partners").status_code == 401
    assert client.get("/v1/partners", headers=hub).status_code == 403
    # Refused before the body is read: a 403, not a 422.
    assert client.post("/v1/partners", json={"x": 1}, headers=hub).status_code == 403
    assert client.post("/v1/partners", json=BLUEPATH, headers=hub).status_code == 403
    assert services.partners.all() == []


@pytest.mark.parametrize("body, fields", [
    ({}, {"partner_id", "organisation", "name", "endpoint", "format", "subscriptions"}),
    ({**BLUEPATH, "format": "email", "subscriptions": []}, {"format", "subscriptions"}),
    ({**BLUEPATH, "endpoint": "not a url", "colour": "blue"}, {"endpoint", "colour"}),
    ({**BLUEPATH, "organisation": "nowhere"}, {"organisation"}),
])
def test_a_bad_partner_body_is_422_naming_each_field(client, admin, services, body, fields):
    answer = client.post("/v1/partners", json=body, headers=admin)
    assert answer.status_code == 422, answer.get_json()
    error = answer.get_json()
    assert error["code"] == "validation_error" and set(error["errors"]) == fields
    assert services.partners.all() == []


def test_a_bad_crosswalk_body_is_422_naming_each_row_field_and_an_unknown_partner_404(client, admin, services):
    client.post("/v1/partners", json=BLUEPATH, headers=admin)
    bad = client.post("/v1/partners/bluepath-fhir/crosswalk", headers=admin, json={
        "effective_from": "March", "rows": [{"state": "scheduled", "label": "x"}, {"state": "accepted"}]})
    assert bad.status_code == 422
    # A list's items are named by the list's field (mpi.errors.flatten), as everywhere in the API.
    assert set(bad.get_json()["errors"]) == {"effective_from", "rows.state", "rows.label"}
    twice = client.post("/v1/partners/bluepath-fhir/crosswalk", headers=admin, json={
        "rows": [{"state": "accepted", "label": "A"}, {"state": "accepted", "label": "B"}]})
    assert twice.status_code == 422 and twice.get_json()["errors"] == {
        "rows.state": ["row 2: this state and reason are mapped already (row 1)"]}
    assert services.partners.get("bluepath-fhir")["crosswalks"] == []
    missing = client.post("/v1/partners/nobody/crosswalk", headers=admin, json={"rows": [{"state": "accepted",
                                                                                         "label": "A"}]})
    assert missing.status_code == 404 and missing.get_json()["code"] == "not_found"
    assert client.get("/v1/partners/nobody", headers=admin).status_code == 404


# ------------------------------------------------------------------------------------------------ CLI

def test_cli_adds_lists_shows_and_adds_crosswalk_versions(mpi, tmp_path):  # noqa: F811
    mpi("orgs", "add", "bluepath", "--name", "BluePath", "--kind", "mco")
    added = mpi("partners", "add", "bluepath-fhir", "--org", "bluepath", "--name", "BluePath feed",
                "--endpoint", "https://fhir.bluepath.example/Task", "--format", "fhir-task",
                "--subscribe", "member", "--subscribe", "requester")
    secret = next(line.split()[-1] for line in added.stdout.splitlines() if line.startswith("signing secret:"))
    assert secret.startswith("whsec_")
    csv_file = tmp_path / "crosswalk.csv"
    csv_file.write_text(V1)
    version = mpi("partners", "crosswalk", "--partner", "bluepath-fhir", "--input", str(csv_file),
                  "--effective", "2026-03-01")
    assert "crosswalk v1 of bluepath-fhir: 5 rows, 2 lossy, in force from 2026-03-01" in version.stdout
    assert "lossy: line 4 redirected -> declined" in version.stdout
    listed = mpi("partners", "list").stdout
    assert "bluepath-fhir" in listed and "requester,member" in listed and "v1" in listed and secret not in listed
    shown = mpi("partners", "show", "bluepath-fhir").stdout
    assert "crosswalk v1: in force from 2026-03-01 (5 rows, 2 lossy)" in shown
    assert [line.split()[0] for line in shown.splitlines() if line.endswith("LOSSY")] == ["declined", "redirected"]
    assert secret not in shown


def test_cli_names_the_bad_lines_of_a_crosswalk_csv_in_one_error(mpi, tmp_path):  # noqa: F811
    mpi("orgs", "add", "bluepath", "--name", "BluePath", "--kind", "mco")
    mpi("partners", "add", "bluepath-fhir", "--org", "bluepath", "--name", "BluePath feed", "--endpoint",
        "https://fhir.bluepath.example/Task", "--format", "webhook", "--subscribe", "member")
    csv_file = tmp_path / "crosswalk.csv"
    csv_file.write_text("state,reason,label\naccepted,,Scheduled\nbooked,,Booked\ndeclined,,\n")
    failed = mpi("partners", "crosswalk", "--partner", "bluepath-fhir", "--input", str(csv_file), ok=False)
    assert_one_line_error(failed, "line 3: state", "line 4: label")
    assert "no crosswalk" not in mpi("partners", "show", "bluepath-fhir").stdout
    assert "crosswalk:     none" in mpi("partners", "show", "bluepath-fhir").stdout
    unknown = mpi("partners", "crosswalk", "--partner", "nobody", "--input", str(csv_file), ok=False)
    assert_one_line_error(unknown, "no such partner")


def test_cli_works_through_a_running_service(live_server, services, tmp_path):
    add_organisation(services, "bluepath", kind="mco")
    token = add_user(services.store, "root", "admin")
    unopenable = str(tmp_path / "no-such-folder" / "x.duckdb")

    def remote(*args: str, ok: bool = True):
        result = CliRunner().invoke(main, ["--db", unopenable, "--url", live_server, "--token", token, *args])
        assert (result.exit_code == 0) == ok, result.output
        return result

    remote("partners", "add", "bluepath-fhir", "--org", "bluepath", "--name", "BluePath feed", "--endpoint",
           "http://127.0.0.1:9/Task", "--format", "webhook", "--subscribe", "performer")
    csv_file = tmp_path / "crosswalk.csv"
    csv_file.write_text(V2)
    version = remote("partners", "crosswalk", "--partner", "bluepath-fhir", "--input", str(csv_file),
                     "--effective", "2026-06-01")
    assert "crosswalk v1 of bluepath-fhir: 3 rows, 0 lossy, in force from 2026-06-01" in version.stdout
    assert "bluepath-fhir" in remote("partners", "list").stdout
    assert "Referred elsewhere" in remote("partners", "show", "bluepath-fhir").stdout
    assert services.partners.label_for("bluepath-fhir", "redirected", None, date(2026, 6, 1)).version_id == 1
    csv_file.write_text("state,reason,label\nbooked,,Booked\n")
    failed = remote("partners", "crosswalk", "--partner", "bluepath-fhir", "--input", str(csv_file), ok=False)
    assert "line 2: state" in failed.output
