"""Reconciliation in the review UI (the Reconciliation page: patterns, work queue, trend chart; close, reissue) and
through the CLI (``mpi reconcile`` on the store and through a running service)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner

from api import create_app
from cli_runner import assert_one_line_error
from mpi.cli import main
from reconcile_world import PARTNER_ID, deliver, endpoint, referral  # noqa: F401
from referral_network import clock, net_client, net_services, network  # noqa: F401
from test_review_ui import csrf_of, sign_in


@pytest.fixture
def mismatched(net_client, network, net_services, endpoint, clock):
    """Three referrals redirected and shown "Closed" (one pattern), and an unknown id: four open items."""
    ids = [referral(net_client, network, f"SM-R{i}", "acknowledged", "redirected") for i in range(3)]
    deliver(net_services)
    clock.advance(timedelta(hours=3))
    net_services.reconciliation.receive_json(PARTNER_ID, {"rows": [
        *({"referral_id": r, "label": "Closed"} for r in ids), {"referral_id": "RF99999999", "label": "Sent"}]},
        "test")
    return ids


@pytest.fixture
def ui(net_services, network, net_client):
    client = net_client
    assert sign_in(client, "sam", network.tokens["sam"]).status_code == 303
    return client


def test_the_page_shows_the_pattern_the_queue_and_the_trend_chart(ui, mismatched):
    page = ui.get("/review/reconciliation")
    html = page.get_data(as_text=True)

    assert page.status_code == 200
    assert 'aria-current="page">Reconciliation</a>' in html, "in the nav"
    assert 'data-pattern-items="3"' in html, "the three redirected referrals are one pattern"
    assert html.count("data-item=") == 4
    assert all(f'/review/referrals/{r}"' in html for r in mismatched)
    assert 'class="linechart"' in html and f'data-partner="{PARTNER_ID}"' in html
    assert "Mismatched (of compared)" in html and "100 %" in html
    assert 'data-measure="category:redirected"' in html, "the mismatching category has its own line"
    assert 'data-measure="category:unknown"' in html


def test_an_item_is_closed_with_a_cause_and_reissued_from_the_page(ui, mismatched, net_services):
    items = net_services.reconciliation.items()["items"]
    first, second = items[0]["item_id"], items[1]["item_id"]
    token = csrf_of(ui.get("/review/reconciliation"))

    refused = ui.post(f"/review/reconciliation/items/{first}/close", data={"csrf_token": token, "cause": ""})
    closed = ui.post(f"/review/reconciliation/items/{first}/close",
                     data={"csrf_token": token, "cause": "mapping_defect", "note": "v1 maps redirected lossily"})
    reissued = ui.post(f"/review/reconciliation/items/{second}/reissue", data={"csrf_token": token})

    assert refused.status_code == 422 and "cause" in refused.get_data(as_text=True)
    assert closed.status_code == 303 and reissued.status_code == 303
    assert net_services.reconciliation.item(first)["cause"] == "mapping_defect"
    assert net_services.reconciliation.item(first)["closed_by"] == "user:sam"
    assert net_services.reconciliation.item(second)["reissues"] == 1
    html = ui.get("/review/reconciliation").get_data(as_text=True)
    assert html.count("data-item=") == 3 and "reissued as message" in html


def test_a_coordinator_may_not_open_the_page(net_client, network, net_services):
    assert sign_in(net_client, "cora", network.tokens["cora"]).status_code == 303
    assert net_client.get("/review/reconciliation").status_code == 403


def _cli(config, *args):
    return CliRunner().invoke(main, ["--db", config["MPI_DB"], "--models-dir", config["MPI_MODELS_DIR"], *args])


def test_mpi_reconcile_reads_csv_or_json_and_reports_the_run(net_client, network, net_services, endpoint, clock,
                                                             config, tmp_path):
    rid = referral(net_client, network, "SM-1", "acknowledged", "accepted")
    deliver(net_services)
    clock.advance(timedelta(hours=3))
    net_services.close()  # the command opens the store itself, as it would with no service running
    shown = tmp_path / "shown.csv"
    shown.write_text("reference,label\nSM-1,Received\nSM-404,Sent\n")
    listed = tmp_path / "shown.txt"
    listed.write_text(json.dumps([{"referral_id": rid, "label": "Scheduled"}]))
    bad = tmp_path / "bad.csv"
    bad.write_text("referral_id,label\nRF1,\n")

    by_csv = _cli(config, "reconcile", "--partner", PARTNER_ID, "--input", str(shown))
    by_json = _cli(config, "reconcile", "--partner", PARTNER_ID, "--input", str(listed))
    refused = _cli(config, "reconcile", "--partner", PARTNER_ID, "--input", str(bad))

    assert by_csv.exit_code == 0, by_csv.output
    assert "2 compared, 0 matched, 0 lagging, 2 mismatched" in by_csv.output
    assert "mismatch disagreement: 1" in by_csv.output and "mismatch unknown_referral: 1" in by_csv.output
    assert "pattern: 1 x disagreement accepted: should show 'Scheduled', shows 'Received'" in by_csv.output
    assert by_json.exit_code == 0, by_json.output
    assert "1 compared, 1 matched" in by_json.output and "1 cleared" in by_json.output
    assert_one_line_error(refused, "line 2")


@pytest.fixture
def app(net_services, network, endpoint):
    """The network's app, for conftest's ``live_server`` (a real waitress server on loopback)."""
    return create_app(services=net_services)


def test_mpi_reconcile_goes_through_a_running_service(live_server, net_services, network, tmp_path):
    shown = tmp_path / "shown.json"
    shown.write_text(json.dumps({"rows": [{"referral_id": "RF99999999", "label": "Sent",
                                           "as_of": "2026-11-23T14:00:00Z"}]}))
    unopenable = str(tmp_path / "no-such-folder" / "x.duckdb")

    def run(who: str):
        return CliRunner().invoke(main, ["--db", unopenable, "--url", live_server, "--token", network.tokens[who],
                                         "reconcile", "--partner", PARTNER_ID, "--input", str(shown)])

    result, other = run("hub-stmarys"), run("hub-bluepath")

    assert result.exit_code == 0, result.output
    assert "1 compared, 0 matched, 0 lagging, 1 mismatched" in result.output
    assert [s["received_by"] for s in net_services.store.reconciliation.latest_snapshots()] == ["user:hub-stmarys"]
    assert_one_line_error(other, "403")
