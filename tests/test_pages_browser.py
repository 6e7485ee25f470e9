"""Pages that show everything, in a real browser: Debian's Chromium driven by Playwright over a real server and store.

The store is the demo's (``mpi.synth.demo.build_demo`` on a replayed clock, so its
queue has every priority, holds, blockers, ambiguity and duplicates), plus
Marisol sent by seven source systems with long values and then once more in the
review band: a candidate with seven records beside a held record whose phone
reads ``+1 (404) 555 0199``. The tests check in the browser that nothing on the
case page is clipped (every cell, label and card against its content's width),
that a merge is previewed with both persons before it happens, that a link is
undone from the person page, that confirmations name the person, and visit every
steward page saving a full-page screenshot of each (``test-output/screenshots/page-*.png``).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from browser_support import (browser, browser_services, chromium, page, screenshot,  # noqa: F401, F811
                             steward_site)  # (fixtures)
from conftest import activate_policy_on, record
from mpi.clock import ReplayClock
from mpi.services import Services
from mpi.synth.demo import build_demo
from test_review_ui_browser import sign_in

pytestmark = pytest.mark.slow

#: Marisol's records at seven source systems: long values a narrow column must wrap, never cut.
LONG = dict(address_line1="1418 Peachtree Street Northeast Building Extraordinarily Long Name",
            email="marisol.ines.quintanilla.longaddress@example-health-partners.org")
SYSTEMS = ("st-marys-ehr", "bluepath-mco", "metro-foodbank", "homebase", "grady-ehr", "emory-ehr", "piedmont-ehr")
PHONE = "+1 (404) 555 0199"

#: Finds what is cut on a page: a cell or value narrower than its content, a card that scrolls sideways, a
#: waterfall label running into its bars or shortened with an ellipsis. Returns one line per problem.
CLIPPED = """() => {
  const bad = [];
  const cut = el => el.scrollWidth > el.clientWidth + 1;
  for (const el of document.querySelectorAll(
      'table.compare td, table.compare th, table.records td, dl.golden dd, .cand-head, .score')) {
    if (el.getClientRects().length && cut(el))
      bad.push('cell ' + (el.dataset.field || '') + ': ' + el.textContent.trim().slice(0, 60));
  }
  for (const el of document.querySelectorAll('.card, .compare-wrap, .cand-body, main')) {
    if (el.getClientRects().length && cut(el)) bad.push('scrolls sideways: ' + (el.id || el.className));
  }
  for (const svg of document.querySelectorAll('svg.waterfall')) {
    const left = Math.min(...[...svg.querySelectorAll('rect.bar')].map(r => r.x.baseVal.value));
    for (const t of svg.querySelectorAll('text.name, text.detail')) {
      const box = t.getBBox();
      if (box.x + box.width > left - 1) bad.push('label into the bars: ' + t.textContent);
      if (t.textContent.includes('…')) bad.push('label shortened: ' + t.textContent);
      if (box.y + box.height > svg.viewBox.baseVal.height) bad.push('label below the chart: ' + t.textContent);
    }
  }
  return bad;
}"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The demo store plus Marisol's wide case, behind waitress; yields (base URL, services, steward, world)."""
    folder = tmp_path_factory.mktemp("pages")
    services = browser_services(folder, clock=ReplayClock())
    build_demo(services, 150, "test:seed")
    world = _wide_case(services)
    with steward_site(services) as (base, steward):
        yield base, services, steward, world


def _wide_case(services: Services) -> dict:
    """Marisol at seven systems (one person of seven records), then a record of her held in the review band."""
    person = None
    for i, system in enumerate(SYSTEMS):
        result = services.matching.submit(record("marisol", system, f"MQ-{i}", **LONG), "test:seed")
        person = person or result["person_id"]
        assert result["person_id"] == person, result["decision"]
    # Two persons for the merge preview (the test merges them as a steward would; the page is what is tested).
    theo = services.matching.submit(record("theodore", "grady-ehr", "T-1"), "test:seed")["person_id"]
    again = services.matching.submit(record("desmond", "grady-ehr", "D-1"), "test:seed")["person_id"]
    assert theo != again
    held = record("marisol", "north-fulton-clinic", "NFC-20240517-000123", first_name="Mari", phone=PHONE,
                  email="", address_line1="88 Ponce de Leon Avenue Northeast Suite 1200", postal_code="30308")
    lower = services.matching.active_model().policy.lower_match_weight  # the demo's, its cases were held under
    weight = services.matching.match(held, "test:seed")["candidates"][0]["match_weight"]
    activate_policy_on(services, lower_match_weight=weight - 2, upper_match_weight=weight + 2)
    result = services.matching.submit(held, "test:seed")
    assert result["decision"] == "POSSIBLE_MATCH", result["decision"]
    return {"person": person, "case": result["review_case_id"], "theo": (theo, again), "lower": lower}


def _waiting(services: Services, **filters) -> list[dict]:
    return services.cases.queue(limit=1000, **filters)


def _no_clipping(page: Page) -> None:
    problems = page.evaluate(CLIPPED)
    assert not problems, "\n".join(problems)


def test_nothing_on_a_case_page_is_clipped_even_with_seven_records_and_long_values(page, site):
    base, services, steward, world = site
    sign_in(page, *steward)

    page.goto(f"/review/cases/{world['case']}")

    card = page.locator(f"#candidate-{world['person']}")
    expect(card.locator('td.inbound[data-field="phone"]').first).to_have_text(PHONE)
    shown = card.locator("table.compare").first
    assert int(shown.get_attribute("data-records")) == 4, "a handful side by side"
    fold = card.locator("details.more-records")
    expect(fold.locator("summary")).to_have_text(re.compile(r"Show all 7 records \(3 more\)"))
    _no_clipping(page)
    fold.locator("summary").click()
    expect(fold.locator("table.compare")).to_be_visible()
    assert int(fold.locator("table.compare").first.get_attribute("data-records")) == 3
    _no_clipping(page)
    keys = card.locator("table.compare thead th.mono").all_inner_texts()
    assert sorted(k.replace(" ", "") for k in keys) == sorted(f"{s}/MQ-{i}" for i, s in enumerate(SYSTEMS))
    # Every value is there whole: the long address in each of the seven columns.
    assert card.locator(f'td[data-field="address_line1"]:has-text("{LONG["address_line1"]}")').count() == 7
    evidence = services.cases.get(world["case"])["candidates"][0]["evidence"]
    labels = " ".join(card.locator("svg.waterfall text.detail").all_text_contents())
    for entry in evidence:
        assert " ".join(str(entry["label"]).split()) in " ".join(labels.split()) or not entry["label"]
    screenshot(page, "case-wide-candidate")


def test_a_merge_is_previewed_with_both_persons_before_it_happens(page, site):
    base, services, steward, _ = site
    keep, other = site[3]["theo"]
    sign_in(page, *steward)
    page.goto(f"/review/persons/{keep}")

    page.get_by_label("Person id to merge in").fill(other)
    page.get_by_role("button", name="Preview the merge").click()

    expect(page.get_by_role("heading", name=f"Merge {other} into {keep}?")).to_be_visible()
    expect(page.locator("#merge-direction")).to_contain_text(f"{keep} survives")
    expect(page.locator(f'article.person-side[data-person="{keep}"]')).to_be_visible()
    expect(page.locator(f'article.person-side[data-person="{other}"]')).to_be_visible()
    expect(page.locator("svg.waterfall")).to_have_count(1)
    _no_clipping(page)
    assert services.store.persons.get(other)["redirect_to"] is None, "nothing merged by the preview"
    screenshot(page, "merge-preview")

    page.get_by_role("button", name=f"Merge {other} into {keep}").click()  # no reason: refused, still previewed
    expect(page.get_by_role("heading", name=f"Merge {other} into {keep}?")).to_be_visible()
    assert services.store.persons.get(other)["redirect_to"] is None
    page.get_by_label("Why they are one person").fill("same birth date, name and address; one human")
    page.get_by_role("button", name=f"Merge {other} into {keep}").click()

    status = page.get_by_role("status")
    expect(status).to_contain_text(f"{other} merged into {keep} (merge MG")
    expect(status.get_by_role("link", name=other).first).to_have_attribute("href", f"/review/persons/{other}")
    assert services.store.persons.get(other)["redirect_to"] == keep


def test_compare_two_persons_then_merge_these_leads_to_the_preview(page, site):
    base, services, steward, world = site
    [dup] = _waiting(services, kind="POSSIBLE_DUPLICATE")[:1]
    a, b = (c["person_id"] for c in dup["candidates"][:2])
    sign_in(page, *steward)

    page.goto(f"/review/compare?a={a}&b={b}")

    expect(page.locator("article.person-side")).to_have_count(2)
    _no_clipping(page)
    screenshot(page, "compare")
    page.locator("#merge-a-into-b").click()
    expect(page.get_by_role("heading", name=f"Merge {a} into {b}?")).to_be_visible()
    page.goto(f"/review/compare?a={a}&b=nobody")
    expect(page.locator("#action-error")).to_contain_text("b is not a person id")


def test_link_new_person_and_undo_link_confirmations_name_the_person_and_the_case(page, site):
    base, services, steward, _ = site
    plain = [c for c in _waiting(services, kind="POSSIBLE_MATCH", state="open")
             if not c.get("blocks") and c["candidates"] and c["source_system"] != "north-fulton-clinic"]
    linked_case, new_case = plain[0], plain[1]
    candidate = linked_case["candidates"][0]["person_id"]
    sign_in(page, *steward)

    page.goto(f"/review/cases/{linked_case['case_id']}")
    form = page.locator(f"#candidate-{candidate} form.link")
    form.get_by_label("Why this is the same person").fill("same birth date and address")
    form.get_by_role("button", name=f"Link to {candidate}").click()
    status = page.get_by_role("status")
    expect(status).to_contain_text(f"Case {linked_case['case_id']} resolved: record linked to {candidate}")
    status.get_by_role("link", name=candidate).click()

    expect(page.get_by_role("heading", name=re.compile(f"Person {candidate}"))).to_be_visible()
    key = f"{linked_case['source_system']}/{linked_case['source_record_id']}"
    row = page.locator(f'tr[data-record="{key}"]')
    row.locator("summary", has_text="Undo link").click()
    row.get_by_role("button", name="Undo the link").click()  # no reason: the browser asks for one
    assert services.store.records.get(*key.split("/", 1)) is not None
    row.get_by_label("Why the link was wrong").fill("the birth year differs on the ID card")
    row.get_by_role("button", name="Undo the link").click()
    status = page.get_by_role("status")
    expect(status).to_contain_text(f"Record {key} unlinked from {candidate}; it is back in review as case RC")
    reopened = re.search(r"case (RC\d+)", status.inner_text()).group(1)
    expect(status.get_by_role("link", name=reopened)).to_have_attribute("href", f"/review/cases/{reopened}")
    expect(page.locator(f'tr[data-record="{key}"]')).to_have_count(0)
    assert services.store.cases.get(reopened)["state"] == "open"

    page.goto(f"/review/cases/{new_case['case_id']}")
    page.get_by_text("New person", exact=True).click()
    page.get_by_label("Why this is nobody we hold").fill("different person: another birth date")
    page.get_by_role("button", name="Make a new person").click()
    status = page.get_by_role("status")
    expect(status).to_contain_text("the record is a new person, MPI")
    made = re.search(r"new person, (MPI\d+)", status.inner_text()).group(1)
    status.get_by_role("link", name=made).click()
    expect(page.locator("td.founded")).to_have_text("founded this person")
    screenshot(page, "person-founded")


def test_every_steward_page_is_shown_whole_and_screenshotted(page, site):
    base, services, steward, world = site
    sign_in(page, *steward)
    waiting = _waiting(services)
    lower = world["lower"]
    cases = {
        "case-wide": world["case"],
        "case-duplicate": next(c for c in waiting if c["kind"] == "POSSIBLE_DUPLICATE"),
        "case-on-hold": next(c for c in waiting if c["state"] == "on_hold"),
        "case-blocking": next(c for c in waiting if c["priority"] == "urgent"),
        "case-ambiguous": next((c for c in waiting if c["kind"] == "POSSIBLE_MATCH"
                                and sum(x["match_weight"] >= lower for x in c["candidates"]) >= 2)),
    }
    [dup] = [c for c in waiting if c["kind"] == "POSSIBLE_DUPLICATE"][:1]
    a, b = (c["person_id"] for c in dup["candidates"][:2])
    pages = {
        "queue": "/review/",
        **{name: f"/review/cases/{c if isinstance(c, str) else c['case_id']}" for name, c in cases.items()},
        "person": f"/review/persons/{world['person']}",
        "compare": f"/review/compare?a={a}&b={b}",
        "merge-preview": f"/review/persons/{a}/merge-preview?loser_id={b}",
    }
    # Every page the steward's nav offers (audit, metrics, dedup runs, referrals, exceptions...), by its path.
    nav = page.locator('nav[aria-label="Main"] a').evaluate_all("links => links.map(a => a.getAttribute('href'))")
    for path in nav:
        name = path.strip("/").split("/")[-1].split("?")[0] or "queue"
        if path not in ("/review/next", "/review/"):
            pages.setdefault(name, path)
    assert {"audit", "metrics", "dedup-runs", "compare"} <= set(pages), sorted(pages)
    page.goto("/review/dedup-runs")
    pages["dedup-run"] = page.locator('a[href^="/review/dedup-runs/DR"]').first.get_attribute("href")
    for name, path in pages.items():
        response = page.goto(path)
        assert response.status == 200, f"{name}: {path} answered {response.status}"
        expect(page.locator("main h1").first).to_be_visible()
        if name.startswith("case") or name in ("person", "compare", "merge-preview", "queue"):
            _no_clipping(page)
        screenshot(page, f"page-{name}")
