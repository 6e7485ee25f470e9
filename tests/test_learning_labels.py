"""Steward decisions become labelled record pairs (``mpi.stewardship.labels``): one test per kind of decision.

Each decision is made through the real case workflow, merge service and undo on
a real store; the labels are then read back as ``mpi train --from-decisions``
reads them.
"""

from __future__ import annotations

from conftest import record
from duplicate_cases import duplicate_case
from held_cases import STEWARD, band, case_id, version  # noqa: F401  (fixtures)
from mpi.stewardship.labels import CASE_ACTIONS, KINDS, collect, counts

HELD = ("foodbank-cbo", "FB-3")
HOSPITAL = ("st-marys-ehr", "MRN-1")
PLAN = ("bluepath-mco", "M-77")


def labels(services):
    model = services.matching.active_model()
    with services.store.serialised():
        return collect(services.store, services.matching.index(), model.scorer)


def only(pairs):
    assert len(pairs) == 1, pairs
    return pairs[0]


def test_a_linked_case_says_its_record_and_the_chosen_persons_record_are_one_human(services, band, case_id):
    services.cases.resolve_linked(case_id, band.person_id, STEWARD, "same phone and address",
                                  version(services, case_id))
    pair = only(labels(services))
    assert {pair.left, pair.right} == {HELD, HOSPITAL}
    assert (pair.same, pair.kind, pair.decision) == (True, "linked", case_id)


def test_a_new_person_says_the_record_is_none_of_the_candidates(services, band, case_id):
    services.cases.resolve_new_person(case_id, STEWARD, "another Marisol: other mother's name",
                                      version(services, case_id))
    pair = only(labels(services))
    assert (pair.left, pair.right) == (HELD, HOSPITAL)
    assert (pair.same, pair.kind, pair.decision) == (False, "new_person", case_id)


def test_not_duplicate_on_a_held_record_says_it_is_not_that_person(services, band, case_id):
    services.cases.resolve_not_duplicate(case_id, STEWARD, "not her", version(services, case_id),
                                         person_id=band.person_id)
    pair = only(labels(services))
    assert (pair.left, pair.right) == (HELD, HOSPITAL)
    assert (pair.same, pair.kind) == (False, "not_duplicate")


def test_a_merged_duplicate_case_says_the_two_persons_best_pair_is_one_human(services):
    case = duplicate_case(services)
    services.cases.resolve_by_merge(case.case_id, case.a, case.b, STEWARD, "one Marisol",
                                    version(services, case.case_id))
    pair = only(labels(services))
    assert {pair.left, pair.right} == {HOSPITAL, PLAN}
    assert (pair.same, pair.kind, pair.decision) == (True, "merged", case.case_id)


def test_not_duplicate_on_a_duplicate_case_says_the_two_persons_are_two_humans(services):
    case = duplicate_case(services)
    services.cases.resolve_not_duplicate(case.case_id, STEWARD, "two Marisols", version(services, case.case_id))
    pair = only(labels(services))
    assert {pair.left, pair.right} == {HOSPITAL, PLAN}
    assert (pair.same, pair.kind) == (False, "not_duplicate")


def test_an_unmerge_says_the_pair_that_joined_them_is_two_humans_and_outlasts_the_merge(services):
    case = duplicate_case(services)
    merge_id = services.cases.resolve_by_merge(case.case_id, case.a, case.b, STEWARD, "one Marisol",
                                               version(services, case.case_id))["merge_id"]
    services.merges.unmerge(merge_id, STEWARD, "two Marisols after all")
    pair = only(labels(services))  # the later decision on the pair stands
    assert {pair.left, pair.right} == {HOSPITAL, PLAN}
    assert (pair.same, pair.kind, pair.decision) == (False, "unmerged", merge_id)


def test_a_stewards_merge_outside_a_case_is_labelled_and_a_batch_runs_own_merge_is_not(services):
    case = duplicate_case(services)
    merge_id = services.merges.merge(case.a, case.b, STEWARD, "one Marisol, found by search")
    pair = only(labels(services))
    assert {pair.left, pair.right} == {HOSPITAL, PLAN}
    assert (pair.same, pair.kind, pair.decision) == (True, "merged", merge_id)
    services.merges.unmerge(merge_id, STEWARD, "two after all")
    services.merges.merge(case.a, case.b, "user:dedup-runner", "dedup run DR1: best pair scores 20.00")
    assert only(labels(services)).kind == "unmerged"  # the batch's merge says nothing; the unmerge still stands


def test_an_undone_link_says_the_record_is_not_the_person_it_was_linked_to(services, band, case_id):
    services.cases.resolve_linked(case_id, band.person_id, STEWARD, "same phone", version(services, case_id))
    services.cases.undo_link(*HELD, STEWARD, "wrong Marisol: the phone was the clinic's")
    pair = only(labels(services))
    assert (pair.left, pair.right) == (HELD, HOSPITAL)
    assert (pair.same, pair.kind) == (False, "link_undone")
    assert pair.decision.startswith("audit-")


def test_a_link_made_outside_the_case_counts_as_linked(services, band, case_id):
    services.matching.link_manually(*HELD, band.person_id, STEWARD, "checked by phone")
    pair = only(labels(services))
    assert (pair.same, pair.kind, pair.decision) == (True, "linked", case_id)


def test_machine_decisions_and_open_cases_are_no_labels(services, band, case_id):
    services.matching.submit(record("marisol", "bluepath-mco", "M-1"), "test")  # auto-linked or held: no steward
    assert labels(services) == []


def test_counts_say_decisions_by_kind_and_pairs_same_and_different(services, band, case_id):
    services.cases.resolve_new_person(case_id, STEWARD, "another Marisol", version(services, case_id))
    assert counts(labels(services)) == {"decisions": 1, "by_kind": {"new_person": 1}, "pairs_same": 0,
                                        "pairs_different": 1}


def test_every_case_resolution_maps_to_a_kind():
    assert {kind for kind, _, _ in CASE_ACTIONS.values()} | {"unmerged", "link_undone"} == set(KINDS)
    assert set(KINDS) == {"linked", "new_person", "not_duplicate", "merged", "unmerged", "link_undone",
                          "confirmed"}


def test_a_levels_m_moves_at_most_one_bit_however_many_pairs_show_it():
    from collections import Counter

    from mpi.matching.learning import relearn_m

    model = {"comparisons": [{"output_column_name": "c", "comparison_levels": [
        {"is_null_level": True}, {"m_probability": 0.9, "u_probability": 0.01},
        {"m_probability": 0.0999, "u_probability": 0.1}, {"m_probability": 0.0001, "u_probability": 0.89}]}]}
    learned, used = relearn_m(model, {"c": Counter({2: 100, 3: 100})})
    m = [lv.get("m_probability") for lv in learned["comparisons"][0]["comparison_levels"]]
    assert used == {"c": 200}
    assert abs(sum(m[1:]) - 1.0) < 1e-9  # the levels keep their total
    scale = sum([0.9 / 2, 0.0999 * 2, 0.0001 * 2])  # each clamped to a factor 2, then scaled together
    assert [round(x, 9) for x in m[1:]] == [round(x / scale, 9) for x in (0.45, 0.1998, 0.0002)]
    assert relearn_m(model, {"c": Counter({1: 29})})[1] == {}  # too few pairs: m unchanged
