"""Opening and closing review cases for identity: the implementation of ``mpi.identity.ports.ReviewPort``.

When the matcher cannot decide a record it asks this desk to hold it for a
steward: a case with the record's top candidates and their evidence, whose
priority and due time follow from what it blocks (``priority.py``). It also
withdraws a case identity no longer needs (the record was updated by its
source, or re-matched unambiguously) and closes one a steward settled by
linking its record outside the case. Each is audited and announced after
commit (``events.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mpi.events import EventBus
from mpi.matching.decisions import Candidate, HeldBecause
from mpi.matching.model import Model
from mpi.stewardship.events import CaseOpened, CaseResolved, CaseWithdrawn
from mpi.stewardship.priority import CaseTargets, priority_for
from mpi.store import Store
from mpi.vocab import AuditAction, CaseResolution, CaseState, Decision, EntityType, HeldCode

Key = tuple[str, str]


class ReviewDesk:
    """Review cases as identity needs them, over one store."""

    def __init__(self, store: Store, targets: CaseTargets, events: EventBus):
        self.store = store
        self.targets = targets
        self.events = events

    def open(self, key: Key, candidates: Sequence[Candidate], model: Model, blocks: Sequence[Mapping[str, Any]],
             because: HeldBecause, actor: str) -> str:
        """Hold a record for review with its top candidates; the case's priority follows what it blocks.

        ``because`` is kept with the case (``held_because``) and is its opening audit reason, word for word.
        """
        shown = candidates[: model.policy.max_candidates]
        priority = priority_for(blocks)
        case_id = self.store.cases.open(
            Decision.POSSIBLE_MATCH.value, *key, priority.value, list(blocks), model.version,
            [c.as_dict(model.policy) for c in shown], target=self.targets.target(priority),
            held_because={"code": because.code.value, "sentence": because.sentence, "detail": because.detail},
        )
        self.store.audit.append(actor, AuditAction.CASE_OPENED, EntityType.REVIEW_CASE, case_id, because.sentence,
                                {"record": "/".join(key), "candidates": [c.person_id for c in shown],
                                 "priority": priority.value, "held_because": because.code.value})
        self.events.publish(CaseOpened(case_id, key, priority.value, tuple(c.person_id for c in shown)))
        return case_id

    def open_duplicate(self, person_a: str, person_b: str, match_weight: float, match_probability: float,
                       evidence: Sequence[Mapping[str, Any]], model_version: str, actor: str, reason: str,
                       detail: Mapping[str, Any] | None = None) -> str:
        """Open a ``POSSIBLE_DUPLICATE`` case: two persons that look like one human (a batch run found them).

        The case holds no record; its two candidates are the persons (``person_a`` first), each with the
        weight and evidence of the best pair of records between them. It blocks nothing, so it is routine.
        ``reason`` names what found them (a dedup run); the case's ``held_because`` (``possible_duplicate``)
        says it with the persons, the pair of records (``detail["records"]``) and the weight, and is the
        opening audit reason. Runs in the caller's transaction; audited, and announced after commit.
        """
        priority = priority_for([])
        detail = dict(detail or {})
        records = detail.get("records") or []
        pair = f" (records {records[0]} and {records[1]})" if len(records) == 2 else ""
        sentence = (f"Possible duplicate: {reason}; persons {person_a} and {person_b} may be one human, their best "
                    f"pair of records{pair} weighing {match_weight:.2f}.")
        candidate = {"match_weight": match_weight, "match_probability": match_probability, "evidence": list(evidence)}
        case_id = self.store.cases.open(
            Decision.POSSIBLE_DUPLICATE.value, None, None, priority.value, [], model_version,
            [{**candidate, "person_id": person_a}, {**candidate, "person_id": person_b}],
            target=self.targets.target(priority),
            held_because={"code": HeldCode.POSSIBLE_DUPLICATE.value, "sentence": sentence,
                          "detail": {"person_ids": [person_a, person_b], "match_weight": round(match_weight, 2),
                                     "records": records}})
        self.store.audit.append(actor, AuditAction.CASE_OPENED, EntityType.REVIEW_CASE, case_id, sentence,
                                {"kind": Decision.POSSIBLE_DUPLICATE.value, "candidates": [person_a, person_b],
                                 "match_weight": match_weight, "priority": priority.value,
                                 "held_because": HeldCode.POSSIBLE_DUPLICATE.value, **detail})
        self.events.publish(CaseOpened(case_id, None, priority.value, (person_a, person_b)))
        return case_id

    def withdraw(self, case_id: str, key: Key, actor: str, reason: str) -> list[dict]:
        """Withdraw a case identity no longer needs; returns what it blocked."""
        blocks = self.store.cases.blocks_of(case_id) or []
        self.store.cases.close(case_id, CaseState.WITHDRAWN.value, None)
        self.store.audit.append(actor, AuditAction.CASE_WITHDRAWN, EntityType.REVIEW_CASE, case_id, reason,
                                {"record": "/".join(key)})
        self.events.publish(CaseWithdrawn(case_id, key))
        return blocks

    def resolve_linked(self, case_id: str, key: Key, person_id: str, actor: str, reason: str) -> None:
        """Close a case because a steward linked its record (to ``person_id``) outside the case."""
        self.store.cases.close(case_id, CaseState.RESOLVED.value, CaseResolution.LINKED.value)
        self.store.audit.append(actor, AuditAction.CASE_RESOLVED, EntityType.REVIEW_CASE, case_id, reason,
                                {"resolution": CaseResolution.LINKED.value, "person_id": person_id,
                                 "record": "/".join(key)})
        self.events.publish(CaseResolved(case_id, key, CaseResolution.LINKED.value, person_id))

    def untaken(self, case_ids: Iterable[str]) -> set[str]:
        """Those of ``case_ids`` still open with no steward on them (one query, however many)."""
        return self.store.cases.untaken(case_ids)
