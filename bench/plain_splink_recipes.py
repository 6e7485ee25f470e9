"""Plain Splink's recipes: one per labelled data set, in the style of Splink 5's example notebooks.

Comparisons from ``splink.comparison_library``, blocking rules for prediction,
deterministic rules for lambda and the rules EM trains on, as a competent Splink
user would write them out of the box (see ``plain_splink.py``, which runs them).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import splink.comparison_library as cl
from splink import block_on

@dataclass(frozen=True)
class Recipe:
    """How a Splink example would model one data set.

    Attributes:
        columns: the columns handed to Splink, each from a raw row (the examples' light preparation).
        comparisons, blocking_rules: the settings' comparisons and prediction blocking rules.
        deterministic_rules, recall: for ``estimate_probability_two_random_records_match``.
        u_max_pairs: pairs sampled for u (seeded).
        em_rules: one EM session per rule.
        em_without_tf: the examples' ``estimate_without_term_frequencies`` for EM.
    """

    columns: Mapping[str, Callable[[Mapping[str, Any]], Any]]
    comparisons: list
    blocking_rules: list
    deterministic_rules: list
    recall: float
    u_max_pairs: float
    em_rules: list
    em_without_tf: bool = False


def _col(name: str) -> Callable[[Mapping[str, Any]], Any]:
    return lambda r: r.get(name)


def _febrl_columns() -> dict[str, Callable]:
    return {c: _col(c) for c in ("given_name", "surname", "street_number", "address_1", "address_2", "suburb",
                                 "postcode", "state", "date_of_birth", "soc_sec_id")}


def febrl3_recipe() -> Recipe:
    """Splink's febrl3 example: names, date of birth, soc_sec_id within 2 edits, street number and postcode."""
    return Recipe(
        columns=_febrl_columns(),
        comparisons=[
            cl.NameComparison("given_name"),
            cl.NameComparison("surname"),
            cl.DateOfBirthComparison("date_of_birth", input_is_string=True, datetime_format="%Y%m%d"),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.ExactMatch("postcode").configure(term_frequency_adjustments=True),
        ],
        blocking_rules=[block_on("soc_sec_id"), block_on("given_name"), block_on("surname"),
                        block_on("date_of_birth"), block_on("postcode")],
        deterministic_rules=[
            block_on("soc_sec_id"),
            block_on("given_name", "surname", "date_of_birth"),
            "l.given_name = r.surname and l.surname = r.given_name and l.date_of_birth = r.date_of_birth",
        ],
        recall=0.9,
        u_max_pairs=1e6,
        em_rules=[block_on("date_of_birth"), block_on("postcode")],
    )


def febrl4_recipe() -> Recipe:
    """Splink's febrl4 example, its "detailed" model, linking 4a to 4b."""
    return Recipe(
        columns=_febrl_columns(),
        comparisons=[
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison("date_of_birth", input_is_string=True, datetime_format="%Y%m%d",
                                     invalid_dates_as_null=True),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(term_frequency_adjustments=True),
        ],
        blocking_rules=[
            block_on("given_name", "surname"),
            "l.given_name = r.surname and l.surname = r.given_name",
            block_on("date_of_birth"),
            block_on("soc_sec_id"),
            block_on("state", "address_1"),
            block_on("street_number", "address_1"),
            block_on("postcode"),
        ],
        deterministic_rules=[block_on("soc_sec_id"), block_on("given_name", "surname", "date_of_birth")],
        recall=0.8,
        u_max_pairs=1e6,
        em_rules=[block_on("date_of_birth"), block_on("postcode")],
        em_without_tf=True,
    )


def historical_recipe() -> Recipe:
    """Splink's deduplicate_50k_synthetic example on historical_figures_with_errors_50k."""
    columns = {c: _col(c) for c in ("first_name", "surname", "dob", "birth_place", "postcode_fake", "occupation")}
    columns["first_name_surname_concat"] = lambda r: (
        f"{r['first_name']} {r['surname']}" if r.get("first_name") and r.get("surname") else None)
    return Recipe(
        columns=columns,
        comparisons=[
            cl.ForenameSurnameComparison("first_name", "surname",
                                         forename_surname_concat_col_name="first_name_surname_concat"),
            cl.DateOfBirthComparison("dob", input_is_string=True),
            cl.PostcodeComparison("postcode_fake"),
            cl.ExactMatch("birth_place").configure(term_frequency_adjustments=True),
            cl.ExactMatch("occupation").configure(term_frequency_adjustments=True),
        ],
        blocking_rules=[
            block_on("substr(first_name,1,3)", "substr(surname,1,4)"),
            block_on("surname", "dob"),
            block_on("first_name", "dob"),
            block_on("postcode_fake", "first_name"),
            block_on("postcode_fake", "surname"),
            block_on("dob", "birth_place"),
            block_on("substr(postcode_fake,1,3)", "dob"),
            block_on("substr(postcode_fake,1,3)", "first_name"),
            block_on("substr(postcode_fake,1,3)", "surname"),
            block_on("substr(first_name,1,2)", "substr(surname,1,2)", "substr(dob,1,4)"),
        ],
        deterministic_rules=[
            block_on("first_name", "surname", "dob"),
            block_on("substr(first_name,1,2)", "surname", "substr(postcode_fake,1,2)"),
            block_on("dob", "postcode_fake"),
        ],
        recall=0.6,
        u_max_pairs=1e7,
        em_rules=[block_on("first_name", "surname"), block_on("dob")],
        em_without_tf=True,
    )


def fold(value: Any) -> str | None:
    """Lower-case ASCII letters and digits only (accents, punctuation and spaces dropped).

    The cleaning a Splink user does before matching, and the folding of people_dev's
    exact-key baseline (its README: pairwise F1 0.751), so ``O'Brien`` is ``obrien`` and
    ``Sánchez-Ramos`` is ``sanchezramos``.
    """
    if not value:
        return None
    text = unicodedata.normalize("NFKD", str(value)).encode("ascii", "ignore").decode("ascii").lower()
    return "".join(ch for ch in text if ch.isalnum()) or None


def _digits(value: Any, keep: int) -> str | None:
    digits = "".join(ch for ch in str(value or "") if ch.isdigit())
    return digits[-keep:] if len(digits) >= min(keep, 7) else None


def people_dev_recipe() -> Recipe:
    """A person model in the style of Splink's examples, on people_dev's canonical records.

    Names, address and email folded to lower-case ASCII, the phone to its last 10 digits and the ZIP
    to 5; Jaro-Winkler name levels with term frequencies, date-of-birth levels, exact matches on
    sex, the identifiers and each contact field.
    """
    columns = {
        "first_name": lambda r: fold(r.get("first_name")),
        "last_name": lambda r: fold(r.get("last_name")),
        "birth_date": _col("birth_date"),
        "sex": lambda r: r.get("sex") if r.get("sex") in ("F", "M") else None,
        "ssn_last4": _col("ssn_last4"),
        "medicaid_id": lambda r: fold(r.get("medicaid_id")),
        "phone": lambda r: _digits(r.get("phone"), 10),
        "email": lambda r: (r.get("email") or "").strip().lower() or None,
        "address_line1": lambda r: fold(r.get("address_line1")),
        "postal_code": lambda r: (r.get("postal_code") or "")[:5] or None,
    }
    return Recipe(
        columns=columns,
        comparisons=[
            cl.NameComparison("first_name"),
            cl.NameComparison("last_name"),
            cl.DateOfBirthComparison("birth_date", input_is_string=True),
            cl.ExactMatch("sex"),
            cl.ExactMatch("ssn_last4"),
            cl.ExactMatch("medicaid_id"),
            cl.ExactMatch("phone").configure(term_frequency_adjustments=True),
            cl.ExactMatch("email"),
            cl.ExactMatch("address_line1").configure(term_frequency_adjustments=True),
            cl.ExactMatch("postal_code").configure(term_frequency_adjustments=True),
        ],
        blocking_rules=[
            block_on("first_name", "last_name"),
            block_on("last_name", "birth_date"),
            block_on("first_name", "birth_date"),
            block_on("phone"),
            block_on("medicaid_id"),
            block_on("email"),
            block_on("address_line1", "postal_code"),
            block_on("substr(first_name,1,2)", "substr(last_name,1,2)", "postal_code"),
        ],
        deterministic_rules=[
            block_on("first_name", "last_name", "birth_date"),
            block_on("medicaid_id"),
            block_on("ssn_last4", "birth_date"),
        ],
        recall=0.7,
        u_max_pairs=2e6,
        em_rules=[block_on("birth_date"), block_on("first_name", "last_name")],
    )


RECIPES = {"febrl3": febrl3_recipe, "febrl4": febrl4_recipe, "historical_50k": historical_recipe,
           "people_dev": people_dev_recipe}
