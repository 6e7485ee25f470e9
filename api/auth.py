"""Bearer-token authentication for API blueprints: every call has a named caller."""

from __future__ import annotations

from flask import current_app, g, request

from mpi.auth import authenticate


def require_caller() -> None:
    """``before_request`` hook: resolve the bearer token to ``g.user`` or raise 401."""
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else None
    g.user = authenticate(current_app.extensions["mpi"].store, token)


def actor() -> str:
    return f"user:{g.user['name']}"
