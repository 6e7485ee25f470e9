"""How a model's numbers become weights, the same way in both engines (in process and Splink's).

The prior scaled to an index's size, the factor term frequencies are scaled by,
and a match weight as log2 odds and as a probability.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from mpi.matching.comparisons import TF_LEVELS, tf_table


def tf_scales(splink_model: Mapping[str, Any], tf_tables: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """Per tf column, the factor its value frequencies are scaled by before they adjust a weight.

    Splink adjusts a level's weight by log2(u / frequency of the value), which is
    right when the level's u is the chance two random records share a value of
    that column and nothing else. Here a level may also require something of
    another column (first name exact *and* no birth date), or its u may be
    lower than the raw frequencies say (they count a person's own duplicates).
    Scaling the frequencies by u / sum(f^2) makes the adjustment
    log2(sum(f^2) / f): nothing for a value of average frequency, more for a rarer
    one, less for a commoner one, whatever the level's u. Both engines take
    their frequencies through this one function.
    """
    levels = {c["output_column_name"]: c["comparison_levels"] for c in splink_model["comparisons"]}
    scales = {}
    for column, (comparison, index) in TF_LEVELS.items():
        u = levels[comparison][index].get("u_probability")
        agreement = sum(f * f for f in tf_table(tf_tables, column).values())
        scales[column] = u / agreement if u and agreement else 1.0
    return scales


def prior_for_index(lam: float, trained_records: int | None, index_records: int) -> float:
    """The prior (lambda) for an index of ``index_records``, from the model's, trained on ``trained_records``.

    Lambda is the chance that two records picked at random are one person. With
    people sending records at a steady rate, each record has about the same
    number of duplicates however large the index, so lambda falls as 1/N: the
    training set's value would make a million-record index as trusting of a
    shared name and birth date as a twelve-thousand-record one, where such
    coincidences are a hundred times rarer. An index smaller than the training
    set keeps the model's value (a young index is still filling up).
    """
    if not trained_records or index_records <= trained_records:
        return lam
    return lam * (trained_records - 1) / (index_records - 1)


def log2_odds(p: float) -> float:
    return math.log2(p / (1 - p))


def probability_from_weight(weight: float) -> float:
    """Match probability for a total match weight (log2 odds)."""
    if weight > 60:
        return 1.0
    if weight < -60:
        return 0.0
    odds = 2.0**weight
    return odds / (1.0 + odds)
