"""Several service instances over one PostgreSQL store: concurrent intake of one new human makes one person.

Each instance is a process of its own in production (``mpi serve`` on two hosts):
here each is a :class:`~mpi.services.Services` with its own store connections and
its own in-memory index, behind its own waitress server. Nothing in memory is
shared, so only the database can keep them from both seeing "no candidate" and
both creating a person: matching takes an advisory lock on each blocking key of
the record before it reads candidates, then reads what other instances committed
under those keys into its index.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import add_hub, record
from mpi.services import Services
from test_concurrency import post

N = 12


@pytest.fixture
def two_instances(shared_url, models_dir):
    """Two services over one PostgreSQL database, each behind a waitress server; yields their URLs and a token."""
    from browser_support import serve
    from api import create_app

    first = Services({"MPI_DB": shared_url, "MPI_MODELS_DIR": str(models_dir)})
    second = Services({"MPI_DB": shared_url, "MPI_MODELS_DIR": str(models_dir)})
    token = add_hub(first, "test-hub")
    try:
        for services in (first, second):
            services.ensure_active_model("test")
            services.matching.writer.index  # noqa: B018 - each builds its index now, before the race
        with serve(create_app(services=first), "first") as a, serve(create_app(services=second), "second") as b:
            yield (a, b), token, (first, second)
    finally:
        for services in (first, second):
            services.close()
            services.store.close()


def test_two_instances_posting_the_same_new_person_at_once_make_one_person(two_instances):
    (a, b), token, (first, second) = two_instances
    bodies = [record("marisol", f"clinic-{i}", f"MRN-{i}") for i in range(N)]
    barrier = threading.Barrier(N)

    def one(i):
        barrier.wait()
        return post(f"{(a, b)[i % 2]}/v1/records", token, bodies[i])

    with ThreadPoolExecutor(max_workers=N) as pool:
        results = list(pool.map(one, range(N)))

    assert [status for status, _ in results] == [200] * N, results
    assert Counter(body["decision"] for _, body in results)["NO_MATCH"] == 1
    persons = {body["person_id"] for _, body in results if body["person_id"]}
    assert len(persons) == 1
    assert first.store.persons.count_active() == second.store.persons.count_active() == 1
    for _, body in results:
        assert body["person_id"] in persons or (body["decision"] == "POSSIBLE_MATCH" and body["review_case_id"])


def test_a_threads_connection_is_closed_when_the_thread_ends(shared_url, postgres_server):
    from mpi.store import Store

    def connections() -> int:
        with postgres_server.admin() as con:
            return con.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s",
                               [shared_url.rsplit("/", 1)[1]]).fetchone()[0]

    def settled_at_most(n: int) -> int:
        """The connections once at most ``n`` remain, or after 5 s: a server process leaves pg_stat_activity
        a moment after its client closed the connection (under load, after the check)."""
        deadline = time.monotonic() + 5
        while (found := connections()) > n and time.monotonic() < deadline:
            time.sleep(0.05)
        return found

    store = Store(shared_url)
    try:
        before = connections()
        for _ in range(3):
            threads = [threading.Thread(target=store.counts) for _ in range(10)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        assert settled_at_most(before + 1) <= before + 1  # thirty threads came and went; their connections too
        with store.transaction():  # this thread's connection still works
            store.persons.create({})
        assert store.persons.count_active() == 1
    finally:
        store.close()
    assert settled_at_most(0) == 0


def test_two_instances_sent_one_record_at_once_store_it_once(two_instances):
    (a, b), token, (first, _) = two_instances
    body = record("theodore", "county-general-ehr", "CG-1")
    barrier = threading.Barrier(6)

    def one(i):
        barrier.wait()
        return post(f"{(a, b)[i % 2]}/v1/records", token, body)

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(one, range(6)))

    assert [status for status, _ in results] == [200] * 6, results
    assert len({body["person_id"] for _, body in results}) == 1
    assert first.store.records.count() == 1 and first.store.persons.count_active() == 1


@pytest.fixture
def two_services(shared_url, models_dir):
    """Two services over one PostgreSQL database, each with its index built, the second following the change log."""
    first = Services({"MPI_DB": shared_url, "MPI_MODELS_DIR": str(models_dir)})
    second = Services({"MPI_DB": shared_url, "MPI_MODELS_DIR": str(models_dir)})
    try:
        first.ensure_active_model("test")
        second.index_sync.start()  # as mpi serve does: before its index is built
        for services in (first, second):
            services.matching.writer.index  # noqa: B018
        yield first, second
    finally:
        for services in (first, second):
            services.close()
            services.store.close()


def index_of(services, key):
    entry = services.writer.index.get(key)
    return None if entry is None else (entry.person_id, entry.decision, entry.case_id)


def test_an_instance_brings_in_what_another_changed_from_the_change_log(two_services):
    first, second = two_services
    a = first.matching.submit(record("marisol", "st-marys-ehr", "MRN-1"), "test")
    b = first.matching.submit(record("theodore", "st-marys-ehr", "MRN-2"), "test")
    key_a, key_b = ("st-marys-ehr", "MRN-1"), ("st-marys-ehr", "MRN-2")
    assert index_of(second, key_a) is None  # not yet: nothing of it was matched on the second

    assert second.index_sync.run_once() is False
    assert index_of(second, key_a) == index_of(first, key_a) == (a["person_id"], "NO_MATCH", None)  # a new person
    assert index_of(second, key_b) == index_of(first, key_b) == (b["person_id"], "NO_MATCH", None)

    # A merge on the first moves the second's record to the survivor there too, at its next read of the log.
    first.merges.merge(a["person_id"], b["person_id"], "steward:test", "one person after all")
    assert index_of(second, key_b)[0] == b["person_id"]
    second.index_sync.run_once()
    assert index_of(second, key_b)[0] == index_of(first, key_b)[0] == a["person_id"]
    assert second.index_sync.run_once() is False and second.index_sync.replaced == 3
    # The second's own changes are in its index already: reading them back replaces nothing.
    second.matching.submit(record("desmond", "fqhc-eastside", "EF-1"), "test")
    second.index_sync.run_once()
    assert second.index_sync.replaced == 3
