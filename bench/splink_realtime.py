"""Splink's fastest real-time call, ``compare_records``, as a yardstick for ``bench/latency.py`` only.

Splink 5 keeps ``compare_records`` (with its cached SQL, ``sql_cache_key``) in
``splink.internals``; the product uses Splink's public API only
(``mpi.matching.splink_adapter``), so this benchmark-only wrapper is where the
internal call lives. It scores exactly the rows the adapter's ``RealtimeScorer``
builds, on the same Splink database, so both Splink calls see the same input.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from splink.internals.realtime import compare_records

from mpi.matching.splink_adapter import RealtimeScorer, weights


class CachedCompareRecords:
    """``compare_records`` of one record against candidates, its SQL generated once and reused."""

    def __init__(self, scorer: RealtimeScorer):
        self.scorer = scorer
        self._cache_key = f"closedloop-mpi-realtime-{id(self)}"

    def compare_records(self, record: Mapping[str, Any], candidates: Sequence[Mapping[str, Any]],
                        frequencies: Mapping[str, Mapping[str, float]] | None = None) -> list[float]:
        """Match weights of ``record`` against each candidate (in order)."""
        if not candidates:
            return []
        rows = self.scorer.rows
        df = compare_records(rows([record], 0, frequencies), rows(candidates, 1, frequencies), self.scorer.settings,
                             self.scorer.db_api, sql_cache_key=self._cache_key)
        return weights(df, len(candidates))
