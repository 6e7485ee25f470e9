"""Accuracy of the online path on a labelled set (default: shared/data/people_dev).

Trains a model on the records without labels (or uses --model), loads every
record through ``mpi load`` into a fresh store, exports, and prints auto-link
precision and recall, the share of records sent to review, and hard cases by
kind; then, in the same run, plain Splink trained the way Splink's examples do
it on the same records (``plain_splink.py``) beside it: its clusters, what
99.8% pairwise precision costs it, and the exact-key baseline.
Run: ``.venv/bin/python bench/accuracy.py``.
"""

from __future__ import annotations

import argparse
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
from metrics import read_export, read_truth, score_export, score_hard_cases  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "people_dev"


def run(cmd: list[str], env_db: str, models_dir: str) -> str:
    full = [str(ROOT / ".venv" / "bin" / "mpi"), "--db", env_db, "--models-dir", models_dir, *cmd]
    done = subprocess.run(full, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with records.csv (+ hard_cases.csv)")
    parser.add_argument("--model", default=None, help="use this model version from matching_models/ instead of training")
    parser.add_argument("--models-dir", default=None, help="folder of model files for --model")
    parser.add_argument("--labels", type=Path, default=None,
                        help="train with this labels file (mpi train --labels) instead of without labels")
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep the store, model and export in this folder to look at afterwards")
    args = parser.parse_args()

    records = args.data / "records.csv"
    with tempfile.TemporaryDirectory() as scratch:
        tmp = args.keep or Path(scratch)
        tmp.mkdir(parents=True, exist_ok=True)
        for stale in (tmp / "bench.duckdb", tmp / "bench.duckdb.wal", tmp / "models"):  # a kept earlier run
            shutil.rmtree(stale) if stale.is_dir() else stale.unlink(missing_ok=True)
        db = str(Path(tmp) / "bench.duckdb")
        models = args.models_dir or (str(ROOT / "matching_models") if args.model else str(Path(tmp) / "models"))
        if args.model:
            run(["model", "activate", args.model], db, models)
            print(f"model: {args.model} (shipped)")
        else:
            t0 = time.perf_counter()
            labels = ["--labels", str(args.labels)] if args.labels else []
            run(["train", "--input", str(records), "--version", "bench-trained", *labels], db, models)
            how = f"with labels from {args.labels.name}" if args.labels else "without labels"
            print(f"model: trained {how} in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        out = run(["load", "--input", str(records)], db, models)
        elapsed = time.perf_counter() - t0
        print(out.strip())
        export = Path(tmp) / "export.csv"
        run(["export", "--output", str(export)], db, models)
        rows = read_export(export)

    m = score_export(rows, read_truth(records))
    print(f"\nload: {m['records']} records in {elapsed:.1f} s ({m['records'] / elapsed:.0f} records/s)")
    print(f"{'auto-link precision':24s} {m['precision']:.4f}  ({m['false_pairs']} false of {m['predicted_pairs']} linked pairs)")
    print(f"{'auto-link recall':24s} {m['recall']:.4f}  (of {m['true_pairs']} true pairs)")
    print(f"{'review share':24s} {m['review_share']:.4f}")
    print(f"{'persons':24s} {m['persons']}")
    hard = args.data / "hard_cases.csv"
    if hard.exists():
        print(f"\n{'hard case kind':28s} {'should':>6s} {'pairs':>6s} {'auto-linked':>12s} {'in review':>10s}")
        for k in score_hard_cases(rows, hard):
            print(f"{k['kind']:28s} {k['should_match']:>6s} {k['pairs']:6d} "
                  f"{k['auto_linked'] / k['pairs']:12.1%} {k['in_review'] / k['pairs']:10.1%}")

    print_beside_plain_splink(args.data, rows)


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
