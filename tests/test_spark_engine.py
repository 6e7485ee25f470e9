"""A batch run on Spark gives the pairs and clusters a run on DuckDB gives (issue 16, ``--engine spark``).

One local SparkSession (two cores) serves the module and is stopped at its end.
The same generated population and model go through ``engine.score`` on both
engines: the same pairs, every weight equal to 1e-6, the same clusters as sets
of records. The string functions are checked on their own first, bit for bit,
since a level whose function answers differently moves a pair between levels.
"""

from __future__ import annotations

import json
import random
import re

import duckdb
import pyarrow as pa
import pytest
from cli_runner import mpi  # noqa: F401  (a fixture)
from conftest import activate_policy_on

from mpi.batch import engine
from mpi.batch.spark import spark_db_api, stop
from mpi.matching.spark_sql import to_spark
from mpi.matching.training import model_row
from mpi.records.validation import validate_record
from mpi.services import DEFAULT_MODEL_VERSION
from mpi.settings import PROJECT_ROOT
from mpi.synth.generator import generate_records

pytestmark = pytest.mark.slow

ADMIN = "user:admin"
TOLERANCE = 1e-6
PEOPLE = 2000


@pytest.fixture(scope="module")
def spark():
    db_api = spark_db_api("local[2]")
    yield db_api
    stop(db_api)


@pytest.fixture(scope="module")
def rows():
    records = [validate_record(r, strict=False) for r in generate_records(PEOPLE, seed=16)]
    return pa.Table.from_pylist([{**model_row(r), "unique_id": i} for i, r in enumerate(records)])


@pytest.fixture(scope="module")
def model():
    document = json.loads((PROJECT_ROOT / "matching_models" / f"{DEFAULT_MODEL_VERSION}.json").read_text())
    return engine.BatchModel.of(document)


def _clusters(scored: engine.Scored) -> set[frozenset[int]]:
    groups: dict[int, set[int]] = {}
    for uid, cluster in zip(scored.clusters.column("unique_id").to_pylist(),
                            scored.clusters.column("cluster_id").to_pylist(), strict=True):
        groups.setdefault(cluster, set()).add(uid)
    return {frozenset(g) for g in groups.values()}


def _name_pairs(rows: pa.Table) -> pa.Table:
    """Pairs of the population's names: random ones, ones sharing an initial, and the awkward cases."""
    names = sorted({v for c in ("first_name", "last_name", "first_name_phonetic", "ssn_last4")
                    for v in rows.column(c).to_pylist() if v})
    rnd = random.Random(16)
    by_initial: dict[str, list[str]] = {}
    for name in names:
        by_initial.setdefault(name[0], []).append(name)
    pairs = [(rnd.choice(names), rnd.choice(names)) for _ in range(2000)]
    pairs += [tuple(rnd.choice(by_initial[rnd.choice(sorted(by_initial))]) for _ in range(2)) for _ in range(2000)]
    for name in rnd.sample(names, 1000):  # a keying slip: two letters swapped, one dropped, one doubled
        k = rnd.randrange(len(name))
        pairs.append((name, rnd.choice([name[:k] + name[k + 1:k + 2] + name[k:k + 1] + name[k + 2:],
                                        name[:k] + name[k + 1:], name[:k] + name[k] + name[k:]])))
    pairs += [("DIANE", "DANIEL"), ("MARTHA", "MARHTA"), ("A", "A"), ("A", "B"), ("AB", "BA"), ("", ""),
              ("A", ""), (None, "A"), ("VAN SON", "SON VAN"), ("MARIA JOSE", "JOSE")]
    return pa.table({"i": list(range(len(pairs))), "a_l": [p[0] for p in pairs], "a_r": [p[1] for p in pairs]})


FUNCTIONS = (
    'jaro_winkler_similarity("a_l", "a_r")',
    'damerau_levenshtein("a_l", "a_r")',
    "list_has_any(string_split(\"a_l\", ' '), string_split(\"a_r\", ' '))",
    "list_has_all(string_split(\"a_l\", ' '), string_split(\"a_r\", ' '))",
    "list_contains(string_split(\"a_l\", ' '), split_part(\"a_r\", ' ', 1))",
)


def test_each_string_function_answers_in_spark_as_in_duckdb_to_the_bit(spark, rows):
    pairs = _name_pairs(rows)
    columns = ", ".join(f"{f} AS f{n}" for n, f in enumerate(FUNCTIONS))
    expected = duckdb.connect().sql(f"SELECT {columns} FROM pairs ORDER BY i").fetchall()
    spark.spark.createDataFrame(pairs).createOrReplaceTempView("mpi_name_pairs")
    spark_columns = ", ".join(f"{to_spark(f)} AS f{n}" for n, f in enumerate(FUNCTIONS))
    got = [tuple(r) for r in spark.spark.sql(f"SELECT {spark_columns} FROM mpi_name_pairs ORDER BY i").collect()]
    assert len(got) == len(expected) == pairs.num_rows
    for n, function in enumerate(FUNCTIONS):
        differ = [(pairs.column("a_l")[k].as_py(), pairs.column("a_r")[k].as_py(), e[n], g[n])
                  for k, (e, g) in enumerate(zip(expected, got, strict=True)) if e[n] != g[n]]
        assert not differ, (function, differ[:5])
    # The pairs reach both sides of the levels' thresholds.
    jaro_winkler = [e[0] for e in expected if e[0] is not None]
    assert min(jaro_winkler) < 0.5 and sum(0.88 <= v < 1 for v in jaro_winkler) > 50


def test_spark_and_duckdb_give_the_same_pairs_weights_and_clusters(spark, rows, model):
    on_duckdb = engine.score(rows, model)
    phases = []
    on_spark = engine.score(rows, model, db_api=spark, progress=lambda phase, count: phases.append(phase))
    assert phases == ["preparing", "scoring", "scored", "clustering", "clustered"]
    print(f"\n{rows.num_rows} records, {on_duckdb.pairs.num_rows} pairs: duckdb {on_duckdb.seconds}, "
          f"spark {on_spark.seconds}")  # for the record (pytest -s); speed is bench/'s to judge
    duck, sparkw = engine.weights_by_pair(on_duckdb.pairs), engine.weights_by_pair(on_spark.pairs)
    assert len(duck) > 3000
    assert set(sparkw) == set(duck)
    assert max(abs(duck[p] - sparkw[p]) for p in duck) <= TOLERANCE
    assert on_spark.pairs.column("match_probability").to_pylist() == pytest.approx(
        [dict(zip(zip(on_duckdb.pairs.column("unique_id_l").to_pylist(),
                      on_duckdb.pairs.column("unique_id_r").to_pylist()),
                  on_duckdb.pairs.column("match_probability").to_pylist()))[(l, r)]
         for l, r in zip(on_spark.pairs.column("unique_id_l").to_pylist(),
                         on_spark.pairs.column("unique_id_r").to_pylist())], abs=TOLERANCE)
    clusters = _clusters(on_spark)
    assert clusters == _clusters(on_duckdb)
    assert on_spark.clusters.num_rows == rows.num_rows
    assert any(len(c) > 2 for c in clusters) and any(len(c) == 1 for c in clusters)
    assert (on_spark.threshold, on_spark.floor) == (on_duckdb.threshold, on_duckdb.floor)


def _counts(output: str) -> dict[str, int]:
    found = re.search(r"(\d+) records, (\d+) pairs scored, (\d+) clusters.*?(\d+) POSSIBLE_DUPLICATE cases opened, "
                      r"\d+ merged, (\d+) already proposed", output, re.S)
    assert found, output
    return dict(zip(("records", "pairs", "clusters", "opened", "already"), map(int, found.groups()), strict=True))


def test_mpi_dedup_engine_spark_finds_what_duckdb_finds_and_a_duckdb_rerun_opens_nothing_new(spark, services, mpi):
    # Records loaded before the model was good: every record a person of its own.
    services.ensure_active_model("test")
    activate_policy_on(services, upper_match_weight=999, lower_match_weight=998)
    for r in generate_records(30, seed=3):
        services.matching.submit({k: v for k, v in r.items() if k != "truth_person_id"}, "test", strict=False)
    services.models.activate(DEFAULT_MODEL_VERSION, "test")
    services.close()  # the command opens the store itself
    on_spark = mpi("dedup", "--engine", "spark")
    assert re.search(r"dedup run DR\d+ completed \(spark, model ", on_spark.output)
    first = _counts(on_spark.output)
    assert first["records"] > 60 and first["opened"] > 5
    again = _counts(mpi("dedup").output)
    assert (again["records"], again["pairs"], again["clusters"]) == (first["records"], first["pairs"],
                                                                     first["clusters"])
    assert (again["opened"], again["already"]) == (0, first["opened"])
    runs = mpi("dedup", "runs").output
    assert re.search(r"DR000001 .* spark .* completed", runs) and re.search(r"DR000002 .* duckdb .* completed", runs)
