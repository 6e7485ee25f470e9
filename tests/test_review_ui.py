"""The review UI through the whole stack (Flask test client, real store): sign-in, CSRF, pages, actions.

A case is made the way the matcher makes one: Marisol is stored, a sparser
record of her from another source is scored, and the policy's review band is
placed around the weight measured, so the record is held for a steward whatever
the shipped model's weights are today. The browser test
(``test_review_ui_browser.py``) drives the same pages in Chromium.
"""

from __future__ import annotations

import logging
import re
from datetime import date, timedelta

import pytest

from conftest import add_hub, record
from mpi.auth import add_user

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(response) -> str:
    match = CSRF.search(response.get_data(as_text=True))
    assert match, "the page carries no CSRF token"
    return match.group(1)


def sign_in(client, name: str, token: str):
    form = client.get("/review/sign-in")
    return client.post("/review/sign-in", data={"name": name, "token": token, "csrf_token": csrf_of(form)})


@pytest.fixture
def steward(services) -> tuple[str, str]:
    return "stella", add_user(services.store, "stella", "steward")


@pytest.fixture
def signed_in(client, steward):
    response = sign_in(client, *steward)
    assert response.status_code == 303, response.get_data(as_text=True)
    return client


@pytest.fixture
def held(services, activate_policy) -> dict:
    """A record of Marisol held for review with her person (and Theodore's) as the candidates' world."""
    matching = services.matching
    marisol = matching.submit(record("marisol", "st-marys-ehr", "MRN-1"), "test")
    theodore = matching.submit(record("theodore", "st-marys-ehr", "MRN-2"), "test")
    sparse = record("marisol", "bluepath-mco", "BPM-77", first_name="Mari", phone="", email="", ssn_last4="",
                    medicaid_id="", address_line2="")
    weight = matching.match(sparse, "test")["candidates"][0]["match_weight"]
    activate_policy(upper_match_weight=weight + 5, lower_match_weight=weight - 5)
    result = matching.submit(sparse, "test")
    assert result["decision"] == "POSSIBLE_MATCH"
    case = services.store.cases.get(result["review_case_id"])
    return {"case": case, "case_id": case["case_id"], "person_id": marisol["person_id"],
            "other_person": theodore["person_id"]}


def post_action(client, case_id: str, action: str, **form):
    page = client.get(f"/review/cases/{case_id}")
    data = {"csrf_token": csrf_of(page), **form}
    return client.post(f"/review/cases/{case_id}/{action}", data=data)


# ------------------------------------------------------------------------------------------ sign-in

@pytest.mark.parametrize("path", ["/review/", "/review/cases/RC00000001", "/review/persons/MPI00000001",
                                  "/review/audit", "/review/next"])
def test_review_pages_need_a_signed_in_steward(client, path):
    response = client.get(path)

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/review/sign-in?next=")


def test_steward_signs_in_with_name_and_token_and_signs_out(client, steward):
    response = sign_in(client, *steward)

    assert response.status_code == 303 and response.headers["Location"] == "/review/"
    queue = client.get("/review/")
    assert queue.status_code == 200 and "Review queue" in queue.get_data(as_text=True)
    assert "Signed in as <strong>stella</strong>" in queue.get_data(as_text=True)

    out = client.post("/review/sign-out", data={"csrf_token": csrf_of(queue)})

    assert out.status_code == 303
    assert client.get("/review/").status_code == 302


@pytest.mark.parametrize("who, status", [("wrong-token", 401), ("other-name", 401), ("hub", 403)])
def test_sign_in_refuses_a_wrong_token_another_users_name_and_a_hub(client, services, steward, who, status):
    hub_token = add_hub(services, "hubby")
    name, token = {"wrong-token": ("stella", "not-a-token"), "other-name": ("hubby", steward[1]),
                   "hub": ("hubby", hub_token)}[who]

    response = sign_in(client, name, token)

    assert response.status_code == status
    assert "Sign in to the review queue" in response.get_data(as_text=True)
    assert client.get("/review/").status_code == 302


def test_a_new_token_for_the_user_ends_their_old_sessions(signed_in, services):
    assert signed_in.get("/review/").status_code == 200

    add_user(services.store, "stella", "steward")

    assert signed_in.get("/review/").status_code == 302


@pytest.mark.parametrize("next_url", ["https://elsewhere.example/", "//elsewhere.example/review/", "/v1/persons/x",
                                      "/review/../v1/persons/x", "/review/../../v1/persons/MPI00000001",
                                      "/review/%2e%2e/v1/persons/x", "/review/./cases/../../v1/audit"])
def test_sign_in_only_returns_to_a_review_page(client, steward, next_url):
    form = client.get("/review/sign-in")
    response = client.post("/review/sign-in", data={"name": steward[0], "token": steward[1], "next": next_url,
                                                    "csrf_token": csrf_of(form)})

    assert response.headers["Location"] == "/review/"


def test_sign_in_returns_to_the_page_asked_for(client, steward, held):
    asked = client.get(f"/review/cases/{held['case_id']}").headers["Location"]
    form = client.get(asked)
    response = client.post(asked, data={"name": steward[0], "token": steward[1], "csrf_token": csrf_of(form)})

    assert response.headers["Location"] == f"/review/cases/{held['case_id']}"


# --------------------------------------------------------------------------------------------- CSRF

def test_sign_in_without_the_forms_csrf_token_is_refused(client, steward):
    client.get("/review/sign-in")

    response = client.post("/review/sign-in", data={"name": steward[0], "token": steward[1]})

    assert response.status_code == 400
    assert client.get("/review/").status_code == 302


@pytest.mark.parametrize("token", [None, "", "forged-token"])
def test_an_action_without_the_sessions_csrf_token_is_400_and_changes_nothing(signed_in, services, held, token):
    data = {"version": held["case"]["version"], "person_id": held["person_id"], "reason": "same person"}
    if token is not None:
        data["csrf_token"] = token

    response = signed_in.post(f"/review/cases/{held['case_id']}/link", data=data)

    assert response.status_code == 400
    assert services.store.cases.get(held["case_id"])["state"] == "open"
    assert not services.store.audit.events("record", "bluepath-mco/BPM-77", limit=50)[0]["action"].startswith("link")


def test_a_csrf_token_from_another_session_is_refused(app, services, steward, held):
    other = app.test_client()
    sign_in(other, *steward)
    foreign = csrf_of(other.get("/review/"))
    mine = app.test_client()
    sign_in(mine, *steward)

    response = mine.post(f"/review/cases/{held['case_id']}/link", data={
        "csrf_token": foreign, "version": held["case"]["version"], "person_id": held["person_id"], "reason": "x"})

    assert response.status_code == 400
    assert services.store.cases.get(held["case_id"])["state"] == "open"


# -------------------------------------------------------------------------------------------- pages

def test_queue_shows_the_waiting_case_with_counts(signed_in, held):
    page = signed_in.get("/review/").get_data(as_text=True)

    assert f'data-case="{held["case_id"]}"' in page
    assert "bluepath-mco / BPM-77" in page
    assert re.search(r'id="queue-total">1<', page)
    assert re.search(r'data-count="priority-routine">\s*<span class="n">1<', page)
    assert re.search(r'data-count="age-under_4h"><span class="n">1<', page)
    assert re.search(r'data-count="overdue">\s*<span class="n">0<', page)


def test_queue_filters_narrow_the_list(signed_in, held):
    assert held["case_id"] in signed_in.get("/review/?source_system=bluepath-mco").get_data(as_text=True)
    assert held["case_id"] not in signed_in.get("/review/?source_system=st-marys-ehr").get_data(as_text=True)
    assert held["case_id"] not in signed_in.get("/review/?priority=urgent").get_data(as_text=True)
    assert held["case_id"] not in signed_in.get("/review/?overdue=1").get_data(as_text=True)
    assert held["case_id"] not in signed_in.get("/review/?min_age_hours=24").get_data(as_text=True)


def test_next_opens_the_most_urgent_case(signed_in, held):
    assert signed_in.get("/review/next").headers["Location"] == f"/review/cases/{held['case_id']}"


def test_case_page_shows_the_inbound_record_beside_the_candidate_with_marks_and_waterfall(signed_in, held):
    response = signed_in.get(f"/review/cases/{held['case_id']}")
    page = response.get_data(as_text=True)

    assert response.status_code == 200
    candidate = held["case"]["candidates"][0]
    assert candidate["person_id"] == held["person_id"]
    assert f'id="candidate-{held["person_id"]}"' in page
    assert "st-marys-ehr / MRN-1" in page  # the candidate's record, beside the inbound one
    assert 'data-field="last_name" data-mark="agree"' in page
    assert 'data-field="birth_date" data-mark="agree"' in page
    assert re.search(r'data-field="phone" data-mark="missing"', page)  # the sparse record has no phone
    # One bar per evidence entry (prior and each comparison) and one for the total, which is the weight.
    bars = int(re.search(r'data-bars="(\d+)"', page).group(1))
    assert bars == len(candidate["evidence"]) + 1
    assert float(re.search(r'data-total="([-\d.]+)"', page).group(1)) == pytest.approx(candidate["match_weight"],
                                                                                       abs=0.01)
    assert "What this case blocks" in page and "Nothing yet" in page
    for action in ("link", "claim", "new-person", "not-duplicate", "hold", "withdraw"):
        assert f'action="/review/cases/{held["case_id"]}/{action}"' in page
    assert page.count('name="reason"') >= 6 and page.count("required") >= 6


def test_linking_to_the_candidate_resolves_the_case_and_the_queue_shrinks(signed_in, services, held):
    response = post_action(signed_in, held["case_id"], "link", version=held["case"]["version"],
                           person_id=held["person_id"], reason="same person: address and birth date agree")

    assert response.status_code == 303 and response.headers["Location"] == "/review/"
    queue = signed_in.get("/review/").get_data(as_text=True)
    pid = held["person_id"]
    assert f'record linked to <a href="/review/persons/{pid}">{pid}</a>' in queue  # the person, as a link
    assert re.search(r'id="queue-total">0<', queue) and held["case_id"] not in queue.split("<table")[1]
    assert services.store.cases.get(held["case_id"])["state"] == "resolved"
    person = signed_in.get(f"/review/persons/{held['person_id']}").get_data(as_text=True)
    assert 'data-record="bluepath-mco/BPM-77"' in person and "MANUAL" in person
    linked = services.store.audit.events("record", "bluepath-mco/BPM-77", limit=10)
    assert linked[0]["action"] == "link.created" and linked[0]["actor"] == "user:stella"
    assert linked[0]["reason"] == "same person: address and birth date agree"
    resolved = services.store.audit.events("review_case", held["case_id"], limit=10)
    assert resolved[0]["action"] == "case.linked" and resolved[0]["actor"] == "user:stella"


def test_an_action_without_a_reason_is_422_and_changes_nothing(signed_in, services, held):
    response = post_action(signed_in, held["case_id"], "link", version=held["case"]["version"],
                           person_id=held["person_id"], reason="   ")

    assert response.status_code == 422
    assert "A reason is required" in response.get_data(as_text=True)
    assert services.store.cases.get(held["case_id"])["state"] == "open"


def test_an_action_on_a_case_changed_since_it_was_shown_is_409(signed_in, services, held):
    stale = held["case"]["version"] - 1

    response = post_action(signed_in, held["case_id"], "link", version=stale, person_id=held["person_id"],
                           reason="same person")

    assert response.status_code == 409
    assert "changed by someone else" in response.get_data(as_text=True)
    assert services.store.cases.get(held["case_id"])["state"] == "open"


def test_linking_to_a_person_who_is_not_a_candidate_is_refused(signed_in, services, held):
    response = post_action(signed_in, held["case_id"], "link", version=held["case"]["version"],
                           person_id=held["other_person"], reason="same person")

    assert response.status_code == 422
    assert services.store.cases.get(held["case_id"])["state"] == "open"


@pytest.mark.parametrize(("action", "state", "resolution", "event"), [
    ("new-person", "resolved", "new_person", "case.new_person"),
    ("not-duplicate", "resolved", "not_duplicate", "case.not_duplicate"),
    ("withdraw", "withdrawn", None, "case.withdrawn"),
])
def test_each_closing_action_resolves_the_case_audited_and_back_to_the_queue(signed_in, services, held, action,
                                                                           state, resolution, event):
    response = post_action(signed_in, held["case_id"], action, version=held["case"]["version"], reason="checked")

    assert response.status_code == 303 and response.headers["Location"] == "/review/"
    case = services.store.cases.get(held["case_id"])
    assert (case["state"], case["resolution"]) == (state, resolution)
    (last, *_) = services.store.audit.events("review_case", held["case_id"], limit=10)
    assert (last["action"], last["actor"], last["reason"]) == (event, "user:stella", "checked")


def test_hold_then_release_puts_the_case_back_in_review(signed_in, services, held):
    follow_up = (date.today() + timedelta(days=3)).isoformat()
    response = post_action(signed_in, held["case_id"], "hold", version=held["case"]["version"],
                           reason="calling the client", follow_up=follow_up, note="ask about the birth date")

    assert response.status_code == 303
    case = services.store.cases.get(held["case_id"])
    assert case["state"] == "on_hold"
    page = signed_in.get(f"/review/cases/{held['case_id']}").get_data(as_text=True)
    assert follow_up in page
    response = post_action(signed_in, held["case_id"], "release", version=case["version"], reason="called back")
    assert response.status_code == 303
    assert services.store.cases.get(held["case_id"])["state"] == "in_review"


def test_person_page_shows_records_golden_view_and_history(signed_in, held):
    page = signed_in.get(f"/review/persons/{held['person_id']}").get_data(as_text=True)

    assert 'data-record="st-marys-ehr/MRN-1"' in page
    assert "QUINTANILLA" in page  # the golden view (normalised)
    assert 'data-action="link.created"' in page and 'data-action="person.created"' in page
    assert 'action="/review/persons/' + held["person_id"] + '/merge-preview"' in page  # a preview before any merge


def test_unknown_case_and_person_are_404_pages(signed_in):
    assert signed_in.get("/review/cases/RC99999999").status_code == 404
    response = signed_in.get("/review/persons/MPI99999999")
    assert response.status_code == 404 and "Not found" in response.get_data(as_text=True)


def test_audit_page_pages_back_by_event_id_and_filters(signed_in, services, held):
    with services.store.transaction():
        for i in range(60):
            services.store.audit.append("test", "test.event", "thing", f"T{i}", None, {"i": i})

    first = signed_in.get("/review/audit").get_data(as_text=True)
    older = re.search(r'href="([^"]+)" id="older"', first).group(1).replace("&amp;", "&")
    second = signed_in.get(older).get_data(as_text=True)

    ids = [re.findall(r'<td class="num"><a [^>]*>(\d+)</a></td>', p) for p in (first, second)]
    assert len(ids[0]) == 50 and ids[1] and not set(ids[0]) & set(ids[1])
    assert int(ids[0][-1]) > int(ids[1][0])
    case_only = signed_in.get(f"/review/audit?entity_id={held['case_id']}").get_data(as_text=True)
    assert re.search(r'id="audit-total">1<', case_only) and "case.opened" in case_only


def test_review_pages_are_never_cached_or_framed(signed_in):
    response = signed_in.get("/review/")

    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert "<script" not in response.get_data(as_text=True)
    assert signed_in.get("/review/static/review.css").status_code == 200


def test_review_ui_logs_ids_never_names_or_birth_dates(signed_in, held, caplog):
    caplog.set_level(logging.DEBUG)

    signed_in.get("/review/")
    signed_in.get(f"/review/cases/{held['case_id']}")
    post_action(signed_in, held["case_id"], "link", version=held["case"]["version"], person_id=held["person_id"],
                reason="Marisol Quintanilla, born 1984-03-17, confirmed by phone")
    signed_in.get(f"/review/persons/{held['person_id']}")

    text = caplog.text.upper()
    assert held["case_id"] in caplog.text
    for value in ("MARISOL", "QUINTANILLA", "1984-03-17", "PEACHTREE"):
        assert value not in text
