"""Choosing the training rules for the records at hand: those that find pairs, and a free EM session per comparison.

The rules are plain data (:mod:`mpi.matching.splink_settings`); this asks the Splink database the adapter
(``splink_adapter``) is given which of them find pairs, without importing Splink.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from mpi.errors import ModelError
from mpi.matching.comparisons import COMPARISONS, Comparison
from mpi.matching.splink_settings import (
    DETERMINISTIC_RULES,
    DETERMINISTIC_STAND_IN_RULES,
    EM_BLOCKING_RULES,
    EM_STAND_IN_MAX_PAIRS,
    EM_STAND_IN_RULES,
)

logger = logging.getLogger(__name__)

_SQL_PAIR_COLUMN = re.compile(r'"([A-Za-z0-9_]+)_[lr]"')
_SQL_RULE_COLUMN = re.compile(r'\b[lr]\."([A-Za-z0-9_]+)"')


def _proposes_pairs(db_api: Any, table: str, rule: str) -> bool:
    sql = (f'SELECT EXISTS (SELECT 1 FROM "{table}" l JOIN "{table}" r'
           f' ON {rule} AND l."unique_id" < r."unique_id") AS found')
    result = db_api.query_sql(sql)
    try:
        return bool(result.as_record_list()[0]["found"])
    finally:
        result.drop_table_from_database_and_remove_from_cache()


def _estimable(comparison: Comparison, rule: str) -> bool:
    """Whether an EM session on ``rule`` estimates the comparison's m (Splink skips those it blocks on)."""
    used = {c for level in comparison.levels for c in _SQL_PAIR_COLUMN.findall(level.sql)}
    return not used & set(_SQL_RULE_COLUMN.findall(rule))


def deterministic_rules(db_api: Any, table: str) -> list[str]:
    """The rules that estimate the prior on the rows registered as ``table`` (``splink_adapter.register_rows``):
    those of ``DETERMINISTIC_RULES`` that find a pair (the others add nothing), else the stand-in.

    Raises:
        ModelError: not even the stand-in finds a pair, so the prior would be zero.
    """
    rules = [r for r in DETERMINISTIC_RULES if _proposes_pairs(db_api, table, r)]
    if not rules:
        rules = [r for r in DETERMINISTIC_STAND_IN_RULES if _proposes_pairs(db_api, table, r)]
        logger.warning("no deterministic rule finds a pair of these records; the prior comes from a stand-in")
    if not rules:
        raise ModelError("no deterministic rule finds a pair of these records: the prior cannot be estimated")
    return rules


def em_sessions(db_api: Any, table: str, comparisons: Sequence[Comparison] = COMPARISONS,
                rules: Sequence[str] = EM_BLOCKING_RULES) -> list[tuple[str, float | None]]:
    """The EM sessions to run on the rows registered as ``table``: (blocking rule, max pairs or None).

    A rule that proposes no pair is skipped (Splink refuses to train on it).
    Each comparison with a level left to estimate must then still be free in
    some session, or EM never sees it and it ends up without weight; a
    stand-in rule is added for it. On data that fills the fields the rules
    block on (people_dev) this is exactly ``EM_BLOCKING_RULES``.

    Raises:
        ModelError: no session can be run, so m cannot be estimated.
    """
    usable = []
    for i, rule in enumerate(rules, start=1):
        if _proposes_pairs(db_api, table, rule):
            usable.append(rule)
        else:
            logger.warning("EM rule %s proposes no pairs on these records; skipped", i)
    sessions: list[tuple[str, float | None]] = [(rule, None) for rule in usable]
    for comparison in comparisons:
        if all(lv.is_null or lv.fixed_m is not None for lv in comparison.levels):
            continue
        if any(_estimable(comparison, rule) for rule, _ in sessions):
            continue
        stand_in = next((r for r in EM_STAND_IN_RULES
                         if _estimable(comparison, r) and _proposes_pairs(db_api, table, r)), None)
        if stand_in is None:
            logger.warning("no EM session can estimate %s on these records", comparison.name)
            continue
        logger.warning("EM stand-in rule %s added so that %s is estimated",
                       EM_STAND_IN_RULES.index(stand_in) + 1, comparison.name)
        sessions.append((stand_in, EM_STAND_IN_MAX_PAIRS))
    if not sessions:
        raise ModelError("no EM training rule proposes a pair of these records: m cannot be estimated")
    return sessions
