"""The review UI's inbound exception pages (issue 15, point 7) through the whole stack: the queue (age, severity,
owner, target with overdue marked, sender, kind, reasons), the exchange overview, one exception with its raw body
escaped, and the actions claim, correct and replay, and return to sender, each behind the session's CSRF token."""

from __future__ import annotations

import html
import json
from datetime import timedelta

from referral_network import clock, net_client, net_services, network, referral_body  # noqa: F401
from test_review_ui import csrf_of, sign_in

SCRIPT = "<script>alert(1)</script>"


def keep_referral(client, network, **changes) -> str:
    body = referral_body(**changes)
    body.pop("consent")
    body["reason"] = SCRIPT  # a sender's text that must never run on the page
    response = client.post("/v1/referrals", json=body, headers=network.headers["hub-stmarys"])
    assert response.status_code == 422
    return response.headers["X-Inbound-Exception"]


def keep_status_update(client, network) -> str:
    response = client.post("/v1/referrals/RF99999999/status", json={"state": "acknowledged"},
                           headers=network.headers["hub-foodbank"])
    return response.headers["X-Inbound-Exception"]


def steward(client, network):
    assert sign_in(client, "sam", network.tokens["sam"]).status_code in (302, 303)
    return client


def test_the_queue_shows_each_exception_with_age_severity_owner_target_sender_kind_and_reasons(
        net_client, network, net_services, clock):
    referral = keep_referral(net_client, network, urgency="discharge")
    update = keep_status_update(net_client, network)
    clock.advance(timedelta(hours=5))  # the discharge referral's 4 h target passed
    net_services.sweep.run()
    steward(net_client, network)

    page = net_client.get("/review/inbound")

    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'id="inbound-total">2<' in text
    row = text[text.index(f'data-exception="{referral}"'):text.index(f'data-exception="{update}"')]
    assert 'class="overdue"' in text[text.rindex("<tr", 0, text.index(f'data-exception="{referral}"')):
                                     text.index(f'data-exception="{referral}"')]
    assert "high" in row and "overdue by 1 h" in row and "5 h" in row and "integration-desk" in row
    assert "hub-stmarys" in row and "referral" in row and "<strong>consent</strong>" in row
    assert "escalated" in row, "the sweep escalated it to its owning team"
    assert "minimum_data_set" in row and SCRIPT not in text, "the raw body is shown only on its own page"
    later = text[text.index(f'data-exception="{update}"'):]
    assert "medium" in later and "in 19 h" in later and "status update" in later
    # The exchange overview: governance's figures per queue.
    assert 'id="exchange"' in text and 'data-queue="inbound"' in text and 'data-queue="all queues"' in text
    inbound = text[text.index('data-queue="inbound"'):text.index('data-queue="outbound"')]
    assert ">2<" in inbound and ">1<" in inbound, "2 opened and open, 1 overdue"
    assert "Inbound exceptions</a>" in text, "in the nav"
    # Filters.
    high = net_client.get("/review/inbound?severity=high").get_data(as_text=True)
    assert referral in high and update not in high


def test_the_exception_page_shows_the_raw_body_escaped_and_a_prefilled_replay(net_client, network):
    exception_id = keep_referral(net_client, network)
    steward(net_client, network)

    text = net_client.get(f"/review/inbound/{exception_id}").get_data(as_text=True)

    assert SCRIPT not in text and html.escape(SCRIPT) in text
    pre = text[text.index('<pre class="raw" id="raw-body">'):text.index("</pre>")]
    assert "requester_referral_id" in pre
    replay = text[text.index('id="replay-body"'):]
    assert "&#34;requester_referral_id&#34;: &#34;SM-1&#34;" in replay or "&quot;requester_referral_id" in replay
    assert 'name="referral_id"' not in text, "a referral's replay names no referral id"


def test_claim_then_correct_and_replay_resolves_it(net_client, network, net_services):
    exception_id = keep_referral(net_client, network)
    steward(net_client, network)
    page = net_client.get(f"/review/inbound/{exception_id}")
    token = csrf_of(page)

    claimed = net_client.post(f"/review/inbound/{exception_id}/claim", data={"csrf_token": token})
    assert claimed.status_code == 303
    assert net_services.inbound.get(exception_id)["shows"] == "exception recovery in progress"
    assert "exception recovery in progress" in net_client.get(f"/review/inbound/{exception_id}").get_data(as_text=True)

    # A body that is not JSON is refused, named, and the typed text is kept in the form.
    refused = net_client.post(f"/review/inbound/{exception_id}/replay", data={"csrf_token": token, "body": "{oops"})
    assert refused.status_code == 422
    assert "not JSON" in refused.get_data(as_text=True) and "{oops" in refused.get_data(as_text=True)
    # Still missing consent: the intake refuses it again, naming the field; it stays.
    raw = json.loads(net_services.inbound.get(exception_id)["raw_body"])
    again = net_client.post(f"/review/inbound/{exception_id}/replay",
                            data={"csrf_token": token, "body": json.dumps(raw)})
    assert again.status_code == 422 and "<strong>consent</strong>" in again.get_data(as_text=True)
    assert net_services.inbound.get(exception_id)["state"] == "in_progress"

    corrected = {**raw, "consent": "granted", "reason": "food insecurity"}
    replayed = net_client.post(f"/review/inbound/{exception_id}/replay",
                               data={"csrf_token": token, "body": json.dumps(corrected)})

    assert replayed.status_code == 303, replayed.get_data(as_text=True)
    item = net_services.inbound.get(exception_id)
    assert item["state"] == "resolved" and item["produced_referral_id"]
    shown = net_client.get(f"/review/inbound/{exception_id}").get_data(as_text=True)
    assert "replayed: resolved" in shown and item["produced_referral_id"] in shown
    assert 'action="/review/inbound/' not in shown, "no actions on a resolved exception"


def test_a_status_update_replays_with_the_referral_id_typed(net_client, network, net_services):
    created = net_client.post("/v1/referrals", json=referral_body(), headers=network.headers["hub-stmarys"])
    referral_id = created.get_json()["referral_id"]
    exception_id = keep_status_update(net_client, network)
    steward(net_client, network)
    page = net_client.get(f"/review/inbound/{exception_id}")
    assert 'name="referral_id" value="RF99999999"' in page.get_data(as_text=True)

    replayed = net_client.post(f"/review/inbound/{exception_id}/replay", data={
        "csrf_token": csrf_of(page), "body": '{"state": "acknowledged"}', "referral_id": referral_id})

    assert replayed.status_code == 303
    assert net_services.store.referrals.get(referral_id)["state"] == "acknowledged"
    assert net_services.inbound.get(exception_id)["produced_referral_id"] == referral_id


def test_return_to_sender_needs_a_reason_and_every_action_needs_the_csrf_token(net_client, network, net_services):
    exception_id = keep_status_update(net_client, network)
    steward(net_client, network)
    token = csrf_of(net_client.get(f"/review/inbound/{exception_id}"))

    forged = net_client.post(f"/review/inbound/{exception_id}/return", data={"reason": "no such referral"})
    assert forged.status_code == 400
    blank = net_client.post(f"/review/inbound/{exception_id}/return", data={"csrf_token": token, "reason": "  "})
    assert blank.status_code == 422 and "<strong>reason</strong>" in blank.get_data(as_text=True)
    assert net_services.inbound.get(exception_id)["state"] == "open"

    returned = net_client.post(f"/review/inbound/{exception_id}/return",
                               data={"csrf_token": token, "reason": "no such referral"})

    assert returned.status_code == 303
    item = net_services.inbound.get(exception_id)
    assert (item["state"], item["return_reason"]) == ("returned", "no such referral")
    again = net_client.post(f"/review/inbound/{exception_id}/return", data={"csrf_token": token, "reason": "x"})
    assert again.status_code == 409
    assert net_client.post(f"/review/inbound/{exception_id}/shred", data={"csrf_token": token}).status_code == 404


def test_a_coordinator_may_not_open_the_queue(net_client, network):
    assert sign_in(net_client, "cora", network.tokens["cora"]).status_code in (302, 303)
    assert net_client.get("/review/inbound").status_code == 403
