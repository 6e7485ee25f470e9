"""What a model learns from steward decisions beside m, and the gate it must pass (``mpi.matching.learning``). Pure.

The upper threshold and the holds move only on as many steward answers as show the policy's target precision; the
gate activates a model only when it is as precise and finds as many true pairs as the active one.
"""

from __future__ import annotations

from mpi.matching.learning import (
    HeldOutPrecision,
    lowest_safe_weight,
    relax_holds,
    support_needed,
    upper_from_decisions,
)
from mpi.matching.policy import Policy

SPELLING = "name_dob: first name spelling variant, birth date exact"
TWIN_HOLD = ["name_dob: a multiple-birth placeholder, birth date exact or near"]


def policy(**changes) -> Policy:
    return Policy.from_spec({"upper_match_weight": 10.0, "lower_match_weight": 4.0, "target_precision": 0.95,
                             "hold_levels": [[SPELLING], TWIN_HOLD], "conflict_levels": [], **changes})


def evidence(weight: float, *levels: str) -> list[dict]:
    """A pair's evidence: its levels, the whole weight on the first."""
    return [{"comparison": "prior", "label": "prior", "weight": weight}] + [
        {"comparison": level.split(": ")[0], "label": level.split(": ", 1)[1], "weight": 0.0} for level in levels]


def test_support_needed_is_the_rule_of_three():
    assert support_needed(0.999) == 3000  # no "different" among 3,000 answers shows 0.999, at 95%
    assert support_needed(0.99) == 300
    assert support_needed(0.5) == 6


def test_the_lowest_safe_weight_keeps_every_pair_above_it_at_the_target():
    right = [(20.0 - i, True) for i in range(10)]  # 20 .. 11, all one human
    assert lowest_safe_weight(right + [(10.5, False)], 0.95, 5) == 11.0  # 10/11 < 0.95: the cut stays above it
    assert lowest_safe_weight(right + [(10.5, False)], 0.9, 5) == 10.5  # 10/11 >= 0.9
    assert lowest_safe_weight(right, 0.95, 11) is None  # too few pairs to show anything
    assert lowest_safe_weight([(25.0, False)] + right, 0.9, 1) == 11.0  # all the pairs above the cut, together
    # Equal weights stand or fall together: 12.0 holds a right pair and a wrong one, so the cut stays at 13.
    assert lowest_safe_weight([(12.0, False)] + right, 0.95, 1) == 13.0


def test_the_upper_threshold_comes_down_only_as_far_as_stewards_linked_every_clearing_pair():
    band = [(9.9 - i * 0.1, True, True) for i in range(30)]  # 9.9 .. 7.0, cleared, one human
    wrong = [(6.5, True, False)]  # a cleared pair stewards said is two humans
    held = [(5.0, False, False)]  # held by the policy: it does not count, whatever stewards said
    strict = policy(target_precision=0.99)  # 30 right of 31 is 0.968: the wrong pair stays below
    assert round(upper_from_decisions(strict, band + wrong + held, min_pairs=20), 3) == 7.0
    assert upper_from_decisions(policy(), band + wrong + held, min_pairs=20) == 6.5  # 0.968 meets 0.95
    assert upper_from_decisions(strict, band + wrong, min_pairs=31) == 10.0  # too few: kept
    assert upper_from_decisions(strict, band[:10] + [(9.95, True, False)] + band[10:], min_pairs=20) == 10.0
    assert upper_from_decisions(policy(), band) == 10.0  # by default the rule of three: 30 pairs show 0.9, not 0.95
    assert upper_from_decisions(policy(), [(w, c, s) for w, c, s in band * 2]) < 10.0  # 60 do


def test_a_hold_gets_a_below_weight_only_where_every_answer_above_it_was_one_human():
    same = [(30.0 - i * 0.5, evidence(30.0 - i * 0.5, SPELLING), True) for i in range(25)]  # 30 .. 18
    twin = [(15.0, evidence(15.0, SPELLING), False)]
    strict = policy(target_precision=0.99)  # 25 right of 26 is 0.96: the twin's weight stays held
    rules, relaxed = relax_holds(strict, same + twin, upper=10.0, min_pairs=20)
    assert relaxed == {SPELLING: 18.0}
    assert rules == [{"levels": [SPELLING], "below": 18.0}, TWIN_HOLD]  # the other rule as it was
    assert Policy.from_spec({"hold_levels": rules}).hold(evidence(19.0, SPELLING)) is None
    assert Policy.from_spec({"hold_levels": rules}).hold(evidence(16.0, SPELLING)) == [SPELLING]
    # Too few answers, or answers below the upper threshold (review whatever the holds say), move nothing.
    assert relax_holds(policy(), same + twin, upper=10.0, min_pairs=20)[1] == {SPELLING: 15.0}  # 0.96 meets 0.95
    assert relax_holds(strict, same, upper=10.0, min_pairs=26)[1] == {}
    assert relax_holds(strict, same, upper=40.0, min_pairs=20)[1] == {}
    assert relax_holds(strict, same, upper=10.0)[1] == {}  # the rule of three at 0.99: 300 answers


def test_the_gate_wants_as_precise_and_as_many_true_pairs_found():
    old = HeldOutPrecision(pairs=100, auto_linked=40, correct=40, true_pairs=60)
    assert HeldOutPrecision(100, 45, 45, 60).at_least_as_good_as(old)  # more found, none wrong
    assert not HeldOutPrecision(100, 46, 45, 60).at_least_as_good_as(old)  # more found, one wrong
    assert not HeldOutPrecision(100, 30, 30, 60).at_least_as_good_as(old)  # as precise, fewer found
    assert HeldOutPrecision(100, 0, 0, 60).precision == 1.0 and HeldOutPrecision(100, 0, 0, 0).recall == 1.0
    assert old.as_dict() == {"pairs": 100, "auto_linked": 40, "correct": 40, "true_pairs": 60, "precision": 1.0,
                             "recall": round(40 / 60, 6)}
