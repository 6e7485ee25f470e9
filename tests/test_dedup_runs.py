"""``mpi dedup`` over the store: the duplicates a run finds, what it never touches, and its record.

The world: generated people loaded through the real matching path while a policy
that never links was active ("records loaded before the model was good"), so
every record is a person of its own; then the shipped model is active again and
a run finds the persons that are one human.
"""

from __future__ import annotations

from collections import defaultdict

import pytest
from conftest import activate_policy_on, record

from mpi.errors import Conflict, StoreError
from mpi.services import DEFAULT_MODEL_VERSION
from mpi.synth.generator import generate_records
from mpi.vocab import AuditAction, CaseState, Decision

pytestmark = pytest.mark.both_stores

ADMIN = "user:admin"


def table_counts(services) -> dict[str, int]:
    tables = ("persons", "links", "review_cases", "review_candidates", "audit_log", "merges", "dedup_findings")
    return {t: services.store.db.one(f"SELECT count(*) FROM {t}")[0] for t in tables}


@pytest.fixture
def world(services):
    """Services over a store of 30 generated people's records, each record a person; and the truth."""
    services.ensure_active_model("test")
    activate_policy_on(services, upper_match_weight=999, lower_match_weight=998)
    truth: dict[str, str] = {}
    for r in generate_records(30, seed=3):
        result = services.matching.submit({k: v for k, v in r.items() if k != "truth_person_id"}, "test",
                                          strict=False)
        truth[result["person_id"]] = r["truth_person_id"]
    services.models.activate(DEFAULT_MODEL_VERSION, "test")
    return services, truth


def duplicate_cases(services) -> list[dict]:
    return [services.cases.get(c["case_id"]) for c in services.cases.queue()
            if c["kind"] == Decision.POSSIBLE_DUPLICATE.value]


def test_a_run_opens_a_case_for_each_pair_of_persons_that_join_a_human(world):
    services, truth = world
    people = defaultdict(set)
    for person_id, human in truth.items():
        people[human].add(person_id)
    run = services.dedup.run(ADMIN)
    assert run["outcome"] == "completed" and run["engine"] == "duckdb" and run["model_version"] == DEFAULT_MODEL_VERSION
    assert run["ended_at"] >= run["started_at"]
    cases = duplicate_cases(services)
    assert run["counts"]["cases_opened"] == len(cases) == len(run["findings"])
    same = sum(truth[c["candidates"][0]["person_id"]] == truth[c["candidates"][1]["person_id"]] for c in cases)
    assert same == len(cases)  # every case pairs two persons of one human
    # A human of k persons gets k - 1 cases (merging along them makes one person), and nearly every one is found.
    needed = sum(len(p) - 1 for p in people.values())
    assert 0.9 * needed <= len(cases) <= needed
    case = cases[0]
    assert case["source_system"] is None and case["state"] == CaseState.OPEN.value and len(case["candidates"]) == 2
    evidence = case["candidates"][0]["evidence"]
    assert evidence[-1]["cumulative_weight"] == pytest.approx(case["candidates"][0]["match_weight"], abs=1e-6)
    opened = services.store.audit.events("review_case", case["case_id"])
    assert [e["action"] for e in opened] == [AuditAction.CASE_OPENED.value]
    assert opened[0]["detail"]["dedup_run_id"] == run["run_id"] and opened[0]["actor"] == ADMIN


def test_a_second_run_over_unchanged_data_opens_nothing_new(world):
    services, _ = world
    first = services.dedup.run(ADMIN)
    before = table_counts(services)
    second = services.dedup.run(ADMIN)
    assert second["counts"]["cases_opened"] == 0 and second["findings"] == []
    assert second["counts"]["already_proposed"] == first["counts"]["cases_opened"]
    after = table_counts(services)
    assert {k: after[k] - before[k] for k in after} == dict.fromkeys(after, 0)
    assert [r["run_id"] for r in services.dedup.runs()] == [second["run_id"], first["run_id"]]


def test_a_pair_kept_apart_is_never_proposed_again_and_a_merged_pair_needs_no_case(world):
    services, truth = world
    services.dedup.run(ADMIN)
    cases = duplicate_cases(services)
    apart, merged = cases[0], cases[1]
    a, b = (c["person_id"] for c in merged["candidates"])
    services.cases.resolve_by_merge(merged["case_id"], a, b, ADMIN, "same person", merged["version"])
    # A steward keeps a record of one person apart from the other (not_duplicate is remembered per record).
    x, y = (c["person_id"] for c in apart["candidates"])
    record = services.store.persons.records_of(x)[0]
    with services.store.transaction():
        services.writer.keep_apart((record["source_system"], record["source_record_id"]), y, apart["case_id"], ADMIN,
                                   "different people")
        services.store.cases.close(apart["case_id"], CaseState.WITHDRAWN.value, None)
    run = services.dedup.run(ADMIN)
    named = {frozenset((f["person_a"], f["person_b"])) for f in run["findings"]}
    assert frozenset((x, y)) not in named and run["counts"]["kept_apart"] >= 1
    assert not any(b in pair for pair in named)  # the merged-away person is never named again


def test_a_duplicate_case_resolved_not_duplicate_is_never_reopened(world):
    services, _ = world
    services.dedup.run(ADMIN)
    case = duplicate_cases(services)[0]
    a, b = (c["person_id"] for c in case["candidates"])
    services.cases.resolve_not_duplicate(case["case_id"], ADMIN, "twins", case["version"])
    run = services.dedup.run(ADMIN)
    assert frozenset((a, b)) not in {frozenset((f["person_a"], f["person_b"])) for f in run["findings"]}
    assert run["counts"]["kept_apart"] == 1


def test_auto_merge_only_where_the_policy_allows_and_never_a_stewards_person(world):
    services, truth = world
    # A steward linked one record by hand: its person is never merged by a machine.
    person_id = next(iter(truth))
    record = services.store.persons.records_of(person_id)[0]
    services.matching.link_manually(record["source_system"], record["source_record_id"], person_id, ADMIN,
                                    "checked by phone")
    activate_policy_on(services, batch_auto_merge=True)
    run = services.dedup.run(ADMIN)
    merges = [f for f in run["findings"] if f["merge_id"]]
    assert merges and run["counts"]["auto_merged"] == len(merges)
    assert all(person_id not in (f["person_a"], f["person_b"]) for f in merges)
    for f in merges:
        assert truth[f["person_a"]] == truth[f["person_b"]]
        merge = services.store.merges.get(f["merge_id"])
        assert merge["actor"] == ADMIN and run["run_id"] in merge["reason"]
    # Undone like any merge.
    undone = services.merges.unmerge(merges[-1]["merge_id"], ADMIN, "check it again")  # the latest first
    assert undone["undone_by"] == ADMIN


def test_a_person_the_run_would_split_is_reported_never_split(world):
    services, truth = world
    humans = defaultdict(list)
    for person_id, human in truth.items():
        humans[human].append(person_id)
    one, other = list(humans)[:2]
    target, stranger = humans[one][0], humans[other][0]
    record = services.store.persons.records_of(stranger)[0]
    services.matching.link_manually(record["source_system"], record["source_record_id"], target, ADMIN,
                                    "a steward's mistake")
    before = services.store.persons.records_of(target)
    run = services.dedup.run(ADMIN)
    split = services.dedup.get(run["run_id"], with_report=True)["report"]["splits"]
    assert {"person_id": target, "records": 2, "parts": 2} in split
    assert run["counts"]["splits"] >= 1
    assert services.store.persons.records_of(target) == before


def test_a_run_that_fails_while_writing_leaves_the_store_as_it_was(world, monkeypatch):
    services, _ = world
    before = table_counts(services)
    real = services.store.dedup.add_findings

    def failing(run_id, findings):  # the disk fails after the run has written two findings
        real(run_id, findings[:2])
        raise StoreError("store write failed: IOException")

    monkeypatch.setattr(services.store.dedup, "add_findings", failing)
    with pytest.raises(StoreError):
        services.dedup.run(ADMIN)
    after = table_counts(services)
    assert after == before
    run = services.dedup.runs()[0]
    assert run["outcome"] == "failed" and run["error"] == "StoreError" and run["ended_at"] is not None
    monkeypatch.undo()
    again = services.dedup.run(ADMIN)  # the next run is not blocked by the failed one
    assert again["outcome"] == "completed" and again["counts"]["cases_opened"] > 2


def test_a_run_left_running_by_a_dead_process_is_marked_interrupted_by_the_next(world):
    services, _ = world
    with services.store.transaction():
        dead = services.store.dedup.start("store", "duckdb", DEFAULT_MODEL_VERSION, ADMIN)
    run = services.dedup.run(ADMIN)
    assert services.dedup.get(dead)["outcome"] == "interrupted"
    assert run["outcome"] == "completed"


def test_one_run_at_a_time(world):
    services, _ = world
    run_id = services.dedup.start(ADMIN)
    with pytest.raises(Conflict):
        services.dedup.start(ADMIN)
    assert services.dedup.run(ADMIN, run_id=run_id)["outcome"] == "completed"


def test_a_stewards_new_person_against_a_candidate_is_never_proposed_as_a_duplicate(services):
    """A steward held a partial record of Marisol apart from her person (a new person): no run reopens that."""
    from held_cases import PARTIAL, weight_of

    services.ensure_active_model("test")
    marisol = services.matching.submit(record("marisol", "st-marys-ehr", "MRN-1"), "test")["person_id"]
    weight = weight_of(services, PARTIAL)
    activate_policy_on(services, lower_match_weight=weight - 3, upper_match_weight=weight + 3)
    case_id = services.matching.submit(PARTIAL, "test")["review_case_id"]
    services.cases.resolve_new_person(case_id, ADMIN, "another Marisol", services.cases.get(case_id)["version"])
    newcomer = services.writer.entry((PARTIAL["source_system"], PARTIAL["source_record_id"])).person_id
    # Under a policy whose lower threshold the pair clears, the run sees the two persons as one, and holds back.
    activate_policy_on(services, lower_match_weight=weight - 1, upper_match_weight=weight + 20)
    run = services.dedup.run(ADMIN)
    assert newcomer != marisol
    assert run["findings"] == [] and run["counts"]["kept_apart"] == 1 and run["counts"]["person_pairs_found"] == 1
