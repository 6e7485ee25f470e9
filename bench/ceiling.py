"""How far could any weighting of the comparisons go? The pairwise ceiling of a labelled population.

Every pair of records blocking brings together (``mpi.matching.calibration.blocked_pairs``, as
``mpi calibrate`` meets them) is scored with a model, and its *level pattern* (the level of each
comparison: name and birth date, surname, middle name, suffix, sex, SSN, member id, email,
contact) is kept with the truth. Then, for a target pairwise precision:

- **by the model's weight**: the most true pairs a single upper threshold auto-links at that
  precision, among the pairs the model's policy clears (no hold, no conflict);
- **oracle**: the most true pairs *any* scoring over these comparisons could auto-link at that
  precision, knowing the truth: patterns are taken in order of their share of true pairs, purest
  first (term-frequency adjustments aside, a Fellegi-Sunter weight is a function of the pattern, so
  no weights and thresholds do better), with the policy's holds and without any policy.

Recall is over every true pair of the population (blocked or not). It is a pairwise figure: the
online path links a record to a person, so its recall also counts pairs joined through a third
record, and its precision those a chain spoils; ``bench/accuracy.py`` measures that path. What this
shows is how much of a population the comparisons can tell apart at all.

Run: ``.venv/bin/python bench/ceiling.py --population varied:101 [--model people_dev-v3]``
(or ``--data FOLDER`` with a ``records.csv`` carrying ``truth_person_id``).
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from accuracy import population  # noqa: E402

from mpi.matching.calibration import blocked_pairs  # noqa: E402
from mpi.matching.model import ModelRegistry  # noqa: E402
from mpi.matching.prepare import prepare  # noqa: E402
from mpi.records.fields import TRUTH_FIELD  # noqa: E402
from mpi.services import DEFAULT_MODEL_VERSION  # noqa: E402

TARGETS = (0.999, 0.998, 0.995)


def best_recall(counts: list[tuple[int, int]], target: float, true_total: int) -> float:
    """Most true pairs kept, as a share of ``true_total``, by a prefix of ``counts`` ((false, true) per step) at ``target``."""
    kept = good = 0
    best = 0.0
    for false, true in counts:
        kept += false + true
        good += true
        if good / kept >= target:
            best = good / true_total
    return best


def purest_first(patterns: dict) -> list[tuple[int, int]]:
    return sorted(patterns.values(), key=lambda c: (-c[1] / (c[0] + c[1]), -c[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="folder with records.csv and its truth column")
    parser.add_argument("--population", help="a generated population profile:seed[:k=v] (bench/accuracy.py's spec)")
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--model", default=DEFAULT_MODEL_VERSION, help="model version in matching_models/")
    parser.add_argument("--max-block-size", type=int, default=400)
    parser.add_argument("--mixed", type=int, default=8, help="print this many of the patterns holding most true "
                        "pairs alongside false ones (at least 1 false in 100)")
    args = parser.parse_args()
    folder = args.data or population(args.population, args.people)
    model = ModelRegistry(ROOT / "matching_models").load(args.model)
    records, truth = {}, {}
    with open(folder / "records.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            person = row.pop(TRUTH_FIELD)
            prepared = prepare({k: v for k, v in row.items() if v}, strict=False)
            records[prepared.key], truth[prepared.key] = prepared.norm, person
    sizes = defaultdict(int)
    for person in truth.values():
        sizes[person] += 1
    true_total = sum(n * (n - 1) // 2 for n in sizes.values())
    by_weight, with_holds, without = [], defaultdict(lambda: [0, 0]), defaultdict(lambda: [0, 0])
    pairs = blocked_pairs(records, args.max_block_size)
    for a, b in pairs:
        pair = model.scorer.score(records[a], records[b], len(records))
        same = truth[a] == truth[b]
        # Level 0 of a comparison is its null level (a value missing on a side): shown as nothing below.
        pattern = tuple((e["level"], f"{e['comparison']}: {e['label']}") for e in pair.evidence[1:])
        without[pattern][same] += 1
        if model.policy.clears(pair.evidence):
            with_holds[pattern][same] += 1
            by_weight.append((pair.match_weight, same))
    by_weight.sort(reverse=True)
    blocked_true = sum(t for _, t in without.values())
    print(f"{folder.name}: {len(records)} records, {true_total} true pairs ({blocked_true} blocked), "
          f"{len(pairs)} blocked pairs, {len(without)} level patterns; model {args.model}")
    print(f"{'pairwise precision':>18s} {'by weight':>10s} {'oracle, holds':>14s} {'oracle, no policy':>18s}")
    for target in TARGETS:
        weight = best_recall([(0, 1) if same else (1, 0) for _, same in by_weight], target, true_total)
        print(f"{target:18.3f} {weight:10.3f} {best_recall(purest_first(with_holds), target, true_total):14.3f} "
              f"{best_recall(purest_first(without), target, true_total):18.3f}")
    mixed = sorted(((t, f, p) for p, (f, t) in without.items() if f and f / (f + t) >= 0.01), reverse=True)
    if args.mixed and mixed:
        print("\nlevel patterns that tell people apart least (true pairs, false pairs; comparisons with a value on "
              "both sides):")
        for true, false, pattern in mixed[:args.mixed]:
            print(f"{true:6d} {false:5d}  {'; '.join(label for level, label in pattern if level != 0)}")


if __name__ == "__main__":
    main()
