"""Online matching: score an inbound record against the index and decide.

Three steps kept apart (scoring pairs, deciding, maintaining persons):
``find_candidates`` scores the record against stored records fetched by
blocking keys and keeps each person's best; ``mpi.decisions.decide`` applies
the policy; ``submit`` writes the outcome (link, new person, or review case)
and its audit events in one transaction under the store's writer lock, so two
concurrent requests for the same new person cannot both create one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from mpi.errors import ModelError, NotFound, ValidationError
from mpi.identity.index import CandidateIndex
from mpi.identity.survivorship import golden_view
from mpi.matching import blocking
from mpi.matching.decisions import Candidate, decide, decision_grade, rank
from mpi.matching.model import ACTIVE_MODEL_KEY, Model, ModelRegistry
from mpi.matching.scoring import QueryScorer, probability_from_weight
from mpi.records.normalise import NORMALISATION_VERSION, normalise_record
from mpi.records.validation import validate_record
from mpi.stewardship.priority import CaseTargets, priority_for
from mpi.store import Store
from mpi.vocab import CaseState, Decision, LinkSource

logger = logging.getLogger(__name__)

#: Store meta key: the normalisation rules the stored records' normalised forms follow.
NORMALISATION_KEY = "normalisation_version"
#: Store meta key: the blocking-key rules the stored postings follow.
BLOCKING_KEY = "blocking_version"


class Prepared(NamedTuple):
    """An inbound record validated, normalised and keyed: all of matching that needs no index or store."""

    record: dict[str, Any]
    norm: dict[str, Any]
    keys: list[str]


def prepare(data: Any, *, strict: bool = True) -> Prepared:
    """Validate and normalise an inbound record and derive its blocking keys.

    Raises:
        ValidationError: naming every bad field.
    """
    record = validate_record(data, strict=strict)
    norm = normalise_record(record)
    return Prepared(record, norm, blocking.record_keys(norm))


def _explained(query: QueryScorer, record: Any) -> Callable[[], list[dict[str, Any]]]:
    return lambda: query.explain(record).evidence


class MatchService:
    """Matching and its writes, over one store and one folder of models."""

    def __init__(self, store: Store, registry: ModelRegistry, max_block_size: int = 400,
                 case_targets: CaseTargets | None = None):
        self.store = store
        self.registry = registry
        self.max_block_size = max_block_size
        #: Target resolution time per priority: a case opened is due at its creation plus its target.
        self.case_targets = case_targets or CaseTargets()
        self._model: Model | None = None
        self._model_lock = threading.Lock()
        self._index: CandidateIndex | None = None
        self._index_generation = -1

    # -- model -------------------------------------------------------------------------

    def active_model(self) -> Model:
        """The store's active model, loaded once and reloaded when activation changes."""
        version = self.store.get_meta(ACTIVE_MODEL_KEY)
        if version is None:
            raise ModelError("no active model: run `mpi train` or `mpi model activate VERSION`")
        with self._model_lock:
            if self._model is None or self._model.version != version:
                self._model = self.registry.load(version)
            return self._model

    def activate(self, version: str, actor: str) -> Model:
        """Make a model version the active one (audited)."""
        model = self.registry.load(version)
        with self.store.transaction():
            previous = self.store.get_meta(ACTIVE_MODEL_KEY)
            self.store.set_meta(ACTIVE_MODEL_KEY, version)
            self.store.audit(actor, "model.activated", "model", version, None, {"previous": previous})
        logger.info("model %s activated by %s", version, actor)
        return model

    # -- the in-memory index -------------------------------------------------------------

    def index(self) -> CandidateIndex:
        """The read model of the store, built on first use and after any rollback."""
        index = self._index
        if index is None or self._index_generation != self.store.rollbacks:
            with self.store.transaction():
                self._renormalise_if_stale()
                self._rekey_if_stale()
                generation = self.store.rollbacks
                index = CandidateIndex.from_rows(self.store.index_rows())
                for key, person_id in self.store.not_duplicate_pairs():
                    index.keep_apart(key, person_id)
            self._index, self._index_generation = index, generation
            logger.info("candidate index built: %s records", len(index.entries))
        return index

    def _renormalise_if_stale(self) -> None:
        """Normalise every stored record again if the rules changed since (``NORMALISATION_VERSION``).

        Records keep their times, links and cases; their normalised form, blocking
        keys and the golden views built from them follow the current rules. Links
        made under the old forms stand until the record is next updated or re-matched.
        """
        stored = self.store.get_meta(NORMALISATION_KEY)
        if stored == str(NORMALISATION_VERSION):
            return
        count = 0
        for key, raw, received_at, updated_at in self.store.records_as_sent():
            norm = normalise_record(raw)
            self.store.restate_record(*key, raw, norm, blocking.record_keys(norm), received_at, updated_at)
            count += 1
        if count:
            index = CandidateIndex.from_rows(self.store.index_rows())
            for person_id in index.persons:
                self.store.set_golden(person_id, golden_view(
                    [{"norm": e.norm, "updated_at": e.updated_at} for _, e in index.person_entries(person_id)]))
            self.store.audit("system:normalisation", "records.renormalised", "store", "source_records",
                             f"normalisation rules {stored} -> {NORMALISATION_VERSION}", {"records": count})
            logger.info("normalised %s stored records again (rules %s -> %s)", count, stored, NORMALISATION_VERSION)
            self.store.set_meta(BLOCKING_KEY, str(blocking.BLOCKING_VERSION))  # restated with today's keys
        self.store.set_meta(NORMALISATION_KEY, str(NORMALISATION_VERSION))

    def _rekey_if_stale(self) -> None:
        """Key every stored record again if the blocking rules changed since (``BLOCKING_VERSION``).

        Without it, records stored before a change of keys would be found only
        through the keys the old and new rules happen to share. A store with no
        version recorded and no records needs nothing done.
        """
        stored = self.store.get_meta(BLOCKING_KEY)
        if stored == str(blocking.BLOCKING_VERSION):
            return
        count = self.store.restate_blocking_keys(blocking.record_keys)
        if count:
            self.store.audit("system:blocking", "records.rekeyed", "store", "blocking_keys",
                             f"blocking rules {stored} -> {blocking.BLOCKING_VERSION}", {"records": count})
            logger.info("keyed %s stored records again (blocking rules %s -> %s)", count, stored,
                        blocking.BLOCKING_VERSION)
        self.store.set_meta(BLOCKING_KEY, str(blocking.BLOCKING_VERSION))

    # -- scoring -----------------------------------------------------------------------

    def find_candidates(
        self, norm: Mapping[str, Any], model: Model, exclude: tuple[str, str] | None = None
    ) -> list[Candidate]:
        """Persons worth considering, best first.

        A person found through any of its records is scored against all of
        them: by its best record (the candidate's weight and evidence), and
        every one is checked against the policy's conflict rules (so a record is
        not linked to a person it contradicts in part). The prior is the one for
        the index's size, and term frequencies pool the model's with the
        index's, the record counted in it (``mpi.frequencies``).
        """
        index = self.index()
        size, stored = len(index.entries), index.get(exclude) if exclude else None
        frequencies = model.scorer.frequencies(norm, size, index.value_counts, stored and stored.norm)
        query = model.scorer.query(norm, size, frequencies)
        conflict_in = model.policy.conflict_in_bits
        candidates = []
        for person_id, members in index.candidate_persons(blocking.query_keys(norm), self.max_block_size, exclude):
            best, record, weakest, found = query.score_person(members, conflict_in)
            conflict = None if found is None else {"source_system": found[0][0], "source_record_id": found[0][1],
                                                   "level": found[1]}
            candidates.append(Candidate(person_id, best, probability_from_weight(best),
                                        _explained(query, record), *record.key, weakest, conflict))
        candidates.sort(key=rank)
        return candidates

    def match(self, data: Any, actor: str) -> dict[str, Any]:
        """Score a record against the index without writing anything."""
        record = validate_record(data)
        model = self.active_model()
        norm = normalise_record(record)
        with self.store.serialised():
            candidates = self.find_candidates(
                norm, model, exclude=(record["source_system"], record["source_record_id"])
            )
        decision = decide(candidates, model.policy)
        logger.debug("match by %s: %s candidates, decision %s", actor, len(candidates), decision.value)
        return {
            "decision": decision.value,
            "match_grade": decision_grade(decision, candidates, model.policy).value,
            "model_version": model.version,
            "candidates": [c.as_dict(model.policy) for c in candidates[: model.policy.max_candidates]],
        }

    # -- writing -------------------------------------------------------------------------

    def submit(self, data: Any, actor: str, *, strict: bool = True) -> dict[str, Any]:
        """Store a record (new or an update of the same key) and decide its person.

        A record already linked by a steward (``MANUAL``) keeps its link: the
        machine never overturns a steward. An open review case for the record
        is withdrawn and the record re-matched.
        """
        return self.submit_prepared(prepare(data, strict=strict), actor)

    def submit_prepared(self, prepared: Prepared, actor: str, *, with_candidates: bool = True) -> dict[str, Any]:
        """:meth:`submit` of a record :func:`prepare` has validated and normalised (perhaps in another process).

        ``with_candidates=False`` leaves the result's candidates (and their evidence) out, for a
        caller that counts decisions (``mpi load``); what is stored is the same.
        """
        record, norm, keys = prepared
        model = self.active_model()
        key = (record["source_system"], record["source_record_id"])
        entity = "/".join(key)
        with self.store.transaction():
            index = self.index()
            existing = index.get(key)
            updated_at = self.store.put_record(*key, record, norm, keys, existing.received_at if existing else None)
            index.put(key, norm, keys, existing.received_at if existing else updated_at, updated_at)
            self.store.audit(actor, "record.updated" if existing else "record.created", "record", entity, None,
                             {"model_version": model.version})
            if existing and existing.link_source == LinkSource.MANUAL.value:
                self._refresh_golden(existing.person_id)
                return self._result(key, Decision(existing.decision), model, [], existing.person_id, None,
                                    LinkSource.MANUAL, existing.score, existing.probability)
            blocks: list = []
            if existing and existing.case_id:
                # What the withdrawn case blocked still waits on this record: its next case inherits it.
                blocks = (self.store.get_case(existing.case_id) or {}).get("blocks") or []
                self.store.close_case(existing.case_id, CaseState.WITHDRAWN.value, None)
                self.store.audit(actor, "case.withdrawn", "review_case", existing.case_id,
                                 "record updated by its source; re-matched", {"record": entity})
                index.get(key).case_id = None
            decision, candidates, person_id, case_id = self._decide_and_write(
                actor, key, norm, model, existing.person_id if existing else None, blocks)
        logger.debug("record %s by %s: %s person=%s case=%s", entity, actor, decision.value, person_id, case_id)
        top = candidates[0] if candidates else None
        weight = top.match_weight if top else None
        probability = top.match_probability if top else None
        return self._result(key, decision, model, candidates, person_id, case_id, LinkSource.AUTO, weight,
                            probability, with_candidates=with_candidates)

    def _decide_and_write(self, actor, key, norm, model, old_person, blocks=()):
        """Decide a stored record against the index and write the outcome: a link, a new person or a case.

        Returns (decision, candidates, person id or None, case id or None).
        """
        index = self.index()
        entity = "/".join(key)
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
                person_id = self.store.create_person({})
                self.store.audit(actor, "person.created", "person", person_id, None, {"record": entity})
        if person_id:
            self._link(actor, key, person_id, decision, top, model, old_person)
        else:
            if old_person:
                self.store.delete_link(*key)
                index.unlink(key)
                self._refresh_golden(old_person)
                self.store.audit(actor, "link.removed", "record", entity, "re-matched into review",
                                 {"person_id": old_person})
            case_id = self._open_case(actor, key, candidates, model, blocks, "score in review band")
        return decision, candidates, person_id, case_id

    def _open_case(self, actor, key, candidates, model, blocks, reason) -> str:
        """Hold a record for review with its top candidates; the case's priority follows what it blocks."""
        shown = candidates[: model.policy.max_candidates]
        priority = priority_for(blocks)
        case_id = self.store.open_case(
            Decision.POSSIBLE_MATCH.value, *key, priority.value, list(blocks), model.version,
            [c.as_dict(model.policy) for c in shown], target=self.case_targets.target(priority),
        )
        self.index().get(key).case_id = case_id
        self.store.audit(actor, "case.opened", "review_case", case_id, reason,
                         {"record": "/".join(key), "candidates": [c.person_id for c in shown],
                          "priority": priority.value})
        return case_id

    def decide_again(self, source_system: str, source_record_id: str, actor: str, blocks=()) -> dict[str, Any]:
        """Decide a stored record afresh (after a steward's ``not_duplicate``), as submitting it would.

        Pairs a steward kept apart are skipped, so the outcome is a link to
        another person, a new person, or a case with the remaining candidates.
        """
        key = (source_system, source_record_id)
        model = self.active_model()
        with self.store.transaction():
            entry = self.stored_entry(key)
            decision, _, person_id, case_id = self._decide_and_write(
                actor, key, entry.norm, model, entry.person_id, blocks)
        return {"decision": decision.value, "person_id": person_id, "review_case_id": case_id}

    def open_review(self, source_system: str, source_record_id: str, actor: str, reason: str,
                    blocks=()) -> str:
        """Put an unlinked stored record back to review with fresh candidates, whatever they score."""
        key = (source_system, source_record_id)
        model = self.active_model()
        with self.store.transaction():
            entry = self.stored_entry(key)
            candidates = self.find_candidates(entry.norm, model, exclude=key)
            return self._open_case(actor, key, candidates, model, blocks, reason)

    def stored_entry(self, key: tuple[str, str]):
        """The index's entry of a stored record, or NotFound."""
        entry = self.index().get(key)
        if entry is None:
            raise NotFound(f"record {'/'.join(key)} not found")
        return entry

    def rematch_open_cases(self, actor: str, max_passes: int = 5) -> dict[str, int]:
        """Decide again the records held in review that no steward has taken up.

        A record that arrived before the rest of its person's records (the first
        rows of a bulk file, say) may have had too little to match against; once
        those have arrived it can be an unambiguous match. Each such record is
        linked (``AUTO``) and its case withdrawn, audited; any other outcome leaves
        the case as it is. Passes repeat while they link something, since one link
        can settle another case.
        """
        model = self.active_model()
        linked = passes = 0
        while passes < max_passes:
            passes += 1
            with self.store.transaction():
                index = self.index()
                held = [(key, entry.case_id) for key, entry in index.entries.items()
                        if entry.case_id and entry.person_id is None]
                done = 0
                for key, case_id in held:
                    case = self.store.get_case(case_id)
                    if case is None or case["state"] != CaseState.OPEN.value or case["owner"]:
                        continue
                    entry = index.get(key)
                    candidates = self.find_candidates(entry.norm, model, exclude=key)
                    if decide(candidates, model.policy) is not Decision.MATCH:
                        continue
                    entity = "/".join(key)
                    self.store.close_case(case_id, CaseState.WITHDRAWN.value, None)
                    self.store.audit(actor, "case.withdrawn", "review_case", case_id,
                                     "re-matched: an unambiguous match now", {"record": entity})
                    entry.case_id = None
                    self._link(actor, key, candidates[0].person_id, Decision.MATCH, candidates[0], model, None)
                    done += 1
            linked += done
            logger.info("re-match pass %s: %s of %s held records linked", passes, done, len(held))
            if not done:
                break
        return {"linked": linked, "passes": passes}

    def link_manually(self, source_system: str, source_record_id: str, person_id: str, actor: str,
                      reason: str) -> dict[str, Any]:
        """A steward's link of a record to a person: ``MANUAL``, never changed by re-matching.

        Closes the record's open review case (resolved as linked) and refreshes
        the golden view of the person it joins and of any person it leaves.
        """
        key = (source_system, source_record_id)
        entity = "/".join(key)
        if not reason or not reason.strip():
            raise ValidationError("a steward's link needs a reason", {"reason": ["required"]})
        with self.store.transaction():
            index = self.index()
            entry = self.stored_entry(key)
            person = self.store.resolve_person(person_id)
            person_id = person["person_id"]
            old_person = entry.person_id
            self.store.set_link(*key, person_id, Decision.MATCH.value, LinkSource.MANUAL.value, None, None, [], None)
            index.link(key, person_id, Decision.MATCH.value, LinkSource.MANUAL.value, None, None)
            if entry.case_id:
                self.store.close_case(entry.case_id, CaseState.RESOLVED.value, "linked")
                self.store.audit(actor, "case.resolved", "review_case", entry.case_id, reason,
                                 {"resolution": "linked", "person_id": person_id, "record": entity})
                entry.case_id = None
            self.store.audit(actor, "link.manual", "record", entity, reason,
                             {"person_id": person_id, "previous_person_id": old_person})
            self._refresh_golden(person_id)
            if old_person and old_person != person_id:
                self._refresh_golden(old_person)
        logger.info("record %s linked manually to %s by %s", entity, person_id, actor)
        return {"source_system": source_system, "source_record_id": source_record_id, "person_id": person_id,
                "link_source": LinkSource.MANUAL.value}

    def _link(self, actor, key, person_id, decision, top, model, old_person) -> None:
        weight = top.match_weight if top else None
        probability = top.match_probability if top else None
        self.store.set_link(*key, person_id, decision.value, LinkSource.AUTO.value, weight, probability,
                            top.evidence if top else [], model.version)
        self.index().link(key, person_id, decision.value, LinkSource.AUTO.value, weight, probability)
        action = "link.created" if old_person in (None, person_id) else "link.moved"
        self.store.audit(actor, action, "record", "/".join(key), f"auto {decision.value}",
                         {"person_id": person_id, "previous_person_id": old_person, "match_weight": weight,
                          "model_version": model.version})
        self._refresh_golden(person_id)
        if old_person and old_person != person_id:
            self._refresh_golden(old_person)

    def refresh_golden(self, person_id: str) -> None:
        """Recompute a person's golden view from the records the index links to it (in a transaction)."""
        members = self.index().person_entries(person_id)
        self.store.set_golden(person_id, golden_view([{"norm": e.norm, "updated_at": e.updated_at} for _, e in members]))

    _refresh_golden = refresh_golden

    def _result(self, key, decision, model, candidates, person_id, case_id, link_source, weight, probability,
                with_candidates=True):
        shown = candidates[: model.policy.max_candidates] if with_candidates else []
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
        }
