"""Accuracy of the online path on a labelled set (default: shared/data/people_dev).

Trains a model on the records without labels (or uses --model), loads every
record through ``mpi load`` into a fresh store, exports, and prints auto-link
precision and recall, the share of records sent to review, and hard cases by
kind; then, in the same run, plain Splink trained the way Splink's examples do
it on the same records (``plain_splink.py``) beside it: its clusters, what
99.8% pairwise precision costs it, and the exact-key baseline.
Run: ``.venv/bin/python bench/accuracy.py``.

``--untuned`` measures instead what the issue asks of the matcher on populations no model or policy
was tuned on: generated populations (``mpi.synth.generator.write_population``, the ``varied``
profile, seeds and settings never used to build or tune a model; cached under ``bench/out``) and
people_dev when the shipped model was not trained on it. Each population is loaded twice, with the
shipped model and with a model ``mpi train`` made from it without labels, and every figure is
printed beside its target with PASS or FAIL:

- shipped model: auto-link precision >= 0.999, recall >= 0.85, review share <= 10%, and at most
  one false link among the pairs of people who are twins, Jr/Sr or share name and birth date;
- trained without labels: precision >= 0.998, recall >= 0.78.

A false link among hard pairs counts pairs of *people*: two people of a hard pair (from the
population's ``hard_cases.csv``) any of whose records share a person id after the load.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import metrics  # noqa: E402
import plain_splink  # noqa: E402
from datasets import record_id  # noqa: E402
from mpi.services import DEFAULT_MODEL_VERSION  # noqa: E402
from metrics import read_export, read_truth, score_export, score_hard_cases  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "people_dev"


def run(cmd: list[str], env_db: str, models_dir: str) -> str:
    full = [str(ROOT / ".venv" / "bin" / "mpi"), "--db", env_db, "--models-dir", models_dir, *cmd]
    done = subprocess.run(full, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    return done.stdout


#: The hard kinds whose false links the issue counts (pairs of people, ``should_match`` false).
COUNTED_HARD_KINDS = ("twins", "jr_sr", "same_name_same_dob")
#: Populations never used to build or tune a model: ``profile:seed[:setting=value...]`` for
#: ``write_population`` (the settings are the generator's keyword arguments).
UNTUNED = ("varied:101", "varied:202:metros=Phoenix,Atlanta")
#: (figure, bound, higher is better) per model kind: the issue's targets.
TARGETS = {
    "shipped": (("precision", 0.999, True), ("recall", 0.85, True), ("review_share", 0.10, False),
                ("hard_false_links", 1, False)),
    "trained": (("precision", 0.998, True), ("recall", 0.78, True)),
}


def measure(folder: Path, scratch: Path, model: str | None = None, models_dir: str | None = None,
            labels: Path | None = None) -> dict:
    """Load ``folder/records.csv`` through ``mpi load`` into a fresh store in ``scratch`` and score the export.

    With ``model`` the shipped version (from ``models_dir``, default ``matching_models/``) is used; without
    it a model is first trained on the records without labels (or with ``labels``).
    """
    records = folder / "records.csv"
    scratch.mkdir(parents=True, exist_ok=True)
    for stale in (scratch / "bench.duckdb", scratch / "bench.duckdb.wal", scratch / "models"):  # a kept earlier run
        shutil.rmtree(stale) if stale.is_dir() else stale.unlink(missing_ok=True)
    db = str(scratch / "bench.duckdb")
    models = models_dir or (str(ROOT / "matching_models") if model else str(scratch / "models"))
    if model:
        run(["model", "activate", model], db, models)
        how, trained_in = f"{model} (shipped)", 0.0
    else:
        t0 = time.perf_counter()
        extra = ["--labels", str(labels)] if labels else []
        run(["train", "--input", str(records), "--version", "bench-trained", *extra], db, models)
        trained_in = time.perf_counter() - t0
        how = f"trained {f'with labels from {labels.name}' if labels else 'without labels'}"
    t0 = time.perf_counter()
    out = run(["load", "--input", str(records)], db, models)
    elapsed = time.perf_counter() - t0
    export = scratch / "export.csv"
    run(["export", "--output", str(export)], db, models)
    rows = read_export(export)
    truth = read_truth(records)
    m = score_export(rows, truth)
    m.update(model=how, trained_in=trained_in, load_seconds=elapsed, load_output=out.strip(), rows=rows)
    hard = folder / "hard_cases.csv"
    m["hard"] = score_hard_cases(rows, hard) if hard.exists() else []
    m["hard_false"] = hard_false_links(rows, truth, hard) if hard.exists() else {}
    m["hard_false_links"] = sum(m["hard_false"].get(k, 0) for k in COUNTED_HARD_KINDS)
    return m


def hard_false_links(rows: list[dict], truth: dict, hard_cases: Path) -> dict[str, int]:
    """Per ``should_match`` false kind: pairs of people of that kind any of whose records share a person."""
    persons_of: dict[str, set[str]] = {}
    for r in rows:
        if r["person_id"]:
            persons_of.setdefault(truth[(r["source_system"], r["source_record_id"])], set()).add(r["person_id"])
    seen, out = set(), {}
    with open(hard_cases, newline="") as f:
        for row in csv.DictReader(f):
            if row["should_match"] != "false":
                continue
            a = truth.get((row["source_system_l"], row["source_record_id_l"]))
            b = truth.get((row["source_system_r"], row["source_record_id_r"]))
            pair = (row["kind"], *sorted((a or "", b or "")))
            if a is None or b is None or a == b or pair in seen:
                continue
            seen.add(pair)
            out.setdefault(row["kind"], 0)
            if persons_of.get(a, set()) & persons_of.get(b, set()):
                out[row["kind"]] += 1
    return out


def print_measure(m: dict) -> None:
    print(f"load: {m['records']} records in {m['load_seconds']:.1f} s ({m['records'] / m['load_seconds']:.0f} records/s)")
    print(f"{'auto-link precision':24s} {m['precision']:.4f}  ({m['false_pairs']} false of {m['predicted_pairs']} linked pairs)")
    print(f"{'auto-link recall':24s} {m['recall']:.4f}  (of {m['true_pairs']} true pairs)")
    print(f"{'review share':24s} {m['review_share']:.4f}")
    print(f"{'persons':24s} {m['persons']}")
    if m["hard"]:
        print(f"\n{'hard case kind':28s} {'should':>6s} {'pairs':>6s} {'auto-linked':>12s} {'in review':>10s} "
              f"{'people falsely joined':>22s}")
        for k in m["hard"]:
            false = m["hard_false"].get(k["kind"])
            print(f"{k['kind']:28s} {k['should_match']:>6s} {k['pairs']:6d} "
                  f"{k['auto_linked'] / k['pairs']:12.1%} {k['in_review'] / k['pairs']:10.1%} "
                  f"{'' if false is None else false:>22}")


def population(spec: str, people: int) -> Path:
    """The folder of a generated population (``profile:seed[:k=v...]``), written once and cached."""
    profile, seed, *settings = spec.split(":")
    kwargs = {k: v.split(",") if k == "metros" else v for k, v in (s.split("=", 1) for s in settings)}
    folder = ROOT / "bench" / "out" / "populations" / f"{spec.replace(':', '-').replace(',', '+')}-{people}"
    if not (folder / "hard_cases.csv").exists():
        from mpi.synth.generator import write_population

        write_population(folder, people, int(seed), profile, **kwargs)
    return folder


def untuned(args: argparse.Namespace) -> None:
    """Every population of ``--population`` (default ``UNTUNED``) with the shipped and a label-free model."""
    specs = args.population or list(UNTUNED)
    sets = [(spec, population(spec, args.people)) for spec in specs]
    if args.data_too:
        sets += [(f"{d.name} (folder)", d) for d in args.data_too]
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        for name, folder in sets:
            for kind in ("shipped", "trained"):
                print(f"\n== {name}: {kind} ==", flush=True)
                m = measure(folder, Path(scratch) / "run", model=args.model if kind == "shipped" else None,
                            models_dir=args.models_dir)
                print_measure(m)
                results.append((name, kind, m))
    print(f"\n{'population':34s} {'model':8s} {'records':>8s} {'precision':>10s} {'recall':>7s} {'review':>7s} "
          f"{'hard false':>10s}  verdict")
    failed = 0
    for name, kind, m in results:
        verdicts = []
        for figure, bound, higher in TARGETS[kind]:
            ok = m[figure] >= bound if higher else m[figure] <= bound
            failed += not ok
            verdicts.append(f"{figure} {'>=' if higher else '<='} {bound:g} {'PASS' if ok else 'FAIL'}")
        print(f"{name:34s} {kind:8s} {m['records']:8d} {m['precision']:10.4f} {m['recall']:7.3f} "
              f"{m['review_share']:7.1%} {m['hard_false_links']:10d}  {'; '.join(verdicts)}")
    print(f"\n{'all targets met' if not failed else f'{failed} target(s) missed'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with records.csv (+ hard_cases.csv)")
    parser.add_argument("--model", default=None, help="use this model version from matching_models/ instead of training")
    parser.add_argument("--models-dir", default=None, help="folder of model files for --model")
    parser.add_argument("--labels", type=Path, default=None,
                        help="train with this labels file (mpi train --labels) instead of without labels")
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep the store, model and export in this folder to look at afterwards")
    parser.add_argument("--untuned", action="store_true",
                        help="the issue's targets on populations no model was tuned on (shipped and label-free)")
    parser.add_argument("--population", action="append", default=None,
                        help=f"with --untuned: a generated population profile:seed[:k=v] (repeatable; "
                             f"default {' and '.join(UNTUNED)})")
    parser.add_argument("--people", type=int, default=5000, help="with --untuned: people per generated population")
    parser.add_argument("--data-too", type=Path, action="append", default=None,
                        help="with --untuned: also this folder (e.g. people_dev, when the shipped model was not "
                             "trained on it)")
    parser.add_argument("--no-plain", action="store_true", help="skip plain Splink beside ours")
    args = parser.parse_args()
    if args.untuned:
        args.model = args.model or DEFAULT_MODEL_VERSION
        untuned(args)
        return

    with tempfile.TemporaryDirectory() as scratch:
        m = measure(args.data, args.keep or Path(scratch), args.model, args.models_dir, args.labels)
    print(f"model: {m['model']}" + (f" in {m['trained_in']:.1f} s" if m["trained_in"] else ""))
    print(m["load_output"])
    print()
    print_measure(m)
    if not args.no_plain:
        print_beside_plain_splink(args.data, m["rows"])


def print_beside_plain_splink(folder: Path, rows: list[dict]) -> None:
    """Our persons after ``mpi load`` beside plain Splink's clusters on the same records, same run."""
    pd = plain_splink.people_dev_report(folder)
    person = {record_id(r["source_system"], r["source_record_id"]): r["person_id"] for r in rows if r["person_id"]}
    held = {record_id(r["source_system"], r["source_record_id"]) for r in rows if r["decision"] == "POSSIBLE_MATCH"}
    print("\nbeside plain Splink trained the way Splink's examples do it: same records, same run\n")
    plain_splink.print_clusters(pd, [("ours: persons after mpi load", metrics.cluster_pairwise(person, pd["dataset"].truth()))])
    review = pd["review"]
    print(f"\nreview: ours holds {len(held) / len(rows):.1%} of records for review; plain Splink, to auto-link at "
          f"{review.precision_target:.1%} pairwise precision, must demand {review.upper:.1f} bits, links "
          f"{review.at_upper.recall:.1%} of true pairs there and leaves {review.band_share:.1%} of records with "
          f"a candidate in [0, {review.upper:.1f})\n")
    if not (folder / "hard_cases.csv").exists():
        return
    table = metrics.hard_case_table(metrics.read_hard_cases(folder / "hard_cases.csv"), {
        "ours auto-linked": metrics.same_cluster(person),
        "ours in review": lambda a, b: a in held or b in held,
        "plain clustered @best": metrics.same_cluster(pd["clusters_of"]["best"]),
        "plain clustered @p0.99": metrics.same_cluster(pd["clusters_of"]["p99"]),
    })
    plain_splink.print_hard_cases(table)


if __name__ == "__main__":
    main()
