"""Group commit (``mpi/store/group.py``): writers that arrive together share one transaction and one commit.

On a real DuckDB file with real threads. :func:`together` lines writers up so that they
make one group for certain: a first writer leads a group of its own and holds it
until the others have queued behind it; they then make the next group, all of them.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import record
from mpi.auth import Caller
from mpi.errors import ValidationError

#: Group commit is the same on both backends: the one process's writers share a transaction.
pytestmark = pytest.mark.both_stores

N = 8
HUB = Caller("group-hub", "hub", "test-clinic")


@pytest.fixture
def services(services):
    """The conftest's services on a fresh store file, with the shipped model active."""
    services.ensure_active_model("test")
    return services


def line_up(store, calls: list[Callable[[], object]], commits: int = 1) -> list[tuple[str, object]]:
    """Run each call (one that calls ``store.grouped`` once) on a thread of its own, their works all in one
    group, which ``commits`` commits end (more if units had to run alone); each outcome (``ok`` and the
    result, or ``error`` and the exception), in order."""
    group = store.db.group
    outcomes: list[tuple[str, object]] = [("not run", None)] * len(calls)
    holding = threading.Event()

    def hold() -> None:
        holding.set()
        deadline = time.monotonic() + 30
        while group.waiting < len(calls):
            assert time.monotonic() < deadline, "the writers never queued"
            time.sleep(0.002)

    def run(i: int) -> None:
        try:
            outcomes[i] = ("ok", calls[i]())
        except Exception as e:  # noqa: BLE001  (the caller's error is the outcome under test)
            outcomes[i] = ("error", e)

    first = threading.Thread(target=store.grouped, args=(hold,))
    first.start()
    assert holding.wait(30)
    before = group.groups
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads + [first]:
        t.join(60)
    assert group.groups == before + 1 + commits, "the writers did not share one group"  # the holder's, theirs
    return outcomes


def together(store, works: list[Callable[[], object]], commits: int = 1) -> list[tuple[str, object]]:
    """Each work through ``store.grouped`` from a thread of its own, all in one group (:func:`line_up`)."""
    return line_up(store, [lambda w=w: store.grouped(w) for w in works], commits)


def submit(services, person: str, system: str, record_id: str, **changes):
    """A hub's submit of one record, as ``POST /v1/records`` makes it."""
    return lambda: services.trust.submit(record(person, system, record_id, **changes), HUB)


def index_state(services) -> dict:
    """Every record in the candidate index with its person, case and normalised record."""
    return {key: (e.person_id, e.case_id, e.decision, dict(e.norm)) for key, e in
            services.matching.index().entries.items()}


def test_one_group_of_copies_of_one_new_person_makes_one_person(services):
    outcomes = together(services.store, [submit(services, "marisol", f"clinic-{i}", f"MRN-{i}") for i in range(N)])

    assert [kind for kind, _ in outcomes] == ["ok"] * N
    results = [r for _, r in outcomes]
    assert Counter(r["decision"] for r in results)["NO_MATCH"] == 1
    assert len({r["person_id"] for r in results if r["person_id"]}) == 1
    assert services.store.counts()["persons"] == 1
    assert services.store.rollbacks == 0


def test_a_unit_that_fails_after_writing_fails_alone_and_nothing_of_it_is_written(services):
    def fails_after_writing():
        services.trust.submit(record("theodore", "ward", "T-1"), HUB)
        raise RuntimeError("after writing")

    works = [submit(services, "marisol", f"clinic-{i}", f"MRN-{i}") for i in range(N)]
    works.insert(3, fails_after_writing)
    rollbacks = services.store.rollbacks

    outcomes = together(services.store, works)

    kind, error = outcomes.pop(3)
    assert kind == "error" and isinstance(error, RuntimeError) and str(error) == "after writing"
    assert [kind for kind, _ in outcomes] == ["ok"] * N
    assert services.store.rollbacks == rollbacks + 1  # the group's, then it ran again without the failed unit
    assert services.store.records.raw("ward", "T-1") is None
    assert services.matching.index().get(("ward", "T-1")) is None
    assert all(services.store.records.raw(f"clinic-{i}", f"MRN-{i}") for i in range(N))
    assert services.store.counts()["persons"] == 1  # Marisol's only: Theodore's person went with its unit
    assert len({r["person_id"] for _, r in outcomes}) == 1


def test_a_refusal_before_any_write_is_answered_alone_and_the_group_does_not_roll_back(services):
    def refused():
        raise ValidationError("refused before writing", {"state": ["not allowed"]})

    works = [submit(services, "marisol", f"clinic-{i}", f"MRN-{i}") for i in range(N)]
    works.insert(0, refused)

    outcomes = together(services.store, works)

    assert outcomes[0][0] == "error" and isinstance(outcomes[0][1], ValidationError)
    assert [kind for kind, _ in outcomes[1:]] == ["ok"] * N
    assert services.store.rollbacks == 0


def test_each_caller_is_answered_only_after_the_commit_that_holds_its_write(services):
    store = services.store
    committed: set[int] = set()
    seen_at_answer: dict[int, bool] = {}

    def work(i: int):
        def write():
            result = services.trust.submit(record("marisol", f"clinic-{i}", f"MRN-{i}"), HUB)
            store.db.after_commit(lambda: committed.add(i))
            return result
        return write

    def answered(i: int):
        def call():
            result = store.grouped(work(i))
            seen_at_answer[i] = i in committed
            # A read on a cursor of its own (a new thread's) sees the row: it is committed, not only buffered.
            found = []
            reader = threading.Thread(target=lambda: found.append(store.records.raw(f"clinic-{i}", f"MRN-{i}")))
            reader.start()
            reader.join()
            assert found[0] is not None
            return result
        return call

    outcomes = line_up(store, [answered(i) for i in range(N)])

    assert [kind for kind, _ in outcomes] == ["ok"] * N
    assert seen_at_answer == {i: True for i in range(N)}


def test_a_rollback_in_a_group_leaves_the_candidate_index_as_it_was(services):
    services.trust.submit(record("marisol", "clinic-0", "MRN-0"), HUB)
    services.trust.submit(record("theodore", "ward", "T-1"), HUB)
    before = index_state(services)

    def moves_then_fails():
        # An update that changes the record (its person is decided again), a new person, then a failure.
        services.trust.submit(record("theodore", "ward", "T-1", first_name="Teddy", phone="312-555-0100"), HUB)
        services.trust.submit(record("desmond", "ward", "D-1"), HUB)
        raise RuntimeError("after writing")

    outcomes = together(services.store, [submit(services, "marisol", "clinic-1", "MRN-1"), moves_then_fails,
                                         submit(services, "marisol", "clinic-2", "MRN-2")])

    assert [kind for kind, _ in outcomes] == ["ok", "error", "ok"]
    after = index_state(services)
    assert {k: v for k, v in after.items() if k in before} == before
    assert set(after) - set(before) == {("clinic-1", "MRN-1"), ("clinic-2", "MRN-2")}
    assert services.store.records.raw("ward", "D-1") is None
    assert services.store.records.raw("ward", "T-1")["first_name"] == "Theodore"


def test_a_group_whose_flush_fails_runs_each_unit_alone_and_only_the_culprit_fails(services):
    first = services.trust.submit(record("theodore", "ward", "T-1"), HUB)["person_id"]
    store = services.store

    def buffers_a_clash():
        # A write that fails only when the group's buffered rows are flushed at commit (the person id is
        # stored already), so no one unit raised: the group cannot tell whose it is.
        now = store.db.now()
        store.db.pending().new_persons[first] = [first, "active", None, "{}", now, now]
        return "buffered"

    works = [submit(services, "marisol", f"clinic-{i}", f"MRN-{i}") for i in range(3)]
    works.insert(1, buffers_a_clash)
    rollbacks = store.rollbacks

    outcomes = together(store, works, commits=3)  # the three good units' own, after the group's failed

    assert [kind for kind, _ in outcomes] == ["ok", "error", "ok", "ok"]
    assert store.rollbacks == rollbacks + 2  # the group's, then the culprit's alone
    assert len({r["person_id"] for kind, r in outcomes if kind == "ok"}) == 1
    assert all(store.records.raw(f"clinic-{i}", f"MRN-{i}") for i in range(3))
    assert store.counts()["persons"] == 2


def test_grouped_work_inside_a_transaction_or_under_the_writer_lock_joins_it(services):
    store = services.store
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.grouped(submit(services, "marisol", "clinic-0", "MRN-0"))
            raise RuntimeError("the outer transaction fails")
    assert store.records.raw("clinic-0", "MRN-0") is None  # it was the outer transaction's, rolled back with it
    assert services.matching.index().get(("clinic-0", "MRN-0")) is None

    with store.serialised():  # holding the writer lock: a writer that waited for a leader would wait for ever
        result = store.grouped(submit(services, "marisol", "clinic-1", "MRN-1"))
    assert result["decision"] == "NO_MATCH"
    assert store.db.group.groups == 0


def test_the_scrape_counts_group_commits_and_the_units_they_held(client, auth):
    def counters() -> dict[str, float]:
        text = client.get("/metrics").get_data(as_text=True)
        return {s.name: s.value for family in text_string_to_metric_families(text) for s in family.samples
                if s.name.startswith("mpi_store_group_")}

    assert counters() == {"mpi_store_group_commits_total": 0, "mpi_store_group_units_total": 0}
    for i in range(2):
        assert client.post("/v1/records", json=record("marisol", f"clinic-{i}", f"MRN-{i}"),
                           headers=auth).status_code == 200

    assert counters() == {"mpi_store_group_commits_total": 2, "mpi_store_group_units_total": 2}
