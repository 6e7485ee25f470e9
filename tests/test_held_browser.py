"""Why a case is held, and a case kept true after a merge, in Debian's Chromium over a real server and store.

The store holds one case of each kind a record is held for, each made through the real decision path:
a first name mistyped on one birth date (a hold rule), a record contradicting one of its best person's
records (a conflict), two persons of Desmond close together (ambiguity), and a partial record of Priya
between the policy's thresholds (the review band). Screenshots ``case-band``, ``case-ambiguous``,
``case-hold-rule``, ``case-conflict`` (and the queue, and the ambiguous case after its persons merged)
are written to ``test-output/screenshots/``.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from playwright.sync_api import expect

from browser_support import (browser, browser_services, chromium, page, screenshot,  # noqa: F401, F811
                             steward_site)  # (fixtures)
from conftest import activate_policy_on, record
from test_held_because import STEPHANIE, STSPHANIE
from test_review_ui_browser import sign_in

pytestmark = pytest.mark.slow

PRIYA = {"source_system": "st-marys-ehr", "source_record_id": "PR-1", "first_name": "Priya", "last_name": "Raman",
         "birth_date": "1979-06-30", "sex": "F", "phone": "(470) 555-0188", "address_line1": "5 Auburn Ave",
         "city": "Atlanta", "state": "GA", "postal_code": "30303"}
PRIYA_PARTIAL = {"source_system": "foodbank-cbo", "source_record_id": "FB-40", "first_name": "Priya",
                 "last_name": "Raman", "birth_date": "1979-06-30"}
DESMOND_THIRD = record("desmond", "fqhc-eastside", "EF-8")


def _held(services, body) -> str:
    result = services.matching.submit(body, "test")
    assert result["decision"] == "POSSIBLE_MATCH", result["decision"]
    return result["review_case_id"]


def _weight(services, body) -> float:
    return services.matching.match(body, "test")["candidates"][0]["match_weight"]


def _world(services) -> SimpleNamespace:
    services.ensure_active_model("test")
    services.matching.submit(STEPHANIE, "test")
    hold_rule = _held(services, STSPHANIE)
    marisol = services.matching.submit(record("marisol", "st-marys-ehr", "MRN-1"), "test")["person_id"]
    services.matching.submit(record("theodore", "county-general-ehr", "CG-1"), "test")
    services.matching.link_manually("county-general-ehr", "CG-1", marisol, "steward:test", "test")
    conflict = _held(services, record("marisol", "bluepath-mco", "BPM-7"))
    activate_policy_on(services, lower_match_weight=1e6, upper_match_weight=1e6)  # nothing links: two Desmonds
    d1 = services.matching.submit(record("desmond", "st-marys-ehr", "MRN-5"), "test")["person_id"]
    d2 = services.matching.submit(record("desmond", "bluepath-mco", "BPM-5"), "test")["person_id"]
    services.matching.submit(PRIYA, "test")
    weight = _weight(services, DESMOND_THIRD)
    activate_policy_on(services, lower_match_weight=weight - 10, upper_match_weight=weight - 1, ambiguity_margin=5.0)
    ambiguous = _held(services, DESMOND_THIRD)
    weight = _weight(services, PRIYA_PARTIAL)
    activate_policy_on(services, lower_match_weight=round(weight - 3, 1), upper_match_weight=round(weight + 3, 1))
    band = _held(services, PRIYA_PARTIAL)
    return SimpleNamespace(hold_rule=hold_rule, conflict=conflict, ambiguous=ambiguous, band=band, d1=d1, d2=d2)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("held")
    services = browser_services(folder)
    world = _world(services)
    with steward_site(services) as (base, steward):
        yield base, services, steward, world


@pytest.mark.parametrize("kind, code, shot", [
    ("band", "review_band", "case-band"), ("ambiguous", "ambiguous", "case-ambiguous"),
    ("hold_rule", "hold_rule", "case-hold-rule"), ("conflict", "conflict", "case-conflict"),
])
def test_a_held_case_states_why_it_is_held_in_the_queue_and_on_its_page(page, site, kind, code, shot):
    base, services, steward, world = site
    case_id = getattr(world, kind)
    sentence = services.cases.get(case_id)["held_because"]["sentence"]
    sign_in(page, *steward)

    row = page.locator(f'table.queue tr[data-case="{case_id}"]')
    expect(row.locator(f'.held-why[data-code="{code}"]')).to_have_text(sentence)
    row.get_by_role("link", name=case_id).click()

    reason = page.locator(f'#held-because[data-code="{code}"]')
    expect(reason).to_be_visible()
    expect(reason.get_by_role("heading")).to_have_text(f"Why held: {code.replace('_', ' ')}")
    expect(reason).to_contain_text(sentence)
    # Prominent: the reason comes before the first candidate, and is not clipped.
    first = page.locator("section.candidate").first
    assert reason.bounding_box()["y"] < first.bounding_box()["y"]
    text = reason.locator("p")
    assert text.evaluate("e => e.scrollWidth <= e.clientWidth")
    # The weight is the headline of a candidate's score, the probability beside it.
    expect(first.locator("p.score strong")).to_have_text(re.compile(r"^-?\d+\.\d$"))
    screenshot(page, shot)


def test_after_a_merge_the_open_case_offers_the_survivor_with_a_fresh_score(page, site):
    base, services, steward, world = site
    before = services.cases.get(world.ambiguous)
    assert {world.d1, world.d2} <= {c["person_id"] for c in before["candidates"]}
    sign_in(page, *steward)
    page.goto(f"/review/cases/{world.ambiguous}")
    expect(page.get_by_role("button", name=f"Link to {world.d2}")).to_be_visible()

    services.merges.merge(world.d1, world.d2, "user:sam", "one Desmond")
    page.reload()

    fresh = _weight(services, DESMOND_THIRD)
    expect(page.get_by_role("button", name=f"Link to {world.d2}")).to_have_count(0)
    expect(page.get_by_role("button", name=f"Link to {world.d1}")).to_be_visible()
    survivor = page.locator(f"#candidate-{world.d1}")
    expect(survivor.locator("p.score strong")).to_have_text(f"{fresh:.1f}")
    expect(page.locator("#held-because")).to_contain_text(f"the best person {world.d1} now weighs {fresh:.2f}")
    expect(page.get_by_text(f"version {before['version'] + 1}")).to_be_visible()
    screenshot(page, "case-after-merge")
