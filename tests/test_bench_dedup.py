"""``bench/bulk.py``'s split stores and ``bench/dedup.py``: the duplicates a dedup benchmark needs, scored fairly.

A split store gives a seeded share of its records a person of their own (the
duplicates a dedup run is to find) and writes every record's truth; the
benchmark's two sides read the same records with the same model, so the
project's run scores every pair plain Splink scores (and, by its rule pairing
the records of each person, some more) into clusters at least as joined.
"""

from __future__ import annotations

import csv
import json
import sys
from collections import Counter, defaultdict

import pytest

from mpi.services import Services
from mpi.settings import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "bench"))
import bulk  # noqa: E402
import dedup  # noqa: E402


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    patch = pytest.MonkeyPatch()
    patch.setattr(bulk, "CACHE", tmp_path_factory.mktemp("bench"))
    yield bulk.CACHE
    patch.undo()


def _persons_by_truth(folder):
    truth = {}
    with open(folder / "records.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            truth[(row["source_system"], row["source_record_id"])] = row["truth_person_id"]
    services = Services({"MPI_DB": str(folder / "store.duckdb")})
    try:
        links = {key: services.store.records.get(*key)["link"]["person_id"] for key in truth}
    finally:
        services.close()
    persons = defaultdict(set)
    for key, person in links.items():
        persons[truth[key]].add(person)
    return truth, links, persons


def test_a_split_store_gives_a_seeded_share_of_records_a_person_of_their_own(cache, monkeypatch, tmp_path):
    whole = bulk.build(300, seed=3, workers=1, echo=lambda m: None)
    split = bulk.build(300, seed=3, workers=1, echo=lambda m: None, split_rate=0.2)
    version = bulk.BUILD_VERSION
    assert whole.name == f"people300-seed3-v{version}" and split.name == f"people300-seed3-split0.2-v{version}"
    info = json.loads((split / "build.json").read_text())
    truth, links, persons = _persons_by_truth(split)
    assert info["split_rate"] == 0.2 and len(truth) == info["records_stored"]
    assert 0.1 * len(truth) < info["records_split"] < 0.3 * len(truth)
    # Each split record is a person alone; the rest of a true person's records share one person.
    assert len(set(links.values())) == sum(len(p) for p in persons.values()) == info["persons"]
    assert 0 < sum(len(p) - 1 for p in persons.values()) <= info["records_split"]
    _, _, whole_persons = _persons_by_truth(whole)
    assert all(len(p) == 1 for p in whole_persons.values())
    # Seeded by the record's key: built again elsewhere, the same records are alone.
    monkeypatch.setattr(bulk, "CACHE", tmp_path)
    again = bulk.build(300, seed=3, workers=2, echo=lambda m: None, split_rate=0.2)
    assert again != split and _alone(_persons_by_truth(again)[1]) == _alone(links)


def _alone(links):
    counts = Counter(links.values())
    return {key for key, person in links.items() if counts[person] == 1}


def test_a_split_rate_outside_zero_to_one_is_refused(cache):
    with pytest.raises(ValueError, match="split_rate"):
        bulk.build(300, seed=3, split_rate=1.0)


@pytest.mark.slow  # builds a store and runs four processes (export, plain Splink, the project's run)
def test_the_project_scores_what_plain_splink_scores_and_finds_the_split_records(cache, monkeypatch):
    monkeypatch.setattr(dedup, "WORK", cache / "dedup-run")
    report = dedup.bench(records=1500, seed=5, split_rate=0.05, rounds=1, workers=1)
    project, splink = report["sides"]["project"], report["sides"]["splink"]
    assert splink["pairs"] > 0 and project["pairs"] >= splink["pairs"]
    assert 0 < project["clusters"] <= splink["clusters"]
    # The same weights, and more edges (the same person's records), at the same threshold: never less recall.
    assert project["quality"]["recall"] >= splink["quality"]["recall"]
    assert project["engine"] == "services.dedup.run" and project["run"]["outcome"] == "completed"
    assert project["run"]["cases_opened"] > 0
    assert set(project["seconds"]) >= {"read", "prepare", "predict", "cluster", "compare", "write"}
    # The split records are what the run is for: the persons as built miss true pairs the clusters find.
    built = report["persons_as_built"]
    assert built["precision"] == 1.0 and built["recall"] < splink["quality"]["recall"]
    assert report["passed"] == (report["overhead"] <= dedup.MAX_OVERHEAD)
    assert "pairwise recall" in dedup._table(report)
