"""The directory of organisations: adding and reading them, each checked whole before it is stored.

An organisation's entry is a plain spec (what ``mpi orgs add`` and ``POST
/v1/organisations`` take), validated with every problem reported together and
stored as given; its calendar is compiled once per version of the entry and
kept, since every referral step counts time in its performer's business hours.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from typing import Any

from mpi.directory.calendar import BusinessCalendar
from mpi.errors import NotFound, ValidationError
from mpi.referral_vocab import OrganisationKind
from mpi.vocab import AuditAction, EntityType

logger = logging.getLogger(__name__)

CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
SERVICE_TYPE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
FIELDS = ("code", "name", "kind", "service_types", "calendar", "supervisors")


def validate_organisation(data: Any) -> dict[str, Any]:
    """An organisation's entry, checked: every problem is reported together, by field.

    Raises:
        ValidationError: naming each bad field (``calendar.*`` for the calendar's own).
    """
    if not isinstance(data, Mapping):
        raise ValidationError("an organisation must be an object", {"_schema": ["must be an object"]})
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        errors.update({name: ["unknown field"] for name in unknown})
    code, name, kind = data.get("code"), data.get("name"), data.get("kind")
    if not isinstance(code, str) or not CODE.match(code):
        errors["code"] = ["1-64 letters, digits or . _ -, starting with a letter or digit"]
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        errors["name"] = ["required, at most 200 characters"]
    if kind not in {k.value for k in OrganisationKind}:
        errors["kind"] = [f"must be one of {', '.join(k.value for k in OrganisationKind)}"]
    # null is none; any other value must be a list (an empty object is not "no service types").
    service_types = [] if data.get("service_types") is None else data["service_types"]
    if not isinstance(service_types, list) or not all(isinstance(t, str) and SERVICE_TYPE.match(t)
                                                      for t in service_types):
        errors["service_types"] = ["a list of codes: lower-case letters, digits or . _ -"]
    supervisors = [] if data.get("supervisors") is None else data["supervisors"]
    if not isinstance(supervisors, list) or not all(isinstance(s, str) and USER_NAME.match(s) for s in supervisors):
        errors["supervisors"] = ["a list of user names"]
    calendar = None
    try:
        calendar = BusinessCalendar.from_spec(data.get("calendar"))
    except ValidationError as e:
        errors.update(e.errors)
    if errors:
        raise ValidationError(f"invalid organisation: {', '.join(sorted(errors))}", errors)
    return {"code": code, "name": name.strip(), "kind": kind, "service_types": sorted(set(service_types)),
            "calendar": calendar.as_spec(), "supervisors": list(dict.fromkeys(supervisors))}


class Directory:
    """Organisations over one store, with each one's compiled calendar kept until its entry changes."""

    def __init__(self, store):
        self.store = store
        self._calendars: dict[str, tuple[Any, BusinessCalendar]] = {}
        self._lock = threading.Lock()

    def add(self, data: Any, actor: str) -> dict[str, Any]:
        """Add an organisation, or replace the entry of one with the same code; audited."""
        org = validate_organisation(data)
        with self.store.transaction():
            new = self.store.organisations.put(**org)
            self.store.audit.append(actor, AuditAction.ORGANISATION_ADDED, EntityType.ORGANISATION, org["code"],
                                    None, {"kind": org["kind"], "service_types": org["service_types"],
                                           "replaced": not new})
        logger.info("organisation %s %s by %s", org["code"], "added" if new else "replaced", actor)
        return self.get(org["code"])

    def get(self, code: str) -> dict[str, Any]:
        """One organisation.

        Raises:
            NotFound: no organisation has this code.
        """
        org = self.store.organisations.get(code) if isinstance(code, str) else None
        if org is None:
            raise NotFound(f"organisation {code} not found")
        return org

    def exists(self, code: str) -> bool:
        return isinstance(code, str) and self.store.organisations.get(code) is not None

    def all(self) -> list[dict[str, Any]]:
        return self.store.organisations.all()

    def calendar(self, code: str) -> BusinessCalendar:
        """The organisation's business calendar, compiled once per version of its entry."""
        org = self.get(code)
        with self._lock:
            kept = self._calendars.get(code)
            if kept is None or kept[0] != org["updated_at"]:
                kept = self._calendars[code] = (org["updated_at"], BusinessCalendar.from_spec(org["calendar"]))
        return kept[1]
