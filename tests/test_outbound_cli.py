"""``mpi partners pause|resume|back-post --partner P``: on the store, and through a running service with ``--url``."""

from __future__ import annotations

from click.testing import CliRunner

from cli_runner import assert_one_line_error, mpi  # noqa: F401  (mpi: a fixture)
from conftest import add_organisation
from mpi.auth import add_user
from mpi.cli import main


def _feed(run) -> None:
    run("orgs", "add", "bluepath", "--name", "BluePath", "--kind", "mco")
    run("partners", "add", "bluepath-fhir", "--org", "bluepath", "--name", "BluePath feed", "--endpoint",
        "http://127.0.0.1:9/Task", "--format", "webhook", "--subscribe", "member")


def test_cli_pauses_resumes_and_back_posts_a_partner(mpi):  # noqa: F811
    _feed(mpi)
    paused = mpi("partners", "pause", "--partner", "bluepath-fhir", "--reason", "endpoint migration")
    assert "partner bluepath-fhir: paused; 0 messages undelivered for 0 referrals" in paused.stdout
    assert "paused" in mpi("partners", "list").stdout
    back = mpi("partners", "back-post", "--partner", "bluepath-fhir", "--note", "migrated")
    assert "back-post BP00000001: 0 messages queued again; patterns closed: none" in back.stdout
    assert "partner bluepath-fhir: active" in back.stdout, "a partner back-post resumes it"
    assert "partner bluepath-fhir: active" in mpi("partners", "resume", "--partner", "bluepath-fhir").stdout
    assert_one_line_error(mpi("partners", "pause", "--partner", "nobody", "--reason", "x", ok=False),
                          "no such partner")
    assert_one_line_error(mpi("partners", "back-post", "--partner", "bluepath-fhir", "--note", " ", ok=False),
                          "note")


def test_cli_pauses_and_resumes_through_a_running_service(live_server, services, tmp_path):
    add_organisation(services, "bluepath", kind="mco")
    token = add_user(services.store, "root", "admin")
    services.partners.add({"partner_id": "bluepath-fhir", "organisation": "bluepath", "name": "feed",
                           "endpoint": "http://127.0.0.1:9/Task", "format": "webhook",
                           "subscriptions": ["member"]}, "test")
    unopenable = str(tmp_path / "no-such-folder" / "x.duckdb")

    def remote(*args: str):
        return CliRunner().invoke(main, ["--db", unopenable, "--url", live_server, "--token", token, *args])

    paused = remote("partners", "pause", "--partner", "bluepath-fhir", "--reason", "migration")
    assert paused.exit_code == 0, paused.output
    assert services.partners.get("bluepath-fhir")["status"] == "paused"
    assert remote("partners", "resume", "--partner", "bluepath-fhir").exit_code == 0
    assert services.partners.get("bluepath-fhir")["status"] == "active"
    refused = remote("partners", "back-post", "--partner", "bluepath-fhir", "--note", " ")
    assert_one_line_error(refused, "422")
