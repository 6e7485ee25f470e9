"""What the review pages read and do: the same services the API calls, never the API itself.

``services.cases`` (the case workflow, ``mpi/cases.py``), ``services.merges``
(``mpi/merges.py``) and ``services.history`` (``mpi/history.py``) are built on
other branches. Until each is on this one, reads fall back to the store
(``interim.py``) and an action the store cannot do yet answers 501 with a plain
message, so the app starts and every page renders. Linking a record to a
candidate already works through ``MatchService.link_manually``.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timezone
from typing import Any

from mpi.errors import Conflict, MpiError, NotFound, ValidationError
from mpi.services import Services
from mpi.store.audit import audit_page
from review_ui import interim

logger = logging.getLogger(__name__)


class NotYetAvailable(MpiError):
    """An action whose service is not part of this build yet."""

    status = 501
    code = "not_implemented"


def require_reason(reason: str | None) -> str:
    """Every steward action needs a reason: the audit log says why, not only who."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("a reason is required", {"reason": ["required"]})
    return reason


class Review:
    """The review UI's view of the services, for one request."""

    def __init__(self, services: Services):
        self.services = services
        self.store = services.store

    # -- which services exist ------------------------------------------------------

    def _service(self, name: str) -> Any:
        return getattr(self.services, name, None)

    @property
    def cases(self):
        return self._service("cases")

    @property
    def merges(self):
        return self._service("merges")

    @property
    def history_service(self):
        return self._service("history")

    def _targets(self) -> dict[str, float]:
        config = self.services.config
        return {p: float(config.get(f"MPI_CASE_TARGET_{p.upper()}_HOURS") or hours)
                for p, hours in interim.TARGET_HOURS.items()}

    def policy(self):
        try:
            return self.services.matching.active_model().policy
        except MpiError:
            return None

    # -- reads ---------------------------------------------------------------------------

    def queue(self, filters: dict[str, Any], limit: int, offset: int) -> list[dict]:
        now = datetime.now(timezone.utc)
        if self.cases is not None:
            return self.cases.queue(**filters, limit=limit, offset=offset, now=now)
        return interim.queue(self.store, now, self._targets(), **filters, limit=limit, offset=offset)

    def queue_counts(self) -> dict[str, Any]:
        now = datetime.now(timezone.utc)
        if self.cases is not None:
            return self.cases.queue_counts(now=now)
        return interim.queue_counts(self.store, now, self._targets())

    def case(self, case_id: str) -> dict:
        if self.cases is not None:
            return self.cases.get(case_id)
        return interim.get_case(self.store, case_id, datetime.now(timezone.utc), self._targets())

    def person(self, person_id: str) -> dict:
        person = self.store.resolve_person(person_id)
        person["requested_id"] = person_id
        person["records"] = self.store.person_records(person["person_id"])
        return person

    def history(self, person: dict) -> list[dict]:
        """What happened to a person, newest first: the history service's, else the audit log's own events."""
        if self.history_service is not None:
            return self.history_service.history(person["person_id"])
        events = self.store.audit_events("person", person["person_id"], limit=200)
        for r in person["records"]:
            events += self.store.audit_events("record", f"{r['source_system']}/{r['source_record_id']}", limit=50)
        return sorted(events, key=lambda e: e["event_id"], reverse=True)

    def audit(self, **filters) -> dict[str, Any]:
        return audit_page(self.store, **filters)

    # -- case actions ------------------------------------------------------------------

    def _cases_or_501(self, action: str):
        if self.cases is None:
            raise NotYetAvailable(f"{action} arrives with the case workflow service; it is not in this build yet")
        return self.cases

    def claim(self, case_id: str, actor: str, reason: str, version: int) -> None:
        reason = require_reason(reason)
        self._cases_or_501("Claiming a case").claim(case_id, actor, reason, expected_version=version)

    def link(self, case_id: str, person_id: str, actor: str, reason: str, version: int) -> None:
        reason = require_reason(reason)
        if self.cases is not None:
            self.cases.resolve_linked(case_id, person_id, actor, reason, expected_version=version)
            return
        with self.store.transaction():
            case = self._current(case_id, version)
            if person_id not in {c["person_id"] for c in case["candidates"]}:
                raise ValidationError("the person is not a candidate of this case",
                                      {"person_id": ["not a candidate of this case"]})
            self.services.matching.link_manually(case["source_system"], case["source_record_id"], person_id,
                                                 actor, reason)

    def _current(self, case_id: str, version: int) -> dict:
        """The case if the steward saw its current version and it still waits for a decision (interim)."""
        case = self.store.get_case(case_id)
        if case is None:
            raise NotFound(f"review case {case_id} not found")
        if case["version"] != version or case["state"] not in interim.ACTIVE_STATES:
            raise Conflict(f"review case {case_id} was changed by someone else (now version {case['version']},"
                           f" {case['state']})", {"version": ["stale"]})
        return case

    def new_person(self, case_id: str, actor: str, reason: str, version: int) -> None:
        reason = require_reason(reason)
        self._cases_or_501("Making a new person").resolve_new_person(case_id, actor, reason, expected_version=version)

    def not_duplicate(self, case_id: str, actor: str, reason: str, version: int) -> None:
        reason = require_reason(reason)
        self._cases_or_501("Not a duplicate").resolve_not_duplicate(case_id, actor, reason, expected_version=version)

    def hold(self, case_id: str, actor: str, reason: str, version: int, follow_up: str | None,
             note: str | None = None) -> None:
        reason = require_reason(reason)
        try:
            when = date.fromisoformat(follow_up or "")
        except ValueError:
            raise ValidationError("a follow-up date is required", {"follow_up": ["a date, YYYY-MM-DD"]}) from None
        self._cases_or_501("Putting a case on hold").hold(case_id, actor, reason, expected_version=version,
                                                          follow_up=when, note=(note or "").strip() or None)

    def release(self, case_id: str, actor: str, reason: str, version: int) -> None:
        reason = require_reason(reason)
        self._cases_or_501("Releasing a hold").release(case_id, actor, reason, expected_version=version)

    def withdraw(self, case_id: str, actor: str, reason: str, version: int) -> None:
        reason = require_reason(reason)
        self._cases_or_501("Withdrawing a case").withdraw(case_id, actor, reason, expected_version=version)

    # -- merges ---------------------------------------------------------------------------

    def merge(self, survivor_id: str, loser_id: str, actor: str, reason: str) -> str:
        reason = require_reason(reason)
        loser_id = (loser_id or "").strip()
        if not loser_id:
            raise ValidationError("the person to merge in is required", {"loser_id": ["required"]})
        if self.merges is None:
            raise NotYetAvailable("Merging persons arrives with the merge service; it is not in this build yet")
        return self.merges.merge(survivor_id, loser_id, actor, reason)

    def unmerge(self, merge_id: str, actor: str, reason: str) -> None:
        reason = require_reason(reason)
        if self.merges is None:
            raise NotYetAvailable("Unmerging arrives with the merge service; it is not in this build yet")
        self.merges.unmerge(merge_id, actor, reason)
