"""Callers: named users and API keys, each with a role and an organisation, and the bearer token they show.

Every read or change of a person must be attributable, so the API serves no
one it cannot name. Tokens and keys are random, shown once when made, and
stored only as their SHA-256. A user is a person (``user:NAME`` in the audit
log); an API key is an organisation's system (``key:ID``): it belongs to an
organisation of the directory, may carry an expiry, and can be revoked, after
which it is refused at once with a message that says so.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timezone

from mpi.access_vocab import PurposeOfUse
from mpi.errors import BadRequest, NotFound, Unauthorized, ValidationError
from mpi.store import Store
from mpi.vocab import AuditAction, EntityType, KeyStatus, Role


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
ORGANISATION_ROLES = frozenset({Role.HUB, Role.COORDINATOR})


def add_user(store: Store, name: str, role: str, token: str | None = None, organisation: str | None = None) -> str:
    """Create or replace a user of an organisation; returns the bearer token (shown once).

    Raises:
        ValidationError: a bad name or role, an unknown organisation, or a hub or coordinator without one.
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
    """The caller a bearer token belongs to (a user, or an API key as ``key:ID``), or Unauthorized.

    An expired or revoked key is refused with a message saying so (its id only).
    """
    if not token:
        raise Unauthorized("a valid bearer token is required")
    digest = hash_token(token)
    # An API key's secret reads ``mpi_<id>_...``: its lookup goes first, so a key's every request does not also
    # miss in the users table (a statement, ~0.3 ms; misses are not cached). A user's token shaped like one is
    # still found after it.
    key_shaped = token.startswith(KEY_PREFIX)
    key = store.keys.by_hash(digest) if key_shaped else None
    if key is None:
        user = store.users.by_token_hash(digest)
        if user is not None:
            return user
        if not key_shaped:
            key = store.keys.by_hash(digest)
    if key is None:
        raise Unauthorized("a valid bearer token is required")
    status = key_status(key, store.db.now())
    if status == KeyStatus.REVOKED:
        raise Unauthorized(f"API key {key['key_id']} was revoked: ask an admin for a new one")
    if status == KeyStatus.EXPIRED:
        expired = key["expires_at"].astimezone(timezone.utc)
        raise Unauthorized(f"API key {key['key_id']} expired at {expired:%Y-%m-%d %H:%M} UTC: ask an admin for a new one")
    return {"name": f"key:{key['key_id']}", "role": key["role"], "organisation": key["organisation"]}


# -- API keys ---------------------------------------------------------------------------------------------

#: How every API key's secret begins (then its id, ``_`` and the random part).
KEY_PREFIX = "mpi_"
#: Letters of a key id: capitals and digits a person reads aloud without mistaking one for another.
_KEY_ID_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def key_status(key: dict, now: datetime) -> KeyStatus:
    """``revoked``, ``expired`` (from the moment of its expiry) or ``active``."""
    if key["revoked_at"] is not None:
        return KeyStatus.REVOKED
    if key["expires_at"] is not None and now >= key["expires_at"]:
        return KeyStatus.EXPIRED
    return KeyStatus.ACTIVE


#: The shape of an expiry (the API's ``expires``): a date, or a date and time with an optional offset; empty: none.
EXPIRY = (r"^(?:[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?"
          r"(?:Z|[+-][0-9]{2}:[0-9]{2})?)?)?$")


def parse_expiry(value: str | date | datetime | None) -> datetime | None:
    """An expiry as an aware UTC time: a date means its first moment (UTC), a time without an offset is UTC.

    Raises:
        ValidationError: neither a date nor a date and time (``expires``).
    """
    if value is None or value == "":
        return None
    try:
        if isinstance(value, str):
            value = datetime.fromisoformat(value)  # a date alone is its midnight
        if not isinstance(value, datetime):
            value = datetime(value.year, value.month, value.day)
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    except (ValueError, OverflowError):  # not a time, or one whose UTC falls outside years 1-9999
        shaped = isinstance(value, str) and re.match(EXPIRY, value)
        raise ValidationError("invalid key: expires", {"expires": [
            "not a real date and time (a day or an hour that does not exist)" if shaped else
            "a date (YYYY-MM-DD) or a date and time (YYYY-MM-DDTHH:MM[:SS][+HH:MM])"]}) from None


def create_key(store: Store, organisation: str, role: str, created_by: str,
               expires: str | date | datetime | None = None) -> tuple[dict, str]:
    """Make an API key for an organisation and a role, audited; returns the key and its secret (shown once).

    Raises:
        ValidationError: an unknown organisation or role, or an expiry that is not a time to come.
    """
    errors: dict[str, list[str]] = {}
    if role not in {r.value for r in Role}:
        errors["role"] = [f"must be one of {', '.join(r.value for r in Role)}"]
    if not organisation or store.organisations.get(organisation) is None:
        errors["organisation"] = ["no such organisation (add it with mpi orgs add)"]
    try:
        expires_at = parse_expiry(expires)
    except ValidationError as e:
        errors.update(e.errors)
    else:
        if expires_at is not None and expires_at <= store.db.now():
            errors["expires"] = ["must be later than now"]
    if errors:
        raise ValidationError(f"invalid key: {', '.join(sorted(errors))}", errors)
    with store.transaction():
        key_id = _new_key_id(store)
        secret = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        key = store.keys.add(key_id, organisation, role, hash_token(secret), created_by, expires_at)
        store.audit.append(created_by, AuditAction.KEY_CREATED, EntityType.API_KEY, key_id, None,
                           {"organisation": organisation, "role": role,
                            "expires_at": expires_at.isoformat() if expires_at else None})
    return key, secret


def revoke_key(store: Store, key_id: str, revoked_by: str) -> dict:
    """Revoke a key from this moment, audited; a key revoked before stays as it was. Returns the key.

    Raises:
        NotFound: no key has this id.
    """
    with store.transaction():
        key = store.keys.get(key_id)
        if key is None:
            raise NotFound(f"no API key {key_id}" if _KEY_ID.match(key_id) else "no such API key")
        if key["revoked_at"] is None:
            store.keys.revoke(key_id, revoked_by)
            store.audit.append(revoked_by, AuditAction.KEY_REVOKED, EntityType.API_KEY, key_id, None, {})
            key = store.keys.get(key_id)
    return key


def keys_with_status(store: Store) -> list[dict]:
    """Every key with its status now (never a hash or a secret)."""
    now = store.db.now()
    return [{**key, "status": key_status(key, now)} for key in store.keys.all()]


_KEY_ID = re.compile(f"^K[{_KEY_ID_ALPHABET}]{{8}}$")


def _new_key_id(store: Store) -> str:
    while True:
        key_id = "K" + "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(8))
        if store.keys.get(key_id) is None:
            return key_id


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
    if sent is None:
        return None
    code = sent.strip(" \t").upper()  # HTTP's optional whitespace; an empty header is no code: refused
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
