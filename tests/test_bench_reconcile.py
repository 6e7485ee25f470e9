"""The reconciliation bench's figures (``bench/exchange_reconcile.py``), at a small size: what it builds is what
it reconciles, every row is graded once, and the scheduled run that follows opens nothing new."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/: scripts at the project's root
from bench.exchange_reconcile import IN_FLIGHT, UNKNOWN, WRONG, reconcile_figures  # noqa: E402


def test_the_figures_add_up_and_a_second_run_opens_nothing():
    figures = reconcile_figures(rows=2_000)

    assert figures["compared"] == 2_000
    assert figures["matched"] + figures["lagging"] + figures["mismatched"] == 2_000
    assert figures["mismatched"] == figures["opened"] > 0
    assert (figures["rerun_opened"], figures["rerun_seen_again"]) == (0, figures["opened"])
    # Unknown ids (1 %), wrong labels (4 %) and updates in flight (3 %) of the rows, within sampling noise.
    assert 0.5 * (UNKNOWN + WRONG) / 1000 < figures["mismatched"] / 2_000 < 1.5 * (UNKNOWN + WRONG) / 1000
    assert 0 < figures["lagging"] / 2_000 < 1.5 * IN_FLIGHT / 1000
