"""The coordinators' worklist through the whole stack (Flask test client, real store, the referral network's clock).

Sign-in and who sees which page, the worklist and its filters, the referral
page (person, gate, timeline with both times, the steps with their coded
reasons) and its forms, and alerts, over the world of ``worklist_world.py``:
St Mary's refers Theodore (routine) and, an hour later, a sparse record of
Marisol for a discharge that waits on a review case (gated), and a housing
referral to HomeBase; it is Monday 14:00 in Atlanta and the discharge's
acknowledgement is an hour late. The browser test (``test_worklist_browser.py``)
drives the same pages in Chromium.
"""

from __future__ import annotations

import logging
import re

import pytest

from mpi.referral_vocab import ReasonCode, ReferralState
from mpi.referrals.lifecycle import STEPS
from referral_network import clock  # noqa: F401  (a fixture)
from review_ui import referral_views
from review_ui.referral_words import REASON_WORDS, STATE_WORDS, STEP_WORDS
from worklist_world import (as_user, cora, csrf_of, options, post_step, rows, services,  # noqa: F401  (fixtures)
                            sign_in, world)


# ------------------------------------------------------------------------------------------ sign-in and roles

def test_a_coordinator_signs_in_and_lands_on_the_worklist(app, world):
    client = app.test_client()

    response = sign_in(client, world, "cora")

    assert response.status_code == 303 and response.headers["Location"] == "/review/referrals"
    page = client.get("/review/referrals").get_data(as_text=True)
    assert "<h1>Worklist" in page and "Metro Food Bank" in page
    nav = re.search(r'<nav aria-label="Main">(.*?)</nav>', page, re.S).group(1)
    assert re.findall(r">([^<>]+)</a>", nav) == ["Worklist", "Alerts", "Metrics"]


def test_a_steward_still_lands_on_the_queue_and_gets_referrals_in_the_nav(app, world):
    client = app.test_client()

    response = sign_in(client, world, "sam")

    assert response.headers["Location"] == "/review/"
    nav = re.search(r'<nav aria-label="Main">(.*?)</nav>', client.get("/review/").get_data(as_text=True), re.S)
    assert re.findall(r">([^<>]+)</a>", nav.group(1)) == ["Queue", "Next case", "Search", "Referrals",
                                                          "Inbound exceptions", "Reconciliation", "Dedup runs",
                                                          "Compare persons", "Audit log", "Metrics", "Matching"]


def test_sign_in_sent_from_a_steward_page_takes_a_coordinator_to_the_worklist(app, world):
    client = app.test_client()

    response = sign_in(client, world, "cora", next_url="/review/cases/RC00000001")

    assert response.headers["Location"] == "/review/referrals"


@pytest.mark.parametrize("path", ["/review/", "/review/next", "/review/cases/{case}", "/review/persons/{person}",
                                  "/review/audit", "/review/compare?a={person}&b={person}",
                                  "/review/persons/{person}/merge-preview?loser_id={person}"])
def test_a_coordinator_is_refused_the_steward_pages(cora, world, path):
    response = cora.get(path.format(case=world.case_id, person=world.marisol))

    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert "Not open to you" in page and "Back to the worklist" in page
    for value in ("MARISOL", "Marisol", "QUINTANILLA", "Quintanilla", "1984-03-17"):
        assert value not in page


def test_a_coordinator_cannot_post_a_case_action(cora, services, world):
    token = csrf_of(cora.get("/review/referrals"))
    version = services.cases.get(world.case_id)["version"]

    response = cora.post(f"/review/cases/{world.case_id}/link", data={
        "csrf_token": token, "version": version, "person_id": world.marisol, "reason": "looks like her"})

    assert response.status_code == 403
    assert services.store.cases.get(world.case_id)["state"] == "open"


# -------------------------------------------------------------------------------------------------- worklist

def test_the_worklist_shows_only_referrals_waiting_on_the_organisation_next_due_first_with_marks(cora, world):
    page = cora.get("/review/referrals").get_data(as_text=True)

    # The discharge came in an hour later but is due first; HomeBase's referral is not the food bank's.
    assert rows(page) == [world.discharge["referral_id"], world.theodore["referral_id"]]
    assert re.search(r'id="worklist-total">2<', page)
    discharge = page.split(f'data-referral="{world.discharge["referral_id"]}"')[1].split("</tr>")[0]
    assert "Identity under review" in discharge and 'class="gate-mark"' in discharge
    assert re.search(r'class="badge overdue">overdue by 1 h<', discharge)
    assert world.discharge["reference"] in discharge and "discharge" in discharge
    theodore = page.split(f'data-referral="{world.theodore["referral_id"]}"')[1].split("</tr>")[0]
    assert "Theodore Wojcik" in theodore and "overdue" not in theodore and "in 20 h" in theodore
    assert "St Mary&#39;s Hospital" in theodore or "St Mary's Hospital" in theodore
    # Never the candidate behind the gate.
    for value in ("Marisol", "MARISOL", "Quintanilla", "QUINTANILLA"):
        assert value not in page
    assert re.search(r'data-count="overdue">\s*<span class="n">1<', page)
    assert re.search(r'data-count="gated">\s*<span class="n">1<', page)


@pytest.mark.parametrize(("query", "expected"), [
    ("gated=1", ["discharge"]), ("overdue=1", ["discharge"]), ("urgency=routine", ["theodore"]),
    ("state=submitted", ["discharge", "theodore"]), ("state=accepted", []),
])
def test_worklist_filters_narrow_the_list(cora, world, query, expected):
    page = cora.get(f"/review/referrals?{query}").get_data(as_text=True)

    assert rows(page) == [getattr(world, name)["referral_id"] for name in expected]


def test_the_worklist_pages(cora, world, monkeypatch):
    monkeypatch.setattr(referral_views, "WORKLIST_PAGE", 1)  # a page of one, rather than fifty referrals

    first = cora.get("/review/referrals").get_data(as_text=True)
    second = cora.get(re.search(r'href="([^"]+)" id="next-page"', first).group(1).replace("&amp;", "&"))

    assert rows(first) == [world.discharge["referral_id"]]
    assert rows(second.get_data(as_text=True)) == [world.theodore["referral_id"]]


def test_a_steward_sees_every_open_referral_and_the_requesters_side(app, world):
    page = as_user(app, world, "sam").get("/review/referrals").get_data(as_text=True)

    assert set(rows(page)) == {world.discharge["referral_id"], world.theodore["referral_id"],
                               world.housing["referral_id"]}
    assert "HomeBase Housing" in page


# --------------------------------------------------------------------------------------------- referral page

def test_a_gated_referral_names_no_one_and_only_stewards_get_the_case_link(app, cora, world):
    rid = world.discharge["referral_id"]
    page = cora.get(f"/review/referrals/{rid}").get_data(as_text=True)

    assert "Identity under review since 2026-11-23 11:00 EST" in page
    assert f"/review/cases/{world.case_id}" not in page and world.case_id in page
    for value in ("Marisol", "MARISOL", "Quintanilla", "QUINTANILLA", "1984-03-17"):
        assert value not in page
    steward = as_user(app, world, "sam").get(f"/review/referrals/{rid}").get_data(as_text=True)
    assert f'href="/review/cases/{world.case_id}"' in steward
    assert "Read only" in steward and 'action="/review/referrals/' not in steward


def test_a_stewards_case_page_links_the_referral_it_blocks(app, world):
    page = as_user(app, world, "sam").get(f"/review/cases/{world.case_id}").get_data(as_text=True)

    blocks = page.split('id="blocks-h"')[1].split("</section>")[0]
    assert f'href="/review/referrals/{world.discharge["referral_id"]}"' in blocks


def test_a_settled_referral_shows_the_person_as_the_coordinator_needs_them(cora, world):
    page = cora.get(f"/review/referrals/{world.theodore['referral_id']}").get_data(as_text=True)

    assert re.search(r'id="person-name">Theodore Wojcik<', page)
    assert "1951-11-02" in page and "(312) 555-0199" in page and "twojcik51@example.net" in page
    assert "/review/persons/" not in page  # the steward's page, not the coordinator's
    assert "food insecurity after discharge" in page and "12 Oak St, Atlanta, GA, 30309" in page
    assert "Discharge desk · 404-555-0100 · desk@stmarys.example" in page


def test_the_timeline_shows_when_each_change_happened_and_when_it_was_recorded(cora, world):
    rid = world.theodore["referral_id"]

    response = post_step(cora, rid, state="acknowledged", event_time="2026-11-23T10:30", note="called the desk")

    assert response.status_code == 303 and response.headers["Location"] == f"/review/referrals/{rid}"
    page = cora.get(f"/review/referrals/{rid}").get_data(as_text=True)
    assert "is now Acknowledged" in page
    row = page.split('data-seq="2"')[1].split("</tr>")[0]
    assert "Submitted → Acknowledged" in row
    # Typed in Atlanta's time, stored as UTC, shown back in Atlanta's time beside when it was recorded.
    assert re.search(r'data-time="event">2026-11-23 10:30:00 EST<', row)
    assert re.search(r'data-time="recorded">2026-11-23 14:00:00 EST<', row)
    assert ">cora<" in row and "called the desk" in row
    intake = page.split('data-seq="1"')[1].split("</tr>")[0]
    assert "Received" in intake and "2026-11-23 10:00:00 EST" in intake


def test_each_step_offers_as_choices_only_the_reasons_the_lifecycle_allows(cora, world):
    page = cora.get(f"/review/referrals/{world.theodore['referral_id']}").get_data(as_text=True)

    steps = re.findall(r'data-step="([a-z_]+)"', page)
    assert steps == ["acknowledged", "in_triage", "accepted", "declined", "redirected", "on_hold",
                     "entered_in_error"]
    for state in ("declined", "on_hold", "redirected", "entered_in_error"):
        allowed = [r.value for r in STEPS[ReferralState(state)].reasons]
        assert options(page, f"step-{state}-reason") == allowed
    assert re.search(r'<select id="step-declined-reason" name="reason" required', page)
    assert not re.search(r'<select id="step-entered_in_error-reason" name="reason" required', page)
    assert re.search(r'<textarea id="step-entered_in_error-note" name="note"[^>]*required', page)
    assert not re.search(r'<(input|textarea)[^>]*name="reason"', page)  # no free-text reason on a step
    assert "step-acknowledged-reason" not in page  # a step without reasons asks for none
    assert options(page, "step-redirected-performer") == ["homebase"]  # performs food; BluePath does not


def test_a_step_of_the_other_side_is_refused_with_403_and_changes_nothing(cora, services, world):
    rid = world.theodore["referral_id"]

    response = post_step(cora, rid, state="cancelled", reason="need-resolved")

    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert "You cannot take this step: only the requester (st-marys) may move a referral to cancelled" in page
    assert services.store.referrals.get(rid)["state"] == "submitted"


def test_a_step_without_its_required_reason_is_422_and_marks_the_field(cora, services, world):
    rid = world.theodore["referral_id"]

    response = post_step(cora, rid, state="declined", reason="")

    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="step-declined-reason-err"' in page and "required for declined" in page
    assert re.search(r'id="step-declined"[^>]*open', page)
    assert services.store.referrals.get(rid)["state"] == "submitted"


def test_a_gated_referral_is_accepted_refused_a_start_and_started_once_the_steward_decides(cora, services, world):
    rid = world.discharge["referral_id"]
    assert post_step(cora, rid, state="accepted").status_code == 303
    page = cora.get(f"/review/referrals/{rid}").get_data(as_text=True)
    assert 'data-step="in_progress"' not in page
    held = page.split('id="held-steps"')[1].split("</div>")[0]
    assert "Start and complete wait until identity is confirmed." in held and "disabled" in held

    refused = post_step(cora, rid, state="in_progress")

    assert refused.status_code == 409
    assert (f"This referral waits on identity review (case {world.case_id}): start and complete are refused "
            "until a steward decides it.") in refused.get_data(as_text=True)
    assert services.store.referrals.get(rid)["state"] == "accepted"

    version = services.cases.get(world.case_id)["version"]
    services.cases.resolve_linked(world.case_id, world.marisol, "user:sam", "same person", version)

    page = cora.get(f"/review/referrals/{rid}").get_data(as_text=True)
    assert 'data-step="in_progress"' in page and 'id="held-steps"' not in page
    assert re.search(r'id="person-name">Marisol Quintanilla<', page)
    assert post_step(cora, rid, state="in_progress").status_code == 303
    assert services.store.referrals.get(rid)["state"] == "in_progress"
    assert re.search(r'id="referral-state">In progress<', cora.get(f"/review/referrals/{rid}").get_data(as_text=True))


def test_a_redirect_opens_a_successor_linked_both_ways(cora, services, world):
    rid = world.theodore["referral_id"]

    response = post_step(cora, rid, state="redirected", reason="no-capacity", performer="homebase")

    assert response.status_code == 303
    successor = services.store.referrals.successors(rid)
    assert len(successor) == 1
    page = cora.get(f"/review/referrals/{rid}").get_data(as_text=True)
    assert f'href="/review/referrals/{successor[0]}"' in page and "HomeBase Housing" in page
    assert "Redirected" in page and "No capacity (no funds or slots)" in page


def test_a_returned_referral_waits_on_the_requester_who_corrects_it(app, cora, services, world):
    rid = world.theodore["referral_id"]
    assert post_step(cora, rid, state="on_hold", reason="information-incomplete").status_code == 303
    assert rid not in rows(cora.get("/review/referrals").get_data(as_text=True))
    rita = as_user(app, world, "rita")
    worklist = rita.get("/review/referrals").get_data(as_text=True)
    assert rows(worklist) == [rid] and "Returned for information" in worklist
    page = rita.get(f"/review/referrals/{rid}")
    assert "Send back corrected" in page.get_data(as_text=True)

    response = rita.post(f"/review/referrals/{rid}/correction", data={
        "csrf_token": csrf_of(page), "reason": "food insecurity after discharge", "contact_name": "Discharge desk",
        "contact_phone": "404-555-0199", "contact_email": "desk@stmarys.example", "consent": "granted",
        "risk_flags": "", "address_address_line1": "12 Oak St", "address_city": "Atlanta", "address_state": "GA",
        "address_postal_code": "30309", "note": "new callback number"})

    assert response.status_code == 303
    referral = services.store.referrals.get(rid)
    assert referral["state"] == "submitted" and referral["requester_contact"]["phone"] == "404-555-0199"
    assert referral["reason"] == "food insecurity after discharge"  # left as it was, so not sent, and kept
    corrected = services.store.referrals.events(rid)[-1]
    assert corrected["kind"] == "correction" and corrected["detail"]["corrected"] == ["requester_contact"]


def test_a_declined_referral_is_reopened_by_its_performer(cora, services, world):
    rid = world.theodore["referral_id"]
    assert post_step(cora, rid, state="declined", reason="no-capacity").status_code == 303
    page = cora.get(f"/review/referrals/{rid}")
    assert "Back to submitted" in page.get_data(as_text=True)

    empty = cora.post(f"/review/referrals/{rid}/reopen", data={"csrf_token": csrf_of(page), "reason": " "})
    assert empty.status_code == 422 and services.store.referrals.get(rid)["state"] == "declined"
    response = cora.post(f"/review/referrals/{rid}/reopen", data={"csrf_token": csrf_of(page),
                                                                   "reason": "a slot opened"})

    assert response.status_code == 303
    assert services.store.referrals.get(rid)["state"] == "submitted"


def test_a_step_without_the_csrf_token_is_refused(cora, services, world):
    rid = world.theodore["referral_id"]

    response = cora.post(f"/review/referrals/{rid}/status", data={"state": "accepted"})

    assert response.status_code == 400 and services.store.referrals.get(rid)["state"] == "submitted"


def test_another_organisations_referral_is_not_found(cora, world):
    assert cora.get(f"/review/referrals/{world.housing['referral_id']}").status_code == 404


# ------------------------------------------------------------------------------------------------------ alerts

def test_alerts_are_listed_waiting_first_and_acknowledged_once(cora, services, world):
    services.sweep.run()
    page = cora.get("/review/alerts")
    text = page.get_data(as_text=True)
    waiting = re.findall(r'<tr class="(reminder|escalation)" data-alert="(AL\d+)"', text)
    assert waiting, "the sweep should have raised the discharge's escalation"
    kinds = dict((alert_id, kind) for kind, alert_id in waiting)
    escalation = next(a for a, k in kinds.items() if k == "escalation")
    assert services.store.alerts.get(escalation)["referral_id"] == world.discharge["referral_id"]

    response = cora.post(f"/review/alerts/{escalation}/ack", data={"csrf_token": csrf_of(page)})

    assert response.status_code == 303
    after = cora.get("/review/alerts").get_data(as_text=True)
    assert f"Alert {escalation} acknowledged." in after
    assert f'<tr class="escalation" data-alert="{escalation}"' not in after
    assert re.search(rf'data-alert="{escalation}">.*?by cora', after, re.S)
    assert services.store.alerts.get(escalation)["acknowledged_by"] == "user:cora"
    again = cora.post(f"/review/alerts/{escalation}/ack", data={"csrf_token": csrf_of(page)})
    assert again.status_code == 409 and "acknowledged already" in again.get_data(as_text=True)


def test_a_steward_has_no_alerts_page(app, world):
    assert as_user(app, world, "sam").get("/review/alerts").status_code == 403


# ------------------------------------------------------------------------------------------- words and logs

def test_every_reason_state_and_step_has_its_words():
    assert set(REASON_WORDS) == set(ReasonCode)
    assert set(STATE_WORDS) == set(ReferralState)
    assert set(STEP_WORDS) == set(STEPS) - {ReferralState.SUBMITTED}


def test_referral_pages_log_ids_never_names_or_notes(cora, world, caplog):
    caplog.set_level(logging.DEBUG)
    rid = world.theodore["referral_id"]

    cora.get("/review/referrals")
    cora.get(f"/review/referrals/{rid}")
    post_step(cora, rid, state="acknowledged", note="Theodore Wojcik called back on 312-555-0199")
    post_step(cora, rid, state="cancelled", reason="need-resolved", note="Wojcik moved")

    assert rid in caplog.text
    for value in ("THEODORE", "WOJCIK", "1951-11-02", "312-555-0199", "CALLED BACK"):
        assert value not in caplog.text.upper()
