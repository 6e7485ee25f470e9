"""What the review pages read and do: the same services the API calls, never the API itself.

The case workflow (``services.cases``, ``mpi/stewardship/cases.py``), merges
(``services.merges``) and person history (``services.history``); the pages add
only what a form needs (a reason, a parsed date) before calling them.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

from mpi.errors import Conflict, MpiError, ValidationError
from mpi.services import Services
from mpi.vocab import Decision

logger = logging.getLogger(__name__)

#: Records of each person scored against each other when two persons are compared (the best pair is shown).
PAIR_RECORDS = 40


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
        self.cases = services.cases
        self.merges = services.merges

    def now(self) -> datetime:
        """The service's clock: what pages measure ages and due times against."""
        return self.services.clock.now()

    def policy(self):
        try:
            return self.services.matching.active_model().policy
        except MpiError:
            return None

    # -- reads ---------------------------------------------------------------------------

    def queue(self, filters: dict[str, Any], limit: int, offset: int) -> list[dict]:
        return self.cases.queue(**filters, limit=limit, offset=offset)

    def queue_counts(self) -> dict[str, Any]:
        return self.cases.queue_counts()

    def case(self, case_id: str) -> dict:
        return self.cases.get(case_id)

    def person(self, person_id: str) -> dict:
        return self.services.persons.person(person_id)

    def history(self, person: dict) -> list[dict]:
        """What happened to a person, newest first (``services.history``)."""
        return self.services.history.history(person["person_id"])

    def best_pair(self, left: list[dict], right: list[dict]) -> tuple[dict | None, dict | None, Any]:
        """The pair of records (one of each person) the active model scores highest, and that score (its
        evidence is the waterfall a steward reads), as (left record, right record, PairScore); Nones and None
        when a side has no records or no model is active. At most :data:`PAIR_RECORDS` records a side."""
        try:
            scorer = self.services.matching.active_model().scorer
        except MpiError:
            return None, None, None
        best = (None, None, None)
        for a in left[:PAIR_RECORDS]:
            for b in right[:PAIR_RECORDS]:
                score = scorer.score(a.get("norm") or {}, b.get("norm") or {})
                if best[2] is None or score.match_weight > best[2].match_weight:
                    best = (a, b, score)
        return best

    def audit(self, **filters) -> dict[str, Any]:
        return self.store.audit.page(**filters)

    # -- case actions ------------------------------------------------------------------

    def claim(self, case_id: str, actor: str, reason: str, version: int) -> None:
        self.cases.claim(case_id, actor, require_reason(reason), expected_version=version)

    def link(self, case_id: str, person_id: str, actor: str, reason: str, version: int) -> dict:
        return self.cases.resolve_linked(case_id, person_id, actor, require_reason(reason), expected_version=version)

    def new_person(self, case_id: str, actor: str, reason: str, version: int) -> dict:
        reason = require_reason(reason)
        return self.cases.resolve_new_person(case_id, actor, reason, expected_version=version)

    def not_duplicate(self, case_id: str, actor: str, reason: str, version: int) -> dict:
        reason = require_reason(reason)
        return self.cases.resolve_not_duplicate(case_id, actor, reason, expected_version=version)

    def merge_case(self, case_id: str, survivor_id: str | None, actor: str, reason: str,
                   version: int) -> tuple[str, str, str]:
        """Merge the two persons of a ``POSSIBLE_DUPLICATE`` case, the one the steward chose surviving;
        returns (merge id, survivor, loser).

        Raises:
            ValidationError: no reason, or ``survivor_id`` is not one of the case's two (live) persons.
            Conflict: the case is not a ``POSSIBLE_DUPLICATE`` (a record's case is linked, never merged from).
        """
        reason = require_reason(reason)
        case = self.cases.get(case_id)
        if case["kind"] != Decision.POSSIBLE_DUPLICATE.value:
            raise Conflict(f"review case {case_id} holds a record: link it, make it a new person or say not a "
                           "duplicate", {"kind": ["only a POSSIBLE_DUPLICATE case is merged from"]})
        persons = [(c.get("person") or {}).get("person_id") or c["person_id"] for c in case["candidates"][:2]]
        survivor = (survivor_id or "").strip()
        if survivor not in persons:
            raise ValidationError("choose which of the two persons survives",
                                  {"survivor_id": [f"one of {', '.join(persons)}"]})
        loser = next((p for p in persons if p != survivor), survivor)
        result = self.cases.resolve_by_merge(case_id, survivor, loser, actor, reason, expected_version=version)
        return result["merge_id"], survivor, loser

    def hold(self, case_id: str, actor: str, reason: str, version: int, follow_up: str | None,
             note: str | None = None) -> None:
        reason = require_reason(reason)
        try:
            when = date.fromisoformat(follow_up or "")
        except ValueError:
            raise ValidationError("a follow-up date is required", {"follow_up": ["a date, YYYY-MM-DD"]}) from None
        self.cases.hold(case_id, actor, reason, expected_version=version, follow_up=when,
                        note=(note or "").strip() or None)

    def release(self, case_id: str, actor: str, reason: str, version: int) -> None:
        reason = require_reason(reason)
        self.cases.release(case_id, actor, reason, expected_version=version)

    def withdraw(self, case_id: str, actor: str, reason: str, version: int) -> None:
        reason = require_reason(reason)
        self.cases.withdraw(case_id, actor, reason, expected_version=version)

    def confirm(self, case_id: str, actor: str, reason: str, version: int) -> dict:
        """A spot-check's auto-link is right (``SpotChecks.confirm``)."""
        return self.services.spot_checks.confirm(case_id, actor, require_reason(reason), expected_version=version)

    def reject(self, case_id: str, actor: str, reason: str, version: int) -> dict:
        """A spot-check's auto-link is the wrong person: undone, back in review (``SpotChecks.reject``)."""
        return self.services.spot_checks.reject(case_id, actor, require_reason(reason), expected_version=version)

    # -- merges ---------------------------------------------------------------------------

    def merge(self, survivor_id: str, loser_id: str, actor: str, reason: str) -> str:
        reason = require_reason(reason)
        loser_id = (loser_id or "").strip()
        if not loser_id:
            raise ValidationError("the person to merge in is required", {"loser_id": ["required"]})
        return self.merges.merge(survivor_id, loser_id, actor, reason)

    def undo_link(self, source_system: str, source_record_id: str, actor: str, reason: str) -> dict:
        """Take back a steward's link: the record goes back to review (``CaseService.undo_link``)."""
        return self.cases.undo_link(source_system, source_record_id, actor, require_reason(reason))

    def unmerge(self, merge_id: str, actor: str, reason: str) -> None:
        reason = require_reason(reason)
        self.merges.unmerge(merge_id, actor, reason)
