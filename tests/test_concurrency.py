"""Concurrent requests for the same new person, over HTTP to a real waitress server.

Matching reads the index, decides and writes; if two requests could interleave
those steps, both would see "no candidate" and create two persons for one human.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import record

#: Every test here runs on a DuckDB file and on a PostgreSQL database (``conftest.store_location``).
pytestmark = pytest.mark.both_stores

N = 12


def post(url: str, token: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, {"not_json": text}


def fire(url: str, token: str, bodies: list[dict]) -> list[tuple[int, dict]]:
    """Send every body at once: all threads wait at a barrier, then post together."""
    barrier = threading.Barrier(len(bodies))

    def one(body):
        barrier.wait()
        return post(url, token, body)

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(one, bodies))


def test_concurrent_records_of_one_new_person_create_exactly_one_person(live_server, hub_token, services):
    bodies = [record("marisol", f"clinic-{i}", f"MRN-{i}") for i in range(N)]

    results = fire(f"{live_server}/v1/records", hub_token, bodies)

    assert [status for status, _ in results] == [200] * N
    decisions = Counter(body["decision"] for _, body in results)
    assert decisions["NO_MATCH"] == 1
    persons = {body["person_id"] for _, body in results if body["person_id"]}
    assert len(persons) == 1
    for _, body in results:
        assert body["person_id"] in persons or (body["decision"] == "POSSIBLE_MATCH" and body["review_case_id"])
    counts = services.store.counts()
    assert counts["persons"] == 1
    assert counts["records"] == N
    assert counts["links"] + counts["open_cases"] == N


def test_two_new_people_sent_concurrently_get_one_person_each(live_server, hub_token, services):
    bodies = [record(name, f"clinic-{i}", f"{name}-{i}") for i in range(N // 2) for name in ("marisol", "theodore")]

    results = fire(f"{live_server}/v1/records", hub_token, bodies)

    assert all(status == 200 for status, _ in results)
    by_name: dict[str, set[str]] = {"marisol": set(), "theodore": set()}
    for body, (_, result) in zip(bodies, results):
        if result["person_id"]:
            by_name[body["source_record_id"].split("-")[0]].add(result["person_id"])
    assert len(by_name["marisol"]) == 1 and len(by_name["theodore"]) == 1
    assert by_name["marisol"] != by_name["theodore"]
    assert services.store.counts()["persons"] == 2


def test_concurrent_match_calls_read_while_records_are_written(live_server, hub_token, services):
    writes = [record("theodore", f"clinic-{i}", f"CG-{i}") for i in range(N // 2)]
    reads = [record("theodore", "reader", f"R-{i}") for i in range(N // 2)]
    results: dict[str, list] = {}

    threads = [
        threading.Thread(target=lambda: results.__setitem__("w", fire(f"{live_server}/v1/records", hub_token, writes))),
        threading.Thread(target=lambda: results.__setitem__("r", fire(f"{live_server}/v1/match", hub_token, reads))),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert all(status == 200 for status, _ in results["w"] + results["r"])
    assert services.store.counts()["records"] == len(writes)  # /v1/match wrote nothing
    assert services.store.counts()["persons"] == 1
