"""Bearer-token authentication for API blueprints: every call has a named caller, and some need a role."""

from __future__ import annotations

from flask import current_app, g, request

from mpi.auth import Caller, authenticate
from mpi.errors import Forbidden
from mpi.vocab import IDENTITY_ROLES, STEWARD_ROLES, Role


def require_caller() -> None:
    """``before_request`` hook: resolve the bearer token to ``g.user`` or raise 401."""
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else None
    g.user = authenticate(current_app.extensions["mpi"].store, token)


def require_role(*roles: Role) -> None:
    """Resolve the caller (401 without one) and refuse (403) one whose role is not among ``roles``."""
    require_caller()
    allowed = [r.value for r in roles]
    if g.user["role"] not in allowed:
        raise Forbidden(f"this needs the {' or '.join(allowed)} role; the caller's is {g.user['role']}",
                        {"role": [f"must be {' or '.join(allowed)}"]})


def actor() -> str:
    """How the audit log names the caller: ``user:NAME``, or ``key:ID`` for an API key."""
    return Caller.of(g.user).actor


def caller() -> Caller:
    """The authenticated caller, with its role and organisation (what the referral tracker checks)."""
    return Caller.of(g.user)


def require_identity_role() -> None:
    """``before_request`` hook: a known caller (else 401) whose role submits records and reads persons (else 403)."""
    require_role(*sorted(IDENTITY_ROLES))


def require_steward() -> None:
    """``before_request`` hook: a known caller (else 401) with the steward or admin role (else 403)."""
    require_caller()
    if g.user["role"] not in STEWARD_ROLES:
        raise Forbidden("this needs the steward or admin role", {"role": [f"{g.user['role']} may not work review cases"]})
