"""The review UI in a real browser: Debian's Chromium driven by Playwright, over a real server and store.

Chromium comes from Debian (``/usr/bin/chromium``), installed by the shared
``chromium`` fixture when missing (``browser_support.py``); Playwright's own
browser download is never used. The app runs under waitress in
a thread on a free loopback port, over a DuckDB store built by the demo's own
builder (``mpi.synth.demo.build_demo``: the seeded generator through the real decision
path), small so the module takes seconds. The services run on a clock of the test's
(:class:`ArrivalClock`): while the index is built it moves on a little with each
record, from :data:`SPREAD` ago up to now, so the queue holds cases of every age
and some overdue, as a steward's would; then it runs as the system's. Screenshots of the queue and a case page
(and of a person and the audit log) are written to ``test-output/screenshots/`` for people to look at.
"""

from __future__ import annotations

import re
import shutil
from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import Page, expect

from api import create_app
from browser_support import SCREENSHOTS, browser, chromium, page, serve  # noqa: F401, F811  (fixtures)
from conftest import SHIPPED_MODELS
from mpi.auth import add_user
from mpi.clock import SystemClock
from mpi.services import DEFAULT_MODEL_VERSION, Services
from mpi.synth.demo import build_demo

#: Synthetic people in the browser tests' index: enough for a queue of real cases, small enough to be quick.
PEOPLE = 150
#: The oldest record of the index arrives this long before now, the newest now.
SPREAD = timedelta(days=5)

pytestmark = pytest.mark.slow


class ArrivalClock:
    """A clock that stands at a past instant and is moved on by the test, never beyond the system's time."""

    def __init__(self, start: datetime):
        self._at = start
        self._system = SystemClock()

    def advance(self, delta: timedelta) -> None:
        self._at += delta

    def now(self) -> datetime:
        return min(self._at, self._system.now())


def _seed(services: Services, clock: ArrivalClock) -> None:
    """Build the demo index with records arriving over :data:`SPREAD`, oldest first; then let time run."""
    per_record = SPREAD / (PEOPLE * 2.7)
    build_demo(services, PEOPLE, "test:seed", progress=lambda n: clock.advance(per_record * n))
    clock.advance(SPREAD)  # past the system's time: from here on it runs as the system's


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The app over a seeded store behind waitress on loopback; yields (base URL, services, steward)."""
    folder = tmp_path_factory.mktemp("browser")
    models = folder / "models"
    models.mkdir()
    shutil.copy(SHIPPED_MODELS / f"{DEFAULT_MODEL_VERSION}.json", models)
    clock = ArrivalClock(datetime.now(timezone.utc) - SPREAD)
    services = Services({"MPI_DB": str(folder / "mpi.duckdb"), "MPI_MODELS_DIR": str(models),
                         "MPI_SECRET_KEY": "browser-test-secret"}, clock=clock)
    _seed(services, clock)
    steward = ("sam", add_user(services.store, "sam", "steward"))
    app = create_app(services=services)
    try:
        with serve(app) as base:
            yield base, services, steward
    finally:
        services.close()


def sign_in(page: Page, name: str, token: str) -> None:
    page.goto("/review/")
    expect(page).to_have_url(re.compile(r"/review/sign-in\?next="))
    page.get_by_label("User name").fill(name)
    page.get_by_label("Token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible()


def queue_total(page: Page) -> int:
    return int(page.locator("#queue-total").inner_text())


def test_a_steward_signs_in_opens_the_most_urgent_case_compares_links_it_and_the_queue_shrinks(page, site):
    base, services, steward = site
    sign_in(page, *steward)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    before = queue_total(page)
    assert before >= 3, "the seeded index should leave cases to review"
    rows = page.locator("table.queue tbody tr")
    first_case = rows.first.get_attribute("data-case")
    overdue = int(page.locator('[data-count="overdue"] .n').inner_text())
    assert overdue >= 1 and page.locator("table.queue tr.overdue").count() >= 1
    page.screenshot(path=str(SCREENSHOTS / "queue.png"), full_page=True)

    page.get_by_role("link", name="Open the most urgent case").click()

    expect(page.get_by_role("heading", name=re.compile(f"Case {first_case}"))).to_be_visible()
    case = services.store.cases.get(first_case)
    candidate = case["candidates"][0]["person_id"]
    section = page.locator(f"#candidate-{candidate}")
    # Compare: the inbound record beside the candidate's records, fields marked, evidence as a waterfall.
    expect(section.locator("table.compare td.inbound").first).to_be_visible()
    assert section.locator("td[data-mark]").count() >= 3
    assert section.locator("td[data-mark='agree']").count() >= 1
    bars = section.locator("svg.waterfall g.row")
    assert bars.count() == len(case["candidates"][0]["evidence"]) + 1
    page.screenshot(path=str(SCREENSHOTS / "case.png"), full_page=True)

    section.get_by_label("Why this is the same person").fill("same birth date and address; first name a short form")
    section.get_by_role("button", name=f"Link to {candidate}").click()

    expect(page.get_by_role("status")).to_contain_text(f"Case {first_case} resolved: record linked to {candidate}")
    assert queue_total(page) == before - 1
    assert page.locator(f'tr[data-case="{first_case}"]').count() == 0
    page.goto(f"/review/persons/{candidate}")
    record = f"{case['source_system']}/{case['source_record_id']}"
    expect(page.locator(f'tr[data-record="{record}"]')).to_contain_text("MANUAL")
    expect(page.locator('ol.history li[data-action="case.linked"]')).to_have_count(1)
    expect(page.locator('ol.history li[data-action="link.created"]').first).to_contain_text(record)
    page.screenshot(path=str(SCREENSHOTS / "person.png"), full_page=True)


def test_review_pages_need_sign_in_and_forms_without_the_csrf_token_are_refused(page, site):
    base, services, steward = site
    page.goto("/review/audit")
    expect(page.get_by_role("heading", name="Sign in to the review queue")).to_be_visible()
    sign_in(page, *steward)
    case_id = page.locator("table.queue tbody tr").first.get_attribute("data-case")
    case = services.store.cases.get(case_id)

    response = page.request.post(f"/review/cases/{case_id}/link", form={
        "version": str(case["version"]), "person_id": case["candidates"][0]["person_id"], "reason": "forged"})

    assert response.status == 400
    assert services.store.cases.get(case_id)["state"] == case["state"]
    page.goto("/review/audit")
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    expect(page.locator("table.audit tbody tr").first).to_be_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "audit.png"))


def test_a_steward_merges_two_persons_and_unmerges_them(page, site):
    base, services, steward = site
    sign_in(page, *steward)
    survivor, loser = [p for p, keys in services.matching.index().persons.items() if keys][:2]
    survivor_records = len(services.store.persons.records_of(survivor))
    loser_records = len(services.store.persons.records_of(loser))
    page.goto(f"/review/persons/{survivor}")

    page.get_by_label("Person id to merge in").fill(loser)
    page.get_by_role("button", name="Preview the merge").click()  # both persons shown before the reason
    page.get_by_label("Why they are one person").fill("one person registered twice at intake")
    page.get_by_role("button", name=f"Merge {loser} into {survivor}").click()

    expect(page.get_by_role("status")).to_contain_text(f"{loser} merged into {survivor}")
    expect(page.locator("#record-count")).to_have_text(str(survivor_records + loser_records))
    page.goto(f"/review/persons/{loser}")
    expect(page.get_by_text(f"{loser} was merged into {survivor}")).to_be_visible()

    page.get_by_label("Why it was wrong").fill("different people: the birth dates belong to twins")
    page.get_by_role("button", name="Unmerge").click()

    expect(page.get_by_role("status")).to_contain_text("undone")
    expect(page.locator("#record-count")).to_have_text(str(survivor_records))
    page.goto(f"/review/persons/{loser}")
    expect(page.get_by_role("heading", name=re.compile(f"Person {loser}"))).to_be_visible()
    expect(page.locator("#record-count")).to_have_text(str(loser_records))


