"""``GET /v1/metrics/matching`` and its page: auto-link precision with Wilson intervals, on a store built to known counts.

The store (:func:`world`) is made as production makes it, on a fixed clock over two weeks of November 2026,
every auto-link drawn for a spot-check (1 in 1):

- week of 2 Nov: three persons from St Mary's; BP-1 and BP-2 (bluepath-mco) and FB-3 (foodbank-cbo) auto-linked;
- week of 9 Nov: FB-1 and FB-2 (foodbank-cbo) auto-linked; a partial record held for review (POSSIBLE_MATCH);
- answers: BP-1, FB-3, FB-1 confirmed; BP-2 rejected (its link undone); FB-2 left open, but a steward links it
  to another person by hand (an auto-link undone another way).

So: 5 auto-links, 2 undone; 5 spot-checks, 3 confirmed, 1 rejected, 1 open; 9 decisions, 1 held.
"""

from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from api import create_app
from conftest import activate_policy_on, record
from mpi.auth import add_user
from mpi.clock import FixedClock
from mpi.errors import ValidationError
from mpi.services import Services
from mpi.stewardship.matching_metrics import wilson
from test_review_ui import sign_in

WEEK_1 = datetime(2026, 11, 2, 15, 0, tzinfo=timezone.utc)  # a Monday
WEEK_2 = datetime(2026, 11, 9, 15, 0, tzinfo=timezone.utc)
STEWARD = "user:alice"
pytestmark = pytest.mark.both_stores

PARTIAL = {"source_system": "foodbank-cbo", "source_record_id": "FB-9", "first_name": "Marisol",
           "last_name": "Quintanilla", "birth_date": "1984-03-17"}


def rounded(pair):
    return tuple(round(v, 4) for v in pair)


# --------------------------------------------------------------------------------------------- the interval

@pytest.mark.parametrize(("successes", "n", "low", "high"), [
    (8, 10, 0.4902, 0.9433),   # the textbook example (Agresti & Coull; statsmodels proportion_confint wilson)
    (95, 100, 0.8882, 0.9785),
    (0, 10, 0.0, 0.2775),
    (10, 10, 0.7225, 1.0),
    (1, 2, 0.0945, 0.9055),
])
def test_the_wilson_interval_gives_the_published_values(successes, n, low, high):
    assert rounded(wilson(successes, n)) == (low, high)


def test_the_wilson_interval_of_nothing_is_none():
    assert wilson(0, 0) == (None, None)


# ------------------------------------------------------------------------------------------------ the store

@pytest.fixture
def world(store_location, models_dir):
    clock = FixedClock(WEEK_1)
    services = Services({"MPI_DB": store_location, "MPI_MODELS_DIR": str(models_dir),
                         "MPI_SPOT_CHECK_ONE_IN": "1"}, clock=clock)
    services.ensure_active_model("test")
    submit = lambda *a: services.matching.submit(record(*a), "test")
    persons = {name: submit(name, "st-marys-ehr", f"MRN-{name}")["person_id"]
               for name in ("marisol", "theodore", "desmond")}
    for name, system, rid in (("marisol", "bluepath-mco", "BP-1"), ("theodore", "bluepath-mco", "BP-2"),
                              ("desmond", "foodbank-cbo", "FB-3")):
        assert submit(name, system, rid)["decision"] == "MATCH"
    clock.set(WEEK_2)
    for name, rid in (("marisol", "FB-1"), ("theodore", "FB-2")):
        assert submit(name, "foodbank-cbo", rid)["decision"] == "MATCH"
    weight = services.matching.match(PARTIAL, "test")["candidates"][0]["match_weight"]
    activate_policy_on(services, lower_match_weight=weight - 3, upper_match_weight=weight + 3)
    assert services.matching.submit(PARTIAL, "test")["decision"] == "POSSIBLE_MATCH"
    cases = {c["source_record_id"]: c["case_id"] for c in services.cases.queue(kind="SPOT_CHECK")}
    assert set(cases) == {"BP-1", "BP-2", "FB-3", "FB-1", "FB-2"}
    for rid in ("BP-1", "FB-3", "FB-1"):
        services.spot_checks.confirm(cases[rid], STEWARD, "same person", 1)
    services.spot_checks.reject(cases["BP-2"], STEWARD, "another man", 1)
    services.matching.link_manually("foodbank-cbo", "FB-2", persons["desmond"], STEWARD, "the food bank's error")
    yield SimpleNamespace(services=services, clock=clock, persons=persons, cases=cases)
    services.close()


def spot(estimate, successes, n):
    low, high = rounded(wilson(successes, n))
    return {"estimate": estimate, "low": low, "high": high, "n": n, "method": "wilson-95"}


def undone(links, taken):
    low, high = rounded(wilson(links - taken, links))
    return {"auto_links": links, "undone_or_unmerged": taken, "estimate": round(1 - taken / links, 4),
            "low": low, "high": high, "method": "wilson-95"}


def test_the_precision_estimates_and_their_intervals_over_everything(world):
    m = world.services.matching_metrics.measure({})

    assert m["auto_links"] == 5
    assert m["spot_checks"] == {"sampled": 5, "confirmed": 3, "rejected": 1, "open": 1}
    assert m["precision"]["from_spot_checks"] == spot(0.75, 3, 4)
    assert m["precision"]["from_spot_checks"]["low"] == 0.3006
    assert m["precision"]["from_spot_checks"]["high"] == 0.9544
    assert m["precision"]["from_undone"] == undone(5, 2)
    assert (m["precision"]["from_undone"]["low"], m["precision"]["from_undone"]["high"]) == (0.2307, 0.8824)
    assert m["review_share"] == {"records_decided": 9, "held": 1, "share": 0.1111}
    assert m["decisions_by_case_kind"] == {"SPOT_CHECK": {"confirmed": 3, "rejected": 1}}
    assert m["period"] == {"from": None, "to": WEEK_2.date(), "bucket": "month"}


def test_the_estimates_by_source_system(world):
    rows = {r["source_system"]: r for r in world.services.matching_metrics.measure({})["by_source_system"]}

    assert list(rows) == ["bluepath-mco", "foodbank-cbo"]
    blue, food = rows["bluepath-mco"], rows["foodbank-cbo"]
    assert (blue["auto_links"], blue["spot_checks"]) == (2, {"sampled": 2, "confirmed": 1, "rejected": 1, "open": 0})
    assert blue["precision"] == {"from_spot_checks": spot(0.5, 1, 2), "from_undone": undone(2, 1)}
    assert (food["auto_links"], food["spot_checks"]) == (3, {"sampled": 3, "confirmed": 2, "rejected": 0, "open": 1})
    assert food["precision"] == {"from_spot_checks": spot(1.0, 2, 2), "from_undone": undone(3, 1)}


def test_the_estimates_over_time_by_week_and_by_month(world):
    metrics = world.services.matching_metrics
    weeks = metrics.measure({"bucket": "week"})["over_time"]
    months = metrics.measure({"bucket": "month"})["over_time"]

    assert [(str(w["period"]), w["auto_links"], w["spot_checks"]["confirmed"], w["spot_checks"]["rejected"],
             w["spot_checks"]["open"], w["precision"]["from_undone"]["undone_or_unmerged"]) for w in weeks] == [
        ("2026-11-02", 3, 2, 1, 0, 1), ("2026-11-09", 2, 1, 0, 1, 1)]
    assert weeks[0]["precision"]["from_spot_checks"] == spot(0.6667, 2, 3)
    assert [(str(m["period"]), m["auto_links"]) for m in months] == [("2026-11-01", 5)]


def test_a_period_counts_only_its_own_links_and_decisions(world):
    m = world.services.matching_metrics.measure({"from": "2026-11-09", "to": "2026-11-15"})
    first_week = world.services.matching_metrics.measure({"from": "2026-11-02", "to": "2026-11-08"})

    assert (m["auto_links"], m["spot_checks"]["sampled"]) == (2, 2)
    assert m["precision"]["from_undone"] == undone(2, 1)
    assert m["review_share"] == {"records_decided": 3, "held": 1, "share": 0.3333}
    assert (first_week["auto_links"], first_week["review_share"]["records_decided"]) == (3, 6)
    assert first_week["decisions_by_case_kind"] == {}  # every answer was given in the second week


def test_with_nothing_to_estimate_from_the_estimates_are_null(services):
    m = services.matching_metrics.measure({})

    assert m["auto_links"] == 0
    assert m["precision"]["from_spot_checks"] == {"estimate": None, "low": None, "high": None, "n": 0,
                                                  "method": "wilson-95"}
    assert m["precision"]["from_undone"]["estimate"] is None
    assert (m["by_source_system"], m["over_time"], m["review_share"]["share"]) == ([], [], None)


def test_bad_parameters_are_named_together(services):
    with pytest.raises(ValidationError) as bad:
        services.matching_metrics.measure({"from": "last week", "bucket": "day"})
    with pytest.raises(ValidationError) as backwards:
        services.matching_metrics.measure({"from": "2026-11-10", "to": "2026-11-01"})

    assert set(bad.value.errors) == {"from", "bucket"}
    assert set(backwards.value.errors) == {"to"}


# --------------------------------------------------------------------------------------------------- the API

@pytest.fixture
def api(world):
    app = create_app(services=world.services)
    app.config["TESTING"] = True
    tokens = {role: add_user(world.services.store, f"u-{role}", role) for role in ("steward", "admin", "auditor")}
    return SimpleNamespace(client=app.test_client(), app=app, tokens=tokens)


def _headers(token):
    return {"Authorization": f"Bearer {token}"}


def test_the_api_answers_the_measures_to_stewards_admins_and_auditors(api):
    answers = {role: api.client.get("/v1/metrics/matching?bucket=week", headers=_headers(api.tokens[role]))
               for role in ("steward", "admin", "auditor")}

    for role, answer in answers.items():
        assert answer.status_code == 200, (role, answer.json)
    body = answers["steward"].json
    assert body["precision"]["from_spot_checks"] == {**spot(0.75, 3, 4)}
    assert [w["period"] for w in body["over_time"]] == ["2026-11-02", "2026-11-09"]
    assert body["period"] == {"from": None, "to": "2026-11-09", "bucket": "week"}
    assert body["decisions_by_case_kind"] == {"SPOT_CHECK": {"confirmed": 3, "rejected": 1}}


def test_the_api_refuses_a_hub_and_a_caller_without_a_token(api, world):
    from conftest import add_hub
    hub = add_hub(world.services, "hub-m")

    assert api.client.get("/v1/metrics/matching", headers=_headers(hub)).status_code == 403
    assert api.client.get("/v1/metrics/matching").status_code == 401


@pytest.mark.parametrize(("query", "fields"), [
    ("from=yesterday", {"from"}),
    ("to=2026-13-01", {"to"}),
    ("bucket=day", {"bucket"}),
    ("from=2026-11-10&to=2026-11-01", {"to"}),
])
def test_the_api_names_each_bad_parameter_in_a_422(api, query, fields):
    answer = api.client.get(f"/v1/metrics/matching?{query}", headers=_headers(api.tokens["steward"]))

    assert answer.status_code == 422
    assert answer.json["code"] == "validation_error"
    assert set(answer.json["errors"]) >= fields


# ------------------------------------------------------------------------------------------------- the page

def test_the_page_shows_the_estimates_with_their_intervals_as_text_and_svg(api):
    client = api.client
    sign_in(client, "u-steward", api.tokens["steward"])

    page = client.get("/review/metrics/matching?bucket=week")
    html = page.get_data(as_text=True)

    assert page.status_code == 200
    assert 'id="precision-spot">0.7500<' in html
    assert 'id="precision-spot-interval">95% interval 0.3006 to 0.9544<' in html
    assert 'id="precision-undone">0.6000<' in html
    assert 'id="precision-undone-interval">95% interval 0.2307 to 0.8824<' in html
    assert "0.5000 (95% interval 0.0945 to 0.9055) · 2 answered" in html  # bluepath-mco's row, as text
    assert 'data-row="bluepath-mco"' in html and 'data-row="foodbank-cbo"' in html
    assert 'data-row="2026-11-02"' in html and 'data-row="2026-11-09"' in html
    assert html.count('<svg class="interval"') == 8  # two estimates a row, two systems and two weeks
    assert "<script" not in html
    assert 'id="review-share">11.1%<' in html and "1 of 9 decisions held for a steward" in html
    assert "Quintanilla" not in html and "Marisol" not in html  # counts, codes and ids only


def test_the_page_names_a_bad_period(api):
    client = api.client
    sign_in(client, "u-steward", api.tokens["steward"])
    bad = client.get("/review/metrics/matching?from=2026-11-10&to=2026-11-01")

    assert bad.status_code == 422
    assert 'id="matching-errors"' in bad.get_data(as_text=True)


def test_an_auto_link_an_unmerge_takes_away_from_its_person_counts_as_undone(services):
    """BP-1 is auto-linked to Marisol's person S, then (updated with Theodore's details) moved by the matcher to
    Theodore's T; T is merged into S and the merge undone: the unmerge takes BP-1 away from S. The first auto-link
    (to S) is undone; the second (to T, where the unmerge leaves it) is not."""
    services.ensure_active_model("test")
    s = services.matching.submit(record("marisol", "st-marys-ehr", "MRN-1"), "test")["person_id"]
    t = services.matching.submit(record("theodore", "st-marys-ehr", "MRN-2"), "test")["person_id"]
    assert services.matching.submit(record("marisol", "bluepath-mco", "BP-1"), "test")["person_id"] == s
    assert services.matching.submit(record("theodore", "bluepath-mco", "BP-1"), "test")["person_id"] == t
    merge_id = services.merges.merge(s, t, STEWARD, "one human, we thought")
    before = services.matching_metrics.measure({})["precision"]["from_undone"]

    services.merges.unmerge(merge_id, STEWARD, "two humans after all")

    after = services.matching_metrics.measure({})["precision"]["from_undone"]
    assert (before["auto_links"], before["undone_or_unmerged"]) == (2, 0)
    assert after == undone(2, 1)
    assert services.store.records.get("bluepath-mco", "BP-1")["link"]["person_id"] == t
