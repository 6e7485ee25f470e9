"""The partner registry: partner systems of organisations, what they subscribe to, and their status crosswalks.

A partner is one organisation's system that the exchange sends status feedback
to: its endpoint, its format (:class:`~mpi.exchange.vocab.PartnerFormat`), what
it receives (:class:`~mpi.exchange.vocab.Subscription`), whether it is active,
and a signing secret made here and shown once, when the partner is made. Unlike
an API key's, the secret is stored as it is, since the exchange signs every
message with it (HMAC-SHA256 of the body); it is never in a listing, a log or
the audit log. Adding a partner and adding a crosswalk version are audited.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timezone
from typing import Any

from mpi.errors import Conflict, NotFound, ValidationError
from mpi.exchange.crosswalk import CrosswalkVersion, Label, label_for, rows_from_csv, validate_rows
from mpi.exchange.vocab import PartnerFormat, PartnerStatus, Subscription
from mpi.store import Store
from mpi.vocab import AuditAction, EntityType

logger = logging.getLogger(__name__)

#: A partner id: what ``--partner`` and ``/v1/partners/{partner_id}`` name it by.
PARTNER_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
#: A partner's name: some text, no control characters (the API's schema has the same pattern).
NAME = re.compile(r"^[^\x00-\x1f\x7f]*[^\x00-\x20\x7f][^\x00-\x1f\x7f]*$")
#: An endpoint: http or https, a host (a name or an address), an optional port, then printable ASCII.
ENDPOINT = re.compile(r"^https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?([/?#][!-~]*)?$")
#: What a partner's signing secret starts with (so one pasted somewhere is recognisable as one).
SECRET_PREFIX = "whsec_"
_FORMATS = ", ".join(f.value for f in PartnerFormat)
_SUBSCRIPTIONS = ", ".join(s.value for s in Subscription)


def validate_partner(data: Any, store: Store) -> dict[str, Any]:
    """Check a partner to add, every problem together; returns it clean (status active).

    Raises:
        ValidationError: naming each bad field (``partner_id``, ``organisation``, ``name``, ``endpoint``,
            ``format``, ``subscriptions``).
    """
    if not isinstance(data, Mapping):
        raise ValidationError("invalid partner", {"partner": ["must be an object"]})
    errors: dict[str, list[str]] = {}
    partner_id, organisation = data.get("partner_id"), data.get("organisation")
    name, endpoint, fmt = data.get("name"), data.get("endpoint"), data.get("format")
    subscriptions = data.get("subscriptions")
    if not isinstance(partner_id, str) or not PARTNER_ID.match(partner_id):
        errors["partner_id"] = ["2-64 lower-case letters, digits or . _ -, starting with a letter or digit"]
    if not isinstance(organisation, str) or not organisation or store.organisations.get(organisation) is None:
        errors["organisation"] = ["no such organisation (add it with mpi orgs add)"]
    if not isinstance(name, str) or not NAME.match(name) or len(name) > 200:
        errors["name"] = ["required: 1-200 characters, not only spaces, no control characters"]
    if not isinstance(endpoint, str) or not ENDPOINT.match(endpoint) or len(endpoint) > 2000:
        errors["endpoint"] = ["an http:// or https:// URL: a host, an optional port, a path (no user or password)"]
    if fmt not in {f.value for f in PartnerFormat}:
        errors["format"] = [f"one of {_FORMATS}"]
    if (not isinstance(subscriptions, list) or not subscriptions
            or any(s not in {v.value for v in Subscription} for s in subscriptions)):
        errors["subscriptions"] = [f"a list of one or more of {_SUBSCRIPTIONS}"]
    if errors:
        raise ValidationError(f"invalid partner: {', '.join(sorted(errors))}", errors)
    # A subscription named twice is the same subscription.
    return {"partner_id": partner_id, "organisation": organisation, "name": name.strip(), "endpoint": endpoint,
            "format": fmt, "subscriptions": [s.value for s in Subscription if s.value in subscriptions],
            "status": PartnerStatus.ACTIVE.value}


def parse_effective(value: str | date | None, today: date) -> date:
    """A crosswalk version's effective-from date (``YYYY-MM-DD``); None: today (UTC).

    Raises:
        ValidationError: naming ``effective_from``.
    """
    if value is None:
        return today
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else _bad_date()
    except ValueError:
        return _bad_date()


def _bad_date() -> date:
    raise ValidationError("invalid crosswalk version: effective_from", {"effective_from": ["a date, YYYY-MM-DD"]})


class PartnerRegistry:
    """Partners and their crosswalks over one store (``services.partners``)."""

    def __init__(self, store: Store, on_change: Callable[[], None] = lambda: None):
        self.store = store
        #: Told after a partner or a crosswalk changed (the outbox reads them afresh).
        self._changed = on_change

    def add(self, data: Any, actor: str) -> tuple[dict, str]:
        """Add a partner, audited; returns it and its signing secret (shown this once).

        Raises:
            ValidationError: a bad field (:func:`validate_partner`).
            Conflict: the partner id is taken.
        """
        partner = validate_partner(data, self.store)
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        with self.store.transaction():
            if self.store.partners.get(partner["partner_id"]) is not None:
                raise Conflict(f"partner {partner['partner_id']} exists already",
                               {"partner_id": ["taken by another partner"]})
            added = self.store.partners.add(partner, secret, actor)
            self.store.audit.append(actor, AuditAction.PARTNER_ADDED, EntityType.PARTNER, partner["partner_id"], None,
                                    {"organisation": partner["organisation"], "format": partner["format"],
                                     "subscriptions": partner["subscriptions"]})
        self._changed()
        logger.info("partner %s added for organisation %s by %s", partner["partner_id"], partner["organisation"],
                    actor)
        return added, secret

    def all(self) -> list[dict]:
        """Every partner (never a secret), each with the id and date of its latest crosswalk version."""
        out = []
        for partner in self.store.partners.all():
            versions = self.store.partners.crosswalks(partner["partner_id"])
            out.append({**partner, "crosswalk_versions": len(versions),
                        "latest_crosswalk": versions[-1]["version_id"] if versions else None})
        return out

    def get(self, partner_id: str) -> dict:
        """One partner with its crosswalk versions (oldest first, rows with their lossy marks), never its secret.

        Raises:
            NotFound: no partner has this id.
        """
        partner = self.store.partners.get(partner_id) if isinstance(partner_id, str) else None
        if partner is None:
            raise NotFound("no such partner", {"partner_id": ["no such partner"]})
        return {**partner, "crosswalks": [_shown(v) for v in self.store.partners.crosswalks(partner_id)]}

    def add_crosswalk(self, partner_id: str, rows: Sequence[Mapping[str, Any]], effective_from: str | date | None,
                      actor: str, *, by_line: bool = False) -> dict:
        """Add a new crosswalk version (never changing an earlier one), audited; returns it as :meth:`get` shows.

        Args:
            rows: ``state``, ``reason``, ``label`` each (with ``line`` from a CSV, named so when ``by_line``).
            effective_from: the date it is in force from (UTC); None: today.

        Raises:
            NotFound: no such partner.
            ValidationError: a bad row or date, every problem named together.
        """
        self.get(partner_id)
        errors: dict[str, list[str]] = {}
        try:
            effective = parse_effective(effective_from, self.store.db.now().astimezone(timezone.utc).date())
        except ValidationError as e:
            errors.update(e.errors)
        try:
            clean = validate_rows(rows, by_line=by_line)
        except ValidationError as e:
            errors.update(e.errors)
        if errors:
            raise ValidationError(f"invalid crosswalk version: {len(errors)} problems", errors)
        with self.store.transaction():
            version = self.store.partners.add_crosswalk(partner_id, effective, clean, actor)
            shown = _shown(version)
            self.store.audit.append(actor, AuditAction.CROSSWALK_VERSION_ADDED, EntityType.PARTNER, partner_id, None,
                                    {"version_id": version["version_id"], "effective_from": effective.isoformat(),
                                     "rows": len(clean), "lossy_rows": shown["lossy_rows"]})
        self._changed()
        logger.info("crosswalk version %s of partner %s added by %s", version["version_id"], partner_id, actor)
        return shown

    def add_crosswalk_csv(self, partner_id: str, text: str, effective_from: str | date | None, actor: str) -> dict:
        """:meth:`add_crosswalk` from a CSV's text (header ``state,reason,label``; bad rows named ``line N``)."""
        self.get(partner_id)
        return self.add_crosswalk(partner_id, rows_from_csv(text), effective_from, actor, by_line=True)

    def set_status(self, partner_id: str, status: PartnerStatus, reason: str | None, actor: str) -> dict:
        """Pause or resume a partner, audited (``partner.paused`` with the reason, ``partner.resumed``); the
        outbox reads partners afresh. Setting the status it has already changes nothing and is not audited.

        Raises:
            NotFound: no such partner.
        """
        partner = self.get(partner_id)
        if partner["status"] == status:
            return partner
        action = AuditAction.PARTNER_PAUSED if status == PartnerStatus.PAUSED else AuditAction.PARTNER_RESUMED
        with self.store.transaction():
            self.store.partners.set_status(partner_id, status.value, self.store.db.now())
            self.store.audit.append(actor, action, EntityType.PARTNER, partner_id, reason,
                                    {"from": partner["status"], "to": status.value})
        self._changed()
        logger.info("partner %s %s by %s", partner_id, status.value, actor)
        return self.get(partner_id)

    def versions(self, partner_id: str) -> list[CrosswalkVersion]:
        """A partner's crosswalk versions, compiled (for the exchange to label messages with)."""
        self.get(partner_id)
        return [CrosswalkVersion.from_stored(v) for v in self.store.partners.crosswalks(partner_id)]

    def label_for(self, partner_id: str, state: str, reason: str | None, at: datetime | date) -> Label:
        """The partner's label for a state and reason at a time, with the crosswalk version then in force.

        Raises:
            NotFound: no such partner.
            ValidationError: an unknown state or reason.
            NoLabel: no version in force at ``at``, or it maps no label for the state.
        """
        return label_for(self.versions(partner_id), state, reason, at)


def _shown(version: Mapping[str, Any]) -> dict:
    compiled = CrosswalkVersion.from_stored(version)
    return {**{k: v for k, v in version.items() if k != "rows"},
            "rows": [r._asdict() for r in compiled.rows], "lossy_rows": len(compiled.lossy)}
