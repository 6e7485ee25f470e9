"""The "Outbound exceptions" page and its forms, and the manual status report form of the referral page.

Exchange operations are an admin's (shared/domain.md §4a): the page lists the
outbound patterns (partner, message type, error, count, first and last time,
age, severity, owner, target with overdue marked, the referrals affected) and the
partners with how stale their view is; its forms pause and resume a partner and
back-post a pattern or a partner (a note required). A coordinator of a
referral's organisations, or an admin, records a manual status report from the
referral page (``_partner_views.html``). Every form calls the same services as
the API (``services.outbound``, ``services.manual_reports``) as the signed-in
caller; success redirects (303) with one line, a refusal shows the page again
with the core's message and status. Logs carry ids and codes only.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import flash, redirect, render_template, request, url_for

from mpi.errors import MpiError, ValidationError
from mpi.exchange.outbound_vocab import ManualMethod, PatternState, Severity
from mpi.vocab import Role
from review_ui.blueprint import bp
from review_ui.pages import hours_text
from review_ui.referral_actions import event_time, plain
from review_ui.referral_views import READERS, render_referral, services, zone_of
from review_ui.signin import actor, caller, open_to

logger = logging.getLogger(__name__)

#: Patterns per page, and referrals shown per pattern (the rest are counted).
PATTERN_PAGE = 50
REFERRALS_SHOWN = 10
METHODS = tuple(m.value for m in ManualMethod)


@dataclass(frozen=True)
class PatternRow:
    pattern: Mapping[str, Any]
    age: str
    due: str
    referrals: tuple[tuple[str, str], ...]
    """(referral id, reference) of the first few it affects."""
    more: int


@dataclass(frozen=True)
class OutboundPage:
    rows: tuple[PatternRow, ...]
    total: int
    partners: tuple[Mapping[str, Any], ...]
    state: str
    severity: str
    partner_id: str
    error: str | None = None


def outbound_page(result: Mapping[str, Any], partners: list[Mapping[str, Any]], now: datetime,
                  reference_of, *, state: str, severity: str, partner_id: str,
                  error: str | None = None) -> OutboundPage:
    """The page's context from the queue's answer and the partners' states."""
    rows = []
    for p in result["patterns"]:
        hours = (p["due_at"] - (p["closed_at"] or now)).total_seconds() / 3600
        due = "" if p["closed_at"] else (f"overdue by {hours_text(-hours)}" if p["overdue"]
                                         else f"in {hours_text(hours)}")
        shown = p["referrals"][:REFERRALS_SHOWN]
        rows.append(PatternRow(p, hours_text(p["age_s"] / 3600), due,
                               tuple((r["referral_id"], reference_of(r["referral_id"])) for r in shown),
                               p["referrals_total"] - len(shown)))
    return OutboundPage(tuple(rows), result["total"], tuple(partners), state, severity, partner_id, error)


def _pick(name: str, allowed) -> str:
    value = (request.args.get(name) or "").strip()
    return value if value in allowed else ""


def render_outbound(status: int = 200, error: str | None = None):
    svc = services()
    state = _pick("state", [s.value for s in PatternState]) if "state" in request.args else PatternState.OPEN.value
    severity = _pick("severity", [s.value for s in Severity])
    partner_ids = [p["partner_id"] for p in svc.partners.all()]
    partner_id = _pick("partner_id", partner_ids)
    offset = max(request.args.get("offset", 0, type=int), 0)
    result = svc.outbound.page(state=state or None, severity=severity or None, partner_id=partner_id or None,
                               limit=PATTERN_PAGE, offset=offset)
    partners = [{**svc.outbound.partner_state(p), "name": n} for p, n in
                ((p["partner_id"], p["name"]) for p in svc.partners.all())]

    def reference_of(referral_id: str) -> str:
        row = svc.store.referrals.get(referral_id)
        return row["reference"] if row else referral_id

    page = outbound_page(result, partners, svc.clock.now(), reference_of, state=state, severity=severity,
                         partner_id=partner_id, error=error)
    return render_template("outbound.html", page=page, states=[s.value for s in PatternState],
                           severities=[s.value for s in Severity]), status


@bp.get("/outbound")
@open_to(Role.ADMIN)
def outbound():
    """The outbound exception queue: patterns, open first then oldest first, and the partners' states."""
    return render_outbound()


def _done(message: str):
    flash(message, "success")
    return redirect(url_for("review_ui.outbound"), code=303)


def _refused(what: str, e: MpiError):
    logger.info("outbound: %s by %s refused: %s", what, actor(), e.code)
    return render_outbound(e.status, plain(e))


@bp.post("/outbound/<pattern_id>/back-post")
@open_to(Role.ADMIN)
def back_post_pattern(pattern_id: str):
    """Back-post a pattern after the fix (a note required): its messages go again in event order; it closes."""
    try:
        done = services().outbound.back_post_pattern(pattern_id, request.form.get("note", ""), actor())
    except MpiError as e:
        return _refused("back-post", e)
    return _done(f"Pattern {pattern_id} back-posted ({done['back_post']['messages']} messages queued again) "
                 "and closed.")


@bp.post("/partners/<partner_id>/pause")
@open_to(Role.ADMIN)
def pause_partner(partner_id: str):
    """Pause a partner (a reason required): its messages keep queueing, unsent."""
    try:
        services().outbound.pause(partner_id, request.form.get("reason", ""), actor())
    except MpiError as e:
        return _refused("pause", e)
    return _done(f"Partner {partner_id} paused: its messages keep queueing.")


@bp.post("/partners/<partner_id>/resume")
@open_to(Role.ADMIN)
def resume_partner(partner_id: str):
    """Resume a paused partner: its queued messages flow again, in order."""
    try:
        services().outbound.resume(partner_id, actor())
    except MpiError as e:
        return _refused("resume", e)
    return _done(f"Partner {partner_id} resumed: its queued messages flow again.")


@bp.post("/partners/<partner_id>/back-post")
@open_to(Role.ADMIN)
def back_post_partner(partner_id: str):
    """Back-post every message a partner holds (a note required), closing its patterns and resuming it."""
    try:
        done = services().outbound.back_post_partner(partner_id, request.form.get("note", ""), actor())
    except MpiError as e:
        return _refused("back-post", e)
    return _done(f"Partner {partner_id} back-posted ({done['back_post']['messages']} messages queued again).")


def manual_report_body(form: Mapping[str, str], zone: str) -> dict[str, Any]:
    """The body of ``POST /v1/referrals/{id}/manual-reports`` from the form (``reported_at`` typed in ``zone``)."""
    body: dict[str, Any] = {name: (form.get(name) or "").strip() for name in
                            ("partner_id", "told_by", "method", "state", "note")}
    try:
        body["reported_at"] = event_time({"event_time": form.get("reported_at", "")}, zone)
    except ValidationError:
        body["reported_at"] = None
    return body


@bp.post("/referrals/<referral_id>/manual-reports")
@open_to(*READERS)
def manual_report(referral_id: str):
    """Record that a partner was told this referral's state by hand (the core refuses a steward)."""
    who = caller()
    try:
        referral = services().referrals.get(referral_id, who)
        body = manual_report_body(request.form, zone_of(referral["performer"]))
        report = services().manual_reports.record(referral_id, body, who)
    except MpiError as e:
        logger.info("referral %s: manual report by %s refused: %s", referral_id, who.actor, e.code)
        return render_referral(referral_id, e.status, error=plain(e), field_errors=e.errors,
                               form={"form": "manual-report"})
    flash(f"Manual report {report['report_id']} recorded: {report['partner_id']} told by {report['method']}.",
          "success")
    return redirect(url_for("review_ui.referral", referral_id=referral_id), code=303)
