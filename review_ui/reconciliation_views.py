"""The Reconciliation page: the work queue of real mismatches between partners' views and ours, and the trend.

Stewards and admins (the default roles of the review UI) work the queue here with
the same service as ``/v1/reconciliation/items`` (``services.reconciliation``):
each open item with its age, severity, owner and target (overdue marked), closed
with a cause or reissued (the right update written again to the outbox). Above it,
the open mismatches grouped into patterns by signature, so a mapping defect reads
as one row with a count; below it, one chart per partner of its mismatch and lag
rates per run (``charts.py``, the metrics page's line charts), with the same
numbers as a table. Logs carry item ids only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from flask import flash, redirect, render_template, request, url_for

from mpi.errors import MpiError
from mpi.exchange.reconcile_vocab import Cause, ItemState
from review_ui import charts
from review_ui.blueprint import bp
from review_ui.referral_views import services
from review_ui.signin import caller

logger = logging.getLogger(__name__)

PAGE = 50
#: The trend's lines: (key of a run, what a reader sees).
TREND = (("mismatch_rate", "Mismatched (of compared)"), ("lag_rate", "Lagging (of compared)"))
ACTIONS = ("close", "reissue")
CAUSES = tuple(c.value for c in Cause)


#: Most status categories drawn in a partner's by-category chart (those with the most mismatches).
MAX_CATEGORIES = 4


@dataclass(frozen=True)
class PartnerTrend:
    partner_id: str
    chart: charts.LineChart
    by_category: charts.LineChart
    runs: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class ReconciliationPage:
    """What the page shows: the queue (a page of it), the patterns, and each partner's trend."""

    state: str
    items: tuple[dict[str, Any], ...]
    total: int
    offset: int
    patterns: tuple[dict[str, Any], ...]
    trends: tuple[PartnerTrend, ...]
    error: str | None = None
    causes: tuple[str, ...] = field(default=CAUSES)

    @property
    def more(self) -> bool:
        return self.offset + PAGE < self.total


def trend(partner_id: str, runs: list[dict[str, Any]]) -> PartnerTrend:
    """A partner's runs as line charts, one point per run (named by its day), oldest first: its mismatch and lag
    rates, and the mismatch rate of each status category with the most mismatches (where a mapping defect shows,
    and falls after a new crosswalk version). A run that compared none of a category has no point for it."""
    mismatched: dict[str, int] = {}
    series = []
    for run in runs:
        entry = {**run, "period_start": run["ran_at"].date()}
        for category, (bad, compared) in _by_category(run).items():
            mismatched[category] = mismatched.get(category, 0) + bad
            entry[f"category:{category}"] = bad / compared if compared else None
        series.append(entry)
    worst = sorted((c for c, n in mismatched.items() if n), key=lambda c: (-mismatched[c], c))[:MAX_CATEGORIES]
    return PartnerTrend(
        partner_id, charts.build(series, TREND, f"Reconciliation of {partner_id}: rates per run", "day"),
        charts.build(series, [(f"category:{c}", c) for c in worst],
                     f"Reconciliation of {partner_id}: mismatch rate by status category", "day"), tuple(runs))


def _by_category(run: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """A run's (mismatched, compared) per status category (its rates are per category and expected label)."""
    totals: dict[str, tuple[int, int]] = {}
    for rate in run["by_category"]:
        bad, compared = totals.get(rate["category"], (0, 0))
        totals[rate["category"]] = (bad + rate["mismatched"], compared + rate["compared"])
    return totals


def render_page(status: int = 200, error: str | None = None):
    svc = services().reconciliation
    state = request.args.get("state") or ItemState.OPEN.value
    if state not in {s.value for s in ItemState}:
        state = ItemState.OPEN.value
    offset = max(request.args.get("offset", 0, type=int), 0)
    queue = svc.items(state=state, limit=PAGE, offset=offset)
    partners = [p["partner_id"] for p in services().store.partners.all()]
    trends = tuple(trend(p, report["runs"]) for p in partners if (report := svc.report(p, 60))["runs"])
    page = ReconciliationPage(state=state, items=tuple(queue["items"]), total=queue["total"], offset=offset,
                              patterns=tuple(svc.patterns()), trends=trends, error=error)
    return render_template("reconciliation.html", page=page, percent=charts.percent, page_size=PAGE), status


@bp.get("/reconciliation")
def reconciliation():
    """The reconciliation work queue, its patterns, and each partner's mismatch rate per run."""
    return render_page()


@bp.post("/reconciliation/items/<item_id>/<action>")
def reconciliation_action(item_id: str, action: str):
    """Close an item with its cause, or reissue its update; then back to the queue (errors shown on it)."""
    svc, who = services().reconciliation, caller()
    if action not in ACTIONS:
        return render_page(404, f"no such action: {action}")
    try:
        if action == "close":
            svc.close(item_id, (request.form.get("cause") or "").strip(), request.form.get("note") or None, who.actor)
            flash(f"Work item {item_id} closed.", "success")
        else:
            done = svc.reissue(item_id, who.actor)
            flash(f"Work item {item_id}: update reissued as message {done['message']['message_id']} "
                  f"({done['message']['label']}).", "success")
    except MpiError as e:
        logger.info("reconciliation item %s: %s by %s refused: %s", item_id, action, who.actor, e.code)
        fields = "; ".join(f"{k}: {', '.join(v)}" for k, v in e.errors.items())
        return render_page(e.status, f"{e.message}" + (f" ({fields})" if fields else ""))
    return redirect(url_for("review_ui.reconciliation"), code=303)
