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

from mpi.comparisons import COMPARISONS, Comparison, derive
from mpi.errors import ModelError


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
    """

    def __init__(self, splink_model: Mapping[str, Any], tf_tables: Mapping[str, Mapping[str, float]], tf_floor: float):
        self.tf_tables = tf_tables
        self.tf_floor = tf_floor
        lam = splink_model["probability_two_random_records_match"]
        if not 0 < lam < 1:
            raise ModelError("model prior must lie strictly between 0 and 1")
        self.prior_weight = math.log2(lam / (1 - lam))
        trained = {c["output_column_name"]: c for c in splink_model["comparisons"]}
        self._compiled: list[tuple[Comparison, list[_CompiledLevel]]] = []
        for comparison in COMPARISONS:
            spec = trained.get(comparison.name)
            if spec is None or len(spec["comparison_levels"]) != len(comparison.levels):
                raise ModelError(f"model does not match comparison definition '{comparison.name}'")
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
        table = self.tf_tables.get(level.tf_column, {})
        freqs = [table.get(v, self.tf_floor) for v in (l.get(level.tf_column), r.get(level.tf_column)) if v is not None]
        if not freqs:
            return 0.0
        return level.log2_u - math.log2(max(*freqs, level.tf_min_u))

    def score(self, l: Mapping[str, Any], r: Mapping[str, Any]) -> PairScore:
        """Score two normalised records."""
        l, r = {**l, **derive(l, self.tf_tables)}, {**r, **derive(r, self.tf_tables)}
        total = self.prior_weight
        evidence: list[dict[str, Any]] = [
            {"comparison": "prior", "level": None, "label": "prior odds of a match", "weight": self.prior_weight,
             "tf_adjustment": 0.0}
        ]
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
                }
            )
        return PairScore(total, probability_from_weight(total), evidence)
