"""Estimating what Splink's training leaves wrong or empty, from its own outputs: pure arithmetic on model JSON.

The Splink adapter (``splink_adapter``) trains with Splink and then calls these:
:func:`estimate_u_without_matches` re-estimates u with the true matches among
random pairs weighed out, and :func:`settle_untrained_levels` writes down "no
weight" for the levels training could not estimate, so both engines read the
same numbers from the model file.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

logger = logging.getLogger(__name__)


def estimate_u_without_matches(model_json: Mapping[str, Any], patterns: Sequence[tuple[Sequence[int], int]],
                               iterations: int = 10) -> list[list[float | None]]:
    """u per level from counted comparison vectors of random pairs, matches weighed out by their posterior.

    Args:
        model_json: the trained model (m, u and the prior; m and the prior are held).
        patterns: (Splink comparison vector values, one per comparison; pair count).
        iterations: rounds of expectation maximisation (it settles within a few).

    Returns:
        Per comparison, per level: the new u, or None for a null level or a level without m.
    """
    lam = model_json["probability_two_random_records_match"]
    levels = []  # per comparison: (gamma value -> level index, m per level, u per level)
    for comparison in model_json["comparisons"]:
        specs = comparison["comparison_levels"]
        non_null = [i for i, lv in enumerate(specs) if not lv.get("is_null_level")]
        by_gamma = {len(non_null) - 1 - rank: i for rank, i in enumerate(non_null)}
        m = [lv.get("m_probability") for lv in specs]
        u = [lv.get("u_probability") for lv in specs]
        levels.append((by_gamma, m, u))
    rows = [([levels[c][0].get(g) for c, g in enumerate(vector)], n) for vector, n in patterns]
    for _ in range(iterations):
        counts = [[0.0] * len(m) for _, m, _ in levels]
        for indices, n in rows:
            odds = lam / (1 - lam)
            for (_, m, u), i in zip(levels, indices):
                if i is not None and m[i] and u[i]:
                    odds *= m[i] / u[i]
            non_match = n / (1 + odds)
            for c, i in enumerate(indices):
                if i is not None:
                    counts[c][i] += non_match
        for (by_gamma, m, u), count in zip(levels, counts):
            total = sum(count[i] for i in by_gamma.values())
            for i in by_gamma.values():
                if m[i] is not None and u[i] is not None and total > 0:
                    u[i] = count[i] / total
    return [[u[i] if i in by_gamma.values() and m[i] is not None and u[i] is not None else None
             for i in range(len(u))] for by_gamma, m, u in levels]


def settle_untrained_levels(model_json: dict[str, Any]) -> dict[str, Any]:
    """Give a level that training could not estimate (no sampled pair reached it) no weight: m = u.

    Left empty, Splink's prediction would still apply a default to it while the
    in-process scorer applied none; written down, both engines read the same
    numbers from the model file.
    """
    for comparison in model_json["comparisons"]:
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            m, u = level.get("m_probability"), level.get("u_probability")
            if m and u:
                continue
            known = m or u
            if known is None:
                continue  # neither: the scorer gives it no weight, and Splink no different
            level["m_probability"] = level["u_probability"] = known
            logger.warning("level '%s' of %s was not estimated by training; it carries no weight",
                           level.get("label_for_charts"), comparison["output_column_name"])
    return model_json
