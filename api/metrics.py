"""Metrics: the loop measures of referrals (``GET /v1/metrics/referrals``) and the Prometheus scrape (``GET /metrics``).

The loop measures are the core's (``services.referral_metrics``), scoped to the
caller as its referral lists are, as JSON or, with ``?format=csv``, as CSV.

``/metrics`` serves the operational gauges in Prometheus' text format, read from
the store when scraped (:class:`StoreCollector`), and the latency of every
request (:data:`LATENCY`, observed by :func:`init_app`'s hooks, labelled by the
URL rule, never by a path that holds an id). Each app has its own
``CollectorRegistry``, so two apps in one process (tests) never share or clash.
"""

from __future__ import annotations

import time

from flask import Flask, Response, current_app, g, request
from flask.views import MethodView
from flask_smorest import Blueprint
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from api.auth import caller, require_caller, require_role
from api.exchange_metric_schemas import ExchangeMetricsArgsSchema, ExchangeMetricsSchema
from api.matching_metric_schemas import MatchingMetricsArgsSchema, MatchingMetricsSchema
from api.metric_schemas import MetricsArgsSchema, ReferralMetricsSchema
from mpi.vocab import Role

blp = Blueprint("metrics", __name__, description="Loop measures of referrals, and the Prometheus scrape")


@blp.before_request
def _known_caller() -> None:
    """The loop measures need a caller, resolved before the query is read (no token: 401, never a 422)."""
    if request.endpoint in ("metrics.ExchangeMetrics", "metrics.MatchingMetrics"):
        require_role(*GOVERNANCE_READERS)
    elif request.endpoint != "metrics.Scrape":
        require_caller()

#: Who reads exception governance's figures and the matching measures: those who work the queues (stewards,
#: admins) and oversee them (auditors); counts, codes and ids of teams only, no PHI. A hub or coordinator: 403.
GOVERNANCE_READERS = (Role.ADMIN, Role.STEWARD, Role.AUDITOR)
#: The request-latency histogram's name and labels.
LATENCY = ("mpi_http_request_duration_seconds", ("method", "endpoint", "status"))
#: The label of a request no URL rule matched (a 404 on a path that names nothing).
UNMATCHED = "<unmatched>"


class StoreCollector(Collector):
    """The operational gauges, read from the store at each scrape (counts only: no id, no person's data)."""

    def __init__(self, app: Flask):
        self._app = app

    def collect(self):
        gauges = self._app.extensions["mpi"].referral_metrics.gauges()
        by_state = GaugeMetricFamily("mpi_referrals", "Referrals by state", labels=["state"])
        for state, n in gauges["referrals_by_state"].items():
            by_state.add_metric([state], n)
        yield by_state
        yield GaugeMetricFamily("mpi_referrals_gated", "Open referrals gated on a review case of their person's "
                                "identity", value=gauges["gated"])
        overdue = GaugeMetricFamily("mpi_referrals_overdue", "Open referrals past a running clock's due time, "
                                    "under the earliest clock they are overdue on", labels=["clock"])
        for clock, n in gauges["overdue_by_clock"].items():
            overdue.add_metric([clock], n)
        yield overdue
        cases = GaugeMetricFamily("mpi_review_cases_open", "Review cases open, in review or on hold, by priority",
                                  labels=["priority"])
        for priority, n in gauges["open_cases_by_priority"].items():
            cases.add_metric([priority], n)
        yield cases
        yield GaugeMetricFamily("mpi_review_case_oldest_open_age_seconds", "Age of the oldest review case not yet "
                                "closed (0 when none is)", value=gauges["oldest_open_case_age_seconds"])
        yield from exchange_gauges(self._app.extensions["mpi"].governance.gauges())
        group = self._app.extensions["mpi"].store.db.group
        yield CounterMetricFamily("mpi_store_group_commits", "Transactions committed for groups of concurrent "
                                  "writers (group commit)", value=group.groups)
        yield CounterMetricFamily("mpi_store_group_units", "Writers' units of work committed in those groups "
                                  "(units / commits: the mean group size)", value=group.units)


def exchange_gauges(gauges: dict) -> list[GaugeMetricFamily]:
    """The exchange's gauges: open exception items by queue and severity, overdue, oldest age; the outbox."""
    open_ = GaugeMetricFamily("mpi_exchange_open_items", "Open exchange exception items, by queue and severity",
                              labels=["queue", "severity"])
    for (queue, severity), n in gauges["open"].items():
        open_.add_metric([queue, severity], n)
    overdue = GaugeMetricFamily("mpi_exchange_overdue_items", "Open exchange exception items past their target "
                                "resolution time, by queue", labels=["queue"])
    oldest = GaugeMetricFamily("mpi_exchange_oldest_open_age_seconds", "Age of the oldest open exchange exception "
                               "item, by queue (0 when none is)", labels=["queue"])
    for queue, n in gauges["overdue"].items():
        overdue.add_metric([queue], n)
        oldest.add_metric([queue], gauges["oldest_age_s"][queue])
    outbox = GaugeMetricFamily("mpi_outbox_messages", "Outbound messages to partners, by delivery status",
                               labels=["status"])
    for status, n in gauges["outbox"].items():
        outbox.add_metric([status], n)
    dead = GaugeMetricFamily("mpi_outbox_dead_messages", "Outbound messages dead after their retries (each holds "
                             "its referral's later messages to that partner)", value=gauges["dead"])
    return [open_, overdue, oldest, outbox, dead]


def init_app(app: Flask) -> None:
    """Give the app its own registry (the store's gauges and the latency histogram) and time every request."""
    registry = CollectorRegistry()
    registry.register(StoreCollector(app))
    name, labels = LATENCY
    latency = Histogram(name, "Time to answer an HTTP request, by method, URL rule and status", labels,
                        registry=registry)
    app.extensions["prometheus"] = registry

    @app.before_request
    def _start_timer() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _observe(response):
        started = g.pop("metrics_started", None)
        if started is not None:
            rule = request.url_rule.rule if request.url_rule is not None else UNMATCHED
            latency.labels(request.method, rule, str(response.status_code)).observe(time.perf_counter() - started)
        return response


@blp.route("/v1/metrics/referrals")
class ReferralMetrics(MethodView):
    @blp.arguments(MetricsArgsSchema, location="query")
    @blp.response(200, ReferralMetricsSchema, description="the measures as JSON; with format=csv, text/csv rows "
                                                           "of metric,value")
    @blp.alt_response(403, schema="Error", description="a caller of no organisation that does not read every "
                                                        "referral")
    @blp.doc(responses={"200": {
        "description": "the measures as JSON; with format=csv, text/csv rows of metric,value",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ReferralMetrics"}},
                    "text/csv": {"schema": {"type": "string"}}}}})
    def get(self, args):
        """The loop measures over the referrals received in a period (by default the 30 days up to now), filtered
        by performer, requester, service type and urgency, scoped to the caller's organisation; with
        ``interval`` a series by day, week or month. A 422 names every bad parameter."""
        metrics = current_app.extensions["mpi"].referral_metrics
        result = metrics.measure(caller(), args)
        if args.get("format") == "csv":
            return Response(metrics.csv(result), mimetype="text/csv",
                            headers={"Content-Disposition": "inline; filename=referral-metrics.csv"})
        return result


@blp.route("/v1/metrics/exchange")
class ExchangeMetrics(MethodView):
    @blp.arguments(ExchangeMetricsArgsSchema, location="query")
    @blp.response(200, ExchangeMetricsSchema)
    @blp.alt_response(403, schema="Error", description="a hub or coordinator: governance is read by stewards, "
                                                        "admins and auditors")
    def get(self, args):
        """Exception governance over the exchange's queues for a period (by default the 30 days up to now):
        per queue and over all, volume by source, open items by severity, overdue, queue age, share resolved
        within target, time to manual recovery and recurrence by source and message type; with the severity
        tiers' meanings. A 422 names every bad parameter."""
        return current_app.extensions["mpi"].governance.metrics(args)


@blp.route("/v1/metrics/matching")
class MatchingMetrics(MethodView):
    @blp.arguments(MatchingMetricsArgsSchema, location="query")
    @blp.response(200, MatchingMetricsSchema)
    @blp.alt_response(403, schema="Error", description="a hub or coordinator: the matching measures are read by "
                                                        "stewards, admins and auditors")
    def get(self, args):
        """How well the matcher does over a period (by default everything up to today): auto-links and their
        precision estimated from spot-checks and from auto-links later undone or unmerged, each with its Wilson
        95% interval, by source system and over time (week or month), beside the review share and the steward
        decisions per case kind. A 422 names every bad parameter."""
        return current_app.extensions["mpi"].matching_metrics.measure(args)


@blp.route("/metrics")
class Scrape(MethodView):
    @blp.doc(security=[], responses={"200": {"description": "Prometheus text exposition format",
                                             "content": {"text/plain": {"schema": {"type": "string"}}}}})
    def get(self):
        """The operational gauges and request latencies for Prometheus to scrape.

        No token is needed: it carries counts and timings only (referrals by
        state, gated and overdue referrals, open review cases by priority, the
        oldest case's age, exchange exception items by queue and severity, overdue
        and oldest, outbound messages by delivery status, latency by URL rule),
        never an id or a person's data.
        """
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        return Response(encoder(current_app.extensions["prometheus"]), content_type=content_type)
