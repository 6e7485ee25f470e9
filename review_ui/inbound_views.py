"""The inbound exception pages: the queue with the exchange overview, one exception, and its actions.

Stewards and admins work the queue here with the same ``services.inbound`` the
API's ``/v1/inbound-exceptions`` calls: claim, correct and replay (the corrected
JSON body, and for a status update the referral it is about), and return to the
sender with a reason. The raw body is shown only on the exception's own page,
escaped in a ``<pre>``; logs carry ids and error codes, never the body.
"""

from __future__ import annotations

import json
import logging

from flask import flash, redirect, render_template, request, url_for

from mpi.errors import MpiError, ValidationError
from mpi.referral_vocab import AlertKind
from review_ui import inbound_pages as ip
from review_ui.blueprint import bp
from review_ui.referral_views import services
from review_ui.signin import actor, caller

logger = logging.getLogger(__name__)

#: The most exceptions one page of the queue shows.
QUEUE_PAGE = 200


def _escalated() -> set[str]:
    """The items an exception escalation names (those past their target and raised to the owning team)."""
    alerts = services().alerts.page(caller(), kind=AlertKind.EXCEPTION_ESCALATION.value, limit=1000)["alerts"]
    return {a["referral_id"] for a in alerts if a["clock"] == "inbound"}


@bp.get("/inbound")
def inbound_queue():
    """The inbound exception queue, oldest first (age, severity, owner, target, sender, kind, reasons), and the
    exchange overview: governance's figures per queue."""
    svc = services()
    state = request.args.get("state", "")
    state = state if state in dict(ip.STATE_CHOICES) else ""
    severity = request.args.get("severity", "")
    severity = severity if severity in ip.SEVERITY_CHOICES else ""
    states = [state] if state else ["open", "in_progress"]
    items, total = [], 0
    for s in states:
        page = svc.inbound.page(state=s, severity=severity or None, limit=QUEUE_PAGE)
        items += page["exceptions"]
        total += page["total"]
    items.sort(key=lambda i: (i["received_at"], i["exception_id"]))
    now = svc.clock.now()
    escalated = _escalated()
    page = ip.InboundQueuePage(rows=tuple(ip.exception_row(i, now, escalated) for i in items[:QUEUE_PAGE]),
                               total=total, state=state, severity=severity,
                               overview=ip.overview(svc.governance.metrics()))
    return render_template("inbound.html", page=page)


def render_item(exception_id: str, status: int = 200, **extra):
    svc = services()
    item = svc.inbound.get(exception_id)
    page = ip.item_page(item, svc.clock.now(), _escalated(), **extra)
    return render_template("inbound_item.html", page=page), status


@bp.get("/inbound/<exception_id>")
def inbound_item(exception_id: str):
    """One kept message: its reasons per field, the raw body (escaped), and the actions."""
    return render_item(exception_id)


@bp.post("/inbound/<exception_id>/<action>")
def inbound_action(exception_id: str, action: str):
    """Claim, replay (a corrected JSON body) or return (with a reason) one exception."""
    form = request.form
    desk = services().inbound
    kept = {"replay_body": form.get("body"), "replay_referral_id": form.get("referral_id"),
            "return_reason": form.get("reason") or ""}
    try:
        if action == "claim":
            desk.claim(exception_id, actor())
            message = f"{exception_id} claimed: it shows exception recovery in progress."
        elif action == "replay":
            item = desk.replay(exception_id, _body(form.get("body") or ""), actor(),
                               (form.get("referral_id") or "").strip() or None)
            message = f"{exception_id} replayed: resolved, it produced {item['produced_referral_id']}."
        elif action == "return":
            desk.return_to_sender(exception_id, form.get("reason") or "", actor())
            message = f"{exception_id} returned to its sender."
        else:
            return render_item(exception_id, 404, error=f"There is no action {action!r} here.", **kept)
    except MpiError as e:
        logger.info("inbound exception %s: %s by %s refused: %s", exception_id, action, actor(), e.code)
        if e.status == 404 and action != "replay":
            raise
        return render_item(exception_id, e.status, error=e.message, error_fields=e.errors, **kept)
    logger.info("inbound exception %s: %s by %s", exception_id, action, actor())
    flash(message, "success")
    return redirect(url_for("review_ui.inbound_item", exception_id=exception_id), code=303)


def _body(text: str) -> dict:
    """The replay form's corrected body: a JSON object (anything else is a 422 naming ``body``)."""
    try:
        body = json.loads(text)
    except ValueError:
        raise ValidationError("the corrected body is not JSON", {"body": ["must be a JSON object"]}) from None
    if not isinstance(body, dict):
        raise ValidationError("the corrected body is not a JSON object", {"body": ["must be a JSON object"]})
    return body
