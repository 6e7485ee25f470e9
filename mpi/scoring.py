"""The real-time scorer: the trained Fellegi-Sunter model evaluated in process.

Splink trains the model; scoring one inbound record against a handful of
candidates must not pay for SQL generation and database round trips, so the
same comparisons (their Python side, :mod:`mpi.comparisons`) and the same m, u,
prior and term-frequency rules are applied here. Every score is returned with
its evidence: each comparison's level, label, weight and term-frequency
adjustment, in waterfall order (prior first).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mpi.comparisons import COMPARISONS, TF_LEVELS, Comparison, derive, tf_table
from mpi.errors import ModelError


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


@dataclass(frozen=True)
class _CompiledLevel:
    label: str
    weight: float
    log2_u: float | None
    tf_column: str | None
    tf_min_u: float


@dataclass(frozen=True)
class PairScore:
    """One pair's score and the per-field evidence that adds up to it."""

    match_weight: float
    match_probability: float
    evidence: list[dict[str, Any]]


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


class Scorer:
    """A trained Splink model compiled for fast in-process scoring.

    Args:
        splink_model: the model JSON Splink saved (comparisons with m and u).
        tf_tables: per column, value -> relative frequency in the index.
        tf_floor: frequency used for a value absent from its table (seen once).
        trained_records: records the model was trained on (scales the prior to an index's size).
    """

    def __init__(self, splink_model: Mapping[str, Any], tf_tables: Mapping[str, Mapping[str, float]], tf_floor: float,
                 trained_records: int | None = None):
        self.tf_tables = tf_tables
        self.tf_floor = tf_floor
        self.tf_scales = tf_scales(splink_model, tf_tables)
        lam = splink_model["probability_two_random_records_match"]
        if not 0 < lam < 1:
            raise ModelError("model prior must lie strictly between 0 and 1")
        self.lam, self.trained_records = lam, trained_records
        self.prior_weight = log2_odds(lam)
        trained = {c["output_column_name"]: c for c in splink_model["comparisons"]}
        self._compiled: list[tuple[Comparison, list[_CompiledLevel]]] = []
        for comparison in COMPARISONS:
            spec = trained.get(comparison.name)
            if spec is None or [(lv.get("label_for_charts"), lv.get("tf_adjustment_column"))
                                for lv in spec["comparison_levels"]] != [(lv.label, lv.tf_column)
                                                                         for lv in comparison.levels]:
                raise ModelError(f"model does not match comparison definition '{comparison.name}': "
                                 "it was trained with other comparison levels; retrain it")
            self._compiled.append((comparison, [self._compile_level(lv) for lv in spec["comparison_levels"]]))

    @staticmethod
    def _compile_level(spec: Mapping[str, Any]) -> _CompiledLevel:
        label = spec.get("label_for_charts", "")
        m, u = spec.get("m_probability"), spec.get("u_probability")
        if spec.get("is_null_level") or not m or not u:
            return _CompiledLevel(label, 0.0, None, None, 0.0)
        return _CompiledLevel(
            label,
            math.log2(m / u),
            math.log2(u),
            spec.get("tf_adjustment_column"),
            float(spec.get("tf_minimum_u_value", 0.0)),
        )

    def _tf_adjustment(self, level: _CompiledLevel, l: Mapping, r: Mapping) -> float:
        table = tf_table(self.tf_tables, level.tf_column)
        freqs = [table.get(v, self.tf_floor) for v in (l.get(level.tf_column), r.get(level.tf_column)) if v is not None]
        if not freqs:
            return 0.0
        return level.log2_u - math.log2(max(max(freqs) * self.tf_scales[level.tf_column], level.tf_min_u))

    def prior_weight_for(self, index_records: int) -> float:
        """The prior's weight (log2 odds) for an index of this many records (:func:`prior_for_index`)."""
        return log2_odds(prior_for_index(self.lam, self.trained_records, index_records))

    def score(self, l: Mapping[str, Any], r: Mapping[str, Any], index_records: int | None = None) -> PairScore:
        """Score two normalised records, with the prior scaled to an index of ``index_records`` (else the model's).

        The evidence is the waterfall: the prior, then one entry per comparison
        (level, label, weight with its term-frequency part), each with the running
        total, the last of which is the pair's match weight.
        """
        l, r = {**l, **derive(l, self.tf_tables)}, {**r, **derive(r, self.tf_tables)}
        total = self.prior_weight if index_records is None else self.prior_weight_for(index_records)
        prior: dict[str, Any] = {"comparison": "prior", "level": None, "label": "prior odds of a match",
                                 "weight": total, "tf_adjustment": 0.0, "cumulative_weight": total}
        if index_records is not None:
            prior["index_records"] = index_records
        evidence = [prior]
        for comparison, levels in self._compiled:
            index = comparison.level_of(l, r)
            level = levels[index]
            tf = self._tf_adjustment(level, l, r) if level.tf_column else 0.0
            total += level.weight + tf
            evidence.append(
                {
                    "comparison": comparison.name,
                    "level": index,
                    "label": level.label,
                    "weight": level.weight + tf,
                    "tf_adjustment": tf,
                    "cumulative_weight": total,
                }
            )
        return PairScore(total, probability_from_weight(total), evidence)
