"""A batch run scores a pair exactly as the online path does, and clusters at the policy's upper threshold.

The online path scores a stored record against the others of the index with the
prior for the index's size and the model's term frequencies pooled with the
index's own counts (``mpi.identity.candidates``). A batch run over the same
records must give every pair the same weight, to 1e-6, or a pair the online path
sends to review could be merged by a batch run, or the other way round.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime

import pyarrow as pa
import pytest

from mpi.batch import engine
from mpi.identity.index import CandidateIndex
from mpi.matching.model import compile_model
from mpi.matching.training import model_row
from mpi.records.normalise import normalise_record
from mpi.records.validation import validate_record
from mpi.services import DEFAULT_MODEL_VERSION
from mpi.settings import PROJECT_ROOT
from mpi.synth.generator import generate_records

TOLERANCE = 1e-6
NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def population():
    document = json.loads((PROJECT_ROOT / "matching_models" / f"{DEFAULT_MODEL_VERSION}.json").read_text())
    records = [validate_record(r, strict=False) for r in generate_records(300, seed=21)]
    norms = [normalise_record(r) for r in records]
    rows = [{**model_row(r), "unique_id": i} for i, r in enumerate(records)]
    scored = engine.score(pa.Table.from_pylist(rows), engine.BatchModel.of(document))
    return document, records, norms, scored


def test_every_pair_scores_as_the_online_path_scores_it(population):
    document, records, norms, scored = population
    model = compile_model(document)
    index = CandidateIndex()
    for i, norm in enumerate(norms):
        index.put(("s", str(i)), norm, [], NOW, NOW)
    size = len(index.entries)
    assert scored.pairs.num_rows > 500
    worst = 0.0
    for l, r, weight in zip(*(scored.pairs.column(c).to_pylist() for c in ("unique_id_l", "unique_id_r",
                                                                            "match_weight")), strict=True):
        frequencies = model.scorer.frequencies(norms[l], size, index.value_counts, norms[l])
        online = model.scorer.score(norms[l], norms[r], size, frequencies).match_weight
        worst = max(worst, abs(online - weight))
    assert worst <= TOLERANCE
    # The pooled frequencies matter here: the model's tables alone would give other weights.
    alone = [model.scorer.score(norms[l], norms[r], size).match_weight
             for l, r in zip(scored.pairs.column("unique_id_l").to_pylist()[:200],
                             scored.pairs.column("unique_id_r").to_pylist()[:200], strict=True)]
    assert alone != pytest.approx(scored.pairs.column("match_weight").to_pylist()[:200], abs=TOLERANCE)


def test_pairs_below_the_floor_are_dropped_and_each_pair_is_kept_once(population):
    _, _, _, scored = population
    weights = scored.pairs.column("match_weight").to_pylist()
    assert min(weights) >= scored.floor
    keys = list(zip(scored.pairs.column("unique_id_l").to_pylist(), scored.pairs.column("unique_id_r").to_pylist(),
                    strict=True))
    assert all(l < r for l, r in keys) and len(set(keys)) == len(keys)


def test_clusters_are_the_connected_components_of_pairs_at_the_upper_threshold(population):
    _, records, _, scored = population
    parent = list(range(len(records)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for l, r, weight in zip(*(scored.pairs.column(c).to_pylist() for c in ("unique_id_l", "unique_id_r",
                                                                            "match_weight")), strict=True):
        if weight >= scored.threshold:
            parent[find(l)] = find(r)
    expected = defaultdict(set)
    for i in range(len(records)):
        expected[find(i)].add(i)
    got = defaultdict(set)
    for uid, cluster in zip(scored.clusters.column("unique_id").to_pylist(),
                            scored.clusters.column("cluster_id").to_pylist(), strict=True):
        got[cluster].add(uid)
    assert scored.clusters.num_rows == len(records)
    assert sorted(map(sorted, got.values())) == sorted(map(sorted, expected.values()))
    assert any(len(c) > 1 for c in got.values()) and any(len(c) == 1 for c in got.values())
