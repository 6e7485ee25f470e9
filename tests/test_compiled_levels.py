"""Each comparison's compiled ``level_of`` (``mpi.matching.compiled``) answers as its levels tested one by one."""

from __future__ import annotations

from collections import Counter

import pytest

from conftest import generated_norms, pairs_the_index_would_score
from mpi.matching.comparisons import COMPARISONS, LAST_NAME, NAME_DOB


@pytest.fixture(scope="module")
def prepared_pairs(scorer):
    """Pairs the index would score (sharing a blocking key) and neighbours in generation order, prepared."""
    norms = [scorer.prepare(n) for n in generated_norms(500, seed=23)]
    return [(norms[a], norms[b]) for a, b in pairs_the_index_would_score(norms, per_key=6)]


def test_every_comparison_compiled_answers_as_its_levels_tested_in_turn(prepared_pairs):
    for comparison in COMPARISONS:
        reached = Counter()
        for l, r in prepared_pairs:
            level = comparison.level_of(l, r)
            assert level == comparison.interpreted_level_of(l, r), (comparison.name, comparison.levels[level].label)
            reached[level] += 1
        assert len(reached) >= min(3, len(comparison.levels)), comparison.name  # the pairs reach several levels


def test_the_building_blocks_are_inline_and_a_test_asked_twice_is_computed_once():
    source = NAME_DOB.level_of.source
    assert "l.get('birth_date')" in source and "_JW(" in source  # equality and Jaro-Winkler written inline
    assert "_once0 = " in source  # a _per_pair test: a local of the call, not a cache across calls


def test_a_per_pair_test_is_not_carried_over_to_the_next_pair():
    twin = {"first_name": "ANA", "first_name_roots": "ANA", "last_name": "DIAZ", "birth_date": "2001-02-03",
            "phone": "+14045550100"}
    other = dict(twin, first_name="ROSA", first_name_roots="ROSA")
    stranger = dict(other, last_name="OKAFOR", phone="+14045550199")
    for l, r in ((twin, other), (twin, stranger), (twin, other)):
        assert NAME_DOB.level_of(l, r) == NAME_DOB.interpreted_level_of(l, r)
    assert NAME_DOB.level_of(twin, other) != NAME_DOB.level_of(twin, stranger)  # household or not


def test_names_swapped_and_misspelt_asked_by_two_comparisons_is_not_carried_to_another_pair():
    """``_swapped_near`` keeps its last pair's answer for the second comparison that asks it of the same pair."""
    query = {"first_name": "ERIC", "first_name_roots": "ERIC", "last_name": "PHAM", "birth_date": "1980-05-06"}
    swapped = {"first_name": "PHA", "first_name_roots": "PHA", "last_name": "ERICK", "birth_date": "1980-05-06"}
    stranger = {"first_name": "ROSA", "first_name_roots": "ROSA", "last_name": "OKAFOR", "birth_date": "1980-05-06"}
    answers = []
    for r in (swapped, stranger, swapped, dict(stranger)):
        for comparison in (NAME_DOB, LAST_NAME):
            level = comparison.level_of(query, r)
            assert level == comparison.interpreted_level_of(query, r), comparison.name
            answers.append(comparison.levels[level].label)
    assert answers[1] == "given and family names swapped, spelt differently" != answers[3]
    assert answers[:4] == answers[4:]
