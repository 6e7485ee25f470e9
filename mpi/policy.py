"""The match policy: what a score means, kept apart from code.

A policy is a plain spec (a dict in the model file) validated once, with every
problem reported together, then compiled into a frozen :class:`Policy`. Its
thresholds are Fellegi-Sunter match weights (log2 Bayes factors including the
prior), the same numbers the evidence adds up to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mpi.errors import ModelError

DEFAULT_POLICY = {
    "upper_match_weight": 16.0,
    "lower_match_weight": 4.0,
    "ambiguity_margin": 6.0,
    "max_candidates": 5,
}


@dataclass(frozen=True)
class Policy:
    """Compiled thresholds for the three-way decision.

    Attributes:
        upper_match_weight: at or above this the best person is auto-linked.
        lower_match_weight: below this for every person a new person is created.
        ambiguity_margin: a second person above the lower threshold and within
            this many bits of the best sends the record to review instead.
        max_candidates: candidates returned by ``/v1/match`` and kept on a case.
    """

    upper_match_weight: float
    lower_match_weight: float
    ambiguity_margin: float
    max_candidates: int

    @classmethod
    def from_spec(cls, spec: dict[str, Any] | None) -> Policy:
        """Validate a policy spec; raise one ModelError naming every bad key."""
        spec = {**DEFAULT_POLICY, **(spec or {})}
        errors: dict[str, list[str]] = {}
        for key in ("upper_match_weight", "lower_match_weight", "ambiguity_margin"):
            if not isinstance(spec[key], (int, float)) or isinstance(spec[key], bool):
                errors.setdefault(key, []).append("must be a number")
        if not isinstance(spec["max_candidates"], int) or spec["max_candidates"] < 1:
            errors.setdefault("max_candidates", []).append("must be a positive integer")
        unknown = sorted(set(spec) - set(DEFAULT_POLICY))
        for key in unknown:
            errors.setdefault(key, []).append("unknown policy key")
        if not errors and spec["lower_match_weight"] > spec["upper_match_weight"]:
            errors["lower_match_weight"] = ["must not exceed upper_match_weight"]
        if errors:
            raise ModelError("invalid match policy", errors)
        return cls(
            upper_match_weight=float(spec["upper_match_weight"]),
            lower_match_weight=float(spec["lower_match_weight"]),
            ambiguity_margin=float(spec["ambiguity_margin"]),
            max_candidates=int(spec["max_candidates"]),
        )

    def as_spec(self) -> dict[str, Any]:
        return {
            "upper_match_weight": self.upper_match_weight,
            "lower_match_weight": self.lower_match_weight,
            "ambiguity_margin": self.ambiguity_margin,
            "max_candidates": self.max_candidates,
        }
