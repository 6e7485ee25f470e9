"""The referral pages' forms (POST): a step of the lifecycle, the requester's correction, reopening, acknowledging.

Each form calls the referral service as the signed-in caller, so the core makes
every check (the side, the gate, the reason codes, the event time) and the page
only turns a form into the body the API takes. An event time is typed in the
page's zone (the caller's organisation's) and sent as UTC. Success redirects
(303) with one line; a refusal shows the referral again with the core's message
in plain words and its status: 403 for the other side's step, 409 for the
identity gate or a state changed meanwhile, 422 for a missing reason or note.
Logs carry ids, the step's code and the error's code, never a note or a reason
someone typed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from flask import flash, redirect, request, url_for

from mpi.errors import MpiError, ValidationError
from review_ui.blueprint import bp
from review_ui.referral_pages import STATES
from review_ui.referral_views import ALERT_READERS, READERS, render_alerts, render_referral, services, zone_of
from review_ui.referral_words import state_word
from review_ui.signin import caller, open_to

logger = logging.getLogger(__name__)

CONTACT_FIELDS = ("name", "phone", "email")
ADDRESS_FIELDS = ("address_line1", "address_line2", "city", "state", "postal_code")


def _text(form: Mapping[str, str], name: str) -> str | None:
    return (form.get(name) or "").strip() or None


def event_time(form: Mapping[str, str], zone: str) -> str | None:
    """The form's ``event_time`` (``datetime-local``, read in ``zone``) as UTC ISO text, or None when left empty.

    Raises:
        ValidationError: text that is no date and time.
    """
    text = _text(form, "event_time")
    if text is None:
        return None
    try:
        local = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError("the event time is not a date and time",
                              {"event_time": ["a date and time, e.g. 2026-11-23T10:30"]}) from None
    if local.tzinfo is None:
        local = local.replace(tzinfo=ZoneInfo(zone))
    return local.astimezone(timezone.utc).isoformat()


def _zone_for(referral_id: str) -> str:
    """The zone typed times are read in: the caller's organisation's, else (an admin) the performer's."""
    if caller().organisation:
        return zone_of()
    return zone_of(services().referrals.get(referral_id, caller())["performer"])


def status_body(form: Mapping[str, str], referral_id: str) -> dict[str, Any]:
    """The body of ``POST /v1/referrals/{id}/status`` from the step's form (empty fields left out)."""
    body: dict[str, Any] = {"state": form.get("state", "")}
    for name in ("reason", "party", "note"):
        if _text(form, name) is not None:
            body[name] = _text(form, name)
    if body["state"] == "redirected" and _text(form, "performer"):
        body["performer"] = _text(form, "performer")
    if _text(form, "event_time"):
        body["event_time"] = event_time(form, _zone_for(referral_id))
    return body


def correction_body(form: Mapping[str, str], current: Mapping[str, Any], referral_id: str) -> dict[str, Any]:
    """The requester's correction: only the fields the form changed, and the note."""
    body: dict[str, Any] = {}
    if _text(form, "reason") != (current.get("reason") or None):
        body["reason"] = _text(form, "reason")
    contact = {f: _text(form, f"contact_{f}") for f in CONTACT_FIELDS}
    if contact != {f: (current.get("requester_contact") or {}).get(f) or None for f in CONTACT_FIELDS}:
        body["requester_contact"] = contact
    if _text(form, "consent") != current.get("consent"):
        body["consent"] = _text(form, "consent")  # the core refuses a value that is no consent word
    flags = [f.strip() for f in (form.get("risk_flags") or "").replace("\n", ",").split(",") if f.strip()]
    if flags != list(current.get("risk_flags") or []):
        body["risk_flags"] = flags
    address = {f: _text(form, f"address_{f}") for f in ADDRESS_FIELDS}
    if address != {f: (current.get("service_address") or {}).get(f) or None for f in ADDRESS_FIELDS}:
        body["service_address"] = address
    if _text(form, "note"):
        body["note"] = _text(form, "note")
    if _text(form, "event_time"):
        body["event_time"] = event_time(form, _zone_for(referral_id))
    return body


def plain(e: MpiError) -> str:
    """The core's refusal as a coordinator reads it."""
    if e.code == "identity_pending":
        case = (e.errors.get("review_case_id") or ["?"])[0]
        return (f"This referral waits on identity review (case {case}): start and complete are refused until a "
                "steward decides it.")
    if e.status == 403:
        return f"You cannot take this step: {e.message}."
    if e.code == "invalid_transition":
        return f"This step is not open from here: {e.message}. Reload the referral to see what is."
    if e.status == 409:
        return f"The referral changed while you were on it ({e.message}). Reload it and try again."
    if e.status == 422:
        return f"Check the form: {e.message}."
    return e.message


def _refused(referral_id: str, what: str, e: MpiError, form: dict[str, str]):
    logger.info("referral %s: %s by %s refused: %s (%s)", referral_id, what, caller().actor, e.code,
                ", ".join(sorted(e.errors)))
    return render_referral(referral_id, e.status, error=plain(e), field_errors=e.errors, form=form)


@bp.post("/referrals/<referral_id>/status")
@open_to(*READERS)
def referral_status(referral_id: str):
    """Take one step of the lifecycle (the core refuses a steward's, the other side's, and a gated start)."""
    form = request.form
    state = form.get("state", "")
    what = state if state in STATES else "unknown state"
    try:
        changed = services().referrals.change_status(referral_id, status_body(form, referral_id), caller())
    except MpiError as e:
        return _refused(referral_id, what, e, {"form": state, "reason": form.get("reason", ""),
                                                "party": form.get("party", ""), "performer": form.get("performer", ""),
                                                "event_time": form.get("event_time", "")})
    logger.info("referral %s: %s by %s", referral_id, state, caller().actor)
    if changed["state"] == "redirected" and changed.get("successor_ids"):
        flash(f"{changed['reference']} redirected: its successor is {changed['successor_ids'][-1]}.", "success")
    else:
        flash(f"{changed['reference']} is now {state_word(changed['state'], changed['state_reason'])}.", "success")
    return redirect(url_for("review_ui.referral", referral_id=referral_id), code=303)


@bp.post("/referrals/<referral_id>/correction")
@open_to(*READERS)
def referral_correction(referral_id: str):
    """The requester's correction of a referral returned as information-incomplete: back where it was."""
    try:
        current = services().referrals.get(referral_id, caller())
        changed = services().referrals.correct(referral_id, correction_body(request.form, current, referral_id),
                                               caller())
    except MpiError as e:
        return _refused(referral_id, "correction", e, {"form": "correction"})
    logger.info("referral %s: corrected by %s", referral_id, caller().actor)
    flash(f"{changed['reference']} corrected and sent back: it is {state_word(changed['state'])} again.", "success")
    return redirect(url_for("review_ui.referral", referral_id=referral_id), code=303)


@bp.post("/referrals/<referral_id>/reopen")
@open_to(*READERS)
def referral_reopen(referral_id: str):
    """Reopen a closed referral, back in the state it closed from (its identity is checked again)."""
    form = request.form
    try:
        body: dict[str, Any] = {"reason": (form.get("reason") or "").strip()}
        if _text(form, "event_time"):
            body["event_time"] = event_time(form, _zone_for(referral_id))
        changed = services().referrals.reopen(referral_id, body, caller())
    except MpiError as e:
        return _refused(referral_id, "reopen", e, {"form": "reopen"})
    logger.info("referral %s: reopened by %s", referral_id, caller().actor)
    flash(f"{changed['reference']} reopened: it is {state_word(changed['state'])} again.", "success")
    return redirect(url_for("review_ui.referral", referral_id=referral_id), code=303)


@bp.post("/alerts/<alert_id>/ack")
@open_to(*ALERT_READERS)
def acknowledge_alert(alert_id: str):
    """Acknowledge a reminder or an escalation: who and when are recorded, once."""
    referral_id = (request.form.get("referral_id") or "").strip() or None
    try:
        services().alerts.acknowledge(alert_id, caller())
    except MpiError as e:
        logger.info("alert %s: acknowledgement by %s refused: %s", alert_id, caller().actor, e.code)
        message = e.message if e.status != 409 else f"{e.message}: nothing more to do."
        return render_alerts(e.status, referral_id=referral_id, error=message)
    flash(f"Alert {alert_id} acknowledged.", "success")
    return redirect(url_for("review_ui.alerts", referral_id=referral_id), code=303)
