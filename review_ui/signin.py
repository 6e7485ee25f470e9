"""Signing users in and out of the review UI, and which pages each role may open.

A steward signs in with their user name and the token ``mpi users add NAME
--role steward`` printed (``mpi demo`` prints one for ``demo-steward``); a
coordinator (``--role coordinator --org CODE``) signs in the same way to work
its organisation's referrals. Stewards, coordinators and admins may sign in, and
auditors, who open only the access log (``/review/access``): a hub's token reads
persons over the API but decides nothing here. The session is
Flask's cookie, signed with ``MPI_SECRET_KEY``; it keeps the user's name, role
and the *hash* of their token, and every request checks that hash against the
users table, so issuing the user a new token (``mpi users add`` again, or ``mpi
demo``) signs out every old session. Sessions end after :data:`SESSION_HOURS`
hours.

Pages are the steward's unless a view says otherwise with :func:`open_to`: a
page that forgets to say stays closed to coordinators, since the steward pages
show candidates' demographics that a coordinator must never see (minimum
necessary). A coordinator lands on the worklist, an auditor on the access log, a steward or admin on the
queue. The signed-in user is ``g.steward`` whatever their role: the name is
older than coordinators, and every page (those of other branches too) reads it.

Failed sign-ins say only that the name or token is wrong, and logs name no one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar
from urllib.parse import urlsplit

from flask import (abort, current_app, flash, g, redirect, render_template, request, session, url_for)
from werkzeug.exceptions import HTTPException

from mpi.auth import Caller, authenticate, hash_token
from mpi.errors import Unauthorized
from mpi.vocab import STEWARD_ROLES, Role
from review_ui import csrf
from review_ui.blueprint import bp

logger = logging.getLogger(__name__)

#: Roles that may sign in to the review UI.
REVIEW_ROLES = STEWARD_ROLES | {Role.COORDINATOR}
#: Roles that may sign in: those of the review pages, and auditors, who open only the access log.
SIGN_IN_ROLES = REVIEW_ROLES | {Role.AUDITOR}
#: Who may open a page whose view does not say (:func:`open_to`): the steward pages.
DEFAULT_ROLES = frozenset(r.value for r in STEWARD_ROLES)
#: How long a review session lasts.
SESSION_HOURS = 12
#: Endpoints open without signing in.
PUBLIC_ENDPOINTS = frozenset({"review_ui.sign_in", "review_ui.static"})


@bp.record_once
def _configure(state) -> None:
    # Flask's defaults are there already (a 31-day cookie named "session", no SameSite): set ours.
    state.app.config.update(
        SESSION_COOKIE_NAME="mpi_review",
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_HTTPONLY=True,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
        # Over TLS (MPI_PUBLIC_URL is https://, typically ended at a proxy) the browser sends it over TLS only.
        SESSION_COOKIE_SECURE=uses_tls(state.app.config.get("MPI", {}).get("MPI_PUBLIC_URL")),
    )


def uses_tls(public_url: str | None) -> bool:
    """Whether users reach the service over TLS: its public address (``MPI_PUBLIC_URL``) is ``https://``."""
    return (public_url or "").strip().lower().startswith("https://")


View = TypeVar("View", bound=Callable)


def open_to(*roles: str) -> Callable[[View], View]:
    """Let these roles open a page (put it under ``@bp.get``/``@bp.post``); every other page is the steward's."""
    def mark(view: View) -> View:
        view.review_roles = frozenset(str(r) for r in roles)  # type: ignore[attr-defined]
        return view
    return mark


def roles_of(endpoint: str | None) -> frozenset[str]:
    """The roles that may open an endpoint of the review UI."""
    view = current_app.view_functions.get(endpoint or "")
    return getattr(view, "review_roles", DEFAULT_ROLES)


def may_open(endpoint: str) -> bool:
    """Whether the signed-in user may open a page (the nav shows each role its own pages)."""
    user = g.get("steward")
    return user is not None and user["role"] in roles_of(endpoint)


def home(user: dict | None = None) -> str:
    """Where a user starts: a coordinator on the worklist, an auditor on the access log, a steward or admin on the queue."""
    user = user or g.get("steward")
    if user is not None and user["role"] == Role.COORDINATOR:
        return url_for("review_ui.worklist")
    if user is not None and user["role"] == Role.AUDITOR:
        return url_for("review_ui.access")
    return url_for("review_ui.queue")


def actor() -> str:
    """The signed-in user as the audit log names callers (as the API does: ``user:NAME``)."""
    return f"user:{g.steward['name']}"


def caller() -> Caller:
    """The signed-in user as the referral services take callers: name, role and organisation."""
    return Caller.of(g.steward)


def _signed_in_user() -> dict | None:
    name, token_hash = session.get("user"), session.get("token_hash")
    if not name or not token_hash:
        return None
    user = current_app.extensions["mpi"].store.users.by_token_hash(token_hash)
    if user is None or user["name"] != name or user["role"] not in SIGN_IN_ROLES:
        return None
    return user


def require_steward():
    """``before_request`` hook: every page but sign-in needs a signed-in user whose role may open it (else 403)."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    user = _signed_in_user()
    if user is None:
        if session.get("user"):
            session.clear()
            flash("Your session has ended. Please sign in again.", "info")
        target = request.full_path if request.method == "GET" else None
        return redirect(url_for("review_ui.sign_in", next=target.rstrip("?") if target else None))
    g.steward = user
    if request.endpoint is not None and user["role"] not in roles_of(request.endpoint):
        logger.info("review UI: %s (%s) refused %s", user["name"], user["role"], request.endpoint)
        abort(403, description=f"This page is not open to the {user['role']} role.")
    return None


def _endpoint_of(path: str) -> str | None:
    try:
        return current_app.url_map.bind("localhost").match(path, method="GET")[0]
    except HTTPException:
        return None


def _safe_next(value: str | None, user: dict) -> str:
    """Only a review page the user may open (never another site) is followed after sign-in; else the user's home.

    A coordinator sent to sign in from the queue lands on the worklist, not on a 403.
    """
    if value:
        parts = urlsplit(value)
        # A page of the review UI by its route, so a path that only starts with /review/ and climbs out
        # of it ("/review/../../v1/...", which the browser resolves) matches none and is not followed.
        endpoint = _endpoint_of(parts.path)
        if (not parts.scheme and not parts.netloc and value.startswith("/review/") and "\\" not in value
                and endpoint is not None and endpoint.startswith(f"{bp.name}.") and user["role"] in roles_of(endpoint)):
            return value
    return home(user)


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    """The sign-in form, and signing in with a user name and token."""
    next_url = request.values.get("next")
    if request.method == "GET":
        csrf.token()
        return render_template("sign_in.html", next=next_url, name="", error=None)
    name = request.form.get("name", "").strip()
    token = request.form.get("token", "").strip()
    try:
        user = authenticate(current_app.extensions["mpi"].store, token)
    except Unauthorized:
        user = None
    # An API key (``key:ID``) is an organisation's system: it calls the API and never signs in here.
    if user is None or user["name"] != name or user["name"].startswith("key:"):
        logger.info("review UI sign-in refused: unknown user name or token")
        return render_template("sign_in.html", next=next_url, name=name,
                               error="That user name and token do not match a user."), 401
    if user["role"] not in SIGN_IN_ROLES:
        logger.info("review UI sign-in refused for user %s: role %s", user["name"], user["role"])
        return render_template("sign_in.html", next=next_url, name=name,
                               error="Only coordinators, stewards, admins and auditors can sign in here."), 403
    session.clear()
    session.permanent = True
    session.update(user=user["name"], role=user["role"], token_hash=hash_token(token))
    csrf.renew()
    logger.info("review UI: user %s signed in", user["name"])
    return redirect(_safe_next(next_url, user), code=303)


@bp.post("/sign-out")
@open_to(*SIGN_IN_ROLES)
def sign_out():
    """Sign out: the session is cleared and a new CSRF token issued."""
    name = session.get("user")
    session.clear()
    csrf.renew()
    flash("You are signed out.", "info")
    logger.info("review UI: user %s signed out", name)
    return redirect(url_for("review_ui.sign_in"), code=303)
