"""Signing stewards in and out of the review UI.

A steward signs in with their user name and the token ``mpi users add NAME
--role steward`` printed (``mpi demo`` prints one for ``demo-steward``). Only
stewards and admins may sign in: a hub's token reads persons over the API but
decides nothing here. The session is Flask's cookie, signed with
``MPI_SECRET_KEY``; it keeps the user's name, role and the *hash* of their token,
and every request checks that hash against the users table, so issuing the user
a new token (``mpi users add`` again, or ``mpi demo``) signs out every old
session. Sessions end after :data:`SESSION_HOURS` hours.

Failed sign-ins say only that the name or token is wrong, and logs name no one.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import urlsplit

from flask import (current_app, flash, g, redirect, render_template, request, session, url_for)

from mpi.auth import authenticate, hash_token
from mpi.errors import Unauthorized
from mpi.vocab import STEWARD_ROLES
from review_ui import csrf
from review_ui.blueprint import bp

logger = logging.getLogger(__name__)

#: Roles that may sign in to the review UI.
REVIEW_ROLES = STEWARD_ROLES
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
    )


def actor() -> str:
    """The signed-in steward as the audit log names callers (as the API does: ``user:NAME``)."""
    return f"user:{g.steward['name']}"


def _signed_in_user() -> dict | None:
    name, token_hash = session.get("user"), session.get("token_hash")
    if not name or not token_hash:
        return None
    user = current_app.extensions["mpi"].store.users.by_token_hash(token_hash)
    if user is None or user["name"] != name or user["role"] not in REVIEW_ROLES:
        return None
    return user


def require_steward():
    """``before_request`` hook: every page but sign-in needs a signed-in steward (or admin)."""
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
    return None


def _safe_next(value: str | None) -> str:
    """Only a path within the review UI (never another site) is followed after sign-in."""
    if value:
        parts = urlsplit(value)
        if not parts.scheme and not parts.netloc and value.startswith("/review/") and "\\" not in value:
            return value
    return url_for("review_ui.queue")


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
    if user is None or user["name"] != name:
        logger.info("review UI sign-in refused: unknown user name or token")
        return render_template("sign_in.html", next=next_url, name=name,
                               error="That user name and token do not match a user."), 401
    if user["role"] not in REVIEW_ROLES:
        logger.info("review UI sign-in refused for user %s: role %s", user["name"], user["role"])
        return render_template("sign_in.html", next=next_url, name=name,
                               error="Only stewards and admins can sign in to the review UI."), 403
    session.clear()
    session.permanent = True
    session.update(user=user["name"], role=user["role"], token_hash=hash_token(token))
    csrf.renew()
    logger.info("review UI: user %s signed in", user["name"])
    return redirect(_safe_next(next_url), code=303)


@bp.post("/sign-out")
def sign_out():
    name = session.get("user")
    session.clear()
    csrf.renew()
    flash("You are signed out.", "info")
    logger.info("review UI: user %s signed out", name)
    return redirect(url_for("review_ui.sign_in"), code=303)
