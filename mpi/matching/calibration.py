"""Choosing the policy's two thresholds from labelled pairs (``mpi calibrate``).

The records are those in the store; the labels say which of them are one
person, either as records with a cluster column (a dev set's truth: complete)
or as listed pairs. Labels are taken as complete for the records they name: a
blocked pair of two labelled records not labelled a match counts as a
non-match (so a pairs file that lists only true pairs leaves out the people
with one record, and overstates precision a little). Every
blocked pair of labelled records is scored with the active model (the same
scorer as the online path), and:

- the **upper** threshold is the lowest weight at which the pairs at or above
  it reach the target precision, so auto-links together are at least that
  precise (a pair the policy holds or finds in conflict is not among them);
- the **lower** threshold is the highest weight below which at most the given
  share of true pairs falls, so few true matches become new persons unseen.

Pairwise precision is a proxy for the online path's (which also checks a
record against every record of a person and holds ambiguous ones), so the
online figure is at least as good in practice; ``bench/accuracy.py`` measures it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mpi.errors import ValidationError
from mpi.matching import blocking
from mpi.matching.policy import Policy
from mpi.matching.scoring import Scorer
from mpi.records.csvio import Labels


Key = tuple[str, str]


@dataclass(frozen=True)
class Calibration:
    """The chosen thresholds and what they achieve on the labelled pairs."""

    upper_match_weight: float
    lower_match_weight: float
    labelled_records: int
    scored_pairs: int
    true_pairs: int
    precision_at_upper: float
    recall_at_upper: float
    missed_below_lower: float
    #: The highest weight of a known non-match the policy would not hold (``never_link``), if any.
    never_link_highest: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def blocked_pairs(records: Mapping[Key, Mapping[str, Any]], max_block_size: int) -> set[tuple[Key, Key]]:
    """Pairs of records sharing a blocking key, as the online path would meet them."""
    postings: dict[str, list[Key]] = {}
    for key, norm in records.items():
        for block in blocking.record_keys(norm):
            postings.setdefault(block, []).append(key)
    pairs = set()
    for block, keys in postings.items():
        if len(keys) > blocking.block_bound(block, max_block_size):
            continue
        keys.sort()
        for i, a in enumerate(keys):
            for b in keys[i + 1:]:
                pairs.add((a, b))
    return pairs


def calibrate(
    records: Mapping[Key, Mapping[str, Any]],
    labels: Labels,
    scorer: Scorer,
    precision: float = 0.998,
    max_missed: float = 0.02,
    max_block_size: int = 400,
    policy: Policy | None = None,
    never_link: Labels | None = None,
) -> Calibration:
    """Choose the upper and lower thresholds from labelled pairs among ``records``.

    Pairs the policy holds for review or finds in conflict whatever their weight
    (``policy``) cannot be auto-linked, so they do not count towards the upper
    threshold's precision; every pair counts towards the lower one. Pairs known
    not to be one person (``never_link``: a steward's "not the same person", a dev
    set's hard cases) must stay below the upper threshold: it is raised above the
    highest of them that could otherwise be auto-linked.

    Raises:
        ValidationError: no labelled true pair between stored records, or a target out of range.
    """
    errors = {}
    if not 0 < precision < 1:
        errors["precision"] = ["must lie strictly between 0 and 1"]
    if not 0 <= max_missed < 1:
        errors["max_missed"] = ["must lie in [0, 1)"]
    if errors:
        raise ValidationError("invalid calibration target", errors)
    labelled = {k for k in labels.records if k in records}
    matches = {(a, b) for a, b in labels.matches if a in labelled and b in labelled}
    if not matches:
        raise ValidationError("no labelled true pair between records in the store: load the records first",
                              {"labels": ["no usable true pair"]})
    subset = {k: records[k] for k in labelled}
    scored, eligible = [], []
    for a, b in blocked_pairs(subset, max_block_size):
        pair = scorer.score(subset[a], subset[b], len(records))
        scored.append((pair.match_weight, (a, b) in matches))
        if policy is None or policy.clears(pair.evidence):
            eligible.append(scored[-1])
    scored.sort(reverse=True)
    eligible.sort(reverse=True)
    true_total = len(matches)
    # Thresholds are written with three decimals: round outward, so the written upper keeps no pair
    # the chosen one drops, and the written lower lets no true pair more fall below it.
    upper = _upper(eligible, precision)
    never_above = _highest_linkable(records, never_link, scorer, policy) if never_link else None
    if never_above is not None and never_above >= upper:
        upper = never_above + 0.001
    upper = math.ceil(upper * 1000) / 1000
    lower = min(math.floor(_lower(scored, true_total, max_missed, upper) * 1000) / 1000, upper)
    at_upper = [t for w, t in eligible if w >= upper]
    missed = true_total - sum(t for w, t in scored if w >= lower)
    return Calibration(
        upper_match_weight=upper,
        lower_match_weight=lower,
        labelled_records=len(labelled),
        scored_pairs=len(scored),
        true_pairs=true_total,
        precision_at_upper=sum(at_upper) / len(at_upper) if at_upper else 1.0,
        recall_at_upper=sum(at_upper) / true_total,
        missed_below_lower=missed / true_total,
        never_link_highest=None if never_above is None else round(never_above, 3),
    )


def _highest_linkable(records: Mapping[Key, Mapping[str, Any]], never_link: Labels, scorer: Scorer,
                      policy: Policy | None) -> float | None:
    """The highest weight of a known non-matching pair of stored records that the policy would not hold."""
    weights = []
    for a, b in never_link.non_matches:
        if a in records and b in records:
            pair = scorer.score(records[a], records[b], len(records))
            if policy is None or policy.clears(pair.evidence):
                weights.append(pair.match_weight)
    return max(weights, default=None)


def lowest_safe_weight(scored: Iterable[tuple[float, bool]], target: float, min_pairs: int = 1) -> float | None:
    """The lowest weight at which the pairs at or above it are at least ``target`` right and at least
    ``min_pairs`` in number, or None.

    All the pairs kept count together: that is the target as the online figure states it, the precision
    of all auto-links. (Asking it of every higher cut-off as well, as calibration once did, let one false
    pair among the first few, two people alike in every field the records keep at 40 bits, put a whole
    population's threshold above nearly every true pair.) Pairs of equal weight stand or fall together:
    a cut-off cannot keep one and drop its twin.
    """
    ordered = sorted(scored, reverse=True)
    best = None
    kept = correct = 0
    for i, (weight, same) in enumerate(ordered):  # heaviest first
        kept += 1
        correct += same
        if i + 1 < len(ordered) and ordered[i + 1][0] == weight:
            continue
        if kept >= min_pairs and correct / kept >= target:
            best = weight
    return best


def _upper(scored: list[tuple[float, bool]], precision: float) -> float:
    """Lowest cut-off at which the pairs kept reach ``precision`` (:func:`lowest_safe_weight`); if none does,
    above the heaviest pair."""
    found = lowest_safe_weight(scored, precision)
    if found is not None:
        return found
    return max(w for w, _ in scored) + 1.0 if scored else 0.0


def _lower(scored: list[tuple[float, bool]], true_total: int, max_missed: float, upper: float) -> float:
    """Highest cut-off (not above ``upper``) below which at most ``max_missed`` of true pairs fall.

    True pairs that no blocking key brings together are missed whatever the cut-off, and count.
    """
    allowed = int(max_missed * true_total)
    missed = true_total - sum(t for _, t in scored)
    lower = upper
    for weight, is_match in reversed(scored):  # lowest first
        if is_match:
            if missed + 1 > allowed:
                lower = weight
                break
            missed += 1
    return min(lower, upper)
