"""Two served instances over one PostgreSQL store: what one writes, the other's caches follow within the bound.

Each instance is a :class:`~mpi.services.Services` with its own connections and
caches behind its own waitress server on loopback, and runs its ``index-sync``
work as ``mpi serve`` does (``Services.keep_in_step`` every
``MPI_INDEX_SYNC_SECONDS``, 1 s). A key revoked, a user's token replaced or a
model activated on the first is seen by the second within ``BOUND`` seconds (the
README's "a couple of seconds"); ids the two write into one table never repeat.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections import Counter

import pytest

from conftest import activate_policy_on, add_hub, record
from mpi.auth import add_user, create_key, revoke_key
from mpi.background import Background
from mpi.services import DEFAULT_MODEL_VERSION, Services
from test_concurrency import post

#: How soon another instance must refuse a revoked key or see a new model (the sync runs each second).
BOUND = 3.0
OTHER_MODEL = "people_dev-v3-other"
FOODBANK = {"code": "foodbank", "name": "Metro Food Bank", "kind": "cbo", "service_types": ["food"]}


@pytest.fixture
def models(models_dir):
    """The shipped model, and a copy of it under another version (a model activated later)."""
    document = json.loads((models_dir / f"{DEFAULT_MODEL_VERSION}.json").read_text())
    (models_dir / f"{OTHER_MODEL}.json").write_text(json.dumps({**document, "version": OTHER_MODEL}))
    return models_dir


@pytest.fixture
def instances(shared_url, models):
    """Two services over one PostgreSQL database, each served on loopback and keeping itself in step each second."""
    from api import create_app
    from browser_support import serve

    config = {"MPI_DB": shared_url, "MPI_MODELS_DIR": str(models), "MPI_ACCESS_LOG_FLUSH_MS": "50"}
    first, second = Services(config), Services(config)
    steps = []
    try:
        for services in (first, second):
            services.ensure_active_model("test")
            services.index_sync.start()
            services.matching.writer.index  # noqa: B018 - built before serving, as mpi serve does
            steps.append(Background("index-sync", services.keep_in_step,
                                    float(services.config["MPI_INDEX_SYNC_SECONDS"])))
            steps[-1].start()
        with serve(create_app(services=first), "first") as a, serve(create_app(services=second), "second") as b:
            yield (a, b), (first, second)
    finally:
        for step in steps:
            step.stop()
        for services in (first, second):
            services.close()


def get(url: str, token: str) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code


def seconds_until(condition) -> float | None:
    """Seconds until ``condition()`` holds (checked every 50 ms), or None if it did not within twice the bound."""
    started = time.monotonic()
    while time.monotonic() - started < 2 * BOUND:
        if condition():
            return time.monotonic() - started
        time.sleep(0.05)
    return None


def test_a_key_revoked_on_one_instance_is_refused_by_the_other_within_the_bound(instances):
    (a, b), (first, _) = instances
    first.directory.add(FOODBANK, "test")
    key, secret = create_key(first.store, "foodbank", "coordinator", "test")
    assert get(f"{b}/v1/alerts", secret) == 200  # the second instance knows the key now (and caches it)
    assert get(f"{b}/v1/alerts", secret) == 200

    revoke_key(first.store, key["key_id"], "test")
    waited = seconds_until(lambda: get(f"{b}/v1/alerts", secret) == 401)

    assert waited is not None and waited <= BOUND, waited
    assert get(f"{a}/v1/alerts", secret) == 401


def test_a_users_token_replaced_on_one_instance_is_refused_by_the_other(instances):
    (a, b), (first, _) = instances
    first.directory.add(FOODBANK, "test")
    old = add_user(first.store, "cora", "coordinator", organisation="foodbank")
    assert get(f"{b}/v1/alerts", old) == 200

    new = add_user(first.store, "cora", "coordinator", organisation="foodbank")  # a new token: the old one is void
    waited = seconds_until(lambda: get(f"{b}/v1/alerts", old) == 401)

    assert waited is not None and waited <= BOUND, waited
    assert get(f"{b}/v1/alerts", new) == 200


def test_a_model_activated_on_one_instance_is_used_by_the_other(instances):
    (a, b), (first, second) = instances
    token = add_hub(first, "test-hub")
    status, body = post(f"{b}/v1/match", token, record("marisol", "clinic", "MRN-1"))
    assert (status, body["model_version"]) == (200, DEFAULT_MODEL_VERSION)

    first.models.activate(OTHER_MODEL, "test")
    waited = seconds_until(lambda: post(f"{b}/v1/match", token, record("marisol", "clinic", "MRN-1"))[1]
                           ["model_version"] == OTHER_MODEL)

    assert waited is not None and waited <= BOUND, waited
    status, body = post(f"{b}/v1/records", token, record("marisol", "clinic", "MRN-2"))
    assert (status, body["model_version"]) == (200, OTHER_MODEL)


def test_a_merge_on_one_instance_rescores_a_case_the_other_opened(instances):
    _, (first, second) = instances
    second.matching.submit(record("theodore", "county-general-ehr", "CG-1"), "test")  # its re-scorer reads cases now
    activate_policy_on(first, lower_match_weight=1e6, upper_match_weight=1e6)
    p1 = first.matching.submit(record("marisol", "st-marys-ehr", "MRN-1"), "test")["person_id"]
    p2 = first.matching.submit({**record("marisol", "bluepath-mco", "BPM-77"), "phone": "(404) 555-7311",
                                "address_line1": "12 Edgewood Ave", "postal_code": "30307"}, "test")["person_id"]
    third = record("marisol", "fqhc-eastside", "EF-5")
    weight = first.matching.match(third, "test")["candidates"][0]["match_weight"]
    activate_policy_on(first, lower_match_weight=weight - 40, upper_match_weight=weight + 1, ambiguity_margin=6.0)
    held = first.matching.submit(third, "test")
    assert held["decision"] == "POSSIBLE_MATCH" and {c["person_id"] for c in held["candidates"]} == {p1, p2}
    assert seconds_until(lambda: getattr(second.writer.index.get(("fqhc-eastside", "EF-5")), "case_id", None)
                         == held["review_case_id"]) is not None

    second.merges.merge(p1, p2, "user:sam", "one Marisol")

    events = [e for e in second.store.audit.events("review_case", held["review_case_id"])
              if e["action"] == "case.rescored"]
    assert len(events) == 1 and events[0]["detail"]["new_candidates"][0]["person_id"] == p1


def test_a_partner_added_on_one_instance_is_among_the_others_subscribers(instances):
    _, (first, second) = instances
    first.directory.add({**FOODBANK, "code": "st-marys", "name": "St Mary's", "kind": "hospital"}, "test")
    assert second.outbox.subscribers() == ()

    first.partners.add({"partner_id": "st-marys-feed", "organisation": "st-marys", "name": "St Mary's feed",
                        "endpoint": "http://127.0.0.1:9/", "format": "webhook", "subscriptions": ["requester"]},
                       "test")

    assert seconds_until(lambda: [s.partner_id for s in second.outbox.subscribers()] == ["st-marys-feed"]) \
        is not None


def test_access_events_of_both_instances_have_ids_never_given_twice(instances):
    (a, b), (first, second) = instances
    token = add_hub(first, "test-hub")
    barrier = threading.Barrier(8)

    def requests(url: str) -> None:
        barrier.wait()
        for _ in range(15):
            get(f"{url}/v1/alerts", token)

    threads = [threading.Thread(target=requests, args=((a, b)[i % 2],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for services in (first, second):
        services.store.access.flush()

    ids = [r[0] for r in first.store.db.query("SELECT event_id FROM access_log WHERE route LIKE '%alerts%'")]
    assert len(ids) == 8 * 15, "every request's event was written"
    assert [i for i, n in Counter(ids).items() if n > 1] == []


def test_reconciliation_items_opened_by_both_instances_at_once_have_distinct_numbers(instances):
    _, (first, second) = instances
    first.directory.add({**FOODBANK, "code": "st-marys", "name": "St Mary's", "kind": "hospital"}, "test")
    first.partners.add({"partner_id": "st-marys-feed", "organisation": "st-marys", "name": "St Mary's feed",
                        "endpoint": "http://127.0.0.1:9/", "format": "webhook", "subscriptions": ["requester"]},
                       "test")
    rounds, barrier = 6, threading.Barrier(2)

    def snapshots(services: Services, side: int) -> None:
        for n in range(rounds):
            barrier.wait()
            rows = [{"referral_id": f"RF9{side}{n:02d}{i:04d}", "label": "Sent"} for i in range(40)]
            services.reconciliation.receive_json("st-marys-feed", {"rows": rows}, "test")

    threads = [threading.Thread(target=snapshots, args=(services, side))
               for side, services in enumerate((first, second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    ids = [r[0] for r in first.store.db.query("SELECT item_id FROM reconciliation_items")]
    assert len(ids) == 2 * rounds * 40, "each unknown referral opened one item"
    assert [i for i, n in Counter(ids).items() if n > 1] == []
