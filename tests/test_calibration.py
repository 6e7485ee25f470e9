"""``mpi calibrate``: the policy's two thresholds chosen from labelled pairs."""

from __future__ import annotations

import csv
import json

import pytest

from mpi.errors import ValidationError
from mpi.matching.calibration import _lower, _upper, calibrate
from mpi.records.csvio import CsvError, read_labels
from mpi.records.normalise import normalise_record
from mpi.synth.generator import write_csv
from tests.test_cli import assert_one_line_error, mpi  # noqa: F401  (the CLI fixture)

#: (weight, is a true pair), highest first, as ``calibrate`` sorts them.
SCORED = [(30.0, True), (25.0, True), (20.0, False), (18.0, True), (10.0, True), (5.0, False), (2.0, True)]


def test_upper_threshold_is_the_lowest_weight_keeping_the_target_precision():
    # Kept at each cut-off: 1/1, 2/2, 2/3, 3/4, 4/5, 4/6, 5/7.
    assert _upper(SCORED, 0.99) == 25.0
    assert _upper(SCORED, 0.8) == 10.0
    assert _upper(SCORED, 0.7) == 2.0


def test_one_false_pair_at_the_top_does_not_push_the_upper_threshold_above_every_true_pair():
    # Two people alike in every field at the top, then a thousand true pairs: 1000/1001 is kept.
    scored = [(40.0, False)] + [(30.0 - i / 100, True) for i in range(1000)]
    assert _upper(scored, 0.999) == scored[-1][0]
    # Nothing reaches the target: above the highest pair.
    assert _upper([(12.0, False), (11.0, True)], 0.9) == 13.0


def test_lower_threshold_lets_at_most_the_allowed_share_of_true_pairs_fall_below():
    # 5 true pairs, 20% may be missed: the one at 2 falls below, the one at 10 may not.
    assert _lower(SCORED, 5, 0.2, upper=25.0) == 10.0
    # A true pair blocking never found counts as missed already, so nothing more may be.
    assert _lower(SCORED, 6, 0.2, upper=25.0) == 2.0
    # Never above the upper threshold.
    assert _lower(SCORED, 5, 0.9, upper=25.0) == 25.0


def _truth_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_cluster_labels_give_every_pair_within_a_cluster(tmp_path):
    path = tmp_path / "truth.csv"
    path.write_text("source_system,source_record_id,truth_person_id\n"
                    "a,1,P1\nb,1,P1\nc,9,P1\na,2,P2\na,3,\n")
    labels = read_labels(path)
    assert labels.complete and labels.rows == 5
    assert labels.matches == {(("a", "1"), ("b", "1")), (("a", "1"), ("c", "9")), (("b", "1"), ("c", "9"))}
    assert ("a", "2") in labels.records and ("a", "3") not in labels.records


def test_labels_in_neither_format_are_refused(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("source_system,source_record_id\na,1\n")
    with pytest.raises(CsvError, match="missing required column"):
        read_labels(path)


def test_calibration_on_generated_people_meets_its_own_targets(services, tmp_path):
    path = tmp_path / "people.csv"
    write_csv(path, 300, seed=3)
    rows = _truth_rows(path)
    records = {(r["source_system"], r["source_record_id"]): normalise_record(r) for r in rows}
    services.ensure_active_model("test")
    model = services.matching.active_model()
    labels = read_labels(path)

    result = calibrate(records, labels, model.scorer, precision=0.99, max_missed=0.05)

    assert result.lower_match_weight <= result.upper_match_weight
    assert result.precision_at_upper >= 0.99
    assert result.missed_below_lower <= 0.05 + 1 / result.true_pairs
    assert result.true_pairs == len(labels.matches) and result.scored_pairs > result.true_pairs


def test_calibration_targets_are_checked(services, tmp_path):
    path = tmp_path / "people.csv"
    write_csv(path, 20, seed=3)
    labels = read_labels(path)
    services.ensure_active_model("test")
    with pytest.raises(ValidationError) as e:
        calibrate({}, labels, services.matching.active_model().scorer, precision=1.5, max_missed=-1)
    assert set(e.value.errors) == {"precision", "max_missed"}


def test_calibrate_writes_and_activates_a_new_version_with_the_same_weights(mpi, tmp_path, models_dir):
    path = tmp_path / "people.csv"
    write_csv(path, 200, seed=9)
    mpi("load", "--input", str(path))

    result = mpi("calibrate", "--labels", str(path), "--precision", "0.99", "--version", "cal-v1")

    assert "model cal-v1 is now active" in result.output
    calibrated = json.loads((models_dir / "cal-v1.json").read_text())
    base = json.loads((models_dir / f"{calibrated['derived_from']['version']}.json").read_text())
    assert calibrated["splink_model"] == base["splink_model"] and calibrated["tf_tables"] == base["tf_tables"]
    assert calibrated["policy"]["upper_match_weight"] == calibrated["derived_from"]["upper_match_weight"]
    assert calibrated["derived_from"]["precision_at_upper"] >= 0.99
    assert "* cal-v1" in mpi("model", "list").output


def test_calibrate_before_loading_is_a_one_line_error(mpi, tmp_path):
    path = tmp_path / "people.csv"
    write_csv(path, 20, seed=9)
    assert_one_line_error(mpi("calibrate", "--labels", str(path), ok=False), "load the records first")


def test_known_non_matches_stay_below_the_upper_threshold(services, tmp_path):
    path = tmp_path / "people.csv"
    write_csv(path, 300, seed=3)
    rows = _truth_rows(path)
    records = {(r["source_system"], r["source_record_id"]): normalise_record(r) for r in rows}
    services.ensure_active_model("test")
    model = services.matching.active_model()
    labels = read_labels(path)
    free = calibrate(records, labels, model.scorer, precision=0.9, policy=model.policy)
    # The highest-scoring non-matching blocked pair becomes a "never link" pair.
    by_truth = {(r["source_system"], r["source_record_id"]): r["truth_person_id"] for r in rows}
    keys = sorted(records)
    pairs = [(a, b) for i, a in enumerate(keys) for b in keys[i + 1:i + 40] if by_truth[a] != by_truth[b]]
    scores = {p: model.scorer.score(records[p[0]], records[p[1]], len(records)) for p in pairs}
    linkable = [p for p, s in scores.items() if not model.policy.hold(s.evidence) and not model.policy.conflict(s.evidence)]
    worst = max(linkable, key=lambda p: scores[p].match_weight)
    never = tmp_path / "never.csv"
    never.write_text("kind,should_match,source_system_l,source_record_id_l,source_system_r,source_record_id_r\n"
                     f"twins,false,{worst[0][0]},{worst[0][1]},{worst[1][0]},{worst[1][1]}\n")

    bound = calibrate(records, labels, model.scorer, precision=0.9, policy=model.policy, never_link=read_labels(never))

    assert bound.never_link_highest is not None
    assert bound.never_link_highest == pytest.approx(scores[worst].match_weight, abs=1e-3)
    assert bound.upper_match_weight > bound.never_link_highest
    assert bound.upper_match_weight >= free.upper_match_weight
