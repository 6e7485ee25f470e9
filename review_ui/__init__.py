"""The review pages (server-rendered Jinja), calling the same services as the API.

Stewards sign in (``signin.py``) and work the queue, cases, persons and the
audit log (``views.py``, ``actions.py``); coordinators work their organisation's
referrals and alerts (``referral_views.py``, ``referral_actions.py``), and
``signin.py`` keeps each role to its own pages; auditors open only the access
log (``access_views.py``); stewards and admins work the inbound exception queue
and read the exchange overview (``inbound_views.py``), and the batch dedup runs' reports
(``dedup_views.py``). Every POST carries the session's CSRF
token (``csrf.py``). Pages use no script and fetch nothing from another site:
the stylesheet is served from ``static/`` and the evidence waterfall is SVG drawn
on the server (``waterfall.py``). Responses are never cached and may not be
framed, and the Content Security Policy allows this site's stylesheet only.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from flask import g, render_template
from werkzeug.exceptions import HTTPException

from mpi.errors import MpiError
# Routes register on import.
from review_ui import (access_views, actions, csrf, dedup_views, idlinks, inbound_views, outbound_views,  # noqa: F401
                       person_pair, reconciliation_views, referral_actions, referral_views, search_views, signin,
                       views)
from review_ui.blueprint import bp

logger = logging.getLogger(__name__)

__all__ = ["bp"]

#: Review pages show demographics: never cached, never framed, nothing from elsewhere.
SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
                                "frame-ancestors 'none'; base-uri 'none'"),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

bp.before_request(csrf.protect)
bp.before_request(signin.require_steward)
bp.add_app_template_global(csrf.token, "csrf_token")
bp.add_app_template_global(signin.may_open, "may_open")
bp.add_app_template_global(signin.home, "home_url")
bp.add_app_template_filter(idlinks.linked, "ids")
bp.add_app_template_filter(idlinks.entity, "entity")
bp.add_app_template_global(idlinks.record_url, "record_url")


@bp.app_template_filter("when")
def when(value: datetime | str | None, seconds: bool = False) -> str:
    """A stored time as UTC, to the minute (or second): what every review page shows."""
    if value is None:
        return ""
    if isinstance(value, str):  # already ISO text (a service's JSON-shaped answer)
        value = datetime.fromisoformat(value)
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


@bp.after_request
def _headers(response):
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


@bp.errorhandler(MpiError)
def _mpi_error(e: MpiError):
    if e.status >= 500:
        logger.error("review UI: %s: %s", type(e).__name__, e.message)
    return render_template("error.html", status=e.status, message=e.message, signed_in="steward" in g), e.status


@bp.errorhandler(HTTPException)
def _http_error(e: HTTPException):
    return (render_template("error.html", status=e.code, message=e.description, signed_in="steward" in g),
            e.code or 500)
