"""Scoring predictions against a labelled truth, shared by the benchmarks.

Two kinds of prediction are scored: an export of the index (``score_export``:
a predicted pair is two records linked to the same person), and scored pairs
of either engine (``best_f1`` and friends: a pair is predicted when its match
weight is at or above a threshold). Both engines in a comparison go through
the same functions, so a difference in the tables is a difference in the
engines, not in the counting.
"""

from __future__ import annotations

import csv
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

from datasets import record_id


def _pairs(groups: dict[str, list[tuple[str, str]]]) -> set[tuple]:
    out = set()
    for members in groups.values():
        for a, b in combinations(sorted(members), 2):
            out.add((a, b))
    return out


def read_truth(records_csv: Path, truth_col: str = "truth_person_id") -> dict[tuple[str, str], str]:
    with open(records_csv, newline="") as f:
        return {(r["source_system"], r["source_record_id"]): r[truth_col] for r in csv.DictReader(f)}


def read_export(export_csv: Path) -> list[dict]:
    with open(export_csv, newline="") as f:
        return list(csv.DictReader(f))


def score_export(export_rows: list[dict], truth: dict[tuple[str, str], str]) -> dict:
    """Auto-link precision and recall against the truth, and the share sent to review."""
    by_person: dict[str, list] = defaultdict(list)
    by_truth: dict[str, list] = defaultdict(list)
    review = 0
    for row in export_rows:
        key = (row["source_system"], row["source_record_id"])
        if row["person_id"]:
            by_person[row["person_id"]].append(key)
        if row["decision"] == "POSSIBLE_MATCH":
            review += 1
    for key, person in truth.items():
        by_truth[person].append(key)
    predicted, true = _pairs(by_person), _pairs(by_truth)
    hits = len(predicted & true)
    return {
        "records": len(export_rows),
        "persons": len(by_person),
        "predicted_pairs": len(predicted),
        "true_pairs": len(true),
        "precision": hits / len(predicted) if predicted else 1.0,
        "recall": hits / len(true) if true else 1.0,
        "false_pairs": len(predicted) - hits,
        "review_share": review / len(export_rows) if export_rows else 0.0,
    }


def score_hard_cases(export_rows: list[dict], hard_cases_csv: Path) -> list[dict]:
    """Per kind of hard pair: how often both records were auto-linked to one person, or sent to review."""
    person = {(r["source_system"], r["source_record_id"]): r["person_id"] for r in export_rows}
    decision = {(r["source_system"], r["source_record_id"]): r["decision"] for r in export_rows}
    kinds: dict[str, dict] = {}
    with open(hard_cases_csv, newline="") as f:
        for row in csv.DictReader(f):
            left = (row["source_system_l"], row["source_record_id_l"])
            right = (row["source_system_r"], row["source_record_id_r"])
            k = kinds.setdefault(row["kind"], {"kind": row["kind"], "should_match": row["should_match"],
                                               "pairs": 0, "auto_linked": 0, "in_review": 0})
            k["pairs"] += 1
            if person.get(left) and person.get(left) == person.get(right):
                k["auto_linked"] += 1
            if "POSSIBLE_MATCH" in (decision.get(left), decision.get(right)):
                k["in_review"] += 1
    return sorted(kinds.values(), key=lambda k: (k["should_match"], k["kind"]))


# -- pairwise scores against a cluster truth (shared by plain_splink.py and linkage.py) -----------
#
# A scored pair is (id_l, id_r, match_weight). Recall is always counted against every true pair of
# the data set, so a true pair that blocking never proposes is a miss at every threshold.


@dataclass(frozen=True)
class AtThreshold:
    """Pairwise precision, recall and F1 of the pairs scored at or above a match weight."""

    weight: float
    precision: float
    recall: float
    f1: float
    predicted: int


@dataclass(frozen=True)
class PairReport:
    """One engine on one data set: its best-F1 threshold, blocking recall and scored pairs."""

    best: AtThreshold
    #: Share of all true pairs that blocking proposed at all (the ceiling on recall).
    blocking_recall: float
    true_pairs: int
    scored_pairs: int
    labelled: list[tuple[float, bool]] = field(repr=False, default_factory=list)


def pair_report(pairs: Iterable[tuple[str, str, float]], truth: Mapping[str, str],
                sources: Mapping[str, str] | None = None) -> PairReport:
    """Best-threshold pairwise F1 and blocking recall of scored pairs, against every true pair."""
    true_total = true_pair_count(truth, sources)
    labelled = label_pairs(pairs, truth, sources)
    blocked_true = sum(t for _, t in labelled)
    return PairReport(best_f1(labelled, true_total), blocked_true / true_total if true_total else 1.0,
                      true_total, len(labelled), labelled)


def true_pair_count(truth: Mapping[str, str], sources: Mapping[str, str] | None = None) -> int:
    """Unordered pairs of records sharing a cluster; for a link task only pairs across sources."""
    by_cluster: dict[str, Counter] = defaultdict(Counter)
    for uid, cluster in truth.items():
        by_cluster[cluster][sources[uid] if sources else ""] += 1
    total = 0
    for counts in by_cluster.values():
        n = sum(counts.values())
        within = sum(c * (c - 1) // 2 for c in counts.values())
        total += n * (n - 1) // 2 - (within if sources else 0)
    return total


def label_pairs(pairs: Iterable[tuple[str, str, float]], truth: Mapping[str, str],
                sources: Mapping[str, str] | None = None) -> list[tuple[float, bool]]:
    """(weight, is a true pair) for each scored pair, best first; for a link task only pairs across sources."""
    labelled = [(w, truth[a] == truth[b]) for a, b, w in pairs if not sources or sources[a] != sources[b]]
    labelled.sort(key=lambda p: -p[0])
    return labelled


def _cutoffs(labelled: list[tuple[float, bool]]) -> Iterator[tuple[float, int, int]]:
    """(weight, pairs kept, true pairs kept) at each distinct weight, highest first (ties stand together)."""
    kept = correct = 0
    for i, (weight, is_true) in enumerate(labelled):
        kept += 1
        correct += is_true
        if i + 1 == len(labelled) or labelled[i + 1][0] != weight:
            yield weight, kept, correct


def _at(weight: float, kept: int, correct: int, true_total: int) -> AtThreshold:
    precision = correct / kept if kept else 1.0
    recall = correct / true_total if true_total else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return AtThreshold(weight, precision, recall, f1, kept)


def best_f1(labelled: list[tuple[float, bool]], true_total: int) -> AtThreshold:
    """The threshold (a scored pair's weight) with the highest pairwise F1."""
    best = _at(math.inf, 0, 0, true_total)
    for weight, kept, correct in _cutoffs(labelled):
        at = _at(weight, kept, correct, true_total)
        if at.f1 > best.f1:
            best = at
    return best


def at_weight(labelled: list[tuple[float, bool]], weight: float, true_total: int) -> AtThreshold:
    """Precision, recall and F1 of the pairs at or above ``weight``."""
    kept = [t for w, t in labelled if w >= weight]
    return _at(weight, len(kept), sum(kept), true_total)


def weight_for_precision(labelled: list[tuple[float, bool]], precision: float) -> float:
    """Lowest cut-off from which every higher cut-off keeps at least ``precision`` (as ``mpi calibrate``)."""
    best = labelled[0][0] + 1.0 if labelled else 0.0
    for weight, kept, correct in _cutoffs(labelled):
        if correct / kept < precision:
            break
        best = weight
    return best


def weight_missing_share(labelled: list[tuple[float, bool]], true_total: int, max_missed: float) -> float:
    """Highest cut-off below which at most ``max_missed`` of all true pairs fall (as ``mpi calibrate``'s lower).

    True pairs never scored count as missed; when they alone exceed the share, the
    lowest-scored true pair's weight is returned.
    """
    allowed = int(max_missed * true_total)
    missed = true_total - sum(t for _, t in labelled)
    for weight, is_true in reversed(labelled):
        if is_true:
            if missed + 1 > allowed:
                return weight
            missed += 1
    return labelled[-1][0] if labelled else 0.0


def share_with_candidate_in_band(pairs: Iterable[tuple[str, str, float]], lower: float, upper: float,
                                 records: int) -> float:
    """Share of records with at least one scored pair in ``[lower, upper)``: each would meet a steward."""
    touched = set()
    for a, b, w in pairs:
        if lower <= w < upper:
            touched.add(a)
            touched.add(b)
    return len(touched) / records if records else 0.0


_SINGLETON = object()


def cluster_pairwise(cluster_of: Mapping[str, str], truth: Mapping[str, str]) -> AtThreshold:
    """Pairwise precision, recall and F1 of a clustering (a record missing from it is a singleton)."""
    joint: Counter = Counter()
    predicted_sizes: Counter = Counter()
    for uid, true_cluster in truth.items():
        cluster = cluster_of.get(uid, (_SINGLETON, uid))
        joint[(cluster, true_cluster)] += 1
        predicted_sizes[cluster] += 1
    correct = sum(n * (n - 1) // 2 for n in joint.values())
    kept = sum(n * (n - 1) // 2 for n in predicted_sizes.values())
    return _at(math.nan, kept, correct, true_pair_count(truth))


def exact_key_clusters(rows: Iterable[Mapping], key: Callable[[Mapping], tuple | None]) -> dict[str, object]:
    """Cluster records on an exact key; a record whose key is None stays a singleton."""
    return {r["unique_id"]: k for r in rows if (k := key(r)) is not None}


def read_hard_cases(hard_cases_csv: Path) -> list[tuple[str, str, str, str]]:
    """(kind, should_match, id_l, id_r) of each labelled hard pair (ids as ``datasets.record_id``)."""
    with open(hard_cases_csv, newline="") as f:
        return [(row["kind"], row["should_match"], record_id(row["source_system_l"], row["source_record_id_l"]),
                 record_id(row["source_system_r"], row["source_record_id_r"])) for row in csv.DictReader(f)]


def hard_case_table(cases: list[tuple[str, str, str, str]],
                    columns: Mapping[str, Callable[[str, str], bool]]) -> list[dict]:
    """Per kind of hard pair, the share of its pairs for which each column's test holds.

    A column is e.g. "scored at or above the threshold" (a pair never scored
    fails it) or "put in one cluster".
    """
    kinds: dict[str, dict] = {}
    for kind, should, a, b in cases:
        k = kinds.setdefault(kind, {"kind": kind, "should_match": should, "pairs": 0, **{c: 0 for c in columns}})
        k["pairs"] += 1
        for name, test in columns.items():
            k[name] += bool(test(a, b))
    out = sorted(kinds.values(), key=lambda k: (k["should_match"], k["kind"]))
    for k in out:
        for name in columns:
            k[name] /= k["pairs"]
    return out


def scored_at_or_above(pairs: Iterable[tuple[str, str, float]], threshold: float) -> Callable[[str, str], bool]:
    """Test for ``hard_case_table``: the pair was scored at or above ``threshold``."""
    kept = {frozenset((a, b)) for a, b, w in pairs if w >= threshold}
    return lambda a, b: frozenset((a, b)) in kept


def same_cluster(cluster_of: Mapping[str, object]) -> Callable[[str, str], bool]:
    """Test for ``hard_case_table``: both records are in one cluster (a missing record is a singleton)."""
    return lambda a, b: a in cluster_of and b in cluster_of and cluster_of[a] == cluster_of[b]


@dataclass(frozen=True)
class ReviewReport:
    """What auto-linking at a target pairwise precision costs (people_dev's questions).

    The review band runs from ``lower`` to the upper threshold. Two lowers are
    reported: 0 bits (match probability one half: below it a pair is likelier
    not a match than a match, whatever the engine) and the ``mpi calibrate``
    lower (at most ``max_missed`` of all true pairs below it; when blocking
    alone misses more, the lowest-scored true pair).
    """

    precision_target: float
    upper: float
    at_upper: AtThreshold
    band_share: float
    calibrate_lower: float
    calibrate_band_share: float
    lower: float = 0.0


def review_report(pairs: list[tuple[str, str, float]], report: PairReport, records: int,
                  precision: float = 0.998, max_missed: float = 0.02) -> ReviewReport:
    """Upper threshold for ``precision``, and the share of records with a candidate in the review band."""
    upper = weight_for_precision(report.labelled, precision)
    calibrate_lower = min(weight_missing_share(report.labelled, report.true_pairs, max_missed), upper)
    return ReviewReport(
        precision, upper, at_weight(report.labelled, upper, report.true_pairs),
        share_with_candidate_in_band(pairs, min(0.0, upper), upper, records),
        calibrate_lower, share_with_candidate_in_band(pairs, calibrate_lower, upper, records))
