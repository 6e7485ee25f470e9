"""A ``POSSIBLE_DUPLICATE`` case worked to a merge in a real browser: Debian's Chromium driven by Playwright over
a real server (waitress on loopback) and store.

The two persons are made by submitting Marisol's records through the real
decision path and the case is opened with ``services.review.open_duplicate``
in a store transaction, as a batch run opens it (``duplicate_cases.py``). A
steward signs in, opens the case from the queue, sees both persons side by
side, merges them choosing the survivor and giving a reason, and the loser's
person page then redirects to the survivor. Screenshots go to
``test-output/screenshots/`` for people to look at.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from browser_support import (browser, browser_services, chromium, page, screenshot,  # noqa: F401, F811
                             steward_site)  # (fixtures)
from duplicate_cases import duplicate_case
from test_review_ui_browser import sign_in

pytestmark = pytest.mark.slow


@pytest.fixture
def site(tmp_path):
    """The app over a store holding Marisol's two persons and the duplicate case between them, behind waitress."""
    services = browser_services(tmp_path)
    dup = duplicate_case(services)
    with steward_site(services) as (base, steward):
        yield base, services, steward, dup


def test_a_steward_opens_a_duplicate_case_from_the_queue_sees_both_persons_and_merges_them(page, site):
    base, services, steward, dup = site
    sign_in(page, *steward)
    row = page.locator(f'table.queue tr[data-case="{dup.case_id}"]')
    expect(row).to_contain_text("possible duplicate: 2 persons")

    row.get_by_role("link", name=dup.case_id).click()

    expect(page.get_by_role("heading", name=re.compile(f"Case {dup.case_id}"))).to_be_visible()
    sides = page.locator("article.person-side")
    expect(sides).to_have_count(2)
    first, second = page.locator(f'article[data-person="{dup.a}"]'), page.locator(f'article[data-person="{dup.b}"]')
    expect(first).to_contain_text("st-marys-ehr / MRN-1")
    expect(second).to_contain_text("bluepath-mco / M-77")
    for side in (first, second):
        expect(side.locator("dl.golden")).to_contain_text("Quintanilla", ignore_case=True)
    # Side by side: the two persons share a row, the first on the left.
    left, right = first.bounding_box(), second.bounding_box()
    assert left["x"] + left["width"] <= right["x"] and abs(left["y"] - right["y"]) < 5
    evidence = services.store.cases.get(dup.case_id)["candidates"][0]["evidence"]
    expect(page.locator("svg.waterfall g.row")).to_have_count(len(evidence) + 1)
    screenshot(page, "duplicate-case")

    page.get_by_label(f"Keep {dup.b}: {dup.a} merges into it").check()
    page.get_by_label("Why they are one person").fill("same birth date and SSN; the plan has her new address")
    page.get_by_role("button", name="Merge", exact=True).click()

    confirmation = page.get_by_role("status")
    expect(confirmation).to_contain_text(f"Case {dup.case_id} resolved: {dup.a} merged into {dup.b} (merge MG")
    merge_id = re.search(r"\(merge (MG\d+)\)", confirmation.inner_text()).group(1)
    expect(page.locator(f'tr[data-case="{dup.case_id}"]')).to_have_count(0)

    page.goto(f"/review/persons/{dup.a}")
    expect(page.get_by_role("heading", name=re.compile(f"Person {dup.b}"))).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text(f"{dup.a} was merged into {dup.b}")
    expect(page.locator("#record-count")).to_have_text("2")
    expect(page.get_by_role("heading", name=f"Undo merge {merge_id}")).to_be_visible()
    screenshot(page, "duplicate-merged")
    assert services.cases.get(dup.case_id)["resolution"] == "merged"
