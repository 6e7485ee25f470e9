"""The review UI's "Outbound exceptions" page (an admin's) and the referral page's partner systems card with its
manual status report form, server-rendered through the real app against a loopback partner."""

from __future__ import annotations

import re
from datetime import timedelta

from referral_network import clock, net_client, net_services, network  # noqa: F401
from test_outbound_exceptions import deliver, partner, step, submit  # noqa: F401
from test_review_ui import csrf_of, sign_in


def _signed_in(app_client_factory, network, who):
    client = app_client_factory()
    assert sign_in(client, who, network.tokens[who]).status_code == 303
    return client


def test_the_outbound_page_shows_one_pattern_and_its_forms_pause_and_back_post(
        net_client, network, net_services, partner, clock):
    partner.broken = {"accepted"}
    referrals = [submit(net_client, network, f"SM-{i}") for i in (1, 2)]
    for referral in referrals:
        step(net_client, network, referral, "acknowledged", clock)
        step(net_client, network, referral, "accepted", clock)
    deliver(net_services)
    clock.advance(timedelta(hours=30))  # past the medium target (24 h)
    admin = _signed_in(net_client.application.test_client, network, "root")

    page = admin.get("/review/outbound")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'href="/review/outbound" aria-current="page">Outbound exceptions</a>' in html, "in the nav"
    rows = re.findall(r'<tr class="([^"]*)" data-pattern="(OP\d+)">', html)
    assert [(cls, pid) for cls, pid in rows] == [("overdue", "OP00000001")], "one pattern, overdue marked"
    row = html[html.find('data-pattern="OP00000001"'):html.find("</tr>", html.find('data-pattern="OP00000001"'))]
    assert "http_400" in row and '<td class="count">2</td>' in row and "integration-desk" in row
    assert "Overdue" in row and "severity-medium" in row
    assert all(f"/review/referrals/{r}" in row for r in referrals)

    token = csrf_of(page)
    refused = admin.post("/review/outbound/OP00000001/back-post", data={"csrf_token": token, "note": ""})
    assert refused.status_code == 422 and "note" in refused.get_data(as_text=True)
    paused = admin.post(f"/review/partners/{partner.partner_id}/pause", data={"csrf_token": token,
                                                                              "reason": "moving endpoint"})
    assert paused.status_code == 303
    assert net_services.partners.get(partner.partner_id)["status"] == "paused"
    assert ">Resume</button>" in admin.get("/review/outbound").get_data(as_text=True)

    partner.broken = set()
    done = admin.post("/review/outbound/OP00000001/back-post", data={"csrf_token": token, "note": "fixed"})
    assert done.status_code == 303
    assert admin.post(f"/review/partners/{partner.partner_id}/resume", data={"csrf_token": token}).status_code == 303
    deliver(net_services)
    assert sorted(r["body"]["referral_id"] for r in partner.accepted() if r.state == "accepted") == sorted(referrals)
    closed = admin.get("/review/outbound?state=closed").get_data(as_text=True)
    assert "closed" in closed and "fixed" in closed


def test_the_page_is_an_admins(net_client, network):
    for who in ("cora", "sam"):
        client = _signed_in(net_client.application.test_client, network, who)
        assert client.get("/review/outbound").status_code == 403
        assert "Outbound exceptions" not in client.get("/review/referrals").get_data(as_text=True)


def test_the_referral_page_shows_the_partner_stale_and_records_a_manual_report(
        net_client, network, net_services, partner, clock):
    referral = submit(net_client, network, "SM-1")
    net_services.outbound.pause(partner.partner_id, "down", "user:root")
    step(net_client, network, referral, "acknowledged", clock)
    cora = _signed_in(net_client.application.test_client, network, "cora")

    page = cora.get(f"/review/referrals/{referral}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    card = html[html.find('id="partner-views"'):]
    assert f'data-partner="{partner.partner_id}"' in card and "paused" in card
    assert "its view is stale since 2026-11-23 10:00 EST" in card, "the first undelivered event, in the page's zone"

    bad = cora.post(f"/review/referrals/{referral}/manual-reports", data={
        "csrf_token": csrf_of(page), "partner_id": partner.partner_id, "told_by": "Cora", "method": "phone",
        "state": "acknowledged", "reported_at": "2026-11-23T10:30", "note": ""})
    assert bad.status_code == 422
    done = cora.post(f"/review/referrals/{referral}/manual-reports", data={
        "csrf_token": csrf_of(page), "partner_id": partner.partner_id, "told_by": "Cora", "method": "phone",
        "state": "acknowledged", "reported_at": "2026-11-23T10:01", "note": "called the discharge desk"})
    assert done.status_code == 303
    [report] = net_services.store.manual_reports.of_referral(referral)
    assert (report["method"], report["told_by"], report["recorded_by"]) == ("phone", "Cora", "user:cora")
    assert report["reported_at"].isoformat().startswith("2026-11-23T15:01"), "typed in the page's zone (EST)"
    shown = cora.get(f"/review/referrals/{referral}").get_data(as_text=True)
    assert f'data-report="{report["report_id"]}"' in shown and "called the discharge desk" in shown
