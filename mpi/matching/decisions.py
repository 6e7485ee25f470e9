"""Deciding on scored candidates: the three-way decision and its FHIR match grade.

``mpi.identity.candidates.find_candidates`` scores the persons an inbound record meets
(:class:`Candidate`, best first); :func:`decide` applies the policy's thresholds,
holds, conflicts and ambiguity margin to them, and :func:`grade` /
:func:`decision_grade` say how sure that is in FHIR's words.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mpi.matching.policy import Policy
from mpi.vocab import Decision, MatchGrade


class Candidate:
    """A person scored against the inbound record, by its best-scoring record.

    Its evidence (the waterfall of the best record) is made when first read: a
    request scores dozens of persons and shows a few.
    """

    __slots__ = ("person_id", "match_weight", "match_probability", "source_system", "source_record_id",
                 "weakest_weight", "conflict", "_evidence")

    def __init__(self, person_id: str, match_weight: float, match_probability: float,
                 evidence: list[dict[str, Any]] | Callable[[], list[dict[str, Any]]], source_system: str,
                 source_record_id: str, weakest_weight: float, conflict: dict[str, str] | None = None):
        self.person_id, self.match_weight, self.match_probability = person_id, match_weight, match_probability
        self.source_system, self.source_record_id = source_system, source_record_id
        #: The lowest weight against any of the person's records (shown to stewards).
        self.weakest_weight = weakest_weight
        #: A record of the person the inbound one contradicts (``conflict_levels``), and how:
        #: a record is only auto-linked to a person it is consistent with as a whole.
        self.conflict = conflict
        self._evidence = evidence

    @property
    def evidence(self) -> list[dict[str, Any]]:
        """Per comparison, the level, label and weight of the best record, prior first (a waterfall)."""
        if callable(self._evidence):
            self._evidence = self._evidence()
        return self._evidence

    def as_dict(self, policy: Policy) -> dict[str, Any]:
        return {
            "person_id": self.person_id,
            "match_weight": round(self.match_weight, 6),
            "match_probability": self.match_probability,
            "match_grade": grade(self.match_weight, policy).value,
            "matched_record": {"source_system": self.source_system, "source_record_id": self.source_record_id},
            "weakest_record_weight": round(self.weakest_weight, 6),
            "held_by": policy.hold(self.evidence),
            "conflict": self.conflict,
            "evidence": self.evidence,
        }


def rank(candidate: Candidate) -> tuple[float, str]:
    return -candidate.match_weight, candidate.person_id


def grade(weight: float, policy: Policy) -> MatchGrade:
    """FHIR match grade of a weight under the policy."""
    if weight >= policy.upper_match_weight:
        return MatchGrade.CERTAIN
    if weight < policy.lower_match_weight:
        return MatchGrade.CERTAINLY_NOT
    middle = (policy.upper_match_weight + policy.lower_match_weight) / 2
    return MatchGrade.PROBABLE if weight >= middle else MatchGrade.POSSIBLE


def decide(candidates: list[Candidate], policy: Policy) -> Decision:
    """The three-way decision for candidates sorted best first."""
    if not candidates or candidates[0].match_weight < policy.lower_match_weight:
        return Decision.NO_MATCH
    top = candidates[0]
    best = top.match_weight
    if best >= policy.upper_match_weight and top.conflict is None and policy.hold(top.evidence) is None:
        rival = candidates[1].match_weight if len(candidates) > 1 else None
        if rival is None or rival < policy.lower_match_weight or best - rival >= policy.ambiguity_margin:
            return Decision.MATCH
    return Decision.POSSIBLE_MATCH


def decision_grade(decision: Decision, candidates: list[Candidate], policy: Policy) -> MatchGrade:
    if decision is Decision.MATCH:
        return MatchGrade.CERTAIN
    if decision is Decision.NO_MATCH:
        return MatchGrade.CERTAINLY_NOT
    if not candidates:
        return MatchGrade.POSSIBLE
    # An ambiguous best (a rival close behind) is never "certain" to outside clients.
    return min(grade(candidates[0].match_weight, policy), MatchGrade.PROBABLE, key=_GRADE_ORDER.index)


_GRADE_ORDER = [MatchGrade.PROBABLE, MatchGrade.POSSIBLE, MatchGrade.CERTAINLY_NOT, MatchGrade.CERTAIN]
