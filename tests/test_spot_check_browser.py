"""A spot-check of an auto-link worked in a real browser: Debian's Chromium driven by Playwright over a real server
(waitress on loopback) and store, every auto-link drawn (``MPI_SPOT_CHECK_ONE_IN`` 1).

Marisol's St Mary's record makes her person and her BluePath record is linked to it by the matcher, which
draws the link for a spot-check. A steward finds it in the queue (kind: spot-check), sees the record beside
the person it was linked to with the evidence, confirms it with a reason, and reads the estimate on the
matching page. Another steward answers "wrong person" on a second one: the record goes back to review.
Screenshots go to ``test-output/screenshots/``.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from browser_support import (browser, browser_services, chromium, page, screenshot,  # noqa: F401, F811
                             steward_site)  # (fixtures)
from conftest import record
from test_review_ui_browser import sign_in

pytestmark = pytest.mark.slow


@pytest.fixture
def site(tmp_path, monkeypatch):
    """The app over a store where two auto-links (Marisol's and Theodore's second records) wait as spot-checks."""
    monkeypatch.setenv("MPI_SPOT_CHECK_ONE_IN", "1")
    services = browser_services(tmp_path)
    services.ensure_active_model("test")
    linked = {}
    for name, n in (("marisol", "1"), ("theodore", "2")):
        services.matching.submit(record(name, "st-marys-ehr", f"MRN-{n}"), "test")
        linked[name] = services.matching.submit(record(name, "bluepath-mco", f"BP-{n}"), "test")
    cases = {c["source_record_id"]: c["case_id"] for c in services.cases.queue(kind="SPOT_CHECK")}
    with steward_site(services) as (base, steward):
        yield base, services, steward, linked, cases


def test_a_steward_confirms_a_spot_check_and_reads_the_precision_estimate(page, site):
    base, services, steward, linked, cases = site
    case_id, person_id = cases["BP-1"], linked["marisol"]["person_id"]
    sign_in(page, *steward)
    page.get_by_label("Kind").select_option("SPOT_CHECK")
    page.get_by_role("button", name="Apply").click()
    row = page.locator(f'table.queue tr[data-case="{case_id}"]')
    expect(row).to_contain_text("bluepath-mco / BP-1")

    row.get_by_role("link", name=case_id).click()

    expect(page.get_by_role("heading", name=re.compile(f"Case {case_id}"))).to_be_visible()
    expect(page.locator("main")).to_contain_text("Spot-check of an auto-link: the record stays linked")
    expect(page.locator("#held-because")).to_have_attribute("data-code", "spot_check")
    candidate = page.locator(f"#candidate-{person_id}")
    expect(candidate).to_contain_text("Quintanilla", ignore_case=True)
    expect(candidate.locator("table").first).to_contain_text("st-marys-ehr / MRN-1")
    expect(candidate.locator("table").first).not_to_contain_text("bluepath-mco / BP-1")  # not beside itself
    evidence = services.store.cases.get(case_id)["candidates"][0]["evidence"]
    expect(candidate.locator("svg.waterfall g.row")).to_have_count(len(evidence) + 1)
    expect(page.get_by_role("button", name=re.compile("^Link to"))).to_have_count(0)
    screenshot(page, "spot-check-case")

    page.get_by_label("Why this is the same person").fill("same Medicaid id and birth date at both")
    page.get_by_role("button", name="Confirm the link").click()

    expect(page.get_by_role("status")).to_contain_text(
        f"Spot-check {case_id} confirmed: record bluepath-mco/BP-1 stays linked to {person_id}.")
    assert services.cases.get(case_id)["resolution"] == "confirmed"

    page.get_by_role("link", name="Matching").click()
    expect(page.get_by_role("heading", name="How well the matcher does")).to_be_visible()
    expect(page.locator("#precision-spot")).to_have_text("1.0000")
    expect(page.locator("#precision-spot-interval")).to_have_text("95% interval 0.2065 to 1.0000")
    expect(page.locator('tr[data-row="bluepath-mco"] svg.interval')).to_have_count(2)
    screenshot(page, "matching-metrics")


def test_a_steward_says_wrong_person_and_the_record_goes_back_to_review(page, site):
    base, services, steward, linked, cases = site
    case_id, person_id = cases["BP-2"], linked["theodore"]["person_id"]
    sign_in(page, *steward)
    page.goto(f"/review/cases/{case_id}")

    page.get_by_text("Wrong person", exact=True).click()
    page.get_by_label("Why this is not the same person").fill("the plan's member is his son")
    page.get_by_role("button", name="Wrong person: undo the link").click()

    status = page.get_by_role("status")
    expect(status).to_contain_text(f"Spot-check {case_id} rejected: record bluepath-mco/BP-2 unlinked from "
                                   f"{person_id}; it is back in review as case RC")
    held = re.search(r"as case (RC\d+)", status.inner_text()).group(1)
    expect(page.locator(f'table.queue tr[data-case="{held}"]')).to_contain_text("bluepath-mco / BP-2")
    assert services.store.records.get("bluepath-mco", "BP-2")["link"] is None
