"""One model, two engines, same numbers: Splink's batch prediction and the in-process scorer.

The real-time path evaluates the trained model without Splink (``mpi.matching.scoring``);
Splink stays the engine for training and batch runs. For every blocked pair of
a generated population both must give each comparison the same weight (so the
same level) and the pair the same total, to 1e-6.
"""

from __future__ import annotations

import json

import pytest

from mpi.identity.index import CandidateIndex
from mpi.matching import splink_adapter
from mpi.matching.comparisons import COMPARISONS
from mpi.matching.model import compile_model
from mpi.matching.training import model_row
from mpi.records.normalise import normalise_record
from mpi.records.validation import validate_record
from mpi.services import DEFAULT_MODEL_VERSION
from mpi.settings import PROJECT_ROOT
from mpi.synth.generator import generate_records

#: Slow: both engines over thousands of generated pairs (make check leaves it out; make test runs it).
pytestmark = pytest.mark.slow

TOLERANCE = 1e-6


@pytest.fixture(scope="module")
def shipped():
    document = json.loads((PROJECT_ROOT / "matching_models" / f"{DEFAULT_MODEL_VERSION}.json").read_text())
    return document, compile_model(document)


@pytest.fixture(scope="module")
def scored_pairs(shipped):
    document, model = shipped
    rows = [model_row(r) for r in generate_records(900, seed=5)]
    by_id = {r["unique_id"]: r for r in rows}
    predictions = splink_adapter.predict(rows, document["tf_tables"], document["tf_floor"], document["splink_model"],
                                         splink_adapter.duckdb_api())
    return [(p, model.scorer.score(by_id[p["unique_id_l"]], by_id[p["unique_id_r"]])) for p in predictions]


def test_thousands_of_pairs_are_compared(scored_pairs):
    assert len(scored_pairs) >= 3000
    # ... and they are not all alike: matches and non-matches, every comparison at several levels.
    weights = [s.match_weight for _, s in scored_pairs]
    assert min(weights) < -10 and max(weights) > 20
    for i, comparison in enumerate(COMPARISONS, start=1):
        assert len({s.evidence[i]["level"] for _, s in scored_pairs}) >= 3, comparison.name


def test_both_engines_give_every_comparison_the_same_weight(scored_pairs):
    worst = {c.name: 0.0 for c in COMPARISONS}
    for splink_row, score in scored_pairs:
        for entry in score.evidence[1:]:
            name = entry["comparison"]
            splink_weight = splink_row[f"mw_{name}"] + (splink_row.get(f"mw_tf_adj_{name}") or 0.0)
            worst[name] = max(worst[name], abs(splink_weight - entry["weight"]))
    assert worst == pytest.approx({name: 0.0 for name in worst}, abs=TOLERANCE)


def test_both_engines_give_every_pair_the_same_match_weight(scored_pairs):
    differences = [abs(p["match_weight"] - s.match_weight) for p, s in scored_pairs]
    assert max(differences) <= TOLERANCE


def test_untrained_levels_are_written_down_not_left_to_engine_defaults(shipped):
    document, _ = shipped
    for comparison in document["splink_model"]["comparisons"]:
        for level in comparison["comparison_levels"]:
            if not level.get("is_null_level"):
                assert level.get("m_probability") and level.get("u_probability"), level["label_for_charts"]


def test_splinks_realtime_scoring_gives_the_in_process_weights_call_after_call(shipped):
    """The latency benchmark's yardstick: Splink's cached real-time calls, repeated, agree with the scorer."""
    document, model = shipped
    rows = [model_row(r) for r in generate_records(40, seed=3)]
    realtime = splink_adapter.RealtimeScorer(document["splink_model"], document["tf_tables"], document["tf_floor"],
                                             splink_adapter.duckdb_api())
    for record in rows[:3]:  # the second and later calls run Splink's cached SQL
        expected = [model.scorer.score(record, other).match_weight for other in rows[3:15]]
        assert realtime.score_pairs(record, rows[3:15]) == pytest.approx(expected, abs=TOLERANCE)


def test_both_engines_agree_with_the_term_frequencies_of_an_index(shipped):
    """/v1/match pools the index's value counts with the model's (``mpi.matching.frequencies``); Splink, handed the
    same frequencies, gives the same weights."""
    document, model = shipped
    rows = [model_row(r) for r in generate_records(40, seed=3)]
    namesakes = [{**r, "last_name": rows[4]["last_name"]} for r in generate_records(80, seed=9)]
    index = CandidateIndex()
    for i, row in enumerate([*generate_records(400, seed=8), *namesakes]):
        index.put(("s", str(i)), normalise_record(validate_record(row, strict=False)), [], None, None)
    record, others = rows[4], rows[3:15]
    frequencies = model.scorer.frequencies(record, len(index.entries), index.value_counts)
    realtime = splink_adapter.RealtimeScorer(document["splink_model"], document["tf_tables"], document["tf_floor"],
                                             splink_adapter.duckdb_api())
    expected = [model.scorer.score(record, other, frequencies=frequencies).match_weight for other in others]
    assert expected != pytest.approx([model.scorer.score(record, other).match_weight for other in others])
    assert realtime.score_pairs(record, others, frequencies) == pytest.approx(expected, abs=TOLERANCE)
