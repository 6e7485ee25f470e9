"""The in-process scorer: the prior for the index's size, term frequencies, and the evidence waterfall."""

from __future__ import annotations

import math

import pytest

from conftest import PEOPLE
from mpi.normalise import normalise_record
from mpi.scoring import prior_for_index, tf_scales


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
