"""The real-time hot path gives exactly the numbers of scoring each pair on its own.

``QueryScorer`` evaluates each comparison once per distinct value set of its
key columns and reuses the result; that is only sound if a comparison reads
nothing else, so these tests check both the premise (on every comparison, over
thousands of generated pairs) and the outcome (identical weights and evidence).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import pytest

from mpi import blocking
from mpi.comparisons import COMPARISONS, DERIVED_COLUMNS, DERIVED_FROM, derive
from mpi.generator import generate_records
from mpi.index import CandidateIndex
from mpi.model import compile_model
from mpi.normalise import normalise_record
from mpi.records import validate_record
from mpi.scoring import key_columns
from mpi.services import DEFAULT_MODEL_VERSION
from mpi.settings import PROJECT_ROOT


class Reads(dict):
    """A dict that notes every key read."""

    def __init__(self, data: Mapping, seen: set):
        super().__init__(data)
        self.seen = seen

    def get(self, key, default=None):
        self.seen.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self.seen.add(key)
        return super().__getitem__(key)


@pytest.fixture(scope="module")
def scorer():
    document = json.loads((PROJECT_ROOT / "matching_models" / f"{DEFAULT_MODEL_VERSION}.json").read_text())
    return compile_model(document).scorer


@pytest.fixture(scope="module")
def norms():
    return [normalise_record(validate_record(r, strict=False)) for r in generate_records(700, seed=11)]


@pytest.fixture(scope="module")
def blocked_pairs(norms):
    """Pairs the index would score: records sharing a blocking key, plus the neighbours in generation order."""
    by_key: dict[str, list[int]] = {}
    for i, n in enumerate(norms):
        for k in blocking.record_keys(n):
            by_key.setdefault(k, []).append(i)
    pairs = {(a, b) for members in by_key.values() for a in members[:8] for b in members[:8] if a != b}
    pairs |= {(i, i + 1) for i in range(len(norms) - 1)}
    return sorted(pairs)


def test_each_comparison_reads_only_its_key_columns(scorer, norms, blocked_pairs):
    for comparison in COMPARISONS:
        allowed = set(key_columns(comparison)) | set(DERIVED_COLUMNS)
        seen: set = set()
        for a, b in blocked_pairs:
            comparison.level_of(Reads(scorer.prepare(norms[a]), seen), Reads(scorer.prepare(norms[b]), seen))
        assert seen <= allowed, f"{comparison.name} reads {sorted(seen - allowed)} beyond its SQL columns"


def test_derived_columns_read_only_what_they_are_derived_from(scorer, norms):
    seen: set = set()
    for n in norms:
        derive(Reads(n, seen), scorer.tf_tables)
    assert seen <= set(DERIVED_FROM)


def test_query_scorer_gives_the_numbers_of_pairwise_scoring_exactly(scorer, norms, blocked_pairs):
    index = CandidateIndex()
    for i, n in enumerate(norms):
        index.put(("s", str(i)), n, blocking.record_keys(n), None, None)
    queries: dict[int, object] = {}
    compared = 0
    for a, b in blocked_pairs:
        query = queries.setdefault(a, scorer.query(norms[a]))
        expected = scorer.score(norms[a], norms[b])
        entry = index.get(("s", str(b)))
        got = query.score(entry.shape, entry.values)
        assert got == expected  # the same floats, not merely close
        assert query.weight(entry.shape, entry.values) == expected.match_weight
        compared += 1
    assert compared > 2000


def test_score_person_picks_the_first_best_record_and_the_weakest_weight(scorer, norms):
    index = CandidateIndex()
    for i, n in enumerate(norms[:6]):
        index.put(("s", str(i)), n, [], None, None)
    members = [entry for _, entry in sorted(index.entries.items())]
    best, key, weakest = scorer.query(norms[0]).score_person(members)
    weights = [scorer.score(norms[0], entry.norm).match_weight for entry in members]
    assert best.match_weight == max(weights) and weakest == min(weights)
    assert key == members[weights.index(max(weights))].key
