"""Deciding on scored candidates: the three-way decision and its FHIR match grade.

``mpi.identity.candidates.find_candidates`` scores the persons an inbound record meets
(:class:`Candidate`, best first); :func:`decide` applies the policy's thresholds,
holds, conflicts and ambiguity margin to them, :func:`held_because` says in words
why a ``POSSIBLE_MATCH`` was held (from the same verdict, so the two never
disagree), and :func:`grade` / :func:`decision_grade` say how sure that is in
FHIR's words.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mpi.matching.policy import Policy
from mpi.vocab import Decision, HeldCode, MatchGrade


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
    return _verdict(candidates, policy)[0]


def _verdict(candidates: list[Candidate], policy: Policy) -> tuple[Decision, HeldCode | None]:
    """The decision and, for ``POSSIBLE_MATCH``, the first rule that held the record (the one place both are made)."""
    if not candidates or candidates[0].match_weight < policy.lower_match_weight:
        return Decision.NO_MATCH, None
    top = candidates[0]
    best = top.match_weight
    if best < policy.upper_match_weight:
        return Decision.POSSIBLE_MATCH, HeldCode.REVIEW_BAND
    if top.conflict is not None:
        return Decision.POSSIBLE_MATCH, HeldCode.CONFLICT
    if policy.hold(top.evidence) is not None:
        return Decision.POSSIBLE_MATCH, HeldCode.HOLD_RULE
    rival = candidates[1].match_weight if len(candidates) > 1 else None
    if rival is None or rival < policy.lower_match_weight or best - rival >= policy.ambiguity_margin:
        return Decision.MATCH, None
    return Decision.POSSIBLE_MATCH, HeldCode.AMBIGUOUS


@dataclass(frozen=True)
class HeldBecause:
    """Why a case holds its record: a code (:class:`~mpi.vocab.HeldCode`) and a sentence of ids and numbers.

    The sentence is what the case's opening audit reason says too; ``detail`` keeps its numbers for
    machines (never a name, a birth date or any other value of the record).
    """

    code: HeldCode
    sentence: str
    detail: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code.value, "sentence": self.sentence}


def held_because(candidates: list[Candidate], policy: Policy) -> HeldBecause | None:
    """Why :func:`decide` holds these candidates (``POSSIBLE_MATCH``) in words, or None when it does not."""
    _, code = _verdict(candidates, policy)
    if code is None:
        return None
    top = candidates[0]
    p, w = top.person_id, top.match_weight
    lower, upper = policy.lower_match_weight, policy.upper_match_weight
    detail: dict[str, Any] = {"person_id": p, "match_weight": round(w, 2), "lower_match_weight": lower,
                              "upper_match_weight": upper}
    if code is HeldCode.REVIEW_BAND:
        sentence = (f"In the review band: the best person {p} weighs {w:.2f}, between the lower threshold "
                    f"{lower:g} and the upper threshold {upper:g}.")
    elif code is HeldCode.CONFLICT:
        c = top.conflict
        record = f"{c['source_system']}/{c['source_record_id']}"
        detail.update(conflict_record=record, conflict_level=c["level"])
        sentence = (f"Conflict: the best person {p} weighs {w:.2f} (at or above the upper threshold {upper:g}), "
                    f"but the record conflicts with its record {record} on {in_words([c['level']])}.")
    elif code is HeldCode.HOLD_RULE:
        levels = policy.hold(top.evidence) or []
        detail.update(hold_levels=levels)
        sentence = (f"Hold rule: the best person {p} weighs {w:.2f} (at or above the upper threshold {upper:g}), "
                    f"but the policy holds a pair whose evidence shows {in_words(levels)}.")
    else:
        rival = candidates[1]
        r, rw = rival.person_id, rival.match_weight
        margin = policy.ambiguity_margin
        detail.update(rival_person_id=r, rival_match_weight=round(rw, 2), ambiguity_margin=margin)
        sentence = (f"Ambiguous: two persons score above the lower threshold {lower:g} within the ambiguity "
                    f"margin {margin:g}: {p} weighs {w:.2f} and {r} weighs {rw:.2f} ({w - rw:.2f} apart).")
    return HeldBecause(code, sentence, detail)


def in_words(levels: Sequence[str]) -> str:
    """Comparison levels (``"name_dob: first name exact, birth date missing"``, or ``"a + b"``) as a phrase."""
    parts = [part.strip() for level in levels for part in level.split(" + ")]
    said = []
    for part in parts:
        comparison, _, label = part.partition(": ")
        said.append(f"{comparison} \"{label}\"" if label else part)
    return " and ".join(said)


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
