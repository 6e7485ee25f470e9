"""The search page in a real browser: Debian's Chromium driven by Playwright over a real server and store.

A steward signs in, opens Search from the nav, finds WILLIAM SMITH by the nickname
"Bill Smith" and by his phone typed another way than it was sent, opens the person,
and ticks two results to compare (the form's target, ``/review/compare?a=..&b=..``, is
the compare page's). The page is saved as ``test-output/screenshots/search.png``.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect

from browser_support import (browser, browser_services, chromium, page, screenshot,  # noqa: F401, F811
                             steward_site)  # (fixtures)
from test_review_ui_browser import sign_in

pytestmark = pytest.mark.slow

PEOPLE = [
    ("W-1", "William", "Smith", "1980-01-02", "404-555-0199", "30301"),
    ("B-1", "Bill", "Smith", "1975-07-08", "312-555-0144", "60605"),
    ("S-1", "William", "Smyth", "1990-03-04", "214-555-0121", "75204"),
    ("M-1", "Mary", "Jones", "1980-01-02", "713-555-0166", "30301"),
]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The app over a store holding four persons, behind waitress; yields (base URL, services, steward, ids)."""
    folder = tmp_path_factory.mktemp("search-browser")
    services = browser_services(folder)
    services.ensure_active_model("test")
    ids = {}
    for key, first, last, born, phone, zip_ in PEOPLE:
        ids[key] = services.matching.submit({"source_system": "st-marys-ehr", "source_record_id": key,
                                             "first_name": first, "last_name": last, "birth_date": born,
                                             "phone": phone, "postal_code": zip_}, "test")["person_id"]
    with steward_site(services) as (base, steward):
        yield base, services, steward, ids


def test_a_steward_finds_a_person_by_a_nickname_and_by_a_phone_in_another_format(page, site):
    base, services, steward, ids = site
    sign_in(page, *steward)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Search").click()
    expect(page.get_by_role("heading", name="Search")).to_be_visible()
    page.get_by_label("Search", exact=True).fill("Bill Smith")
    page.get_by_role("button", name="Search", exact=True).click()

    hits = page.locator("tr.search-hit")
    expect(hits.first).to_have_attribute("data-person", ids["B-1"])
    william = page.locator(f'tr.search-hit[data-person="{ids["W-1"]}"]')
    expect(william).to_contain_text("name (nickname)")
    expect(william).to_contain_text("404-555-0199")
    expect(william.get_by_role("link", name=ids["W-1"])).to_have_attribute("href", f"/review/persons/{ids['W-1']}")
    screenshot(page, "search")

    # One ticked: the search again, saying to tick two; two: the compare page is asked for both.
    compare = page.get_by_role("button", name="Compare two")
    page.get_by_label(f"Compare {ids['B-1']}").check()
    compare.click()
    expect(page.get_by_role("alert")).to_contain_text("tick two persons to compare (1 ticked)")
    expect(hits.first).to_have_attribute("data-person", ids["B-1"])
    page.get_by_label(f"Compare {ids['B-1']}").check()
    page.get_by_label(f"Compare {ids['W-1']}").check()
    with page.expect_request(re.compile(r"/review/compare\?")) as asked:
        compare.click()
    sent = urlparse(asked.value.url)
    assert sent.path == "/review/compare"
    assert parse_qs(sent.query) == {"a": [ids["B-1"]], "b": [ids["W-1"]]}

    page.goto("/review/search")
    page.get_by_label("Search", exact=True).fill("+1 (404) 555 0199")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator("#search-total")).to_have_text("1")
    expect(hits).to_have_count(1)
    expect(hits.first).to_have_attribute("data-person", ids["W-1"])
    screenshot(page, "search-phone")

    hits.first.get_by_role("link", name=ids["W-1"]).click()
    expect(page).to_have_url(re.compile(f"/review/persons/{ids['W-1']}$"))
