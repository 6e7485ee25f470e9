"""Reconciliation (issue 15, point 5): a partner's snapshot compared with what it was sent; lag told from mismatch;
one work item per mismatch; a mapping defect seen as one pattern that falls after a new crosswalk version.

The partner is a real loopback endpoint (``exchange_world.Partner``) that acknowledges
what the delivery worker sends it; snapshots go through the real app.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from mpi.exchange import reconcile_vocab as words
from mpi.exchange.inbound_vocab import Severity
from mpi.referral_vocab import ReferralState
from mpi.store import reconciliation as table
from reconcile_world import CROSSWALK_V2, PARTNER_ID, deliver, endpoint, referral, step  # noqa: F401
from referral_network import clock, net_client, net_services, network  # noqa: F401

SNAPSHOT = f"/v1/partners/{PARTNER_ID}/status-snapshot"
HOURS_3 = timedelta(hours=3)


def post(client, network, rows, who="hub-stmarys"):
    return client.post(SNAPSHOT, json={"rows": rows}, headers=network.headers[who])


def posted(client, network, rows, who="hub-stmarys") -> dict:
    response = post(client, network, rows, who)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def items(client, network, **query) -> list[dict]:
    response = client.get("/v1/reconciliation/items", query_string=query, headers=network.headers["sam"])
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def test_the_store_spells_the_words_of_the_vocabulary():
    assert {o.value for o in words.Outcome} == {table.MATCHED, table.LAGGING, table.MISMATCHED}
    assert {r.value for r in words.LagReason} == {table.IN_FLIGHT, table.SUPERSEDED, table.GRACE}
    assert {k.value for k in words.MismatchKind} == {table.DISAGREEMENT, table.UNDELIVERED, table.UNKNOWN_REFERRAL,
                                                     table.UNKNOWN_LABEL}
    assert {s.value for s in words.ItemState} == {table.OPEN, table.CLOSED, table.CLEARED}


@pytest.mark.parametrize(("kind", "state", "urgency", "severity"), [
    ("disagreement", "accepted", "discharge", Severity.HIGH),
    ("disagreement", "accepted", "routine", Severity.MEDIUM),
    ("disagreement", "redirected", "discharge", Severity.MEDIUM),
    ("disagreement", "completed", "urgent", Severity.LOW),
    ("unknown_referral", None, None, Severity.MEDIUM),
    ("unknown_label", "completed", "routine", Severity.MEDIUM),
])
def test_severity_is_by_coordination_consequence(kind, state, urgency, severity):
    assert words.severity_of(kind, state, urgency) == severity


def test_the_stores_severity_sql_is_the_vocabularys_rule(services):
    from itertools import product

    cases = list(product(sorted({k.value for k in words.MismatchKind}), [None, *(s.value for s in ReferralState)],
                         [None, "discharge", "urgent", "routine"]))
    values = ", ".join("(?, ?, ?)" for _ in cases)
    rules = words.RULES
    got = services.store.db.query(
        f"SELECT kind, our_state, urgency, {table.SEVERITY} FROM (VALUES {values}) t(kind, our_state, urgency)",
        [rules["medium_states"], rules["open_states"], rules["pressing"], *(v for c in cases for v in c)])

    assert len(got) == len(cases)
    assert all(severity == words.severity_of(kind, state, urgency) for kind, state, urgency, severity in got)


def test_an_update_in_flight_or_inside_the_grace_period_is_lag_and_an_old_disagreement_is_one_item(
        net_client, network, net_services, endpoint, clock):
    old = referral(net_client, network, "SM-1", "acknowledged", "accepted")
    fresh = referral(net_client, network, "SM-2", "acknowledged")
    older = referral(net_client, network, "SM-3", "acknowledged")
    assert deliver(net_services) == 7
    clock.advance(HOURS_3)
    flying = referral(net_client, network, "SM-4", "acknowledged")      # queued: never delivered
    step(net_client, network, fresh, "accepted")                           # delivered now: inside the grace period
    step(net_client, network, older, "accepted")                           # delivered now, reported as of before
    deliver_only = {fresh, older}
    endpoint.answer = lambda r: 200 if r["body"]["referral_id"] in deliver_only else 503
    deliver(net_services)
    assert net_services.store.outbox.of_referral(flying)[0]["status"] == "failed"

    run = posted(net_client, network, [
        {"referral_id": old, "label": "Received"},                         # acknowledged Scheduled 3 h ago: mismatch
        {"reference": "SM-4", "label": "Sent"},                            # its updates are in flight: lag
        {"referral_id": fresh, "label": "Received"},                       # last action just now: lag (grace)
        {"referral_id": older, "label": "Received",
         "as_of": (clock.now() - timedelta(hours=2)).isoformat()},        # older than its acknowledgement: lag
        {"referral_id": "RF99999999", "label": "Sent"},                    # no such referral: identifier mismatch
    ])

    assert (run["compared"], run["matched"], run["lagging"], run["mismatched"]) == (5, 0, 3, 2)
    assert run["lags"] == {"grace": 1, "in_flight": 1, "superseded": 1}
    assert run["kinds"] == {"disagreement": 1, "unknown_referral": 1}
    assert run["opened"] == 2
    [disagreement] = items(net_client, network, kind="disagreement")
    assert (disagreement["referral_id"], disagreement["our_state"], disagreement["expected_label"],
            disagreement["reported_label"], disagreement["severity"], disagreement["state"]) == (
        old, "accepted", "Scheduled", "Received", "medium", "open")
    assert disagreement["crosswalk_version"] == 1 and disagreement["owner"] == "integration-desk"
    assert disagreement["due_at"] > disagreement["opened_at"]
    [unknown] = items(net_client, network, kind="unknown_referral")
    assert (unknown["referral_id"], unknown["reported_id"]) == (None, "RF99999999")

    again = net_services.reconciliation.rerun()

    assert [(r["opened"], r["seen_again"]) for r in again] == [(0, 2)], "a repeat run opens nothing new"
    assert len(items(net_client, network)) == 2
    assert items(net_client, network, kind="disagreement")[0]["seen_count"] == 2

    clock.advance(HOURS_3)
    persisted = net_services.reconciliation.rerun()[0]

    assert persisted["opened"] == 1 and persisted["lags"] == {"in_flight": 1, "superseded": 1}, \
        "the lag past its grace period is a mismatch now; the update in flight is still a lag"
    assert {i["referral_id"] for i in items(net_client, network, kind="disagreement")} == {old, fresh}


def test_an_item_clears_when_a_later_run_finds_the_referral_matching(net_client, network, net_services, endpoint,
                                                                     clock):
    rid = referral(net_client, network, "SM-1", "acknowledged", "accepted")
    deliver(net_services)
    clock.advance(HOURS_3)
    posted(net_client, network, [{"referral_id": rid, "label": "Received"}])
    [item] = items(net_client, network)

    run = posted(net_client, network, [{"reference": "SM-1", "label": "SCHEDULED"}])

    assert (run["matched"], run["cleared"]) == (1, 1), "matched by the partner's own reference, without case"
    cleared = net_client.get(f"/v1/reconciliation/items/{item['item_id']}", headers=network.headers["sam"]).get_json()
    assert cleared["state"] == "cleared" and cleared["closed_at"] is not None and cleared["cause"] is None


def test_a_label_the_crosswalk_never_maps_is_an_unknown_label_finding(net_client, network, net_services, endpoint,
                                                                      clock):
    rid = referral(net_client, network, "SM-1", "acknowledged")
    deliver(net_services)

    run = posted(net_client, network, [{"referral_id": rid, "label": "Pending review"}])

    assert run["kinds"] == {"unknown_label": 1}, "not a lag, even inside the grace period"
    [item] = items(net_client, network)
    assert (item["kind"], item["expected_label"], item["reported_label"]) == ("unknown_label", "Received",
                                                                             "Pending review")


def test_redirected_shown_as_declined_is_one_pattern_and_falls_after_a_new_crosswalk_version(
        net_client, network, net_services, endpoint, clock):
    """Crosswalk v1 sends redirected as "Declined" (lossy); the partner's system, which sees a successor referral
    follow, shows each such referral as "Closed": the same signature on every redirected referral, a mapping
    defect, not six front-line mistakes. v2 maps redirected to "Referred elsewhere", which the partner's system
    shows as it is; once updates flow under it, the redirected category's mismatch rate falls."""
    v1 = {r["state"]: r for r in net_services.partners.get(PARTNER_ID)["crosswalks"][0]["rows"]}
    assert v1["redirected"]["label"] == "Declined" and v1["redirected"]["lossy"]
    redirected = [referral(net_client, network, f"SM-R{i}", "acknowledged", "redirected") for i in range(6)]
    declined = [referral(net_client, network, f"SM-D{i}", "acknowledged", "declined") for i in range(4)]
    deliver(net_services)
    clock.advance(HOURS_3)
    declines = [{"referral_id": r, "label": "Declined"} for r in declined]

    first = posted(net_client, network, [{"referral_id": r, "label": "Closed"} for r in redirected] + declines)

    assert (first["compared"], first["matched"], first["mismatched"], first["opened"]) == (10, 4, 6, 6)
    report = net_client.get(f"/v1/partners/{PARTNER_ID}/reconciliation", headers=network.headers["sam"]).get_json()
    [pattern] = report["patterns"]
    assert (pattern["kind"], pattern["our_state"], pattern["expected_label"], pattern["reported_label"],
            pattern["items"], pattern["crosswalk_versions"]) == (
        "disagreement", "redirected", "Declined", "Closed", 6, [1]), "one pattern with a count"
    rates = {r["category"]: r for r in report["runs"][-1]["by_category"]}
    assert (rates["redirected"]["mismatch_rate"], rates["declined"]["mismatch_rate"]) == (1.0, 0.0)
    assert report["runs"][-1]["mismatch_rate"] == 0.6

    net_services.partners.add_crosswalk_csv(PARTNER_ID, CROSSWALK_V2, "2026-11-24", "test")
    clock.set(clock.now().replace(day=24, hour=12))
    for item in items(net_client, network, our_state="redirected"):
        response = net_client.post(f"/v1/reconciliation/items/{item['item_id']}/reissue",
                                   headers=network.headers["sam"])
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["message"]["label"] == "Referred elsewhere"
    later = [referral(net_client, network, f"SM-L{i}", "acknowledged", "redirected") for i in range(2)]
    deliver(net_services)
    clock.advance(HOURS_3)

    second = posted(net_client, network, declines + [{"referral_id": r, "label": "Referred elsewhere"}
                                                     for r in redirected + later])

    assert (second["compared"], second["matched"], second["mismatched"], second["cleared"]) == (12, 12, 0, 6)
    report = net_client.get(f"/v1/partners/{PARTNER_ID}/reconciliation", headers=network.headers["sam"]).get_json()
    trend = [{r["category"]: r["mismatch_rate"] for r in run["by_category"]}["redirected"] for run in report["runs"]]
    assert trend == [1.0, 0.0], "the redirected category's mismatch rate falls after v2"
    assert report["patterns"] == []
    expected = [[r["expected_label"] for r in run["by_category"] if r["category"] == "redirected"]
                for run in report["runs"]]
    assert expected == [["Declined"], ["Referred elsewhere"]], "the new version's label is what it should show now"
    assert {m["crosswalk_version"] for r in redirected for m in net_services.store.outbox.of_referral(r)
            if m["idempotency_key"].endswith(":reissue-1")} == {2}


def test_a_csv_snapshot_is_reconciled_like_json(net_client, network, net_services, endpoint, clock):
    rid = referral(net_client, network, "SM-1", "acknowledged", "accepted")
    deliver(net_services)
    clock.advance(HOURS_3)
    text = f"referral_id,label,as_of\n{rid},Received,\nRF99999998,Scheduled,\n"

    response = net_client.post(SNAPSHOT, data=text.encode(), content_type="text/csv",
                               headers=network.headers["hub-stmarys"])

    assert response.status_code == 201, response.get_json()
    assert (response.get_json()["mismatched"], response.get_json()["kinds"]) == (
        2, {"disagreement": 1, "unknown_referral": 1})
    snap = net_services.store.reconciliation.snapshot(response.get_json()["snapshot_id"])
    assert (snap["source"], snap["row_count"], snap["received_by"]) == ("csv", 2, "user:hub-stmarys")


def test_a_bad_snapshot_names_each_bad_line_or_field_and_keeps_nothing(net_client, network, net_services, endpoint):
    csv_text = "referral_id,label\nRF00000001,Received\n,Received\nRF00000002,\nRF00000001,Done\nx,y,z\n"
    bad_csv = net_client.post(SNAPSHOT, data=csv_text, content_type="text/csv", headers=network.headers["root"])
    bad_json = post(net_client, network, [{"referral_id": "RF1", "label": ""}, {"label": "Sent", "colour": "red"},
                                          {"reference": "SM-1", "label": "x", "as_of": "yesterday"}, "row"])
    bad_header = net_client.post(SNAPSHOT, data="id,status\n1,x\n", content_type="text/csv",
                                 headers=network.headers["root"])

    assert bad_csv.status_code == 422 and bad_csv.get_json()["code"] == "validation_error"
    assert set(bad_csv.get_json()["errors"]) == {"line 3", "line 4", "line 5", "line 6"}
    assert "reported already (line 2)" in bad_csv.get_json()["errors"]["line 5"][0]
    assert bad_json.status_code == 422
    assert set(bad_json.get_json()["errors"]) == {"rows.0.label", "rows.1.colour", "rows.1.referral_id",
                                                  "rows.2.as_of", "rows.3"}
    assert bad_header.status_code == 422 and set(bad_header.get_json()["errors"]) == {"line 1"}
    assert "Received" not in str(bad_csv.get_json()), "values are not echoed"
    assert net_services.store.reconciliation.latest_snapshots() == [], "nothing half-written"
    assert net_services.store.db.one("SELECT count(*) FROM status_snapshot_rows")[0] == 0


def test_only_an_admin_or_the_partners_own_hub_reports_its_snapshot(net_client, network, endpoint):
    rows = [{"referral_id": "RF99999999", "label": "Sent"}]

    assert post(net_client, network, rows, who="hub-bluepath").status_code == 403
    assert post(net_client, network, rows, who="cora").status_code == 403
    assert post(net_client, network, rows, who="root").status_code == 201
    assert net_client.post("/v1/partners/nobody/status-snapshot", json={"rows": rows},
                           headers=network.headers["root"]).status_code == 404
    plain = net_client.post(SNAPSHOT, data="a,b", content_type="text/plain", headers=network.headers["root"])
    assert plain.status_code == 415 and plain.get_json()["errors"] == {"Content-Type": ["not JSON or CSV: text/plain"]}


def test_an_item_is_closed_with_its_cause_once_and_audited(net_client, network, net_services, endpoint):
    posted(net_client, network, [{"referral_id": "RF99999999", "label": "Sent"}])
    [item] = items(net_client, network)
    url = f"/v1/reconciliation/items/{item['item_id']}/close"

    refused = net_client.post(url, json={"cause": "bad luck"}, headers=network.headers["sam"])
    closed = net_client.post(url, json={"cause": "identifier_mismatch", "note": "their id was a typo"},
                             headers=network.headers["sam"])
    again = net_client.post(url, json={"cause": "our_error"}, headers=network.headers["sam"])

    assert refused.status_code == 422 and set(refused.get_json()["errors"]) == {"cause"}
    assert closed.status_code == 200
    assert (closed.get_json()["state"], closed.get_json()["cause"], closed.get_json()["closed_by"]) == (
        "closed", "identifier_mismatch", "user:sam")
    assert again.status_code == 409
    events = net_services.store.db.query("SELECT action, entity_id, detail FROM audit_log WHERE entity_type = ?",
                                         ["reconciliation_item"])
    assert [(a, e) for a, e, _ in events] == [("reconciliation.closed", item["item_id"])]
    assert items(net_client, network, state="open") == []


def test_reissue_writes_a_new_message_under_the_crosswalk_in_force_now_and_delivers_it(
        net_client, network, net_services, endpoint, clock):
    rid = referral(net_client, network, "SM-1", "acknowledged", "accepted")
    deliver(net_services)
    clock.advance(HOURS_3)
    posted(net_client, network, [{"referral_id": rid, "label": "Received"}])
    [item] = items(net_client, network)

    response = net_client.post(f"/v1/reconciliation/items/{item['item_id']}/reissue", headers=network.headers["sam"])

    assert response.status_code == 200, response.get_json()
    message = response.get_json()["message"]
    assert message["idempotency_key"] == f"{rid}:3:{PARTNER_ID}:reissue-1"
    assert (message["message_type"], message["label"], message["status"]) == ("accepted", "Scheduled", "queued")
    assert response.get_json()["item"]["reissues"] == 1
    assert deliver(net_services) == 1
    assert endpoint.received[-1]["headers"]["Idempotency-Key"] == message["idempotency_key"]
    second = net_client.post(f"/v1/reconciliation/items/{item['item_id']}/reissue", headers=network.headers["sam"])
    assert second.get_json()["message"]["idempotency_key"].endswith(":reissue-2")
    actions = [a for (a,) in net_services.store.db.query(
        "SELECT action FROM audit_log WHERE entity_id = ? ORDER BY event_id", [item["item_id"]])]
    assert actions == ["reconciliation.reissued", "reconciliation.reissued"]


def test_an_unknown_referral_has_nothing_to_reissue(net_client, network, endpoint):
    posted(net_client, network, [{"referral_id": "RF99999999", "label": "Sent"}])
    [item] = items(net_client, network)

    response = net_client.post(f"/v1/reconciliation/items/{item['item_id']}/reissue", headers=network.headers["sam"])

    assert response.status_code == 409 and set(response.get_json()["errors"]) == {"referral_id"}


def test_governance_reads_every_item_in_its_shape(net_client, network, net_services, endpoint):
    posted(net_client, network, [{"referral_id": "RF99999999", "label": "Sent"},
                                 {"referral_id": "RF99999998", "label": "Sent"}])
    first = items(net_client, network)[0]["item_id"]
    net_client.post(f"/v1/reconciliation/items/{first}/close", json={"cause": "identifier_mismatch"},
                    headers=network.headers["sam"])

    found = list(net_services.reconciliation.governance_items())

    assert [(g.queue, g.source, g.message_type, g.severity, g.owner) for g in found] == [
        ("reconciliation", PARTNER_ID, "unknown", "medium", "integration-desk")] * 2
    assert [g.resolved_at is not None for g in found] == [True, False]
    assert all(g.due_at > g.opened_at for g in found)
