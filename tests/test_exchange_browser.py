"""The exchange's three queues in a real browser: Debian's Chromium driven by Playwright, over a real server and store.

The referral network on a fixed Monday (``referral_network.py``): St Mary's feed rejects every `accepted` update
with 400, so two referrals' accepted messages die as one outbound pattern; St Mary's hub sends a body that is not
JSON (an inbound exception); the feed reports a referral we never sent it (a reconciliation work item). An admin
works each queue in the browser: claims the inbound exception, back-posts the pattern once the feed is fixed, and
closes the work item with its cause. Screenshots of the three pages go to ``test-output/screenshots/``.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from playwright.sync_api import expect

from api import create_app
from browser_support import VIEWPORT, browser, chromium, screenshot, serve  # noqa: F401  (fixtures)
from exchange_world import Partner
from mpi.clock import FixedClock
from mpi.services import Services
from referral_network import MONDAY_10AM, build, referral_body

pytestmark = pytest.mark.slow


@pytest.fixture
def site(config, browser):  # noqa: F811
    services = Services(config, clock=FixedClock(MONDAY_10AM))
    network = build(services)
    feed = Partner()
    feed.answer = lambda r: 400 if r.state == "accepted" else 200
    services.partners.add({"partner_id": "st-marys-feed", "organisation": "st-marys", "name": "St Mary's feed",
                           "endpoint": feed.url, "format": "webhook", "subscriptions": ["requester"]}, "test")
    app = create_app(services=services)
    api = app.test_client()
    for i in range(2):
        referral = api.post("/v1/referrals", json=referral_body(ref=f"SM-{i}"),
                            headers=network.headers["hub-stmarys"]).get_json()["referral_id"]
        for state in ("acknowledged", "accepted"):
            assert api.post(f"/v1/referrals/{referral}/status", json={"state": state},
                            headers=network.headers["hub-foodbank"]).status_code == 200
    while services.delivery.run_once():
        pass
    kept = api.post("/v1/referrals", data=b"<referral>not json</referral>", content_type="application/xml",
                    headers=network.headers["hub-stmarys"])
    assert "X-Inbound-Exception" in kept.headers
    services.reconciliation.receive_json("st-marys-feed", {"rows": [{"referral_id": "RF99999999",
                                                                     "label": "Scheduled"}]}, "test")
    with serve(app) as url:
        context = browser.new_context(base_url=url, viewport=VIEWPORT)
        page = context.new_page()
        page.goto("/review/sign-in")
        page.get_by_label("User name").fill("root")
        page.get_by_label("Token").fill(network.tokens["root"])
        page.get_by_role("button", name="Sign in").click()
        yield SimpleNamespace(page=page, services=services, feed=feed, exception_id=kept.headers["X-Inbound-Exception"])
        context.close()
    feed.close()
    services.close()


def test_an_admin_works_the_inbound_outbound_and_reconciliation_queues(site):
    page = site.page

    page.get_by_role("link", name="Inbound exceptions").click()
    expect(page.get_by_role("heading", name="Inbound exceptions")).to_be_visible()
    screenshot(page, "exchange-inbound")
    page.get_by_role("link", name=site.exception_id).click()
    expect(page.locator("#raw-body")).to_have_text("<referral>not json</referral>")  # shown as text, escaped
    page.get_by_role("button", name="Claim").click()
    expect(page.get_by_text("exception recovery in progress").first).to_be_visible()
    assert site.services.inbound.get(site.exception_id)["state"] == "in_progress"

    page.get_by_role("link", name="Outbound exceptions").click()
    expect(page.get_by_role("heading", name="Outbound exceptions")).to_be_visible()
    pattern_row = page.get_by_role("row").filter(has_text="http_400")
    expect(pattern_row).to_have_count(1)
    expect(pattern_row).to_contain_text("accepted")
    screenshot(page, "exchange-outbound")
    site.feed.answer = lambda r: 200
    pattern_row.get_by_placeholder("what was fixed").fill("the feed's accepted mapping was fixed")
    pattern_row.get_by_role("button", name="Back-post").click()
    expect(page.get_by_role("status").first).to_be_visible()
    while site.services.delivery.run_once():
        pass
    accepted = [r for r in site.feed.accepted() if r.state == "accepted"]
    assert len(accepted) == 2, "both held messages went once the pattern was back-posted"

    page.get_by_role("link", name="Reconciliation").click()
    expect(page.get_by_role("heading", name="Reconciliation", exact=True)).to_be_visible()
    screenshot(page, "exchange-reconciliation")
    [item] = site.services.reconciliation.items()["items"]
    page.get_by_label("Cause").select_option("identifier_mismatch")
    page.get_by_role("button", name=f"Close work item {item['item_id']}").click()
    expect(page.get_by_role("status").first).to_be_visible()
    closed = site.services.reconciliation.item(item["item_id"])
    assert (closed["state"], closed["cause"]) == ("closed", "identifier_mismatch")
    assert re.search(r"/review/reconciliation", page.url)
