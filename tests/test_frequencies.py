"""Term frequencies of the data at hand: the model's training records and the index's records pooled.

A value the model never saw is not thereby rare where the model is deployed; once
the index holds it many times, agreeing on it must weigh what a common value
weighs. An empty index leaves the model's numbers as they are but for the
record being matched, counted among the records at hand.
"""

from __future__ import annotations

import pytest

from conftest import generated_norms, record
from mpi.identity.index import CandidateIndex
from mpi.matching import blocking
from mpi.matching.comparisons import FREQUENCY_COLUMNS
from mpi.matching.frequencies import PooledFrequencies, ValueCounts
from mpi.records.normalise import normalise_record
from mpi.records.validation import validate_record
from mpi.synth.generator import generate_records

NEW_SURNAME = "ZBYSZEWSKA"  # in no model's tables


@pytest.fixture(scope="module")
def norms():
    return generated_norms(600, seed=21)


def _index(norms) -> CandidateIndex:
    index = CandidateIndex()
    for i, n in enumerate(norms):
        index.put(("s", str(i)), n, blocking.record_keys(n), None, None)
    return index


def _tf(score, comparison: str) -> float:
    return next(e["tf_adjustment"] for e in score.evidence if e["comparison"] == comparison)


def test_an_empty_index_changes_the_models_frequencies_by_the_record_alone(scorer, norms):
    record = norms[0]
    pooled = scorer.frequencies(record, 0, ValueCounts())
    trained = scorer.trained_records
    for column in FREQUENCY_COLUMNS:
        table = scorer.tf_tables[column]
        for value in [v for v in table if v != record.get(column)][:50]:
            assert pooled[column].get(value) == pytest.approx(table[value] * trained / (trained + 1), rel=1e-12)
        assert pooled[column].get(NEW_SURNAME) == pytest.approx(1 / (trained + 1), rel=1e-9)  # the floor's one
    own = record["last_name"]
    assert pooled["last_name"].get(own) == pytest.approx(
        (1 + trained * scorer.tf_tables["last_name"].get(own, scorer.tf_floor)) / (trained + 1))


def test_a_surname_the_index_holds_often_weighs_what_a_common_one_does(scorer, norms):
    """The model alone calls a surname it never saw as rare as one seen once; the index knows better."""
    crowd = [{**n, "last_name": NEW_SURNAME} for n in norms[:120]]
    index = _index(norms[120:] + crowd)
    inbound = {**crowd[0], "source_record_id": "again"}
    pooled = scorer.frequencies(inbound, len(index.entries), index.value_counts)
    assert index.value_counts.of("last_name")[NEW_SURNAME] == 120
    pair = inbound, crowd[0]
    alone, at_hand = _tf(scorer.score(*pair), "last_name"), _tf(scorer.score(*pair, frequencies=pooled), "last_name")
    assert alone > 3  # a floor-frequency value: the rarest there is
    assert at_hand < alone - 3
    # 120 indexed records and the inbound one, and the floor's one training record, over both sets.
    assert pooled["last_name"].get(NEW_SURNAME) == pytest.approx(
        (121 + scorer.trained_records * scorer.tf_floor) / (len(index.entries) + 1 + scorer.trained_records))


def test_a_value_only_the_pair_shares_stays_close_to_the_models_word(scorer, norms):
    stored = {**norms[0], "last_name": NEW_SURNAME}
    index = _index(norms[1:] + [stored])
    inbound = {**norms[0], "last_name": NEW_SURNAME, "first_name": "X"}
    pooled = scorer.frequencies(inbound, len(index.entries), index.value_counts)
    pair = inbound, stored
    alone, at_hand = _tf(scorer.score(*pair), "last_name"), _tf(scorer.score(*pair, frequencies=pooled), "last_name")
    assert alone - 1.7 < at_hand < alone  # the two records and the floor's one: three times as common


def test_the_counts_follow_the_index_when_a_record_is_replaced(norms):
    index = _index(norms[:10])
    before = dict(index.value_counts.of("last_name"))
    old = norms[3]["last_name"]
    index.put(("s", "3"), {**norms[3], "last_name": NEW_SURNAME}, [], None, None)
    after = index.value_counts.of("last_name")
    assert after[NEW_SURNAME] == 1
    assert after.get(old, 0) == before[old] - 1
    assert sum(after.values()) == sum(before.values())


def test_pooled_frequencies_are_a_mapping_of_every_value_either_side_knows():
    pooled = PooledFrequencies({"GARCIA": 0.5, "SMITH": 0.25}, 0.125, 8, {"SMITH": 2, "NGUYEN": 4}, 7, "LEE")
    assert dict(pooled) == {"GARCIA": 4 / 16, "SMITH": (2 + 2) / 16, "NGUYEN": (4 + 1) / 16, "LEE": (1 + 1) / 16}
    assert "NGUYEN" in pooled and "KIM" not in pooled and len(pooled) == 4
    with pytest.raises(KeyError):
        pooled["KIM"]
    assert pooled.get("KIM") == 1 / 16  # seen by neither: counted once, as the model's floor counts it


def test_a_stored_record_is_counted_once_in_its_present_form():
    pooled = PooledFrequencies({"SMITH": 0.25}, 0.125, 8, {"SMITH": 2, "NGUYEN": 1}, 8, "SMITH", stored=True,
                               stored_value="NGUYEN")
    assert pooled.get("NGUYEN") == (0 + 1) / 16 and pooled.get("SMITH") == (3 + 2) / 16
    assert "NGUYEN" not in pooled and dict(pooled) == {"SMITH": 5 / 16}


def test_matching_weighs_surnames_by_the_index_it_matches_against(services):
    """/v1/match's evidence: the tf adjustment of a surname the index holds often is the pooled one."""
    matching = services.matching
    services.ensure_active_model("test")
    for i, person in enumerate(generate_records(60, seed=4)):
        person = {k: v for k, v in person.items() if k != "truth_person_id"}
        matching.submit({**person, "last_name": NEW_SURNAME, "source_record_id": f"crowd-{i}"}, "test")
    model = matching.active_model()
    inbound = record("marisol", "st-marys-ehr", "MRN-1", last_name=NEW_SURNAME)
    matching.submit(inbound, "test")
    found = matching.match({**inbound, "source_record_id": "MRN-2"}, "test")["candidates"]
    evidence = found[0]["evidence"]
    shown = next(e["tf_adjustment"] for e in evidence if e["comparison"] == "last_name")
    norm = normalise_record(validate_record(inbound))
    assert shown < _tf(model.scorer.score(norm, norm), "last_name") - 1


def test_a_record_scores_the_same_before_it_is_stored_and_after(services):
    """Weighed against the rest of the index: /v1/match (nothing stored) and /v1/records (the record stored,
    then matched) give one weight, though the record's own surname is then in the counts."""
    matching = services.matching
    services.ensure_active_model("test")
    matching.submit(record("marisol", "st-marys-ehr", "MRN-1", last_name=NEW_SURNAME), "test")
    partial = record("marisol", "foodbank-cbo", "FB-3", last_name=NEW_SURNAME, phone="", ssn_last4="")
    before = matching.match(partial, "test")["candidates"][0]["match_weight"]
    after = matching.submit(partial, "test")["candidates"][0]["match_weight"]
    assert after == pytest.approx(before, abs=1e-9)
    assert matching.index().value_counts.of("last_name")[NEW_SURNAME] == 2

