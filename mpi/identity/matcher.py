"""Online matching: score an inbound record against the index, decide, and write the outcome.

Three steps kept apart (scoring pairs, deciding, maintaining persons):
:func:`~mpi.identity.candidates.find_candidates` scores the record against the
persons the index finds for it, :func:`~mpi.matching.decisions.decide` applies
the policy, and :class:`MatchService` writes the outcome (a link, a new person,
or a review case) through the one writer of identity
(:class:`~mpi.identity.writer.IdentityWriter`), in one store transaction under
the writer lock, so two concurrent requests for the same new person cannot both
create one. A record that cannot be decided is held for a steward through the
review port (:class:`~mpi.identity.ports.ReviewPort`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from mpi.errors import Conflict, ValidationError
from mpi.identity.candidates import find_candidates
from mpi.identity.index import CandidateIndex
from mpi.identity.models import ActiveModel
from mpi.identity.ports import ReviewPort
from mpi.identity.rematch import Rematching
from mpi.identity.writer import IdentityWriter, Link
from mpi.matching.decisions import (
    Candidate,
    HeldBecause,
    decide,
    decision_grade,
    held_because,
)
from mpi.matching.model import Model
from mpi.matching.prepare import Prepared, prepare
from mpi.matching.weights import probability_from_weight
from mpi.records.unused import unused_fields
from mpi.store import Store
from mpi.vocab import AuditAction, Decision, HeldCode, LinkSource

logger = logging.getLogger(__name__)

Key = tuple[str, str]


class MatchService(Rematching):
    """Matching and its writes: submit, match, decide again, and re-match sweeps of held records (``rematch``)."""

    def __init__(self, store: Store, writer: IdentityWriter, models: ActiveModel, review: ReviewPort,
                 max_block_size: int = 400):
        self.store = store
        self.writer = writer
        self.models = models
        self.review = review
        self.max_block_size = max_block_size

    def active_model(self) -> Model:
        """The model this service decides with (the store's active one)."""
        return self.models.get()

    def index(self) -> CandidateIndex:
        """The candidate index this service matches against (the writer's)."""
        return self.writer.index

    def find_candidates(self, norm: Mapping[str, Any], model: Model, exclude: Key | None = None) -> list[Candidate]:
        """Persons worth considering for a normalised record, best first (``mpi.identity.candidates``)."""
        return find_candidates(self.writer.index, norm, model, self.max_block_size, exclude)

    # -- reading -------------------------------------------------------------------------------

    def match(self, data: Any, actor: str) -> dict[str, Any]:
        """Score a record against the index without writing anything.

        Refused as submitting it would be (``prepare``): a bad field, or nothing to match on.
        """
        record, norm, _ = prepare(data)
        model = self.active_model()
        with self.store.serialised():
            key = (record["source_system"], record["source_record_id"])
            candidates = self.find_candidates(norm, model, exclude=key)
        decision = decide(candidates, model.policy)
        logger.debug("match by %s: %s candidates, decision %s", actor, len(candidates), decision.value)
        return {
            "decision": decision.value,
            "match_grade": decision_grade(decision, candidates, model.policy).value,
            "model_version": model.version,
            "candidates": [c.as_dict(model.policy) for c in candidates[: model.policy.max_candidates]],
            "held_because": _said(held_because(candidates, model.policy)),
            "warnings": unused_fields(record, norm),
        }

    # -- writing ----------------------------------------------------------------------------------

    def submit(self, data: Any, actor: str, *, strict: bool = True) -> dict[str, Any]:
        """Store a record (new or an update of the same key) and decide its person.

        A record already linked by a steward (``MANUAL``) keeps its link: the
        machine never overturns a steward. An open review case for the record
        is withdrawn and the record re-matched.
        """
        return self.submit_prepared(prepare(data, strict=strict), actor)

    def submit_prepared(self, prepared: Prepared, actor: str, *, with_candidates: bool = True,
                        blocks: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
        """:meth:`submit` of a record :func:`~mpi.matching.prepare.prepare` has validated and normalised.

        ``with_candidates=False`` leaves the result's candidates (and their evidence) out, for a
        caller that counts decisions (``mpi load``); what is stored is the same. ``blocks`` is
        what waits on the record's person (a referral): a case opened for the record blocks it,
        and its priority follows.
        """
        record, norm, keys = prepared
        model = self.active_model()
        key = (record["source_system"], record["source_record_id"])
        warnings = unused_fields(record, norm)
        with self.store.transaction():
            if self.store.lock_blocking_keys(keys):  # other processes share the store: wait, then see theirs
                self.writer.catch_up(self.store.records.index_rows_under(keys))
            same = self._unchanged(key, record, norm)
            if same is not None and (same.person_id or not blocks):  # a held record's new blocks reopen its case
                # Sent again as it is stored: nothing to write, audit or decide (a load run twice converges).
                decision = Decision(same.decision) if same.person_id else Decision.POSSIBLE_MATCH  # held
                return {**self._result(key, decision, model, [], same.person_id, same.case_id,
                                       LinkSource(same.link_source or LinkSource.AUTO), same.score, same.probability,
                                       warnings), "unchanged": True}
            old = self.writer.put_record(key, record, norm, keys, actor, model.version)
            if self.writer.protected(key):
                self.writer.refresh_golden(old.person_id)
                return self._result(key, Decision(old.decision), model, [], old.person_id, None, LinkSource.MANUAL,
                                    old.score, old.probability, warnings)
            blocks = list(blocks)
            if old and old.case_id:
                # What the withdrawn case blocked still waits on this record: its next case inherits it.
                blocks = self._withdraw(old.case_id, key, actor, "record updated by its source; re-matched") + blocks
            decision, candidates, person_id, case_id = self._decide_and_write(actor, key, norm, model, blocks)
        logger.debug("record %s by %s: %s person=%s case=%s", "/".join(key), actor, decision.value, person_id,
                     case_id)
        top = candidates[0] if candidates else None
        weight = top.match_weight if top else None
        probability = top.match_probability if top else None
        return self._result(key, decision, model, candidates, person_id, case_id, LinkSource.AUTO, weight,
                            probability, warnings, with_candidates=with_candidates)

    def submit_cluster(self, representative: Prepared, members: Sequence[tuple[Prepared, float | None]],
                       actor: str, cluster_id: str) -> dict[str, Any]:
        """Store new records a batch run found to be one human, deciding them all by one match.

        The representative is decided as :meth:`submit_prepared` decides a record (one match against the
        index). On ``MATCH`` or ``NO_MATCH`` each member is linked (``AUTO``, ``MATCH``) to the person the
        representative got, with its own weight to its cluster (``match_weight_to_cluster``); on
        ``POSSIBLE_MATCH`` each member is held in review like the representative, with the representative's
        candidates: a steward sees the same choice, and once the representative is decided the members
        score high against its record, so ``rematch_open_cases`` links them after it. One transaction,
        every write audited (the members' links name the cluster and the representative). A member that
        meets a conflict rule against any record of the person (the representative's, or a member's linked
        before it) does not join it: it is decided alone, as :meth:`submit_prepared` decides a record, so a
        cluster cannot carry a record into a person it contradicts.

        Every record must be new to the store (an update is decided alone, by :meth:`submit_prepared`).

        Returns:
            the representative's decision, person id and case id, each member's case id (when held), and
            the decision and case id of each member decided alone (``decided_alone``).
        """
        model = self.active_model()
        rep_key = representative.key
        index = self.writer.index
        with self.store.transaction():
            for prepared in (representative, *(m for m, _ in members)):
                key = prepared.key
                if index.get(key) is not None:
                    raise Conflict(f"record {'/'.join(key)} is stored already: decide it alone",
                                   {"record": ["stored already"]})
            self.writer.put_record(rep_key, *representative, actor, model.version)
            decision, candidates, person_id, case_id = self._decide_and_write(actor, rep_key, representative.norm,
                                                                              model)
            held, alone = {}, {}
            for prepared, weight in members:
                key = prepared.key
                self.writer.put_record(key, *prepared, actor, model.version)
                if person_id is None:
                    rep = "/".join(rep_key)
                    held[key] = self._hold(actor, key, candidates, model, (), HeldBecause(
                        HeldCode.HELD_WITH_CLUSTER,
                        f"Held with its cluster {cluster_id}: its representative {rep} is in review (case {case_id}).",
                        {"cluster_id": cluster_id, "representative": rep, "representative_case_id": case_id}))
                    continue
                if self._contradicts(prepared.norm, person_id, model):
                    # The representative's match saw only the representative: a member joins only when it is
                    # consistent with every record of the person too, else it is decided alone (a bridge
                    # such as a son's record in a cluster with his father's undated one).
                    decided, _, alone_person, alone_case = self._decide_and_write(actor, key, prepared.norm, model)
                    alone[key] = {"decision": decided.value, "person_id": alone_person, "review_case_id": alone_case}
                    continue
                link = Link(Decision.MATCH.value, LinkSource.AUTO, weight,
                            None if weight is None else probability_from_weight(weight), [], model.version)
                self.writer.link(key, person_id, link, actor, f"auto MATCH by cluster {cluster_id}",
                                 detail={"match_weight": weight, "model_version": model.version,
                                         "cluster_id": cluster_id, "representative": "/".join(rep_key)})
        logger.debug("cluster %s by %s: %s members, representative %s person=%s case=%s", cluster_id, actor,
                     len(members) + 1, decision.value, person_id, case_id)
        return {"decision": decision.value, "person_id": person_id, "review_case_id": case_id,
                "held": held, "decided_alone": alone}

    def _contradicts(self, norm: Mapping[str, Any], person_id: str, model: Model) -> bool:
        """Whether a record meets a conflict rule of the policy against any record of the person."""
        members = [entry for _, entry in self.writer.index.person_entries(person_id)]
        *_, found = model.scorer.query(norm).score_person(members, model.policy.conflict_in_bits)
        return found is not None

    def _unchanged(self, key: Key, record: Mapping[str, Any], norm: Mapping[str, Any]):
        """The record's index entry if it was decided and is sent again exactly as stored, else None."""
        entry = self.writer.index.get(key)
        if entry is None or not (entry.person_id and entry.decision or entry.case_id) or entry.norm != norm:
            return None
        return entry if self.store.records.raw(*key) == dict(record) else None

    def _decide_and_write(self, actor: str, key: Key, norm: Mapping[str, Any], model: Model,
                          blocks: Sequence[Mapping[str, Any]] = ()):
        """Decide a stored record against the index and write the outcome: a link, a new person or a case.

        Returns (decision, candidates, person id or None, case id or None).
        """
        index = self.writer.index
        old_person = index.get(key).person_id
        candidates = self.find_candidates(norm, model, exclude=key)
        decision = decide(candidates, model.policy)
        top = candidates[0] if candidates else None
        person_id, case_id = None, None
        if decision is Decision.MATCH:
            person_id = top.person_id
        elif decision is Decision.NO_MATCH:
            if old_person and set(index.persons.get(old_person, ())) <= {key}:
                person_id = old_person
            else:
                person_id = self.writer.create_person(actor, None, {"record": "/".join(key)}, key)
        if person_id:
            self._link(actor, key, person_id, decision, top, model)
        else:
            if old_person:
                self.writer.unlink(key, LinkSource.AUTO, actor, AuditAction.LINK_REMOVED, "re-matched into review")
            case_id = self._hold(actor, key, candidates, model, blocks, held_because(candidates, model.policy))
        return decision, candidates, person_id, case_id

    def _link(self, actor: str, key: Key, person_id: str, decision: Decision, top: Candidate | None,
              model: Model) -> None:
        """The matcher's (``AUTO``) link of a record to a person, with the top candidate's score and evidence."""
        weight = top.match_weight if top else None
        link = Link(decision.value, LinkSource.AUTO, weight, top.match_probability if top else None,
                    top.evidence if top else [], model.version)
        self.writer.link(key, person_id, link, actor, f"auto {decision.value}",
                         detail={"match_weight": weight, "model_version": model.version})

    def _hold(self, actor: str, key: Key, candidates: list[Candidate], model: Model,
              blocks: Sequence[Mapping[str, Any]], because: HeldBecause) -> str:
        """Hold a record for review with its top candidates, saying why; returns the case id."""
        case_id = self.review.open(key, candidates, model, blocks, because, actor)
        self.writer.hold(key, case_id)
        return case_id

    def _withdraw(self, case_id: str, key: Key, actor: str, reason: str) -> list[dict]:
        """Withdraw a record's case through the review port and forget it in the index; returns what it blocked."""
        blocks = self.review.withdraw(case_id, key, actor, reason)
        self.writer.release(key)
        return blocks

    def decide_again(self, source_system: str, source_record_id: str, actor: str, blocks=()) -> dict[str, Any]:
        """Decide a stored record afresh (after a steward's ``not_duplicate``), as submitting it would.

        Pairs a steward kept apart are skipped, so the outcome is a link to
        another person, a new person, or a case with the remaining candidates.
        """
        key = (source_system, source_record_id)
        model = self.active_model()
        with self.store.transaction():
            entry = self.writer.entry(key)
            decision, _, person_id, case_id = self._decide_and_write(actor, key, entry.norm, model, blocks)
        return {"decision": decision.value, "person_id": person_id, "review_case_id": case_id}

    def open_review(self, source_system: str, source_record_id: str, actor: str, reason: str,
                    blocks=(), code: HeldCode = HeldCode.RETURNED_BY_STEWARD) -> str:
        """Put an unlinked stored record back to review with fresh candidates, whatever they score.

        ``code`` and ``reason`` say why (``held_because``): a steward's link undone, or its person unmerged.
        """
        key = (source_system, source_record_id)
        model = self.active_model()
        with self.store.transaction():
            entry = self.writer.entry(key)
            candidates = self.find_candidates(entry.norm, model, exclude=key)
            return self._hold(actor, key, candidates, model, blocks, returned(code, reason, candidates))

    def link_manually(self, source_system: str, source_record_id: str, person_id: str, actor: str,
                      reason: str) -> dict[str, Any]:
        """A steward's link of a record to a person: ``MANUAL``, never changed by re-matching.

        Closes the record's open review case (resolved as linked) and refreshes
        the golden view of the person it joins and of any person it leaves.
        """
        key = (source_system, source_record_id)
        if not reason or not reason.strip():
            raise ValidationError("a steward's link needs a reason", {"reason": ["required"]})
        with self.store.transaction():
            entry = self.writer.entry(key)
            person_id = self.store.persons.resolve(person_id)["person_id"]
            if entry.case_id:
                self.review.resolve_linked(entry.case_id, key, person_id, actor, reason)
                self.writer.release(key)
            self.writer.link(key, person_id, Link(Decision.MATCH.value, LinkSource.MANUAL), actor, reason,
                             action=AuditAction.LINK_MANUAL)
        logger.info("record %s linked manually to %s by %s", "/".join(key), person_id, actor)
        return {"source_system": source_system, "source_record_id": source_record_id, "person_id": person_id,
                "link_source": LinkSource.MANUAL.value}

    def _result(self, key, decision, model, candidates, person_id, case_id, link_source, weight, probability,
                warnings, with_candidates=True):
        shown = candidates[: model.policy.max_candidates] if with_candidates else []
        held = None
        if case_id and with_candidates:  # why it is held: the words its case and its audit say
            if candidates:
                held = _said(held_because(candidates, model.policy))
            else:  # sent again unchanged: as stored with its case
                reason = self.store.case_reasons.of([case_id]).get(case_id)
                held = {"code": reason["code"], "sentence": reason["sentence"]} if reason else None
        return {
            "source_system": key[0],
            "source_record_id": key[1],
            "decision": decision.value,
            "match_grade": decision_grade(decision, candidates, model.policy).value,
            "person_id": person_id,
            "review_case_id": case_id,
            "link_source": link_source.value if person_id else None,
            "match_weight": None if weight is None else round(weight, 6),
            "match_probability": probability,
            "model_version": model.version,
            "candidates": [c.as_dict(model.policy) for c in shown],
            "held_because": held,
            "warnings": warnings,
        }


def _said(because: HeldBecause | None) -> dict[str, str] | None:
    return None if because is None else because.as_dict()


def returned(code: HeldCode, why: str, candidates: Sequence[Candidate]) -> HeldBecause:
    """Why a record is back in review whatever its candidates score (``why``: ids only), with its best candidate."""
    if candidates:
        top = candidates[0]
        best = f"the best person {top.person_id} weighs {top.match_weight:.2f}"
        detail = {"why": why, "person_id": top.person_id, "match_weight": round(top.match_weight, 2)}
    else:
        best, detail = "no person is a candidate", {"why": why}
    return HeldBecause(code, f"{why[:1].upper()}{why[1:]}; back in review for a steward: {best}.", detail)
