"""The matching model's comparisons, defined once for two engines.

Every comparison level carries both its Splink SQL condition (for training and
batch prediction) and a Python predicate over two normalised records (for the
real-time scorer), side by side, so the two cannot drift apart unnoticed.
Levels are tried in order; the first that holds is the pair's level. The first
level of each comparison is its null level (no evidence either way).

The comparisons are shaped for households: Fellegi-Sunter treats comparisons as
independent, so counting surname, phone, address and ZIP separately would add
up a household's shared facts into a link between twins or a father and son.
Address, phone and ZIP are therefore one ``contact`` comparison, and first name
and birth date are judged jointly (``name_dob``), so that "same birth date,
different first name" (the twin signal) is a level of its own with its own
weight.

The levels' building blocks live in :mod:`mpi.matching.levels` and ``name_dob`` with its
name helpers in :mod:`mpi.matching.name_dob`; both are re-exported here.
"""

from __future__ import annotations

from collections.abc import Mapping

from mpi.matching.levels import (  # noqa: F401  (re-exported: the comparisons' public building blocks)
    Comparison,
    Level,
    Predicate,
    Rec,
    _all,
    _always,
    _any,
    _both,
    _dl_at_most,
    _either_missing,
    _eq,
    _jw_at_least,
    _lev_at_most,
    _sql_dl,
    _sql_eq,
    _sql_jw,
    _sql_lev,
    _source,
    _sql_missing,
)
from mpi.matching.name_dob import (  # noqa: F401  (re-exported)
    _SQL_SWAPPED,
    _SQL_SWAPPED_NEAR,
    BOTH_DIFFER_M,
    GENERATION_M,
    NAME_DOB,
    SWAP_SIMILARITY,
    TWIN_M,
    _surname_part,
    _swapped,
    _swapped_near,
)

#: Normalised fields the comparisons read; the training table has exactly these.
MODEL_COLUMNS = (
    "first_name",
    "first_name_canonical",
    "first_name_roots",
    "first_name_phonetic",
    "middle_name",
    "middle_initial",
    "multiple_birth",
    "last_name",
    "last_name_phonetic",
    "suffix",
    "birth_date",
    "sex",
    "ssn_last4",
    "medicaid_id",
    "phone",
    "phone_last7",
    "email",
    "address_key",
    "postal_code",
    "city",
)


#: A first name carried by at least this share of the training records is an
#: established spelling (KAYLA, KAYLEE), not a typo (KAYLAE): two different
#: established names on one birth date are twins, not one person misspelt.
ESTABLISHED_NAME_SHARE = 1.5e-4

#: Columns the model derives, for both engines: whether the first name is an
#: established spelling, and a copy of it for the level weighed by its frequency
#: (a separate column, so that another level may weigh first names differently:
#: Splink adjusts by one frequency lookup per column; see TF_LEVELS).
DERIVED_COLUMNS = ("first_name_established", "first_name_alone")
#: The normalised columns ``derive`` reads (the real-time scorer keys its memo on them; a test checks).
DERIVED_FROM = ("first_name",)

#: Derived tf columns and the column whose value frequencies they use.
TF_ALIASES = {"first_name_alone": "first_name"}


def derive(record: Mapping[str, object], tables: Mapping[str, Mapping[str, float]]) -> dict[str, object]:
    """The derived model columns of a normalised record, given the model's frequency tables."""
    first = record.get("first_name")
    share = tables.get("first_name", {}).get(first, 0.0) if first is not None else 0.0
    return {"first_name_established": "Y" if share >= ESTABLISHED_NAME_SHARE else None, "first_name_alone": first}


def tf_table(tables: Mapping[str, Mapping[str, float]], column: str) -> Mapping[str, float]:
    """The value frequencies a tf column is weighed by (a derived copy uses its source's)."""
    return tables.get(TF_ALIASES.get(column, column), {})


SUFFIX_CONFLICT_M = 1e-5
"""m of a JR/SR (or II/III) conflict: two generations (about -7 bits); fixed, as ``name_dob``'s conflicts are."""


def _maiden_in_middle(l: Rec, r: Rec) -> bool:
    """One record's surname is the other's middle name: a maiden name kept as a middle name."""
    return (_both(l, r, "last_name") and ((r.get("middle_name") is not None and l["last_name"] == r["middle_name"])
                                          or (l.get("middle_name") is not None and r["last_name"] == l["middle_name"])))


# (A present surname never equals a missing middle name.)
_source(_maiden_in_middle, "((_a := l.get('last_name')) is not None and (_b := r.get('last_name')) is not None"
                           " and (_a == r.get('middle_name') or _b == l.get('middle_name')))")


LAST_NAME = Comparison(
    "last_name",
    "Surname: exact (weighted by how common it is), swapped with the given name, a compound part, typo, "
    "sound-alike, maiden name kept as a middle name.",
    (
        Level("last name missing", _sql_missing("last_name"), _either_missing("last_name"), is_null=True),
        Level("exact", _sql_eq("last_name"), _eq("last_name"), tf_column="last_name"),
        Level("given and family names swapped", _SQL_SWAPPED, _swapped),
        Level("given and family names swapped, spelt differently", _SQL_SWAPPED_NEAR, _swapped_near),
        Level("a surname part agrees",
              "list_has_any(string_split(\"last_name_l\", ' '), string_split(\"last_name_r\", ' '))",
              _surname_part),
        Level("Jaro-Winkler >= 0.92", _sql_jw("last_name", 0.92), _jw_at_least("last_name", 0.92)),
        Level("sounds alike", _sql_eq("last_name_phonetic"), _eq("last_name_phonetic")),
        Level("maiden name kept as a middle name",
              '("last_name_l" = "middle_name_r" OR "last_name_r" = "middle_name_l")', _maiden_in_middle),
        Level("differs", "ELSE", _always),
    ),
)

MIDDLE_NAME = Comparison(
    "middle_name",
    "Middle name or initial: a conflict is evidence against (father and son often differ here).",
    (
        Level("middle name missing", _sql_missing("middle_initial"), _either_missing("middle_initial"), is_null=True),
        Level("exact", _sql_eq("middle_name"), _eq("middle_name")),
        # Only an initial against a name (J / JULIE) agrees by initial; JODI against JULIE conflicts.
        Level("initial agrees",
              f'{_sql_eq("middle_initial")} AND (length("middle_name_l") = 1 OR length("middle_name_r") = 1)',
              _all(_eq("middle_initial"), lambda l, r: len(l["middle_name"]) == 1 or len(r["middle_name"]) == 1)),
        Level("conflict", "ELSE", _always),
    ),
)

SUFFIX = Comparison(
    "suffix",
    "Generational suffix: JR against SR is strong evidence of two people.",
    (
        Level("suffix missing on both", '("suffix_l" IS NULL AND "suffix_r" IS NULL)',
              lambda l, r: l.get("suffix") is None and r.get("suffix") is None, is_null=True),
        Level("exact", _sql_eq("suffix"), _eq("suffix")),
        Level("on one side only", _sql_missing("suffix"), _either_missing("suffix")),
        Level("conflict", "ELSE", _always, fixed_m=SUFFIX_CONFLICT_M),
    ),
)

SEX = Comparison(
    "sex",
    "Administrative sex.",
    (
        Level("sex missing", _sql_missing("sex"), _either_missing("sex"), is_null=True),
        Level("agrees", _sql_eq("sex"), _eq("sex")),
        Level("differs", "ELSE", _always),
    ),
)

SSN_LAST4 = Comparison(
    "ssn_last4",
    "Last four digits of the SSN: strong when present; a one-digit typo or two digits swapped is near.",
    (
        Level("ssn_last4 missing", _sql_missing("ssn_last4"), _either_missing("ssn_last4"), is_null=True),
        Level("exact", _sql_eq("ssn_last4"), _eq("ssn_last4")),
        Level("one digit off or two swapped", _sql_dl("ssn_last4", 1), _dl_at_most("ssn_last4", 1)),
        Level("conflict", "ELSE", _always),
    ),
)

MEDICAID_ID = Comparison(
    "medicaid_id",
    "Medicaid or MCO member id: exact, or keyed with one slip (a character off, two swapped).",
    (
        Level("medicaid_id missing", _sql_missing("medicaid_id"), _either_missing("medicaid_id"), is_null=True),
        Level("exact", _sql_eq("medicaid_id"), _eq("medicaid_id")),
        Level("one character off or two swapped", _sql_dl("medicaid_id", 1), _dl_at_most("medicaid_id", 1)),
        Level("conflict", "ELSE", _always),
    ),
)

EMAIL = Comparison(
    "email",
    "Personal email (a child's may be a parent's).",
    (
        Level("email missing", _sql_missing("email"), _either_missing("email"), is_null=True),
        Level("exact", _sql_eq("email"), _eq("email")),
        Level("one or two typos", _sql_lev("email", 2), _lev_at_most("email", 2)),
        Level("differs", "ELSE", _always),
    ),
)

_CONTACT_COLS = ("address_key", "phone", "phone_last7", "postal_code", "city")
_postal_near = _dl_at_most("postal_code", 1)
_SQL_CONTACT_NULL = " AND ".join(f'NOT ("{c}_l" IS NOT NULL AND "{c}_r" IS NOT NULL)' for c in _CONTACT_COLS)
_phone_agrees = _any(_eq("phone"), _eq("phone_last7"))
_SQL_PHONE_AGREES = f"({_sql_eq('phone')} OR {_sql_eq('phone_last7')})"

CONTACT = Comparison(
    "contact",
    "Address, phone, ZIP and city as one piece of household evidence, not four.",
    (
        Level("no contact field on both sides", _SQL_CONTACT_NULL,
              _source(lambda l, r: not any(_both(l, r, c) for c in _CONTACT_COLS),
                      "not (" + " or ".join(f"(l.get({c!r}) is not None and r.get({c!r}) is not None)"
                                            for c in _CONTACT_COLS) + ")"), is_null=True),
        Level("address and phone agree", f"{_sql_eq('address_key')} AND {_SQL_PHONE_AGREES}",
              _all(_eq("address_key"), _phone_agrees)),
        Level("address agrees", _sql_eq("address_key"), _eq("address_key"), tf_column="address_key"),
        Level("phone agrees", _SQL_PHONE_AGREES, _phone_agrees),
        Level("ZIP agrees", _sql_eq("postal_code"), _eq("postal_code"), tf_column="postal_code"),
        # A keying slip, or the ZIP next door (neighbouring ZIPs share all but the last digits).
        Level("ZIP one character off", _sql_dl("postal_code", 1), _postal_near),
        # Weaker than a ZIP: the same town, weighed by its size (a metro's city is shared by millions).
        Level("city agrees", _sql_eq("city"), _eq("city"), tf_column="city"),
        Level("differs", "ELSE", _always),
    ),
)

COMPARISONS: tuple[Comparison, ...] = (
    NAME_DOB,
    LAST_NAME,
    MIDDLE_NAME,
    SUFFIX,
    SEX,
    SSN_LAST4,
    MEDICAID_ID,
    EMAIL,
    CONTACT,
)

#: Columns whose value frequencies adjust the weights of exact agreement.
TF_COLUMNS = tuple(sorted({lv.tf_column for c in COMPARISONS for lv in c.levels if lv.tf_column}))

#: The one level each tf column adjusts (its frequencies are scaled to that level's u).
TF_LEVELS = {lv.tf_column: (c.name, i) for c in COMPARISONS for i, lv in enumerate(c.levels) if lv.tf_column}
assert len(TF_LEVELS) == len(TF_COLUMNS), "a column adjusts at most one level"

#: Columns whose value frequencies the model keeps: the tf columns' sources and those ``derive`` reads.
FREQUENCY_COLUMNS = tuple(sorted({TF_ALIASES.get(c, c) for c in TF_COLUMNS} | {"first_name"}))
