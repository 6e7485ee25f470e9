"""Who reads which person and which record: minimum necessary, decided in one place.

The rule (the README's "Minimum necessary"): stewards and admins read every person and
record whole (their job); an auditor reads none (it reads the access log). A hub or a
coordinator acts for its organisation and reads a person only as far as the organisation's
own records, referrals and match results need:

- the persons its own records are linked to (records its callers submitted, or sent on its
  referrals), the person of a certain match answered to its ``/v1/match``, and the person of a
  referral it requested, or performs with the person's consent: with identifiers masked
  (:mod:`mpi.trust.masking`) and only its own records listed;
- the person of a referral it performs without consent: a name and a way to contact, no more;
- any other person: 404 ``person ... not found``, the very answer for an id that does not
  exist, so walking ids learns nothing (not even which ids exist).

A record is read by the organisation that submitted it (or sent it on a referral), masked;
another organisation's record answers 404 as a missing one does. Grants follow merges and
unmerges (:mod:`mpi.store.grants`). The grant of an answer is written in the transaction of
the answer's own write (``/v1/records``), or in a transaction of its own for the read-only
``/v1/match``.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from collections.abc import Sequence
from typing import Any

from mpi.auth import Caller
from mpi.errors import Forbidden, NotFound
from mpi.identity.fhir_match import match_patient
from mpi.identity.matcher import MatchService
from mpi.identity.reads import PersonLookup
from mpi.matching.decisions import Candidate
from mpi.matching.prepare import prepare
from mpi.store import Store
from mpi.trust.masking import contact_only, masked
from mpi.vocab import Decision, GrantKind, Role

logger = logging.getLogger(__name__)

#: Roles that read every person and record whole; ``system`` is the service acting on its own.
WHOLE_ROLES = frozenset({Role.STEWARD.value, Role.ADMIN.value, "system"})
#: Roles that read no person data at all.
NO_PHI_ROLES = frozenset({Role.AUDITOR.value})


class Disclosure(StrEnum):
    """How much of a person a caller is shown (``disclosure`` in a person's answer)."""

    WHOLE = "whole"
    """Every field and record as held: stewards and admins."""
    MASKED = "masked"
    """Identifiers masked and only the organisation's own records listed: a hub or coordinator given the person."""
    CONTACT = "contact"
    """A name and a way to contact, nothing else: the performer of a referral made without the person's consent."""


class TrustedReads:
    """Person and record reads scoped to the caller, and the writes that give a person to an organisation."""

    def __init__(self, store: Store, lookup: PersonLookup, matching: MatchService):
        self.store = store
        self.lookup = lookup
        self.matching = matching

    # -- reads ---------------------------------------------------------------------------------

    def person(self, person_id: str, caller: Caller) -> dict[str, Any]:
        """A person (following merge redirects) as far as the caller may see it.

        Raises:
            NotFound: no such person, or one the caller's organisation was not given (the same answer).
            Forbidden: a role that reads no person data.
        """
        if caller.role in WHOLE_ROLES:
            return {**self.lookup.person(person_id), "disclosure": Disclosure.WHOLE.value}
        _refuse_no_phi(caller)
        person = self.lookup.person(person_id)
        level = self.disclosure(person["person_id"], caller)
        if level is None:
            logger.info("person %s refused to %s of %s", person_id, caller.actor, caller.organisation)
            raise NotFound(f"person {person_id} not found")
        if level is Disclosure.CONTACT:
            return {**person, "golden": contact_only(person["golden"]), "records": [],
                    "disclosure": level.value}
        keys = [(r["source_system"], r["source_record_id"]) for r in person["records"]]
        own = self.store.grants.own_records(caller.organisation, keys)
        return {**person, "golden": masked(person["golden"]), "disclosure": level.value,
                "records": [r for r in person["records"] if (r["source_system"], r["source_record_id"]) in own]}

    def disclosure(self, person_id: str, caller: Caller) -> Disclosure | None:
        """How much of a live person the caller sees, or None: not at all."""
        if caller.role in WHOLE_ROLES:
            return Disclosure.WHOLE
        if caller.role in NO_PHI_ROLES or caller.organisation is None:
            return None
        whole, performer = self.store.grants.reach(caller.organisation, person_id)
        if whole:
            return Disclosure.MASKED
        return Disclosure.CONTACT if performer else None

    def record(self, source_system: str, source_record_id: str, caller: Caller) -> dict[str, Any]:
        """A stored source record with its link, if the caller's organisation submitted it (masked) or reads all.

        Raises:
            NotFound: no such record, or another organisation's (the same answer).
            Forbidden: a role that reads no person data.
        """
        if caller.role in WHOLE_ROLES:
            return self.lookup.record(source_system, source_record_id)
        _refuse_no_phi(caller)
        key = (source_system, source_record_id)
        if caller.organisation is None or not self.store.grants.own_records(caller.organisation, [key]):
            raise NotFound(f"record {source_system}/{source_record_id} not found")
        record = self.lookup.record(source_system, source_record_id)
        return {**record, "raw": masked(record["raw"]), "norm": masked(record["norm"])}

    # -- answers that give a person ----------------------------------------------------------------

    def submit(self, data: Any, caller: Caller) -> dict[str, Any]:
        """Submit a record for the caller; its organisation is given the record (so the person it is linked
        to, now and after any merge or relinking), in the same transaction as the record's write.

        The record is checked before it queues for the writer (a bad one costs the others nothing), then
        matched and written in a transaction shared with the writers beside it (``Store.grouped``)."""
        prepared = prepare(data)

        def write() -> dict[str, Any]:
            result = self.matching.submit_prepared(prepared, caller.actor)
            if caller.organisation is not None:
                self.store.grants.add(caller.organisation, GrantKind.RECORD, result["person_id"],
                                      (result["source_system"], result["source_record_id"]))
            return result
        return self._candidates_for(self.store.grouped(write), caller)

    def match(self, data: Any, caller: Caller) -> dict[str, Any]:
        """Score a record without storing it; a certain match (``MATCH``) gives its person to the caller's
        organisation (a grant in a transaction of its own). A possible match gives nothing: a steward
        has not said it is the same human, and a loose record must not fish persons out of the index.

        A hub's or coordinator's answer costs one read of the store (``GrantTable.match_answer``): which
        candidate records are its own, and whether it was given the matched person before; a write only
        the first time it is."""
        result = self.matching.match(data, caller.actor)
        candidates = result["candidates"]
        certain = (candidates[0]["person_id"] if caller.organisation is not None
                   and result["decision"] == Decision.MATCH.value and candidates else None)
        if caller.role in WHOLE_ROLES or caller.organisation is None or not candidates:
            if certain is not None:
                self.store.grants.add(caller.organisation, GrantKind.MATCH, certain)
            return self._candidates_for(result, caller)
        own, granted = self.store.grants.match_answer(caller.organisation, _record_keys(candidates), certain)
        if certain is not None and not granted:
            self.store.grants.add(caller.organisation, GrantKind.MATCH, certain, absent=True)
        return {**result, "candidates": _without_others(candidates, own)}

    def match_patient(self, body: Any, base: str, caller: Caller) -> dict[str, Any]:
        """FHIR ``Patient/$match`` for the caller, under the rule of :meth:`match`: a certain match gives its
        person to the caller's organisation (a grant), and is the one candidate a hub or coordinator is shown
        more of than its id, score and grade; stewards and admins see every candidate's golden view."""
        _refuse_no_phi(caller)

        def reveal(decision: Decision, candidates: Sequence[Candidate]) -> set[str] | None:
            if caller.role in WHOLE_ROLES:
                return None
            if decision is not Decision.MATCH or not candidates:
                return set()
            if caller.organisation is not None:
                self.store.grants.add(caller.organisation, GrantKind.MATCH, candidates[0].person_id)
            return {candidates[0].person_id}

        return match_patient(self.matching, body, base, reveal)

    def _candidates_for(self, result: dict[str, Any], caller: Caller) -> dict[str, Any]:
        """The answer's candidates without other organisations' record keys, for a caller who does not read all."""
        if caller.role in WHOLE_ROLES or not result.get("candidates"):
            return result
        keys = _record_keys(result["candidates"])
        own = self.store.grants.own_records(caller.organisation, keys) if caller.organisation else set()
        return {**result, "candidates": _without_others(result["candidates"], own)}


def _record_keys(candidates: Sequence[dict[str, Any]]) -> set[tuple[str, str]]:
    """The record keys an answer's candidates name: each one's ``matched_record`` and the record a ``conflict`` names."""
    keys = {(c["matched_record"]["source_system"], c["matched_record"]["source_record_id"]) for c in candidates}
    keys |= {(c["conflict"]["source_system"], c["conflict"]["source_record_id"])
             for c in candidates if c.get("conflict") and "source_record_id" in c["conflict"]}
    return keys


def _without_others(candidates: Sequence[dict[str, Any]], own: set[tuple[str, str]]) -> list[dict[str, Any]]:
    """The candidates with the keys of the caller's own records only.

    A candidate's ``matched_record`` (and the record a ``conflict`` names) would tell a hub which
    other systems hold the person (an HIV clinic's, say): it keeps the key of its own records only,
    ``null`` (the conflict its level only) for any other.
    """
    shown = []
    for c in candidates:
        c = dict(c)
        if (c["matched_record"]["source_system"], c["matched_record"]["source_record_id"]) not in own:
            c["matched_record"] = None
        conflict = c.get("conflict")
        if conflict and (conflict.get("source_system"), conflict.get("source_record_id")) not in own:
            c["conflict"] = {k: v for k, v in conflict.items() if k not in ("source_system", "source_record_id")}
        shown.append(c)
    return shown


def _refuse_no_phi(caller: Caller) -> None:
    if caller.role in NO_PHI_ROLES:
        raise Forbidden(f"the {caller.role} role reads no person data", {"role": [f"{caller.role} reads the access "
                                                                                  "log, not persons or records"]})
