"""Callers: named users with a role, their organisation and a bearer token.

Every read or change of a person must be attributable, so the API serves no
one it cannot name. Tokens are random, shown once when made, and stored only as
their SHA-256.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from mpi.errors import BadRequest, Unauthorized, ValidationError
from mpi.store import Store
from mpi.vocab import PurposeOfUse, Role


@dataclass(frozen=True)
class Caller:
    """Who is asking: a user (with a role and an organisation) or the service itself."""

    name: str
    role: str
    organisation: str | None = None

    @property
    def actor(self) -> str:
        """How the audit log names the caller (``user:alice``, or a system name as it is)."""
        return self.name if ":" in self.name else f"user:{self.name}"

    @classmethod
    def of(cls, user: dict) -> Caller:
        """The caller behind an authenticated user (as :func:`authenticate` returns it)."""
        return cls(user["name"], user["role"], user.get("organisation"))


#: The service acting on its own (a sweep, an identity event): on every side of every referral.
SYSTEM = Caller("system:referrals", "system")

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


#: Roles that act for an organisation and so must belong to one.
ORGANISATION_ROLES = frozenset({Role.COORDINATOR})


def add_user(store: Store, name: str, role: str, token: str | None = None, organisation: str | None = None) -> str:
    """Create or replace a user of an organisation; returns the bearer token (shown once).

    Raises:
        ValidationError: a bad name or role, an unknown organisation, or a coordinator without one.
    """
    errors = {}
    if not _NAME_RE.match(name or ""):
        errors["name"] = ["1-64 letters, digits or . _ @ -, starting with a letter or digit"]
    if role not in {r.value for r in Role}:
        errors["role"] = [f"must be one of {', '.join(r.value for r in Role)}"]
    if organisation is not None and store.organisations.get(organisation) is None:
        errors["organisation"] = ["no such organisation (add it with mpi orgs add)"]
    elif organisation is None and role in ORGANISATION_ROLES:
        errors["organisation"] = [f"a {role} works for an organisation: name it"]
    if errors:
        raise ValidationError(f"invalid user: {', '.join(sorted(errors))}", errors)
    token = token or secrets.token_urlsafe(24)
    store.users.add(name, role, hash_token(token), organisation)
    return token


def authenticate(store: Store, token: str | None) -> dict:
    """The user a bearer token belongs to, or Unauthorized."""
    user = store.users.by_token_hash(hash_token(token)) if token else None
    if user is None:
        raise Unauthorized("a valid bearer token is required")
    return user


#: The header a caller names its purpose of use in (an HL7 v3 PurposeOfUse code).
PURPOSE_HEADER = "X-Purpose-Of-Use"
#: The purpose of use recorded when a caller sends none: what its role is for.
DEFAULT_PURPOSE = {
    Role.HUB: PurposeOfUse.TREAT,
    Role.COORDINATOR: PurposeOfUse.CAREMGT,
    Role.STEWARD: PurposeOfUse.HOPERAT,
    Role.ADMIN: PurposeOfUse.HSYSADMIN,
    Role.AUDITOR: PurposeOfUse.HCOMPL,
}


def purpose_code(sent: str | None) -> str | None:
    """The purpose-of-use code a request sent (any case), or None when it sent none.

    Raises:
        BadRequest: a code that is not an HL7 v3 PurposeOfUse this service knows (the header is named).
    """
    if sent is None or not sent.strip():
        return None
    code = sent.strip().upper()
    if code not in PurposeOfUse.__members__:
        raise BadRequest(f"unknown purpose of use in {PURPOSE_HEADER}", {PURPOSE_HEADER: [
            f"must be an HL7 v3 PurposeOfUse code: one of {', '.join(p.value for p in PurposeOfUse)}"]})
    return code


def purpose_of(sent: str | None, role: str | None) -> str | None:
    """The purpose recorded for a call: the one sent, else its role's default (None for an unknown caller)."""
    if sent is not None:
        return sent
    default = DEFAULT_PURPOSE.get(role) if role else None
    return default.value if default else None
