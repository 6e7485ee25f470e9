"""Training on records that leave fields empty: every comparison still gets estimated, the prior still exists.

Senders outside the U.S. referral network (Febrl's 4-digit postcodes, historical
birth dates before 1900) reach the model with fields the normaliser cannot read,
so a training rule on such a field proposes no pair. Splink refuses an empty
EM rule and a zero prior; training must carry on with what the data does have.
"""

from __future__ import annotations

import math

import pytest

from mpi.matching import splink_adapter, splink_settings, training_rules
from mpi.matching.model import term_frequencies
from mpi.matching.training import model_row
from mpi.synth.generator import generate_records

#: Slow: each test trains with Splink (make check leaves it out; make test runs it).
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def rows():
    return [model_row(r) for r in generate_records(250, seed=11)]


def _without(rows, *columns):
    return [{**r, **{c: None for c in columns}} for r in rows]


def _sessions(rows):
    tables, _ = term_frequencies(rows)
    db_api = splink_adapter.duckdb_api()
    table = splink_adapter.register_rows(db_api, rows, tables)
    return training_rules.em_sessions(db_api, table), training_rules.deterministic_rules(db_api, table)


def _weight(model_json, comparison, label):
    spec = next(c for c in model_json["comparisons"] if c["output_column_name"] == comparison)
    level = next(lv for lv in spec["comparison_levels"] if lv["label_for_charts"] == label)
    return math.log2(level["m_probability"] / level["u_probability"])


def test_complete_records_train_on_exactly_the_em_rules_and_deterministic_rules(rows):
    sessions, deterministic = _sessions(rows)
    assert sessions == [(rule, None) for rule in splink_settings.EM_BLOCKING_RULES]
    assert deterministic == list(splink_settings.DETERMINISTIC_RULES)


def test_records_without_postcodes_or_phones_skip_those_rules_and_still_estimate_first_name_with_birth_date(rows):
    # The postcode and phone rules are the ones that leave name_dob free.
    no_zip = _without(rows, "postal_code", "phone", "phone_last7")
    sessions, _ = _sessions(no_zip)
    rules = [rule for rule, _ in sessions]
    assert splink_settings.EM_BLOCKING_RULES[1] not in rules and splink_settings.EM_BLOCKING_RULES[3] not in rules
    assert rules[-1] == splink_settings.EM_STAND_IN_RULES[0]
    assert sessions[-1][1] == splink_settings.EM_STAND_IN_MAX_PAIRS

    tables, _ = term_frequencies(no_zip)
    model_json = splink_adapter.train(no_zip, tables, splink_adapter.duckdb_api(), seed=3)
    assert _weight(model_json, "name_dob", "first name and birth date exact") > 5


def test_records_without_birth_dates_or_identifiers_get_a_prior_from_the_stand_in_rule(rows):
    bare = _without(rows, "birth_date", "medicaid_id", "ssn_last4")
    _, deterministic = _sessions(bare)
    assert deterministic == list(splink_settings.DETERMINISTIC_STAND_IN_RULES)

    tables, _ = term_frequencies(bare)
    model_json = splink_adapter.train(bare, tables, splink_adapter.duckdb_api(), seed=3)
    assert 0 < model_json["probability_two_random_records_match"] < 1
    assert _weight(model_json, "last_name", "exact") > 3
