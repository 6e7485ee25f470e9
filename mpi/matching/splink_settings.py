"""The model's Splink settings and training rules, built as plain data (no Splink import).

The comparisons come from :mod:`mpi.matching.comparisons` (their SQL side); the
blocking rules here propose the pairs training and batch prediction score. The
Splink adapter (``splink_adapter``) hands them to Splink.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mpi.matching.comparisons import COMPARISONS, Comparison

#: Rules that propose pairs for EM and batch prediction. Each leaves some
#: comparisons free to be estimated while it fixes those it blocks on.
TRAINING_BLOCKING_RULES = (
    'l."birth_date" = r."birth_date"',
    'l."last_name_phonetic" = r."last_name_phonetic" AND substr(l."first_name", 1, 1) = substr(r."first_name", 1, 1)',
    'l."phone" = r."phone"',
    'l."medicaid_id" = r."medicaid_id"',
    'l."postal_code" = r."postal_code" AND l."first_name_canonical" = r."first_name_canonical"',
)

#: Rules EM trains on, one session each (a comparison is estimated in every
#: session whose rule does not use its columns).
EM_BLOCKING_RULES = (
    'l."birth_date" = r."birth_date"',
    'l."last_name_phonetic" = r."last_name_phonetic" AND l."postal_code" = r."postal_code"',
    'l."first_name_canonical" = r."first_name_canonical" AND l."last_name" = r."last_name"',
    'l."phone" = r."phone"',
)

#: Near-certain rules used only to estimate the prior (lambda).
DETERMINISTIC_RULES = (
    'l."first_name" = r."first_name" AND l."last_name" = r."last_name" AND l."birth_date" = r."birth_date"',
    'l."medicaid_id" = r."medicaid_id" AND l."birth_date" = r."birth_date"',
    'l."ssn_last4" = r."ssn_last4" AND l."birth_date" = r."birth_date" AND l."last_name" = r."last_name"',
)


def _comparison_dict(comparison: Comparison) -> dict[str, Any]:
    levels = []
    for level in comparison.levels:
        spec: dict[str, Any] = {"sql_condition": level.sql, "label_for_charts": level.label}
        if level.is_null:
            spec["is_null_level"] = True
        if level.tf_column:
            spec["tf_adjustment_column"] = level.tf_column
            spec["tf_adjustment_weight"] = 1.0
            spec["disable_tf_exact_match_detection"] = True
        if level.fixed_m is not None:
            spec["m_probability"] = level.fixed_m
            spec["fix_m_probability"] = True
        levels.append(spec)
    return {
        "output_column_name": comparison.name,
        "comparison_description": comparison.description,
        "comparison_levels": levels,
    }


def settings_dict(comparisons: Sequence[Comparison] = COMPARISONS) -> dict[str, Any]:
    """Splink settings for a dedupe model over the normalised model columns."""
    return {
        "link_type": "dedupe_only",
        "unique_id_column_name": "unique_id",
        "comparisons": [_comparison_dict(c) for c in comparisons],
        "blocking_rules_to_generate_predictions": list(TRAINING_BLOCKING_RULES),
        "retain_intermediate_calculation_columns": True,
        "retain_matching_columns": False,
    }


#: Stand-in for the prior when no deterministic rule finds a pair (no birth date or
#: identifier anywhere): the same full name, a looser rule that overstates lambda a
#: little. Thresholds are calibrated on weights, so what matters is that it exists.
DETERMINISTIC_STAND_IN_RULES = ('l."first_name" = r."first_name" AND l."last_name" = r."last_name"',)

#: Broad stand-in EM rules, used only when the data leaves a comparison without any
#: session that can estimate it (a rule it needs proposes no pairs: a sender with no
#: readable postcodes or birth dates). Tried in order; sampled to a bounded size.
EM_STAND_IN_RULES = (
    # By sound, not spelling: name_dob reads the surnames themselves (a swap of given and family name).
    'l."last_name_phonetic" = r."last_name_phonetic"',
    'l."first_name" = r."first_name"',
)
EM_STAND_IN_MAX_PAIRS = 1e6
