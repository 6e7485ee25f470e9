"""The benchmarks' pairwise metrics: recall against every true pair, ties kept together, link tasks across files.

Both engines in a benchmark are scored by these helpers, so a counting mistake
here would show up as a difference between engines that is not there.
"""

from __future__ import annotations

import sys

import pytest

from mpi.settings import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "bench"))
import metrics  # noqa: E402

TRUTH = {"a1": "A", "a2": "A", "a3": "A", "b1": "B", "b2": "B", "c1": "C"}


def test_true_pairs_are_every_pair_within_a_cluster():
    assert metrics.true_pair_count(TRUTH) == 3 + 1


def test_a_link_task_counts_only_pairs_across_sources():
    sources = {"a1": "x", "a2": "y", "a3": "y", "b1": "x", "b2": "x", "c1": "y"}
    assert metrics.true_pair_count(TRUTH, sources) == 2  # a1-a2, a1-a3; a2-a3 and b1-b2 are within a file
    labelled = metrics.label_pairs([("a1", "a2", 5.0), ("b1", "b2", 9.0)], TRUTH, sources)
    assert labelled == [(5.0, True)]


def test_recall_counts_true_pairs_never_scored_as_misses():
    pairs = [("a1", "a2", 10.0), ("a1", "b1", 2.0)]
    report = metrics.pair_report(pairs, TRUTH)
    assert report.true_pairs == 4 and report.blocking_recall == pytest.approx(0.25)
    assert report.best.weight == 10.0
    assert (report.best.precision, report.best.recall) == (1.0, pytest.approx(0.25))


def test_pairs_of_equal_weight_stand_or_fall_together():
    labelled = metrics.label_pairs([("a1", "a2", 3.0), ("a1", "b1", 3.0), ("a2", "a3", 1.0)], TRUTH)
    at = metrics.at_weight(labelled, 3.0, 4)
    assert (at.predicted, at.precision) == (2, 0.5)
    assert metrics.weight_for_precision(labelled, 0.9) == pytest.approx(4.0)  # nothing reaches 90%: above all


def test_cluster_pairwise_treats_records_missing_from_the_clustering_as_singletons():
    clusters = {"a1": 1, "a2": 1, "b1": 1}
    result = metrics.cluster_pairwise(clusters, TRUTH)
    assert (result.predicted, result.precision, result.recall) == (3, pytest.approx(1 / 3), pytest.approx(1 / 4))
