"""What a model learns from labelled pairs (m, the upper threshold, holds), and how it is judged. Pure.

Steward decisions (``mpi.stewardship.labels``) give pairs of records known to
be one human or two; the caller also passes the pairs of records within the
persons stewards reviewed, which are one human too.

**m** (:func:`relearn_m`): for each comparison with at least
:data:`MIN_SAME_PAIRS` same pairs (outside its null level), m per level is
re-estimated from the levels those pairs show, blended toward the model's m as
if the old value had been seen in :data:`PRIOR_PAIRS` pairs, and never moved
more than :data:`MAX_STEP_BITS` a level in one learning. The same pairs should
be every pair of records the reviewed persons hold, not only the pairs stewards
were shown: those are in review because they disagree somewhere, so their
levels overstate disagreement, and a rare level's m is tiny, so one or two such
pairs multiply it a hundredfold (at 5,000 generated people, m from the review
band alone and unbounded took "birth date exact, first name differs" from -4.6
to +16.1 bits and half 2's false links from 23 to 38).

**The upper threshold** (:func:`upper_from_decisions`) comes down, never up, to
the lowest weight from which the clearing pairs stewards answered in the review
band are, together, at least ``target_precision`` right, and as many as show
that precision (:func:`support_needed`): what stewards always link, the machine may.
It is not calibrated over the reviewed records as a population: they are the
hard ones (twins, fathers and sons, the candidates a steward turned down), so
their pairwise precision is far below the population's and a target met there
puts the threshold high above what the population needs (recall fell from 0.853
to 0.822 that way at 5,000 people).

**Holds** (:func:`relax_holds`): a hold rule stewards have answered "same"
above the upper threshold as often as shows ``target_precision``, from some
weight up, gets that weight as its ``below``: it no longer holds pairs heavier
than every pair stewards found wrong under it.

**The gate** (:func:`held_out_precision`): precision and recall of the pairs a
model would auto-link among judged pairs (``mpi.stewardship.learning`` judges on
every blocked pair among the held-out decisions' persons, not only the pairs
stewards were shown: those rarely make a false link, so they cannot tell a worse
model from a better one).

u is kept. u is the chance that two records of *different* humans picked at
random agree at a level; a steward's "different" pairs are not random: the
matcher brought them to review because they agree on much (twins, a father and
his son, same-name neighbours). Estimating u from them would make agreement
look common among non-matches and weaken every agreeing level. They still count
where they belong: in the threshold, the holds and the held-out precision.
"""

from __future__ import annotations

import copy
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mpi.matching.calibration import lowest_safe_weight
from mpi.matching.model import Model
from mpi.matching.policy import Hold, Policy

#: Same-labelled pairs (outside the null level) a comparison needs before its m is re-estimated.
MIN_SAME_PAIRS = 30
#: How many pairs' worth of weight the old m keeps in the blend.
PRIOR_PAIRS = 50
#: The most a level's m may move in one learning, in bits of weight (a factor of 2 either way).
MAX_STEP_BITS = 1.0


def support_needed(target: float) -> int:
    """Pairs, none of them wrong, that show a precision of ``target`` (95%, the rule of three: 3 / (1 - target)).

    At 0.999 that is 3,000 pairs: 59 "same" answers and no "different" one are no evidence of 0.999 (at 5,000
    generated people, a hold lifted on 59 such answers auto-linked two twins in the unseen half: 15 false pairs).
    """
    return math.ceil(3 / (1 - target) - 1e-9)


NormPair = tuple[Mapping[str, Any], Mapping[str, Any]]


def level_counts(model: Model, pairs: Iterable[NormPair], index_records: int | None = None) -> dict[str, Counter]:
    """Per comparison, how many of the pairs fall at each level (level index -> count)."""
    counts: dict[str, Counter] = {}
    for left, right in pairs:
        for entry in model.scorer.score(left, right, index_records).evidence[1:]:
            counts.setdefault(entry["comparison"], Counter())[entry["level"]] += 1
    return counts


def relearn_m(splink_model: Mapping[str, Any], same_levels: Mapping[str, Counter],
              min_pairs: int = MIN_SAME_PAIRS, prior_pairs: int = PRIOR_PAIRS,
              max_step_bits: float = MAX_STEP_BITS) -> tuple[dict[str, Any], dict[str, int]]:
    """A copy of a Splink model with m re-estimated for each comparison with enough same-labelled pairs.

    For level i with old m_i and c_i of the n counted pairs (null level and levels without a trained m left
    out): m_i' = (k m_i + c_i) / (k + n), kept within a factor 2^max_step_bits of m_i, then scaled so the levels
    keep their old total.

    Returns:
        The new model, and per comparison re-estimated, how many pairs it used.
    """
    model = copy.deepcopy(dict(splink_model))
    used = {}
    for comparison in model["comparisons"]:
        counts = same_levels.get(comparison["output_column_name"], Counter())
        levels = [(i, lv) for i, lv in enumerate(comparison["comparison_levels"])
                  if not lv.get("is_null_level") and lv.get("m_probability")]
        n = sum(counts.get(i, 0) for i, _ in levels)
        if n < min_pairs:
            continue
        old_total = sum(lv["m_probability"] for _, lv in levels)
        step = 2.0 ** max_step_bits
        blended = {i: min(max((prior_pairs * lv["m_probability"] + counts.get(i, 0)) / (prior_pairs + n),
                              lv["m_probability"] / step), lv["m_probability"] * step) for i, lv in levels}
        scale = old_total / sum(blended.values())
        for i, lv in levels:
            lv["m_probability"] = blended[i] * scale
        used[comparison["output_column_name"]] = n
    return model, used


def upper_from_decisions(policy: Policy, scored: Iterable[tuple[float, bool, bool]],
                         min_pairs: int | None = None) -> float:
    """The upper threshold brought down to what stewards' answers in the review band support.

    Args:
        scored: labelled pairs as ``(weight, clears, same)`` under the model being learned.

    Returns:
        The lowest weight (not below the lower threshold) from which the clearing labelled pairs between it and
        the upper threshold are at least ``target_precision`` right, with ``min_pairs`` of them at least
        (default: :func:`support_needed`); the upper threshold as it is when no weight has that many answers
        that right.
    """
    min_pairs = support_needed(policy.target_precision) if min_pairs is None else min_pairs
    band = [(w, same) for w, clears, same in scored
            if clears and policy.lower_match_weight <= w < policy.upper_match_weight]
    found = lowest_safe_weight(band, policy.target_precision, min_pairs)
    return policy.upper_match_weight if found is None else found


def relax_holds(policy: Policy, scored: Iterable[tuple[float, Sequence[Mapping[str, Any]], bool]],
                upper: float, min_pairs: int | None = None) -> tuple[list[Any], dict[str, float]]:
    """Hold rules given a ``below`` where stewards' answers show pairs above it are one human.

    Args:
        scored: labelled pairs as ``(weight, evidence, same)`` under the model being learned.
        upper: the upper threshold the rules will work under (only pairs at or above it count: below it a
            pair goes to review whatever the holds say).

    Returns:
        The rules as a policy spec's ``hold_levels``, and per rule given a (lower) ``below``, its levels joined
        by " + " -> that weight.
    """
    min_pairs = support_needed(policy.target_precision) if min_pairs is None else min_pairs
    per_rule: dict[frozenset[str], list[tuple[float, bool]]] = {}
    for weight, evidence, same in scored:
        if weight < upper or policy.conflict(evidence) is not None:
            continue
        held = policy.hold(evidence)
        if held is not None:
            per_rule.setdefault(frozenset(held), []).append((weight, same))
    rules, relaxed = [], {}
    for rule in policy.hold_levels:
        found = lowest_safe_weight(per_rule.get(rule.levels, []), policy.target_precision, min_pairs)
        if found is not None and (rule.below is None or found < rule.below):
            rule = Hold(rule.levels, found)
            relaxed[" + ".join(sorted(rule.levels))] = found
        rules.append(rule.as_spec())
    return rules, relaxed


@dataclass(frozen=True)
class HeldOutPrecision:
    """How precise a model's auto-links are on judged pairs it was not trained on, and how many true ones it finds."""

    pairs: int
    auto_linked: int
    correct: int
    #: Judged pairs that are one human.
    true_pairs: int = 0

    @property
    def precision(self) -> float:
        """Correct among the auto-linked; 1.0 when it auto-links none (it linked nothing wrongly)."""
        return self.correct / self.auto_linked if self.auto_linked else 1.0

    @property
    def recall(self) -> float:
        """Correct auto-links among the true pairs (1.0 when there is none)."""
        return self.correct / self.true_pairs if self.true_pairs else 1.0

    def at_least_as_good_as(self, other: HeldOutPrecision) -> bool:
        """As precise as ``other`` and finding at least as many true pairs: what activates a learned model."""
        return self.precision >= other.precision and self.correct >= other.correct

    def as_dict(self) -> dict[str, Any]:
        return {"pairs": self.pairs, "auto_linked": self.auto_linked, "correct": self.correct,
                "true_pairs": self.true_pairs, "precision": round(self.precision, 6),
                "recall": round(self.recall, 6)}


def held_out_precision(model: Model, pairs: Sequence[tuple[Mapping[str, Any], Mapping[str, Any], bool]],
                       index_records: int | None = None) -> HeldOutPrecision:
    """Precision of the pairs a model would auto-link (weight at or above its upper threshold, no hold and no
    conflict) among labelled pairs ``(left, right, same)``."""
    policy = model.policy
    linked = correct = 0
    for left, right, same in pairs:
        score = model.scorer.score(left, right, index_records)
        if score.match_weight >= policy.upper_match_weight and policy.clears(score.evidence):
            linked += 1
            correct += same
    return HeldOutPrecision(len(pairs), linked, correct, sum(same for _, _, same in pairs))
