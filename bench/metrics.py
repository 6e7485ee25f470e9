"""Scoring an export of the index against a labelled truth column.

Shared by the accuracy benchmarks. Pairs are unordered pairs of record keys;
a predicted pair is two records linked to the same person.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from itertools import combinations
from pathlib import Path


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
