"""The loop measures (``GET /v1/metrics/referrals``) over referrals built through the real services.

The network's performers keep Monday-Friday 09:00-17:00 in Atlanta, and the
clock starts on Monday 23 November 2026 at 10:00 there; each referral's steps are
taken as the clock moves on, so the business hours each clock took are known:

=====  ===========================================================================  ====  ======  ==========
 ref   steps (Atlanta time; foodbank performs unless noted)                          ack   triage  contact
=====  ===========================================================================  ====  ======  ==========
 A     ack Mon 12:00, in triage Mon 16:00, accepted Tue 10:00, in progress Tue 12:00,  2 h   6 h     10 h
       completed Wed 10:00
 B     ack Tue 12:00, declined (no-capacity) Wed 10:00                               10 h   16 h    -
 C     ack Mon 16:00, accepted Wed 12:00                                              6 h   18 h    -
 D     nothing: still submitted                                                        -     -       -
 E     redirected to homebase (no-capacity) Mon 12:00                                 2 h    2 h    -
 F     E's successor at homebase, received Mon 12:00: still submitted                  -     -       -
 G     declined (client-declined, the client's call) Mon 12:00                        2 h    2 h    -
=====  ===========================================================================  ====  ======  ==========

Food, routine: targets of 8 business hours to acknowledge, 16 to triage, 24 to
first contact; one business day is 8 hours. The measures are read at Wednesday
13:00, when D (due Tuesday 10:00) and F (due Tuesday 12:00) are past their
acknowledgement target with no answer.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from api import create_app
from conftest import SHIPPED_MODELS, record
from mpi.auth import add_user
from mpi.clock import FixedClock
from mpi.services import DEFAULT_MODEL_VERSION, Services
from referral_network import MONDAY_10AM, build, clock, net_client, net_services, network, referral_body  # noqa: F401
from test_api_errors import assert_error

pytestmark = pytest.mark.both_stores

URL = "/v1/metrics/referrals"
#: Wednesday 25 November 2026, 13:00 in Atlanta: when the measures are read.
WEDNESDAY_1PM = MONDAY_10AM + timedelta(days=2, hours=3)


def at(clock, hours_after_monday_10am: float) -> None:
    clock.set(MONDAY_10AM + timedelta(hours=hours_after_monday_10am))


def submit(services, network, ref: str, person: dict | None = None, **changes) -> str:
    """Send a referral from St Mary's (of Marisol, or of the record ``person``); returns its id."""
    referral, _ = services.referrals.submit(referral_body(ref=ref, person=person, **changes),
                                            network.callers["hub-stmarys"])
    return referral["referral_id"]


def step(services, network, referral_id: str, state: str, by: str = "hub-foodbank", **body) -> dict:
    return services.referrals.change_status(referral_id, {"state": state, **body}, network.callers[by])


def take_steps(services, network, clock) -> dict[str, str]:
    """The seven referrals of the module docstring, as the clock moves on; returns their ids by letter."""
    s, n = services, network
    ids = {ref: submit(s, n, ref) for ref in "ABCDEG"}
    at(clock, 2)  # Mon 12:00
    step(s, n, ids["A"], "acknowledged")
    redirected = step(s, n, ids["E"], "redirected", performer="homebase", reason="no-capacity")
    ids["F"] = redirected["successor_ids"][0]
    step(s, n, ids["G"], "declined", reason="client-declined")
    at(clock, 6)  # Mon 16:00
    step(s, n, ids["A"], "in_triage")
    step(s, n, ids["C"], "acknowledged")
    at(clock, 24)  # Tue 10:00
    step(s, n, ids["A"], "accepted")
    at(clock, 26)  # Tue 12:00
    step(s, n, ids["A"], "in_progress")
    step(s, n, ids["B"], "acknowledged")
    at(clock, 48)  # Wed 10:00
    step(s, n, ids["A"], "completed")
    step(s, n, ids["B"], "declined", reason="no-capacity")
    at(clock, 50)  # Wed 12:00
    step(s, n, ids["C"], "accepted")
    clock.set(WEDNESDAY_1PM)
    return ids


@pytest.fixture
def loop(net_services, network, clock) -> dict[str, str]:
    """The seven referrals on the network's fixtures, for a test that changes them further."""
    return take_steps(net_services, network, clock)


@pytest.fixture(scope="module")
def measured(tmp_path_factory, module_store_location) -> SimpleNamespace:
    """The seven referrals built once for the tests that only read them: ``services``, ``network``, ``app``, ``ids``.

    The same network (``referral_network.build``) on a module's own store: building the loop costs about a
    second, and a dozen tests read it without changing it.
    """
    folder = tmp_path_factory.mktemp("measured")
    models = folder / "models"
    models.mkdir()
    shutil.copy(SHIPPED_MODELS / f"{DEFAULT_MODEL_VERSION}.json", models)
    clock = FixedClock(MONDAY_10AM)
    services = Services({"MPI_DB": module_store_location, "MPI_MODELS_DIR": str(models)}, clock=clock)
    network = build(services)
    ids = take_steps(services, network, clock)
    app = create_app(services=services)
    app.config["TESTING"] = True
    yield SimpleNamespace(services=services, network=network, app=app, ids=ids)
    services.close()


def measures(client, network, user: str = "hub-stmarys", **query) -> dict:
    response = client.get(URL, query_string=query, headers=network.headers[user])
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def read(measured, user: str = "hub-stmarys", **query) -> dict:
    """The measures of the module's seven referrals, as ``user`` asks for them."""
    return measures(measured.app.test_client(), measured.network, user, **query)


# -- the measures ------------------------------------------------------------------------------------------


def test_shares_count_each_clock_met_within_its_target_over_every_referral_received(measured):
    body = read(measured)

    assert body["referrals"] == 7
    assert body["acknowledged_within_1_business_day"] == {"count": 4, "of": 7, "share": 0.5714}
    assert body["acknowledged_within_target"] == {"count": 4, "of": 7, "share": 0.5714}
    assert body["triaged_within_target"] == {"count": 4, "of": 7, "share": 0.5714}  # B at exactly 16 h counts
    assert body["first_contact_within_target"] == {"count": 1, "of": 7, "share": 0.1429}


def test_intervals_are_the_median_and_90th_percentile_of_business_hours_of_the_clocks_met(measured):
    intervals = read(measured)["intervals"]

    # acknowledged in 2, 2, 2, 6, 10 h; triaged in 2, 2, 6, 16, 18 h; first contact in 10 h
    assert intervals["to_acknowledge"] == {"n": 5, "median_business_hours": 2.0, "p90_business_hours": 8.4}
    assert intervals["to_triage"] == {"n": 5, "median_business_hours": 6.0, "p90_business_hours": 17.2}
    assert intervals["to_first_contact"] == {"n": 1, "median_business_hours": 10.0, "p90_business_hours": 10.0}


def test_acceptance_is_of_referrals_decided_and_completion_of_those_accepted(measured):
    body = read(measured)

    assert body["acceptance_rate"] == {"count": 2, "of": 5, "share": 0.4}  # A, C of A, B, C, E, G
    assert body["completion_rate"] == {"count": 1, "of": 2, "share": 0.5}
    assert body["redirects"] == 1


def test_a_verified_start_or_a_coded_close_documents_what_became_of_a_referral(measured):
    assert read(measured)["verified_start_or_documented_non_start"] == {
        "count": 4, "of": 7, "share": 0.5714}  # A started; B, G declined and E redirected with a reason


def test_declines_are_counted_by_reason_and_the_party_that_made_the_call(measured):
    assert read(measured)["declines_by_reason"] == [
        {"reason": "client-declined", "party": "client", "count": 1},
        {"reason": "no-capacity", "party": "provider", "count": 1},
    ]


def test_overdue_and_unanswered_referrals_are_counted_at_now_by_the_clock_they_wait_on(measured):
    body = read(measured)

    assert body["overdue"] == {"count": 2, "by_clock": {"acknowledge": 2, "triage": 0, "first_contact": 0}}
    assert body["status_unknown_beyond_target"] == {"count": 2, "of": 7, "share": 0.2857}  # D and F
    assert body["as_of"] == WEDNESDAY_1PM.isoformat()


def test_a_late_answer_ends_the_unknown_status_but_misses_the_business_day(loop, net_services, network, net_client,
                                                                          clock):
    step(net_services, network, loop["D"], "acknowledged")

    body = measures(net_client, network)
    assert body["status_unknown_beyond_target"]["count"] == 1  # F only
    assert body["acknowledged_within_1_business_day"]["count"] == 4  # D took 19 business hours


def test_a_period_with_no_referral_gives_counts_of_zero_and_no_shares(measured):
    body = read(measured, **{"from": "2026-11-24"})

    assert body["referrals"] == 0
    assert body["acknowledged_within_1_business_day"] == {"count": 0, "of": 0, "share": None}
    assert body["intervals"]["to_acknowledge"] == {"n": 0, "median_business_hours": None, "p90_business_hours": None}
    assert body["gated"] == {"count": 0, "total_hours": 0.0, "median_hours": None}


# -- the period and the filters -------------------------------------------------------------------------------


def test_the_default_period_is_the_30_days_up_to_now_including_now(net_services, network, net_client):
    submit(net_services, network, "NOW")  # received at the clock's very instant

    body = measures(net_client, network)
    assert body["referrals"] == 1
    assert body["period"] == {"from": (MONDAY_10AM - timedelta(days=30)).isoformat(),
                              "to": MONDAY_10AM.isoformat(), "interval": None}


def test_to_is_exclusive_and_dates_are_utc_midnights(measured):
    monday_10am = MONDAY_10AM.isoformat().replace("+00:00", "Z")
    just_after = (MONDAY_10AM + timedelta(seconds=1)).isoformat()

    assert read(measured, **{"from": "2026-11-01", "to": monday_10am})["referrals"] == 0
    assert read(measured, **{"from": "2026-11-01", "to": just_after})["referrals"] == 6  # not F
    assert read(measured, **{"from": "2026-11-23", "to": "2026-11-24"})["referrals"] == 7
    assert read(measured, **{"from": "2026-11-24", "to": "2026-11-25"})["referrals"] == 0


def test_filters_by_performer_requester_service_type_and_urgency_repeatable(loop, net_services, network,
                                                                          net_client):
    submit(net_services, network, "U1", urgency="urgent", performer="homebase", service_type="housing")

    assert measures(net_client, network, performer="homebase")["referrals"] == 2  # F and U1
    assert measures(net_client, network, performer=["foodbank", "homebase"])["referrals"] == 8
    assert measures(net_client, network, performer="foodbank,homebase")["referrals"] == 8
    assert measures(net_client, network, urgency="urgent")["referrals"] == 1
    assert measures(net_client, network, service_type="housing", urgency=["urgent", "routine"])["referrals"] == 1
    assert measures(net_client, network, requester="bluepath")["referrals"] == 0
    body = measures(net_client, network, performer="homebase", urgency="routine")
    assert body["referrals"] == 1 and body["status_unknown_beyond_target"]["count"] == 1
    assert body["filters"] == {"performer": ["homebase"], "requester": [], "service_type": [],
                               "urgency": ["routine"]}


def test_a_hub_measures_only_the_referrals_its_organisation_requested_or_performs(measured):
    assert read(measured, "hub-foodbank")["referrals"] == 6  # not F, homebase's
    homebase = read(measured, "hub-homebase")
    assert homebase["referrals"] == 1
    assert homebase["declines_by_reason"] == [] and homebase["redirects"] == 0
    assert read(measured, "hub-bluepath")["referrals"] == 0
    assert read(measured, "cora")["referrals"] == 6  # a foodbank coordinator
    assert read(measured, "sam")["referrals"] == 7  # a steward reads every referral
    assert read(measured, "hub-foodbank", performer="homebase")["referrals"] == 0


def test_a_series_has_one_entry_per_bucket_empty_ones_included(measured):
    body = read(measured, **{"from": "2026-11-22", "to": "2026-11-25", "interval": "day"})

    assert [e["period_start"] for e in body["series"]] == ["2026-11-22", "2026-11-23", "2026-11-24"]
    empty, monday, _ = body["series"]
    assert empty == {"period_start": "2026-11-22", "referrals": 0, "acknowledged_within_1_business_day": None,
                     "acknowledged_within_target": None, "triaged_within_target": None,
                     "first_contact_within_target": None, "acceptance_rate": None, "completion_rate": None}
    assert monday == {"period_start": "2026-11-23", "referrals": 7, "acknowledged_within_1_business_day": 0.5714,
                      "acknowledged_within_target": 0.5714, "triaged_within_target": 0.5714,
                      "first_contact_within_target": 0.1429, "acceptance_rate": 0.4, "completion_rate": 0.5}
    weeks = read(measured, **{"from": "2026-11-01", "to": "2026-12-01", "interval": "week"})["series"]
    assert [e["period_start"] for e in weeks] == ["2026-10-26", "2026-11-02", "2026-11-09", "2026-11-16",
                                                  "2026-11-23", "2026-11-30"]  # ISO weeks: Mondays
    months = read(measured, **{"from": "2026-10-15", "to": "2026-12-02", "interval": "month"})
    assert [(e["period_start"], e["referrals"]) for e in months["series"]] == [
        ("2026-10-01", 0), ("2026-11-01", 7), ("2026-12-01", 0)]
    assert "series" not in read(measured)


# -- gated referrals ---------------------------------------------------------------------------------------------


def hold_sparse_records(services) -> None:
    """Activate a copy of the model whose review band holds a sparse record of Marisol for a steward."""
    services.matching.submit(record("marisol", "st-marys-ehr", "MRN-FULL"), "test")
    weight = services.matching.match(sparse("MRN-X"), "test")["candidates"][0]["match_weight"]
    active = services.matching.active_model()
    document = json.loads(services.registry.path_of(active.version).read_text())
    document["version"] = f"{active.version}-metrics-test"
    document["policy"] = {**document["policy"], "upper_match_weight": weight + 5, "lower_match_weight": weight - 5}
    services.registry.save(document)
    services.models.activate(document["version"], "test")


def sparse(record_id: str) -> dict:
    return record("marisol", "st-marys-ehr", record_id, first_name="Mari", phone="", email="", ssn_last4="",
                  medicaid_id="", address_line2="")


def test_gated_time_adds_up_time_gated_so_far_for_referrals_still_gated(net_services, network, net_client, clock):
    hold_sparse_records(net_services)
    lifted = submit(net_services, network, "G1", sparse("MRN-G1"))
    held = submit(net_services, network, "G2", sparse("MRN-G2"))
    submit(net_services, network, "N1")
    case_id = net_services.store.referrals.get(lifted)["review_case_id"]
    assert case_id and net_services.store.referrals.get(held)["gate"] == "identity_pending"
    at(clock, 24)
    case = net_services.cases.get(case_id)
    net_services.cases.resolve_linked(case_id, case["candidates"][0]["person_id"], "user:sam", "same person",
                                      expected_version=case["version"])
    assert net_services.store.referrals.get(lifted)["gate"] is None
    at(clock, 50)

    body = measures(net_client, network)
    assert body["referrals"] == 3
    assert body["gated"] == {"count": 2, "total_hours": 74.0, "median_hours": 37.0}  # 24 h, and 50 h so far


# -- CSV -----------------------------------------------------------------------------------------------------------


def test_csv_has_a_metric_value_row_per_measure_with_dotted_names_and_plain_numbers(measured):
    response = measured.app.test_client().get(URL, query_string={"format": "csv", "from": "2026-11-23", "to": "2026-11-24",
                                                 "interval": "day"}, headers=measured.network.headers["sam"])

    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["metric", "value"]
    values = dict(rows[1:])
    assert len(values) == len(rows) - 1
    assert values["referrals"] == "7"
    assert values["acknowledged_within_1_business_day.share"] == "0.5714"
    assert values["acknowledged_within_1_business_day.of"] == "7"
    assert values["intervals.to_acknowledge.p90_business_hours"] == "8.4"
    assert values["intervals.to_first_contact.n"] == "1"
    assert values["overdue.by_clock.acknowledge"] == "2"
    assert values["declines_by_reason.no-capacity.provider"] == "1"
    assert values["declines_by_reason.client-declined.client"] == "1"
    assert values["gated.median_hours"] == ""
    assert values["period.from"] == "2026-11-23T00:00:00+00:00"
    assert values["series.2026-11-23.referrals"] == "7"
    assert values["series.2026-11-23.completion_rate"] == "0.5"
    assert not any(name.startswith("filters") for name in values)


# -- refusals ------------------------------------------------------------------------------------------------------


def test_422_names_every_bad_parameter_at_once(measured):
    response = measured.app.test_client().get(URL, query_string={"from": "yesterday", "to": "2026-13-01", "urgency": ["soon", "urgent"],
                                                 "interval": "hour", "format": "xml", "performer": "nowhere",
                                                 "requester": "st-marys"}, headers=measured.network.headers["sam"])

    body = assert_error(response, 422, "validation_error")
    assert set(body["errors"]) == {"from", "to", "urgency", "interval", "format", "performer"}
    assert "nowhere" in body["errors"]["performer"][0]


def test_422_when_the_period_ends_before_it_starts_or_has_too_many_buckets(measured):
    client, headers = measured.app.test_client(), measured.network.headers["sam"]
    backwards = client.get(URL, query_string={"from": "2026-11-20", "to": "2026-11-10"}, headers=headers)
    assert assert_error(backwards, 422, "validation_error")["errors"] == {"to": ["must be after from"]}
    decades = client.get(URL, query_string={"from": "2000-01-01", "to": "2026-01-01", "interval": "day"},
                         headers=headers)
    assert list(assert_error(decades, 422, "validation_error")["errors"]) == ["interval"]


def test_401_without_a_token_and_403_for_a_caller_of_no_organisation(net_services, network, net_client):
    assert_error(net_client.get(URL), 401, "unauthorized")
    token = add_user(net_services.store, "audrey", "auditor")
    response = net_client.get(URL, headers={"Authorization": f"Bearer {token}"})
    assert_error(response, 403, "forbidden")


def test_the_openapi_document_describes_the_query_and_the_measures(measured):
    spec = measured.app.test_client().get("/v1/openapi.json").get_json()

    operation = spec["paths"][URL]["get"]
    query = {p["name"] for p in operation["parameters"] if p["in"] == "query"}
    assert query == {"from", "to", "performer", "requester", "service_type", "urgency", "interval", "format"}
    assert {"200", "422", "403"} <= set(operation["responses"])
    schema = spec["components"]["schemas"]["ReferralMetrics"]
    assert {"acknowledged_within_1_business_day", "intervals", "declines_by_reason", "overdue", "gated",
            "status_unknown_beyond_target", "series"} <= set(schema["properties"])


def test_the_outcome_stamps_are_those_the_history_shows(measured):
    """The measures read each referral's outcome stamps; the history they summarise agrees with them."""
    rows = measured.services.store.db.query(
        "SELECT r.referral_id, r.accepted_at IS NOT NULL, r.declined_at IS NOT NULL, r.redirected_at IS NOT NULL, "
        "r.completed_at IS NOT NULL, coalesce(bool_or(e.to_state IN ('accepted', 'in_progress', 'completed')), false), "
        "coalesce(bool_or(e.to_state = 'declined'), false), coalesce(bool_or(e.to_state = 'redirected'), false), "
        "coalesce(bool_or(e.to_state = 'completed'), false) FROM referrals r LEFT JOIN referral_events e "
        "ON e.referral_id = r.referral_id AND e.kind = 'status' GROUP BY ALL")
    assert len(rows) == 7
    assert all(row[1:5] == row[5:9] for row in rows), rows
    stamps = {r[0]: r[1:5] for r in rows}
    assert stamps[measured.ids["A"]] == (True, False, False, True)
    assert stamps[measured.ids["E"]] == (False, False, True, False)
    assert measured.services.store.referrals.get(measured.ids["A"])["accepted_at"] == datetime(2026, 11, 24, 15, tzinfo=timezone.utc)


def test_the_default_period_ending_at_midnight_still_has_a_bucket_for_that_instant():
    from mpi.referrals.metrics import MetricsQuery

    midnight = datetime(2026, 12, 1, tzinfo=timezone.utc)
    query = MetricsQuery.parse({"interval": "day"}, now=midnight)

    assert (query.start, query.end, query.end_inclusive) == (midnight - timedelta(days=30), midnight, True)
    assert query.buckets[0].isoformat() == "2026-11-01" and query.buckets[-1].isoformat() == "2026-12-01"
    given = MetricsQuery.parse({"to": "2026-12-01", "interval": "day"}, now=midnight)
    assert given.buckets[-1].isoformat() == "2026-11-30" and not given.end_inclusive
