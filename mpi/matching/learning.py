"""A model's m probabilities re-estimated from labelled pairs, and its precision on held-out ones. Pure.

Steward decisions (``mpi.stewardship.labels``) give pairs of records known to
be one human or two. For each comparison with at least :data:`MIN_SAME_PAIRS`
pairs labelled *same* (outside its null level), m per level is re-estimated
from the levels those pairs show, blended toward the model's m as if the old
value had been seen in :data:`PRIOR_PAIRS` pairs: a few labels move it a
little, many move it further, but never more than :data:`MAX_STEP_BITS` a level
in one learning. Steward "same" pairs are not a random sample of true pairs:
they are in review because they disagree somewhere, so their levels overstate
disagreement; and a rare level's m is tiny, so one or two such pairs multiply
it a hundredfold (at 5,000 generated people, unbounded, "birth date exact, first
name differs" went from -4.6 to +16.1 bits and half 2's false links from 23 to 38).

u is kept. u is the chance that two records of *different* humans picked at
random agree at a level; a steward's "different" pairs are not random: the
matcher brought them to review because they agree on much (twins, a father and
his son, same-name neighbours). Estimating u from them would make agreement
look common among non-matches and weaken every agreeing level. They still count
where they belong: in the threshold's calibration and in the held-out precision.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mpi.matching.model import Model

#: Same-labelled pairs (outside the null level) a comparison needs before its m is re-estimated.
MIN_SAME_PAIRS = 30
#: How many pairs' worth of weight the old m keeps in the blend.
PRIOR_PAIRS = 50
#: The most a level's m may move in one learning, in bits of weight (a factor of 2 either way).
MAX_STEP_BITS = 1.0

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


@dataclass(frozen=True)
class HeldOutPrecision:
    """How precise a model's auto-links are on labelled pairs it was not trained on."""

    pairs: int
    auto_linked: int
    correct: int

    @property
    def precision(self) -> float:
        """Correct among the auto-linked; 1.0 when it auto-links none (it linked nothing wrongly)."""
        return self.correct / self.auto_linked if self.auto_linked else 1.0

    def as_dict(self) -> dict[str, Any]:
        return {"pairs": self.pairs, "auto_linked": self.auto_linked, "correct": self.correct,
                "precision": round(self.precision, 6)}


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
    return HeldOutPrecision(len(pairs), linked, correct)
