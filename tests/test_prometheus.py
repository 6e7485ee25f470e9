"""``GET /metrics``: the operational gauges read from the store at scrape time, and the request-latency histogram.

The exposition is parsed with ``prometheus_client``'s own parser, so the tests
read what Prometheus would, not our formatting of it.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from api import create_app
from conftest import record
from referral_network import MONDAY_10AM, clock, net_client, net_services, network  # noqa: F401
from test_referral_metrics import hold_sparse_records, sparse, step, submit

pytestmark = pytest.mark.both_stores


def scrape(client) -> dict[tuple[str, tuple], float]:
    """Every sample of a scrape, by (sample name, sorted labels)."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_the_scrape_needs_no_token_and_shows_every_state_and_priority_even_at_zero(net_client):
    samples = scrape(net_client)

    assert samples[("mpi_referrals", (("state", "submitted"),))] == 0
    assert samples[("mpi_referrals", (("state", "entered_in_error"),))] == 0
    assert samples[("mpi_referrals_gated", ())] == 0
    assert {clock for (name, labels) in samples if name == "mpi_referrals_overdue"
            for (_, clock) in labels} == {"acknowledge", "triage", "first_contact"}
    assert samples[("mpi_review_cases_open", (("priority", "urgent"),))] == 0
    assert samples[("mpi_review_case_oldest_open_age_seconds", ())] == 0


def test_gauges_count_referrals_by_state_gated_and_overdue_and_open_cases_by_age(net_services, network, net_client,
                                                                                clock):
    s, n = net_services, network
    answered = submit(s, n, "P1")
    submit(s, n, "P2")  # never answered: overdue on acknowledgement from Tuesday 10:00
    declined = submit(s, n, "P3")
    hold_sparse_records(s)
    gated = submit(s, n, "P4", sparse("MRN-P4"))
    assert s.store.referrals.get(gated)["gate"] == "identity_pending"
    clock.advance(timedelta(hours=2))
    step(s, n, answered, "acknowledged")
    step(s, n, declined, "declined", reason="no-capacity")
    clock.set(MONDAY_10AM + timedelta(days=1, hours=3))  # Tuesday 13:00 in Atlanta

    samples = scrape(net_client)
    assert samples[("mpi_referrals", (("state", "submitted"),))] == 2
    assert samples[("mpi_referrals", (("state", "acknowledged"),))] == 1
    assert samples[("mpi_referrals", (("state", "declined"),))] == 1
    assert samples[("mpi_referrals_gated", ())] == 1
    assert samples[("mpi_referrals_overdue", (("clock", "acknowledge"),))] == 2  # P2 and the gated P4
    assert samples[("mpi_referrals_overdue", (("clock", "triage"),))] == 0
    assert samples[("mpi_review_cases_open", (("priority", "high"),))] == 1  # a routine referral waits on it
    assert samples[("mpi_review_cases_open", (("priority", "urgent"),))] == 0
    assert samples[("mpi_review_case_oldest_open_age_seconds", ())] == 27 * 3600


def test_latency_is_labelled_by_url_rule_method_and_status_never_by_an_id(net_services, network, net_client):
    referral_id = submit(net_services, network, "L1")
    headers = network.headers["hub-stmarys"]
    assert net_client.get(f"/v1/referrals/{referral_id}", headers=headers).status_code == 200
    assert net_client.get("/v1/referrals/RF99999999", headers=headers).status_code == 404
    assert net_client.get("/v1/no-such-thing", headers=headers).status_code == 404
    net_client.get("/v1/metrics/referrals", headers=headers)

    response = net_client.get("/metrics")
    text = response.get_data(as_text=True)
    samples = scrape(net_client)

    def count(endpoint: str, status: str) -> float:
        labels = (("endpoint", endpoint), ("method", "GET"), ("status", status))
        return samples.get(("mpi_http_request_duration_seconds_count", labels), 0)

    assert count("/v1/referrals/<string:referral_id>", "200") == 1
    assert count("/v1/referrals/<string:referral_id>", "404") == 1
    assert count("<unmatched>", "404") == 1
    assert count("/v1/metrics/referrals", "200") == 1
    assert count("/metrics", "200") == 1  # the scrape before this one
    assert referral_id not in text and "RF99999999" not in text and "no-such-thing" not in text
    buckets = [labels for (name, labels) in samples if name == "mpi_http_request_duration_seconds_bucket"
               and ("endpoint", "/v1/metrics/referrals") in labels]
    assert ("le", "+Inf") in {label for labels in buckets for label in labels}


def test_two_apps_in_one_process_keep_their_own_registries(net_services, network):
    first = create_app(services=net_services).test_client()
    second = create_app(services=net_services).test_client()
    first.get("/v1/health")
    first.get("/v1/health")
    second.get("/v1/health")

    def health_count(client) -> float:
        return scrape(client)[("mpi_http_request_duration_seconds_count",
                               (("endpoint", "/v1/health"), ("method", "GET"), ("status", "200")))]

    assert health_count(first) == 2
    assert health_count(second) == 1


def test_the_scrape_carries_counts_only_never_a_persons_data(net_services, network, net_client):
    submit(net_services, network, "Q1")
    text = net_client.get("/metrics").get_data(as_text=True)

    person = record("marisol", "st-marys-ehr", "MRN-Q1")
    for value in (person["first_name"], person["last_name"], person["birth_date"], "MRN-Q1", "MPI0"):
        assert value not in text


def test_openapi_says_the_scrape_needs_no_token(net_client):
    operation = net_client.get("/v1/openapi.json").get_json()["paths"]["/metrics"]["get"]

    assert operation["security"] == []
    assert "text/plain" in operation["responses"]["200"]["content"]


def test_the_scrape_answers_openmetrics_to_a_scraper_that_asks_for_it(net_client):
    response = net_client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})

    assert response.content_type.startswith("application/openmetrics-text")
    assert response.get_data(as_text=True).rstrip().endswith("# EOF")
    assert "mpi_referrals_gated 0" in response.get_data(as_text=True)

