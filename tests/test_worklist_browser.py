"""The coordinators' worklist in a real browser: Debian's Chromium driven by Playwright, over a real server and store.

The referral network (``referral_network.py``) on a fixed clock: St Mary's
refers people to Metro Food Bank over Friday and Monday morning, one of them a
sparse record of Marisol for a discharge, which the policy's review band (placed
around the weight measured) holds for a steward, so that referral is gated; it
is Monday 14:00 in Atlanta when the coordinator signs in, and the sweep has
raised its alerts. Cora, a coordinator at the food bank, works the worklist;
Sam, a steward, decides the review case in a browser of his own. Screenshots of
the worklist, the gated referral and the alerts are written to
``test-output/screenshots/``.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from playwright.sync_api import Page, expect

from api import create_app
from browser_support import VIEWPORT, browser, chromium, screenshot, serve  # noqa: F401  (fixtures)
from conftest import SHIPPED_MODELS, record
from held_cases import partial, weight_of
from mpi.clock import FixedClock
from mpi.services import DEFAULT_MODEL_VERSION, Services
from referral_network import build, referral_body

pytestmark = pytest.mark.slow

#: Friday 2026-11-20, 10:00 in Atlanta; the coordinator signs in on Monday at 14:00.
FRIDAY_10AM = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)
MONDAY_2PM = datetime(2026, 11, 23, 19, 0, tzinfo=timezone.utc)
#: More of St Mary's patients, so the worklist reads as a working day's.
PATIENTS = {
    "alma": dict(first_name="Alma", last_name="Reyes", birth_date="1962-07-09", sex="F", phone="404-555-0117",
                 postal_code="30310"),
    "jerome": dict(first_name="Jerome", last_name="Baptiste", birth_date="1979-01-23", sex="M", phone="404-555-0162",
                   postal_code="30314"),
    "nadia": dict(first_name="Nadia", last_name="Haddad", birth_date="1990-10-30", sex="F", phone="678-555-0148",
                  postal_code="30318"),
    "owen": dict(first_name="Owen", last_name="Pruitt", birth_date="1948-05-14", sex="M", phone="770-555-0133",
                 postal_code="30303"),
}


def _for(name: str, ref: str, **changes) -> dict:
    """A referral from St Mary's for one of :data:`PATIENTS`."""
    person = {"source_system": "st-marys-ehr", "source_record_id": f"MRN-{ref}", **PATIENTS[name]}
    return {**referral_body(ref=ref, **changes), "person": person}


def _activate_band(services: Services, weight: float) -> None:
    """A copy of the active model whose review band holds ``weight`` (as conftest's ``activate_policy`` makes)."""
    active = services.matching.active_model()
    document = json.loads(services.registry.path_of(active.version).read_text())
    document["version"] = f"{DEFAULT_MODEL_VERSION}-worklist"
    document["policy"] = {**document["policy"], "lower_match_weight": weight - 3, "upper_match_weight": weight + 3}
    services.registry.save(document)
    services.models.activate(document["version"], "test")


def _seed(services: Services, clock: FixedClock) -> SimpleNamespace:
    net = build(services)
    hub, cora = net.callers["hub-stmarys"], net.callers["cora"]
    marisol = services.matching.submit(record("marisol", "st-marys-ehr", "MRN-1"), "test")["person_id"]
    sparse = partial("st-marys-ehr", "MRN-SM-1")
    _activate_band(services, weight_of(services, sparse))

    def send(body: dict, at: timedelta) -> dict:
        clock.set(FRIDAY_10AM + at)
        return services.referrals.submit(body, hub)[0]

    theodore = send(referral_body("theodore", "SM-2"), timedelta(hours=5))             # Friday 15:00
    alma = send(_for("alma", "SM-4"), timedelta(hours=6))
    jerome = send(_for("jerome", "SM-5", service_type="home-meals", urgency="urgent"),
                  timedelta(days=3, hours=-0.5))                                         # Monday 09:30
    desmond = send(referral_body("desmond", "SM-3", urgency="urgent"), timedelta(days=3))
    gated = send({**referral_body(ref="SM-1", urgency="discharge"), "person": sparse}, timedelta(days=3, hours=1))
    nadia = send(_for("nadia", "SM-6"), timedelta(days=3, hours=2))
    owen = send(_for("owen", "SM-7", performer="homebase", service_type="housing"), timedelta(days=3, hours=2))
    assert gated["gate"] == "identity_pending", gated["gate"]
    clock.set(FRIDAY_10AM + timedelta(days=3, hours=2, minutes=30))
    services.referrals.change_status(alma["referral_id"], {"state": "accepted"}, cora)
    services.referrals.change_status(nadia["referral_id"], {"state": "in_triage"}, cora)
    services.referrals.change_status(theodore["referral_id"], {"state": "acknowledged"}, cora)
    clock.set(MONDAY_2PM)
    services.sweep.run()
    return SimpleNamespace(net=net, marisol=marisol, gated=gated, others=[theodore, alma, jerome, desmond, nadia],
                           elsewhere=owen)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The app over the seeded network behind waitress on loopback; yields (base URL, services, world)."""
    folder = tmp_path_factory.mktemp("worklist-browser")
    models = folder / "models"
    models.mkdir()
    shutil.copy(SHIPPED_MODELS / f"{DEFAULT_MODEL_VERSION}.json", models)
    clock = FixedClock(FRIDAY_10AM)
    services = Services({"MPI_DB": str(folder / "mpi.duckdb"), "MPI_MODELS_DIR": str(models),
                         "MPI_SECRET_KEY": "worklist-browser-secret"}, clock=clock)
    world = _seed(services, clock)
    try:
        with serve(create_app(services=services), "worklist-browser") as base:
            yield base, services, world
    finally:
        services.close()


def _new_page(browser, base: str) -> Page:
    page = browser.new_context(base_url=base, viewport=VIEWPORT).new_page()
    page.set_default_timeout(10_000)
    return page


@pytest.fixture
def pages(browser, site):
    """A browser context per user (so each has their own session), closed after the test."""
    made: list[Page] = []

    def open_as(name: str, heading: str) -> Page:
        page = _new_page(browser, site[0])
        made.append(page)
        page.goto("/review/sign-in")
        page.get_by_label("User name").fill(name)
        page.get_by_label("Token").fill(site[2].net.tokens[name])
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
        return page

    yield open_as
    for page in made:
        page.context.close()


def test_a_coordinator_accepts_a_gated_referral_is_refused_a_start_and_starts_it_once_the_steward_decides(pages, site):
    base, services, world = site
    rid, case_id = world.gated["referral_id"], world.gated["review_case_id"]
    cora = pages("cora", "Worklist")

    # The worklist: what waits on the food bank, next due first, the gated discharge marked and overdue.
    rows = cora.locator("table.worklist tbody tr")
    shown = [rows.nth(i).get_attribute("data-referral") for i in range(rows.count())]
    assert set(shown) == {r["referral_id"] for r in [world.gated, *world.others]}
    due = [services.store.referrals.get(r)["next_due_at"] for r in shown]
    assert due == sorted(due), "next due first"
    gated_row = cora.locator(f'tr[data-referral="{rid}"]')
    expect(gated_row.locator(".gate-mark")).to_have_text("Identity under review")
    expect(gated_row.locator(".badge.overdue")).to_contain_text("overdue by")
    expect(cora.locator(f'tr[data-referral="{world.elsewhere["referral_id"]}"]')).to_have_count(0)
    expect(cora.locator("table.worklist")).not_to_contain_text("Marisol")
    screenshot(cora, "worklist")

    # Open it and accept it: the gate allows acknowledging, triage and accepting.
    gated_row.get_by_role("link", name=world.gated["reference"]).click()
    expect(cora.locator("#gate-text")).to_contain_text("Identity under review since 2026-11-23 11:00 EST")
    expect(cora.locator("#case-link")).to_have_count(0)
    cora.locator("#step-accepted summary").click()
    cora.locator("#step-accepted").get_by_role("button", name="Accept").click()
    expect(cora.get_by_role("status")).to_contain_text(f"{world.gated['reference']} is now Accepted")
    expect(cora.locator("#referral-state")).to_have_text("Accepted")

    # Start is refused while identity is under review: shown disabled, with why, and refused if sent anyway.
    held = cora.locator("#held-steps")
    expect(held).to_contain_text("Start and complete wait until identity is confirmed.")
    expect(held.get_by_role("button", name="Start")).to_be_disabled()
    expect(cora.locator("#step-in_progress")).to_have_count(0)
    screenshot(cora, "referral")
    token = cora.locator('input[name="csrf_token"]').first.get_attribute("value")
    refused = cora.request.post(f"/review/referrals/{rid}/status", form={"csrf_token": token, "state": "in_progress"})
    assert refused.status == 409
    assert (f"This referral waits on identity review (case {case_id}): start and complete are refused until a "
            "steward decides it.") in refused.text()
    assert services.store.referrals.get(rid)["state"] == "accepted"

    # The steward looks the referral up, follows it to its review case and links the record to Marisol.
    sam = pages("sam", "Review queue")
    sam.get_by_role("link", name="Referrals").click()
    sam.locator(f'tr[data-referral="{rid}"]').get_by_role("link").click()
    expect(sam.locator("#steps-h")).to_have_count(0)  # stewards read referrals; the organisations take the steps
    screenshot(sam, "referral-steward")
    sam.locator("#case-link").click()
    expect(sam.get_by_role("heading", name=re.compile(f"Case {case_id}"))).to_be_visible()
    candidate = sam.locator(f"#candidate-{world.marisol}")
    candidate.get_by_label("Why this is the same person").fill("same birth date and name; the discharge desk confirmed")
    candidate.get_by_role("button", name=f"Link to {world.marisol}").click()
    expect(sam.get_by_role("status")).to_contain_text(f"Case {case_id} resolved")

    # The coordinator reloads: the gate has lifted, the person is named, and Start goes through.
    cora.reload()
    expect(cora.locator("#gate-text")).to_contain_text("Identity confirmed")
    expect(cora.locator("#person-name")).to_have_text("Marisol Quintanilla")
    expect(cora.locator("#held-steps")).to_have_count(0)
    cora.locator("#step-in_progress").get_by_role("button", name="Start").click()
    expect(cora.locator("#referral-state")).to_have_text("In progress")
    expect(cora.locator('table.timeline tr[data-kind="lift"]')).to_have_count(1)
    assert services.store.referrals.get(rid)["state"] == "in_progress"
    screenshot(cora, "referral-started")


def test_a_coordinator_acknowledges_an_alert(pages, site):
    base, services, world = site
    cora = pages("cora", "Worklist")
    cora.get_by_role("link", name="Alerts").click()
    expect(cora.get_by_role("heading", name="Alerts")).to_be_visible()
    waiting = int(cora.locator("#alerts-waiting").inner_text())
    assert waiting >= 2, "the sweep should have raised alerts for the late referrals"
    screenshot(cora, "alerts")
    first = cora.locator("table.alerts:not(.done) tbody tr").first
    alert_id = first.get_attribute("data-alert")

    first.get_by_role("button", name="Acknowledge").click()

    expect(cora.get_by_role("status")).to_contain_text(f"Alert {alert_id} acknowledged.")
    expect(cora.locator("#alerts-waiting")).to_have_text(str(waiting - 1))
    expect(cora.locator(f"table.done tr[data-alert='{alert_id}']")).to_contain_text("by cora")
    assert services.store.alerts.get(alert_id)["acknowledged_by"] == "user:cora"
