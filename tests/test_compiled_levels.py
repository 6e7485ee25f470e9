"""Each comparison's compiled ``level_of`` (``mpi.matching.compiled``) answers as its levels tested one by one."""

from __future__ import annotations

from collections import Counter

import pytest

from conftest import generated_norms, pairs_the_index_would_score
from mpi.matching.comparisons import COMPARISONS, NAME_DOB


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
