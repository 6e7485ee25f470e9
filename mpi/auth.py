"""Callers: named users with a role and a bearer token.

Every read or change of a person must be attributable, so the API serves no
one it cannot name. Tokens are random, shown once when made, and stored only as
their SHA-256.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from mpi.errors import Unauthorized, ValidationError
from mpi.store import Store
from mpi.vocab import Role

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_user(store: Store, name: str, role: str, token: str | None = None) -> str:
    """Create or replace a user; returns the bearer token (shown once)."""
    errors = {}
    if not _NAME_RE.match(name or ""):
        errors["name"] = ["1-64 letters, digits or . _ @ -, starting with a letter or digit"]
    if role not in {r.value for r in Role}:
        errors["role"] = [f"must be one of {', '.join(r.value for r in Role)}"]
    if errors:
        raise ValidationError("invalid user", errors)
    token = token or secrets.token_urlsafe(24)
    store.users.add(name, role, hash_token(token))
    return token


def authenticate(store: Store, token: str | None) -> dict:
    """The user a bearer token belongs to, or Unauthorized."""
    user = store.users.by_token_hash(hash_token(token)) if token else None
    if user is None:
        raise Unauthorized("a valid bearer token is required")
    return user
