"""Rebuild the shipped default model, ``matching_models/people_dev-v2.json``, from shared/data/people_dev.

The shipped default may learn from the development set's truth (the issue allows it; a new
deployment trains without labels with ``mpi train``). The steps are the project's own commands,
run on a scratch store and models folder:

1. ``mpi train --labels``: comparisons as for every model, m counted from the labelled true pairs;
2. ``mpi load``: every record through the online decision path;
3. ``mpi calibrate --labels --never-link``: the policy's thresholds for the target precision, the
   upper one above every hard non-matching pair (twins, Jr/Sr, ...) the policy would not hold;

and the calibrated version is copied into ``matching_models/`` under the default's name. Run:
``.venv/bin/python bench/build_default_model.py`` (then ``bench/accuracy.py --model people_dev-v2``).
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with records.csv (truth column)")
    parser.add_argument("--version", default="people_dev-v2", help="name of the shipped version")
    parser.add_argument("--precision", default="0.999", help="calibration target (mpi calibrate --precision)")
    parser.add_argument("--max-missed", default="0.05", help="calibration target (mpi calibrate --max-missed)")
    args = parser.parse_args()

    records = args.data / "records.csv"
    target = ROOT / "matching_models" / f"{args.version}.json"
    if target.exists():
        sys.exit(f"{target} exists: model versions are written once; remove it first to rebuild")
    with tempfile.TemporaryDirectory() as tmp:
        db, models = Path(tmp) / "build.duckdb", Path(tmp) / "models"
        print(mpi(["train", "--input", str(records), "--labels", str(records), "--version", f"{args.version}-trained"],
                  db, models).strip())
        print(mpi(["load", "--input", str(records)], db, models).strip())
        print(mpi(["calibrate", "--labels", str(records), "--never-link", str(args.data / "hard_cases.csv"),
                   "--precision", args.precision, "--max-missed", args.max_missed, "--version", args.version],
                  db, models).strip())
        document = json.loads((models / f"{args.version}.json").read_text())
    target.parent.mkdir(exist_ok=True)
    target.write_text(json.dumps(document, indent=1) + "\n")
    print(f"wrote {target.relative_to(ROOT)}: policy {document['policy']['lower_match_weight']}"
          f"/{document['policy']['upper_match_weight']}")


if __name__ == "__main__":
    main()
