"""The review UI of ``POSSIBLE_DUPLICATE`` cases through the whole stack (Flask test client, real store): the queue
row, the case page's two persons side by side, merge (survivor chosen) and not-duplicate with their confirmations.
The browser test (``test_duplicate_browser.py``) drives the same pages in Chromium."""

from __future__ import annotations

import re

import pytest

from duplicate_cases import duplicate_case
from held_cases import band  # noqa: F401  (fixture)
from mpi.auth import add_user
from test_review_ui import post_action, sign_in


@pytest.fixture
def signed_in(client, services):
    assert sign_in(client, "stella", add_user(services.store, "stella", "steward")).status_code == 303
    return client


@pytest.fixture
def dup(services):
    return duplicate_case(services)


def text_of(response) -> str:
    """The page with its ids' links unwrapped (``<a href=…>MPI1</a>`` reads ``MPI1``), as a steward reads it."""
    return re.sub(r"<a href=\"[^\"]*\">([A-Z]+\d+)</a>", r"\1", response.get_data(as_text=True))


def test_the_queue_row_says_possible_duplicate_of_two_persons_and_filters_by_kind(signed_in, dup):
    html = text_of(signed_in.get("/review/"))
    row = re.search(rf'<tr[^>]*data-case="{dup.case_id}".*?</tr>', html, re.S).group(0)
    assert "possible duplicate: 2 persons" in row and "None / None" not in row

    assert dup.case_id in text_of(signed_in.get("/review/?kind=POSSIBLE_DUPLICATE"))
    assert dup.case_id not in text_of(signed_in.get("/review/?kind=POSSIBLE_MATCH"))


def test_the_case_page_shows_both_persons_side_by_side_with_the_evidence(signed_in, services, dup):
    html = text_of(signed_in.get(f"/review/cases/{dup.case_id}"))

    for person_id, source in ((dup.a, "st-marys-ehr / MRN-1"), (dup.b, "bluepath-mco / M-77")):
        side = re.search(rf'<article class="person-side"[^>]*data-person="{person_id}".*?</article>', html, re.S)
        assert side, f"no side for {person_id}"
        assert source in side.group(0) and "Quintanilla" in side.group(0)
    evidence = services.store.cases.get(dup.case_id)["candidates"][0]["evidence"]
    assert f'data-bars="{len(evidence) + 1}"' in html  # each entry, then the total
    assert html.count('name="survivor_id"') == 2
    assert f"Keep {dup.b}: {dup.a} merges into it" in html
    # A record's actions are not offered.
    assert "Make a new person" not in html and "Link to" not in html


def test_a_merge_from_the_page_confirms_who_merged_into_whom_with_the_undo_path(signed_in, services, dup):
    response = post_action(signed_in, dup.case_id, "merge", survivor_id=dup.b, reason="same human", version="1")

    assert response.status_code == 303
    page = text_of(signed_in.get(response.headers["Location"]))
    [merged] = [e for e in services.store.audit.events("review_case", dup.case_id) if e["action"] == "case.merged"]
    merge_id = merged["detail"]["merge_id"]
    assert f"{dup.a} merged into {dup.b} (merge {merge_id})" in page and f"Undo merge {merge_id}" in page
    assert services.store.persons.get(dup.a)["redirect_to"] == dup.b
    assert services.cases.get(dup.case_id)["resolution"] == "merged"


def test_a_merge_without_a_survivor_or_a_reason_is_refused_on_the_page(signed_in, services, dup):
    no_survivor = post_action(signed_in, dup.case_id, "merge", reason="same human", version="1")
    no_reason = post_action(signed_in, dup.case_id, "merge", survivor_id=dup.a, reason=" ", version="1")

    assert no_survivor.status_code == 422 and "Choose which person survives" in text_of(no_survivor)
    assert no_reason.status_code == 422 and "A reason is required" in text_of(no_reason)
    assert services.store.persons.get(dup.a)["status"] == "ACTIVE"


def test_not_a_duplicate_from_the_page_names_both_persons(signed_in, services, dup):
    response = post_action(signed_in, dup.case_id, "not-duplicate", reason="twins", version="1")

    assert response.status_code == 303
    page = text_of(signed_in.get(response.headers["Location"]))
    assert f"{dup.a} and {dup.b} are different people" in page
    assert services.store.cases.are_apart(dup.a, dup.b)
    for person_id in (dup.a, dup.b):  # each person's history shows the decision
        assert 'data-action="case.not_duplicate"' in text_of(signed_in.get(f"/review/persons/{person_id}"))


def test_a_merge_on_a_stale_page_is_a_409_and_changes_nothing(signed_in, services, dup):
    services.cases.claim(dup.case_id, "user:bob", "mine", 1)

    response = post_action(signed_in, dup.case_id, "merge", survivor_id=dup.a, reason="same", version="1")

    assert response.status_code == 409 and "changed by someone else" in text_of(response)
    assert services.store.persons.get(dup.b)["status"] == "ACTIVE"


def test_a_merge_posted_to_a_records_case_is_refused_and_changes_nothing(signed_in, services, band):
    from held_cases import PARTIAL, hold_in_review

    held = hold_in_review(services, PARTIAL)
    person = band.person_id
    response = post_action(signed_in, held, "merge", survivor_id=person, reason="same", version="1")

    assert response.status_code == 409 and "holds a record: link it" in text_of(response)
    assert services.cases.get(held)["state"] == "open" and services.store.persons.get(person)["status"] == "ACTIVE"
