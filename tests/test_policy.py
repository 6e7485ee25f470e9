"""The match policy's hold and conflict rules, and its validation."""

from __future__ import annotations

import pytest

from mpi.errors import ModelError
from mpi.matching.policy import DEFAULT_POLICY, LEVEL_BITS, Policy


def evidence(*levels: str, weight: float = 30.0) -> list[dict]:
    """A pair's evidence with the given 'comparison: label' levels, adding up to ``weight``."""
    entries = [{"comparison": "prior", "label": "prior odds of a match", "weight": weight}]
    for name in levels:
        comparison, label = name.split(": ", 1)
        entries.append({"comparison": comparison, "label": label, "weight": 0.0})
    return entries


def test_the_default_policy_round_trips_through_its_spec():
    policy = Policy.from_spec(None)
    assert Policy.from_spec(policy.as_spec()) == policy


def test_a_spelling_variant_on_one_birth_date_is_held_unless_an_identifier_agrees():
    policy = Policy.from_spec(None)
    twin = evidence("name_dob: first name spelling variant, birth date exact", "contact: address and phone agree")
    assert policy.hold(twin) == ["name_dob: first name spelling variant, birth date exact"]
    assert policy.hold(twin + evidence("ssn_last4: exact")[1:]) is None


def test_a_hold_with_a_weight_bar_holds_only_below_it():
    policy = Policy.from_spec(None)
    moved = ("name_dob: first name and birth date exact", "contact: differs")
    assert policy.hold(evidence(*moved, weight=17.0)) is not None
    assert policy.hold(evidence(*moved, weight=18.5)) is None


def test_conflicts_may_be_single_levels_or_combinations():
    policy = Policy.from_spec(None)
    assert policy.conflict(evidence("suffix: conflict")) == "suffix: conflict"
    both = evidence("name_dob: first name exact, birth date missing", "suffix: on one side only")
    assert policy.conflict(both) == "name_dob: first name exact, birth date missing + suffix: on one side only"
    assert policy.conflict(evidence("name_dob: first name exact, birth date missing")) is None


def test_another_identifier_alone_is_a_conflict_and_only_the_ssn_lifts_another_member_id():
    policy = Policy.from_spec(None)
    agreeing = ("name_dob: first name and birth date exact", "contact: address and phone agree")
    assert policy.conflict(evidence(*agreeing, "ssn_last4: conflict", weight=40.0)) == "ssn_last4: conflict"
    assert policy.conflict(evidence(*agreeing, "medicaid_id: conflict", weight=40.0)) == "medicaid_id: conflict"
    # A firm conflict: the same member id (a family's case number) does not lift another SSN.
    assert policy.conflict(evidence(*agreeing, "ssn_last4: conflict", "medicaid_id: exact")) == "ssn_last4: conflict"
    # A member id changes with a re-enrolment or a plan; the SSN does not.
    assert policy.conflict(evidence(*agreeing, "medicaid_id: conflict", "ssn_last4: exact")) is None
    # A keying slip is a level of its own, not a conflict.
    assert policy.conflict(evidence(*agreeing, "ssn_last4: one digit off or two swapped")) is None
    assert policy.conflict(evidence(*agreeing, "medicaid_id: one character off or two swapped")) is None


def test_a_firm_conflict_is_found_alike_in_levels_and_in_bits():
    policy = Policy.from_spec(None)
    levels = {"ssn_last4: conflict", "medicaid_id: exact", "name_dob: first name and birth date exact"}
    assert policy.conflict_in_bits(sum(LEVEL_BITS[name] for name in levels)) == policy.conflict_in(levels)
    assert policy.conflict_in(levels) == "ssn_last4: conflict"


def test_firm_conflicts_round_trip_and_are_validated():
    policy = Policy.from_spec({"firm_conflict_levels": ["ssn_last4: conflict", ["suffix: conflict", "sex: differs"]]})
    assert Policy.from_spec(policy.as_spec()) == policy
    with pytest.raises(ModelError) as e:
        Policy.from_spec({"firm_conflict_levels": [["ssn_last4: no such level"]]})
    assert set(e.value.errors) == {"firm_conflict_levels"}


def test_every_problem_of_a_bad_policy_is_reported_together():
    with pytest.raises(ModelError) as e:
        Policy.from_spec({
            "upper_match_weight": "high",
            "hold_levels": [["name_dob: no such level"], {"levels": ["suffix: conflict"]}],
            "conflict_levels": [{"levels": ["suffix: conflict"], "below": 3}],
            "clear_levels": "ssn_last4: exact",
            "surprise": 1,
        })
    errors = e.value.errors
    assert set(errors) == {"upper_match_weight", "hold_levels", "conflict_levels", "clear_levels", "surprise"}
    assert any("unknown level" in m for m in errors["hold_levels"])
    assert any("'below'" in m for m in errors["hold_levels"])


def test_defaults_name_only_levels_that_exist():
    Policy.from_spec(DEFAULT_POLICY)  # raises on an unknown level
