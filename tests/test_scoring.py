"""The in-process scorer: exactly the numbers of scoring each pair on its own, the prior for the index's
size, term frequencies, and the evidence waterfall.

The real-time hot path gives exactly the numbers of scoring each pair on its own.

``QueryScorer`` evaluates each comparison once per distinct value set of its
key columns and reuses the result; that is only sound if a comparison reads
nothing else, so these tests check both the premise (on every comparison, over
thousands of generated pairs) and the outcome (identical weights and evidence).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pytest

from conftest import PEOPLE, generated_norms, pairs_the_index_would_score
from mpi.identity.index import CandidateIndex
from mpi.matching import blocking
from mpi.matching.comparisons import COMPARISONS, DERIVED_COLUMNS, DERIVED_FROM, derive
from mpi.matching.policy import Policy
from mpi.matching.scoring import key_columns
from mpi.matching.weights import prior_for_index, tf_scales
from mpi.records.normalise import normalise_record


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
def norms():
    return generated_norms(700, seed=11)


@pytest.fixture(scope="module")
def blocked_pairs(norms):
    """Pairs the index would score: records sharing a blocking key, plus the neighbours in generation order."""
    return pairs_the_index_would_score(norms, per_key=8)


@pytest.mark.slow  # two scorers over thousands of generated pairs
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


@pytest.mark.slow  # two scorers over thousands of generated pairs
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


@pytest.mark.slow  # two scorers over thousands of generated pairs
def test_conflicts_checked_as_bits_are_the_conflicts_of_the_evidence(scorer, norms, blocked_pairs):
    """score_person tests the policy's conflict rules on a pair's levels kept as bits; the rules must say
    what they say of the pair's evidence."""
    policy = Policy.from_spec(None)
    index = CandidateIndex()
    for i, n in enumerate(norms):
        index.put(("s", str(i)), n, [], None, None)
    conflicts = 0
    for a, b in blocked_pairs:
        entry = index.get(("s", str(b)))
        _, _, _, found = scorer.query(norms[a]).score_person([entry], policy.conflict_in_bits)
        expected = policy.conflict(scorer.score(norms[a], norms[b]).evidence)
        assert (found and found[1]) == expected
        conflicts += expected is not None
    assert conflicts > 100


def test_score_person_picks_the_first_best_record_and_the_weakest_weight(scorer, norms):
    index = CandidateIndex()
    for i, n in enumerate(norms[:6]):
        index.put(("s", str(i)), n, [], None, None)
    members = [entry for _, entry in sorted(index.entries.items())]
    query = scorer.query(norms[0])
    best, record, weakest, conflict = query.score_person(members)
    weights = [scorer.score(norms[0], entry.norm).match_weight for entry in members]
    assert best == max(weights) and weakest == min(weights)
    assert record is members[weights.index(max(weights))]
    assert conflict is None  # no policy asked
    assert query.explain(record) == scorer.score(norms[0], record.norm)  # the evidence, made on demand


@pytest.fixture
def model(services):
    services.ensure_active_model("test")
    return services.matching.active_model()


def test_the_prior_falls_as_the_index_outgrows_the_training_set():
    assert prior_for_index(0.001, 10_001, 5_000) == 0.001  # a young index keeps the model's prior
    assert prior_for_index(0.001, 10_001, 100_001) == pytest.approx(0.0001)
    assert prior_for_index(0.001, None, 10**6) == 0.001  # a model that does not say its size keeps it


def test_a_pair_scores_lower_in_a_larger_index_by_the_prior_alone(model):
    a, b = (normalise_record(PEOPLE["marisol"]) for _ in range(2))
    trained = model.scorer.trained_records
    small, large = model.scorer.score(a, b, trained), model.scorer.score(a, b, trained * 100)
    assert small.match_weight - large.match_weight == pytest.approx(math.log2(100), abs=0.01)
    assert large.evidence[0]["index_records"] == trained * 100
    assert [e["weight"] for e in small.evidence[1:]] == [e["weight"] for e in large.evidence[1:]]


def test_the_evidence_is_a_waterfall_that_adds_up_to_the_weight(model):
    score = model.scorer.score(normalise_record(PEOPLE["marisol"]),
                               normalise_record({**PEOPLE["marisol"], "first_name": "Mari", "phone": ""}))
    running = 0.0
    for entry in score.evidence:
        running += entry["weight"]
        assert entry["cumulative_weight"] == pytest.approx(running)
    assert score.evidence[-1]["cumulative_weight"] == pytest.approx(score.match_weight)
    assert score.evidence[0]["comparison"] == "prior"


def test_term_frequency_adjustments_average_to_nothing_and_favour_rare_values(model):
    document = model.scorer
    scales = tf_scales({"comparisons": [{"output_column_name": c.name,
                                         "comparison_levels": [{"u_probability": 0.01}] * len(c.levels)}
                                        for c, _ in document._compiled]},
                       {"last_name": {"GARCIA": 0.5, "SMITH": 0.5}})
    # Two values of frequency 0.5: sum(f^2) = 0.5, so each is "average" and u / sum(f^2) = 0.02.
    assert scales["last_name"] == pytest.approx(0.02)
    common = normalise_record({"last_name": "Garcia"})
    rare = normalise_record({"last_name": "Quintanilla-Obuya"})
    tf = {e["comparison"]: e["tf_adjustment"] for e in model.scorer.score(common, common).evidence}
    tf_rare = {e["comparison"]: e["tf_adjustment"] for e in model.scorer.score(rare, rare).evidence}
    assert tf_rare["last_name"] > 0 > tf["last_name"]
