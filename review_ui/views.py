"""The review UI's pages (GET): queue, case, person and audit log.

Pages show demographics to signed-in stewards only, and log ids only (case,
person and record ids), never a value from a record.
"""

from __future__ import annotations

import logging

from flask import current_app, g, redirect, render_template, request, url_for

from mpi.errors import ValidationError
from review_ui import matching_page, metrics_page
from review_ui import pages
from review_ui.blueprint import bp
from review_ui.review import Review
from review_ui.signin import REVIEW_ROLES, caller, open_to

logger = logging.getLogger(__name__)

QUEUE_PAGE = 50
AUDIT_PAGE = 50


def review() -> Review:
    return Review(current_app.extensions["mpi"])


def _int_arg(name: str, default: int | None = None, low: int = 0) -> int | None:
    try:
        return max(int(request.args.get(name, "")), low)
    except ValueError:
        return default


@bp.get("/")
def queue():
    """The queue: counts by priority, age and overdue, filters, cases most urgent then oldest first."""
    r = review()
    filters = pages.QueueFilters.from_args(request.args, g.steward["name"])
    offset = _int_arg("offset", 0)
    cases = r.queue(filters.as_kwargs(), limit=QUEUE_PAGE + 1, offset=offset)
    page = pages.queue_page(cases, r.queue_counts(), filters, offset, QUEUE_PAGE, r.now())
    return render_template("queue.html", page=page, age_buckets=pages.AGE_BUCKETS, kinds=pages.KINDS)


@bp.get("/next")
def next_case():
    """The most urgent waiting case (keyboard: one link from anywhere)."""
    cases = review().queue({}, limit=1, offset=0)
    if not cases:
        return redirect(url_for("review_ui.queue"))
    return redirect(url_for("review_ui.case", case_id=cases[0]["case_id"]))


def render_case(case_id: str, status: int = 200, **extra):
    r = review()
    page = pages.case_page(r.case(case_id), r.policy(), g.steward["name"], r.now(), **extra)
    logger.debug("case %s shown to %s", case_id, g.steward["name"])
    return render_template("case.html", page=page), status


@bp.get("/cases/<case_id>")
def case(case_id: str):
    """The inbound record beside each candidate, the evidence waterfalls and the actions."""
    return render_case(case_id)


def render_person(person_id: str, status: int = 200, **extra):
    r = review()
    person = r.person(person_id)
    page = pages.person_page(person, r.history(person), **extra)
    return render_template("person.html", page=page), status


@bp.get("/persons/<person_id>")
def person(person_id: str):
    """A person: golden view, source records, history, merge and unmerge."""
    return render_person(person_id)


@bp.get("/audit")
def audit():
    """The audit log, newest first, a page at a time, filtered by action, actor or entity."""
    filters = {k: (request.args.get(k) or "").strip() or None for k in ("action", "actor", "entity_id")}
    before = _int_arg("before", None, low=1)
    result = review().audit(before=before, limit=AUDIT_PAGE, **filters)
    return render_template("audit.html", result=result, filters=filters, before=before)


@bp.get("/metrics")
@open_to(*REVIEW_ROLES)
def metrics():
    """The loop measures of referrals over a period, as figures and as charts over time (docs/metrics.md).

    Open to coordinators too: the measures are counts, scoped to the caller's organisation as its lists are.
    """
    services = review().services
    filters = metrics_page.MetricsFilters.from_args(request.args)
    me = caller()
    organisations = [o["code"] for o in services.directory.all()]
    try:
        result = services.referral_metrics.measure(me, filters.service_args(services.clock.now()))
    except ValidationError as e:
        page = metrics_page.metrics_page(None, filters, organisations, e.errors)
        return render_template("metrics.html", page=page), 422
    return render_template("metrics.html", page=metrics_page.metrics_page(result, filters, organisations))


@bp.get("/metrics/matching")
def matching_metrics():
    """How well the matcher does: auto-link precision from spot-checks and from undone links, each with its
    95% interval, by source system and over time, beside the review share and the steward decisions.

    The steward's page (stewards and admins): counts, codes and source systems only, no person's data.
    """
    filters = matching_page.MatchingFilters.from_args(request.args)
    try:
        result = review().services.matching_metrics.measure(filters.service_args())
    except ValidationError as e:
        return render_template("matching_metrics.html", page=matching_page.matching_page(None, filters, e.errors)), 422
    return render_template("matching_metrics.html", page=matching_page.matching_page(result, filters))
