"""A batch dedup of a million stored records beside plain Splink's predict and cluster of the same data.

Issue 16's bar: the project's run over the store (read the index, score and
cluster through Splink, compare the clusters with today's persons, write what it
found) may cost at most 15% more wall time than plain Splink's own predict and
cluster of the same records with the same model, and its clusters' pairwise
precision and recall against the generator's truth stand beside plain Splink's.

The data is a store of generated people built and cached by ``bench/bulk.py``
with a ``split_rate`` (3% by default): that share of the records were each
given a person of their own, as if loaded before the model was good, so the
run has duplicates to find. ``records.csv`` of the build holds every record's
generated truth.

Each side runs in a process of its own (its peak RSS is the child's own
``ru_maxrss``, from ``os.wait4``), in one bench run, in alternating order
when ``--rounds`` is above 1 (the machine is shared: read the ratio, not the
seconds); the overhead is the ratio of the rounds' totals. ``--sides`` runs one
side again and reuses the other's last figures (kept under var/bench/dedup-run/).

- **plain Splink**: the records the project's run reads (``store.dedup.records``
  over ``source_records.norm``), prepared by ``mpi.batch.engine.prepare`` with the
  engine's term-frequency lookups and prior, are written to Parquet *untimed*;
  the child then times only Splink: ``DuckDBAPI()``, register, ``Linker`` (the
  model's JSON, the prior for the population, the same output settings as the
  engine's: no retained columns), the tf lookups registered,
  ``predict(threshold_match_weight=floor)`` and
  ``cluster_pairwise_predictions_at_threshold(threshold_match_weight=upper)``,
  the clusters fetched as Arrow;
- **the project**: on a fresh copy of the store (``bulk.copy_store``), the
  store's dedup run ``services.dedup.run`` as ``mpi dedup`` runs it: read the
  store, score and cluster through the engine (with its rule pairing each
  person's records), compare with the persons, open the cases and record the
  run, timed from the call to its return. Its clusters are the engine's, kept
  on their way back to the run.

The table gives wall time, peak RSS, pairs scored, clusters and the clusters'
pairwise precision and recall for both sides (and for the store's persons as
built, the state a run starts from), the overhead with PASS/FAIL against
15%, and the project's phase times. The figures go to ``bench/out/dedup.json``.

Smoke (about a minute, the store built once in half a minute)::

    PYTHONPATH=$PWD .venv/bin/python bench/dedup.py --records 20000

100k records (about a minute a side here; the store 5 minutes to build once)::

    PYTHONPATH=$PWD .venv/bin/python bench/dedup.py --records 100000 --rounds 2

The issue's figure (the store takes 15 minutes to build once, cached under var/bench/; ~300 million
comparisons, about an hour a side on this shared 2-core machine, 8 GB each)::

    PYTHONPATH=$PWD nice .venv/bin/python bench/dedup.py --records 1000000 --rounds 2
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import resource
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bulk  # noqa: E402
import metrics  # noqa: E402

logging.getLogger("splink").addHandler(logging.NullHandler())
logging.getLogger("splink").propagate = False

ROOT = bulk.ROOT
WORK = bulk.CACHE / "dedup-run"
OUT = ROOT / "bench" / "out" / "dedup.json"
#: Generated people per stored record at these sizes (385k people give about 1M records).
PEOPLE_PER_RECORD = 0.385
#: The issue's bar: the project's wall time at most this much above plain Splink's.
MAX_OVERHEAD = 0.15
ACTOR = "bench:dedup"
SIDES = ("splink", "project")


def _model(services: Any) -> Any:
    from mpi.batch.engine import BatchModel
    return BatchModel.of(services.registry.document(services.matching.active_model().version))


def _read_records(services: Any) -> pa.Table:
    """The records a store run reads (``store.dedup.records``): ``unique_id`` by key order, key, link, model
    columns. Closes ``services``."""
    from mpi.matching.comparisons import MODEL_COLUMNS

    rows = services.store.dedup.records(MODEL_COLUMNS)
    services.close()
    return rows


# -- children ---------------------------------------------------------------------------------------------


def export(folder: Path, work: Path) -> dict:
    """Untimed: the prepared table, tf lookups, Splink JSON and thresholds plain Splink is given; the keys."""
    from mpi.batch import engine
    from mpi.services import Services

    db = bulk.copy_store(folder, work / "export")
    services = Services({"MPI_DB": str(db)})
    model = _model(services)
    rows = _read_records(services)
    table = engine.prepare(rows, model)
    from mpi.matching.comparisons import DERIVED_COLUMNS, MODEL_COLUMNS
    keep = ["unique_id", *MODEL_COLUMNS, *DERIVED_COLUMNS]
    pq.write_table(table.select(keep), work / "prepared.parquet")
    for column, lookup in engine.frequency_lookups(table, model).items():
        pq.write_table(lookup, work / f"tf_{column}.parquet")
    pq.write_table(rows.select(["unique_id", "source_system", "source_record_id", "person_id"]),
                   work / "keys.parquet")
    settings = model.for_population(table.num_rows)
    settings["retain_matching_columns"] = False  # as the engine's linker: the same output, the same work
    settings["retain_intermediate_calculation_columns"] = False
    spec = {"settings": settings, "floor": model.policy.lower_match_weight - engine.REPORT_MARGIN,
            "upper": model.policy.upper_match_weight, "records": table.num_rows, "model": model.version}
    (work / "splink.json").write_text(json.dumps(spec))
    return {"records": table.num_rows, "model": model.version, "floor": spec["floor"], "upper": spec["upper"],
            "store": folder.name}


def run_splink(work: Path, out: Path) -> dict:
    """Plain Splink's predict and cluster of the exported table, timed from registering it to the clusters."""
    from splink import DuckDBAPI, Linker

    spec = json.loads((work / "splink.json").read_text())
    table = pq.read_table(work / "prepared.parquet")
    lookups = {p.stem[3:]: pq.read_table(p) for p in work.glob("tf_*.parquet")}
    seconds = {}
    started = t = time.perf_counter()
    db_api = DuckDBAPI()
    linker = Linker(db_api.register(table, table_name="records"), spec["settings"])
    for column, lookup in lookups.items():
        linker.table_management.register_term_frequency_lookup(db_api.register(lookup), column)
    seconds["register"] = time.perf_counter() - t
    t = time.perf_counter()
    predictions = linker.inference.predict(threshold_match_weight=spec["floor"])
    pairs = predictions.as_duckdbpyrelation().aggregate("count(*)").fetchall()[0][0]
    seconds["predict"] = time.perf_counter() - t
    t = time.perf_counter()
    clustered = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_weight=spec["upper"])
    clusters = _arrow(clustered.as_duckdbpyrelation().select("unique_id, cluster_id").arrow())
    seconds["cluster"] = time.perf_counter() - t
    wall = time.perf_counter() - started
    pq.write_table(clusters, out)
    return {"wall_seconds": wall, "seconds": seconds, "pairs": pairs, "engine": "plain Splink"}


def _arrow(result: Any) -> pa.Table:
    return result.read_all() if isinstance(result, pa.RecordBatchReader) else result


def run_project(db: Path, out: Path) -> dict:
    """The project's dedup run over a copy of the store, as ``mpi dedup`` runs it."""
    from mpi.services import Services

    return _store_run(Services({"MPI_DB": str(db)}), out)


def _store_run(services: Any, out: Path) -> dict:
    """``services.dedup.run`` as an operator runs it (``mpi dedup``); its clusters kept as the engine gave them.

    The run keeps no per-record clusters (its report has their sizes), so the engine's answer is kept on its
    way back to the run: the same call, its result noted.
    """
    from mpi.batch import engine, runs

    kept = {}

    def score(*args: Any, **kwargs: Any) -> Any:
        kept["scored"] = scored = engine.score(*args, **kwargs)
        return scored

    runs.engine = _Engine(score)
    dedup = services.dedup
    started = time.perf_counter()
    run = dedup.run(ACTOR, engine_name="duckdb")
    wall = time.perf_counter() - started
    services.close()
    pq.write_table(kept["scored"].clusters, out)
    counts = dict(run["counts"])
    seconds = counts.pop("seconds")
    return {"wall_seconds": wall, "seconds": seconds, "pairs": counts["pairs_scored"],
            "engine": "services.dedup.run", "run": {"run_id": run["run_id"], "outcome": run["outcome"], **counts}}


class _Engine:
    """``mpi.batch.engine`` as ``runs`` sees it, with ``score`` noting its answer."""

    def __init__(self, score: Any):
        from mpi.batch import engine
        self._engine, self.score = engine, score

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


def child(side: str, work: Path, out: Path, db: Path | None) -> None:
    result = run_splink(work, out) if side == "splink" else run_project(db, out)
    result["peak_rss_self_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    (out.with_suffix(".json")).write_text(json.dumps(result))


# -- the parent ---------------------------------------------------------------------------------------------


def _spawn(args: list[str]) -> tuple[float, float]:
    """Run this script as a child; returns (its wall seconds, its peak RSS in MB)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, *args], env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"child {args[:2]} failed with exit code {proc.returncode}")
    return time.perf_counter() - started, usage.ru_maxrss / 1024


def _kept(out: Path, folder: Path, i: int) -> dict:
    """The last run's figures of a side not run this time (refused if there are none, or of another store)."""
    path = out.with_suffix(".json")
    if not path.exists():
        raise SystemExit(f"no earlier run of {out.stem} to reuse: run that side too")
    result = json.loads(path.read_text())
    if result.setdefault("store", folder.name) != folder.name:
        raise SystemExit(f"{out.stem} was run on {result['store']}, not {folder.name}: run that side too")
    result.setdefault("peak_rss_mb", round(result["peak_rss_self_mb"], 1))
    result.setdefault("round", i + 1)
    result.setdefault("clusters_file", str(out))
    return result


def _truth(folder: Path, keys: pa.Table) -> dict[int, str]:
    truth = {}
    with open(folder / "records.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            truth[(row["source_system"], row["source_record_id"])] = row["truth_person_id"]
    return {uid: truth[(s, r)] for uid, s, r in zip(keys.column("unique_id").to_pylist(),
                                                     keys.column("source_system").to_pylist(),
                                                     keys.column("source_record_id").to_pylist(), strict=True)}


def _quality(clusters: Mapping[int, Any], truth: Mapping[int, str]) -> dict:
    q = metrics.cluster_pairwise(clusters, truth)
    return {"precision": round(q.precision, 5), "recall": round(q.recall, 5), "f1": round(q.f1, 5),
            "pairs_predicted": q.predicted}


def _clusters_of(path: Path) -> dict[int, int]:
    table = pq.read_table(path)
    return dict(zip(table.column("unique_id").to_pylist(), table.column("cluster_id").to_pylist(), strict=True))


def bench(records: int, seed: int, split_rate: float, rounds: int, workers: int,
          sides: tuple[str, ...] = SIDES) -> dict:
    """Build (or find) the store, export plain Splink's input, run each side ``rounds`` times; the figures.

    A side left out of ``sides`` is not run again: its figures are the last run's of it, kept in ``WORK``
    (for when one side's code changed and the other's has not; the report says which were reused).
    """
    n_people = max(100, round(records * PEOPLE_PER_RECORD))
    t = time.perf_counter()
    folder = bulk.build(n_people, seed, workers, echo=lambda m: print(m, file=sys.stderr), split_rate=split_rate)
    build_info = json.loads((folder / "build.json").read_text())
    print(f"store: {folder.name} ({build_info['records_stored']} records, {build_info['persons']} persons, "
          f"{build_info['records_split']} split off; built in {build_info['total_seconds']} s"
          f"{'' if time.perf_counter() - t > 5 else ', cached'})", file=sys.stderr)
    work = WORK / folder.name
    work.mkdir(parents=True, exist_ok=True)
    exported = work / "export.json"
    if "splink" in sides or not exported.exists() or json.loads(exported.read_text()).get("store") != folder.name:
        t = time.perf_counter()
        _spawn(["--child", "export", "--work", str(work), "--folder", str(folder)])
        print(f"exported {json.loads(exported.read_text())['records']} prepared records for plain Splink in "
              f"{time.perf_counter() - t:.1f} s (untimed)", file=sys.stderr)
    spec = json.loads(exported.read_text())
    runs: dict[str, list[dict]] = {side: [] for side in SIDES}
    for i in range(rounds):
        order = SIDES if i % 2 == 0 else SIDES[::-1]
        for side in order:
            out = work / f"{side}-{i}.parquet"
            if side not in sides:
                runs[side].append(_kept(out, folder, i))
                continue
            extra = []
            if side == "project":
                extra = ["--db", str(bulk.copy_store(folder, work / "project"))]
            print(f"round {i + 1}/{rounds}: {side}", file=sys.stderr)
            child_wall, rss = _spawn(["--child", side, "--work", str(work), "--out", str(out), *extra])
            result = json.loads(out.with_suffix(".json").read_text())
            result.update(peak_rss_mb=round(rss, 1), process_seconds=round(child_wall, 2), round=i + 1,
                          clusters_file=str(out), store=folder.name, finished=time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                                           time.gmtime()))
            out.with_suffix(".json").write_text(json.dumps(result))
            runs[side].append(result)
            print(f"  {side}: {result['wall_seconds']:.2f} s, peak RSS {rss:.0f} MB", file=sys.stderr)
    keys = pq.read_table(work / "keys.parquet")
    truth = _truth(folder, keys)
    persons = dict(zip(keys.column("unique_id").to_pylist(), keys.column("person_id").to_pylist(), strict=True))
    report: dict[str, Any] = {"records": spec["records"], "people_generated": n_people, "seed": seed,
                              "split_rate": split_rate, "model": spec["model"], "floor": spec["floor"],
                              "upper_threshold": spec["upper"], "rounds": rounds, "store": folder.name,
                              "build_seconds": build_info["total_seconds"],
                              "persons_as_built": _quality(persons, truth), "sides": {}}
    for side in SIDES:
        best = min(runs[side], key=lambda r: r["wall_seconds"])  # its phases; clusters are the same each round
        path = Path(best["clusters_file"])
        clusters = _clusters_of(path) if path.exists() else None
        report["sides"][side] = {
            "engine": best["engine"], "wall_seconds": round(sum(r["wall_seconds"] for r in runs[side]) / rounds, 2),
            "wall_seconds_each": [round(r["wall_seconds"], 2) for r in runs[side]],
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs[side]), "pairs": best["pairs"],
            "clusters": None if clusters is None else len(set(clusters.values())),
            "quality": None if clusters is None else _quality(clusters, truth),
            "seconds": {k: round(v, 2) for k, v in best["seconds"].items()}, "run": best.get("run"),
            "reused_from": None if side in sides else best.get("finished", "an earlier run")}
    # Every round's two sides ran back to back: the overhead is the ratio of their totals (the machine is
    # shared, so a round's seconds say less than its ratio); each round's ratio is kept beside it.
    walls = {side: [r["wall_seconds"] for r in runs[side]] for side in SIDES}
    report["overhead"] = round(sum(walls["project"]) / sum(walls["splink"]) - 1, 4)
    report["overhead_each"] = [round(p / s - 1, 4) for p, s in zip(walls["project"], walls["splink"], strict=True)]
    report["passed"] = report["overhead"] <= MAX_OVERHEAD
    return report


def _table(report: dict) -> str:
    s, p, built = report["sides"]["splink"], report["sides"]["project"], report["persons_as_built"]

    def q(side: dict, key: str) -> str:
        return "-" if side["quality"] is None else f"{side['quality'][key]:.4f}"

    lines = [(f"{report['records']} records ({report['store']}), model {report['model']}, floor "
             f"{report['floor']:.2f}, clustered at {report['upper_threshold']:.2f}; wall time the mean of "
             f"{report['rounds']} round(s), phases of the fastest"),
             f"{'':24}{'project':>14}{'plain Splink':>14}",
             f"{'wall time (s)':24}{p['wall_seconds']:>14.2f}{s['wall_seconds']:>14.2f}",
             f"{'peak RSS (MB)':24}{p['peak_rss_mb']:>14.0f}{s['peak_rss_mb']:>14.0f}",
             f"{'pairs scored':24}{p['pairs'] or '-':>14}{s['pairs']:>14}",
             f"{'clusters':24}{p['clusters'] or '-':>14}{s['clusters']:>14}",
             f"{'pairwise precision':24}{q(p, 'precision'):>14}{q(s, 'precision'):>14}",
             f"{'pairwise recall':24}{q(p, 'recall'):>14}{q(s, 'recall'):>14}",
             f"(the store's persons as built: precision {built['precision']:.4f}, recall {built['recall']:.4f})",
             (f"overhead: {report['overhead']:+.1%} (each round: "
              f"{', '.join(f'{o:+.1%}' for o in report['overhead_each'])}) -> "
              f"{'PASS' if report['passed'] else 'FAIL'} (at most {MAX_OVERHEAD:.0%})"),
             f"project ({p['engine']}) phases: " + ", ".join(f"{k} {v:.2f} s" for k, v in p["seconds"].items()),
             "plain Splink phases: " + ", ".join(f"{k} {v:.2f} s" for k, v in s["seconds"].items())]
    lines += [f"({name}'s figures are reused from its run finished {side['reused_from']})"
              for name, side in (("the project", p), ("plain Splink", s)) if side.get("reused_from")]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="about this many stored records")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--split-rate", type=float, default=0.03,
                        help="share of stored records given a person of their own (the duplicates to find)")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each side, alternating which goes first")
    parser.add_argument("--workers", type=int, default=2, help="processes building the store")
    parser.add_argument("--sides", nargs="*", choices=SIDES, default=list(SIDES),
                        help="the sides to run; another's figures are its last run's (kept under var/bench/dedup-run/);"
                             " none: a report of the last runs")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--child", choices=("export", *SIDES), help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "export":
        (args.work / "export.json").write_text(json.dumps(export(args.folder, args.work)))
        return
    if args.child:
        child(args.child, args.work, args.out, args.db)
        return
    report = bench(args.records, args.seed, args.split_rate, args.rounds, args.workers, tuple(args.sides))
    print(_table(report))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"figures written to {args.out}")


if __name__ == "__main__":
    main()
