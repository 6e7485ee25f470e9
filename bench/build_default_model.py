"""Rebuild the shipped default model's weights (``matching_models/people_dev-v2.json``) from shared/data/people_dev.

The shipped default may learn from the development set's truth (the issue allows it; a new
deployment trains without labels with ``mpi train``). The steps are the project's own commands,
run on a scratch store and models folder:

1. ``mpi train --labels``: comparisons as for every model, m counted from the labelled true pairs;
2. ``mpi load``: every record through the online decision path;
3. ``mpi calibrate --labels --never-link``: the policy's thresholds for the target precision, the
   upper one above every hard non-matching pair (twins, Jr/Sr, ...) the policy would not hold;

and the calibrated version is copied into ``matching_models/`` under the default's name. Run:
``.venv/bin/python bench/build_default_model.py`` (then ``bench/accuracy.py --model people_dev-v2``).
The shipped default, ``people_dev-v3``, is those weights and thresholds under today's default policy
lists: ``--lists-from-defaults-of people_dev-v2 --version people_dev-v3`` (nothing is trained).

Several sets may tune one model (``--data`` repeated, ``--population`` for a generated one, as
``bench/accuracy.py`` writes it): their records, truth and hard cases are joined into one set, each
set's record and person ids prefixed by its number so that two sets never share a key.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "people_dev"


def mpi(args: list[str], db: Path, models: Path) -> str:
    done = subprocess.run([str(ROOT / ".venv" / "bin" / "mpi"), "--db", str(db), "--models-dir", str(models), *args],
                          capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"mpi {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def joined(folders: list[Path], into: Path) -> Path:
    """One folder holding every set's records and hard cases, ids prefixed per set when there are several."""
    if len(folders) == 1:
        return folders[0]
    into.mkdir(parents=True, exist_ok=True)
    header = None
    with open(into / "records.csv", "w", newline="") as out_records, open(into / "hard_cases.csv", "w", newline="") as out_hard:
        records, hard = None, None
        for n, folder in enumerate(folders, 1):
            with open(folder / "records.csv", newline="") as f:
                reader = csv.DictReader(f)
                if records is None:
                    header = reader.fieldnames
                    records = csv.DictWriter(out_records, fieldnames=header)
                    records.writeheader()
                for row in reader:
                    row = {k: row.get(k, "") for k in header}
                    row["source_record_id"] = f"s{n}-{row['source_record_id']}"
                    row["truth_person_id"] = f"s{n}-{row['truth_person_id']}"
                    records.writerow(row)
            if (folder / "hard_cases.csv").exists():
                with open(folder / "hard_cases.csv", newline="") as f:
                    reader = csv.DictReader(f)
                    if hard is None:
                        hard = csv.DictWriter(out_hard, fieldnames=reader.fieldnames)
                        hard.writeheader()
                    for row in reader:
                        for side in ("l", "r"):
                            row[f"source_record_id_{side}"] = f"s{n}-{row[f'source_record_id_{side}']}"
                        hard.writerow(row)
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, action="append", default=None,
                        help="folder with records.csv (truth column) and hard_cases.csv; repeatable "
                             "[default: shared/data/people_dev]")
    parser.add_argument("--population", action="append", default=[],
                        help="a generated population profile:seed[:k=v] to tune on too (bench/accuracy.py's spec)")
    parser.add_argument("--people", type=int, default=5000, help="people per generated population")
    parser.add_argument("--version", default="people_dev-v2", help="name of the shipped version")
    parser.add_argument("--precision", default="0.999", help="calibration target (mpi calibrate --precision)")
    parser.add_argument("--max-missed", default="0.05", help="calibration target (mpi calibrate --max-missed)")
    parser.add_argument("--no-never-link", action="store_true",
                        help="count the hard non-matching pairs as false pairs only, without raising the upper "
                             "threshold above the highest of them the policy would not hold")
    parser.add_argument("--lists-from-defaults-of", metavar="VERSION", default=None,
                        help="train nothing: write --version as VERSION's weights and thresholds under today's "
                             "default policy lists (holds, conflicts, firm conflicts, clear levels)")
    args = parser.parse_args()
    if args.lists_from_defaults_of:
        return lists_from_defaults(args.lists_from_defaults_of, args.version)

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from accuracy import population

    folders = (args.data if args.data is not None else ([] if args.population else [DEFAULT_DATA]))
    folders = folders + [population(spec, args.people) for spec in args.population]
    target = ROOT / "matching_models" / f"{args.version}.json"
    if target.exists():
        sys.exit(f"{target} exists: model versions are written once; remove it first to rebuild")
    with tempfile.TemporaryDirectory() as tmp:
        data = joined(folders, Path(tmp) / "joined")
        records = data / "records.csv"
        db, models = Path(tmp) / "build.duckdb", Path(tmp) / "models"
        print(mpi(["train", "--input", str(records), "--labels", str(records), "--version", f"{args.version}-trained"],
                  db, models).strip())
        print(mpi(["load", "--input", str(records)], db, models).strip())
        never_link = [] if args.no_never_link else ["--never-link", str(data / "hard_cases.csv")]
        print(mpi(["calibrate", "--labels", str(records), *never_link, "--precision", args.precision,
                   "--max-missed", args.max_missed, "--version", args.version], db, models).strip())
        document = json.loads((models / f"{args.version}.json").read_text())
    target.parent.mkdir(exist_ok=True)
    target.write_text(json.dumps(document, indent=1) + "\n")
    print(f"wrote {target.relative_to(ROOT)}: policy {document['policy']['lower_match_weight']}"
          f"/{document['policy']['upper_match_weight']}")


def lists_from_defaults(base: str, version: str) -> None:
    """``version``: ``base``'s trained model and thresholds under the default policy's lists of today."""
    sys.path.insert(0, str(ROOT))
    from mpi.matching.model import derive_version
    from mpi.matching.policy import DEFAULT_POLICY

    target = ROOT / "matching_models" / f"{version}.json"
    if target.exists():
        sys.exit(f"{target} exists: model versions are written once; remove it first to rebuild")
    document = json.loads((ROOT / "matching_models" / f"{base}.json").read_text())
    lists = {k: DEFAULT_POLICY[k] for k in ("hold_levels", "conflict_levels", "firm_conflict_levels", "clear_levels")}
    derived = derive_version(document, version, lists, {"policy_lists": "the default policy's, issue 18"})
    target.write_text(json.dumps(derived, indent=1) + "\n")
    print(f"wrote {target.relative_to(ROOT)}: {base}'s weights and thresholds, today's default lists")


if __name__ == "__main__":
    main()
