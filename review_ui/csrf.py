"""CSRF protection for the review UI's forms: one random token per session, checked on every POST.

The review UI is signed in by a cookie, so a page on another site could make a
steward's browser post a form here (link a record, merge two persons). Every form
carries the session's token in a hidden ``csrf_token`` field and every POST to
the review UI is refused with 400 unless it carries the same token. The token
lives in the signed session cookie, so a foreign page can neither read nor forge
it; the session cookie is also ``SameSite=Lax``. A new token is issued at sign-in
and sign-out, so a token seen before signing in is worthless after.

Small enough to own: Flask-WTF would bring WTForms for one hidden field.
"""

from __future__ import annotations

import hmac
import logging
import secrets

from flask import abort, request, session

logger = logging.getLogger(__name__)

SESSION_KEY = "csrf"
FIELD = "csrf_token"


def token() -> str:
    """The session's CSRF token, made on first use (templates call it as ``csrf_token()``)."""
    value = session.get(SESSION_KEY)
    if not value:
        value = session[SESSION_KEY] = secrets.token_urlsafe(32)
    return value


def renew() -> str:
    """Issue a fresh token (at sign-in and sign-out)."""
    session[SESSION_KEY] = secrets.token_urlsafe(32)
    return session[SESSION_KEY]


def protect() -> None:
    """``before_request`` hook: refuse (400) a POST whose token is missing or not the session's."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    expected = session.get(SESSION_KEY)
    sent = request.form.get(FIELD, "")
    if not expected or not sent or not hmac.compare_digest(str(expected), sent):
        logger.warning("review UI: %s %s refused: missing or wrong CSRF token", request.method, request.path)
        abort(400, description="This form has expired or did not come from this site. Reload the page and try again.")
