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
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler, Levenshtein

Rec = Mapping[str, object]
Predicate = Callable[[Rec, Rec], bool]

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


@dataclass(frozen=True)
class Level:
    """One comparison level: its label, Splink SQL and the equivalent Python test."""

    label: str
    sql: str
    test: Predicate
    is_null: bool = False
    tf_column: str | None = None
    #: A fixed m probability that EM leaves alone (see the conflict levels below).
    fixed_m: float | None = None


@dataclass(frozen=True)
class Comparison:
    """A named comparison: an ordered list of levels, the null level first."""

    name: str
    description: str
    levels: tuple[Level, ...] = field(default_factory=tuple)

    def level_of(self, l: Rec, r: Rec) -> int:
        """Index of the first level that holds for the pair (the last is a catch-all)."""
        for i, level in enumerate(self.levels):
            if level.test(l, r):
                return i
        return len(self.levels) - 1


# -- small Python helpers mirroring SQL NULL semantics -------------------------------


def _both(l: Rec, r: Rec, col: str) -> bool:
    return l.get(col) is not None and r.get(col) is not None


# These run a few hundred thousand times a second on the real-time path, so they
# are plain closures: no generator per call, one ``get`` per side.


def _either_missing(col: str) -> Predicate:
    return lambda l, r: l.get(col) is None or r.get(col) is None


def _eq(col: str) -> Predicate:
    # A present value never equals a missing one (None), so one test of ``a`` is enough.
    return lambda l, r: (a := l.get(col)) is not None and a == r.get(col)


def _jw_at_least(col: str, threshold: float) -> Predicate:
    def test(l: Rec, r: Rec) -> bool:
        a, b = l.get(col), r.get(col)
        return a is not None and b is not None and JaroWinkler.similarity(a, b) >= threshold
    return test


def _lev_at_most(col: str, distance: int) -> Predicate:
    def test(l: Rec, r: Rec) -> bool:
        a, b = l.get(col), r.get(col)
        return a is not None and b is not None and Levenshtein.distance(a, b) <= distance
    return test


def _dl_at_most(col: str, distance: int) -> Predicate:
    """Damerau-Levenshtein: two adjacent characters swapped (1243 for 1234) is one edit, as keyed."""
    return lambda l, r: _both(l, r, col) and DamerauLevenshtein.distance(l[col], r[col]) <= distance


def _any(*preds: Predicate) -> Predicate:
    if len(preds) == 2:
        p, q = preds
        return lambda l, r: bool(p(l, r) or q(l, r))

    def test(l: Rec, r: Rec) -> bool:
        for p in preds:
            if p(l, r):
                return True
        return False
    return test


def _all(*preds: Predicate) -> Predicate:
    if len(preds) == 2:
        p, q = preds
        return lambda l, r: bool(p(l, r) and q(l, r))

    def test(l: Rec, r: Rec) -> bool:
        for p in preds:
            if not p(l, r):
                return False
        return True
    return test


def _per_pair(pred: Predicate) -> Predicate:
    """A predicate several levels of one comparison ask: computed once per pair of records.

    The last pair and its answer are kept as one tuple (swapped in atomically,
    holding both records, so neither identity can be reused meanwhile).
    """
    last: tuple = (None, None, False)

    def test(l: Rec, r: Rec) -> bool:
        nonlocal last
        seen = last
        if seen[0] is l and seen[1] is r:
            return seen[2]
        answer = pred(l, r)
        last = (l, r, answer)
        return answer
    return test


def _not(pred: Predicate) -> Predicate:
    return lambda l, r: not pred(l, r)


def _always(l: Rec, r: Rec) -> bool:
    return True


# -- SQL fragments, one per predicate above ---------------------------------------------


def _sql_missing(col: str) -> str:
    return f'("{col}_l" IS NULL OR "{col}_r" IS NULL)'


def _sql_eq(col: str) -> str:
    return f'"{col}_l" = "{col}_r"'


def _sql_jw(col: str, threshold: float) -> str:
    return f'jaro_winkler_similarity("{col}_l", "{col}_r") >= {threshold}'


def _sql_lev(col: str, distance: int) -> str:
    return f'levenshtein("{col}_l", "{col}_r") <= {distance}'


def _sql_dl(col: str, distance: int) -> str:
    return f'damerau_levenshtein("{col}_l", "{col}_r") <= {distance}'


# -- conflict levels with a fixed m ------------------------------------------------------------
#
# EM estimates m from pairs that look alike, and in a household those are twins,
# fathers and sons. Left free, it learns that "same birth date, different first
# name" and "JR against SR" are evidence *for* a match. These levels therefore
# get m fixed from what they mean, which EM then leaves alone: the same person
# almost never shows them.

TWIN_M = 1e-8
"""m of "birth date exact, another first name, a surname alike": true pairs almost never (about -5 bits).

The level asks for the family's surname too, which random pairs share a few times in a thousand,
so its u is that much smaller than the birth date's alone, and so is m here."""
GENERATION_M = 1e-4
"""m of "first name similar, birth date differs": a parent and child, rarely one person (about -6 bits)."""
BOTH_DIFFER_M = 0.001
"""m of "first name and birth date both differ": a household member (a parent's email on a child's record), rarely one person (about -10 bits)."""
SUFFIX_CONFLICT_M = 1e-5
"""m of a JR/SR (or II/III) conflict: two generations (about -7 bits)."""


# -- birth date: exact, transposed, one digit off, year off, estimate ----------------------


def _dob_near(l: Rec, r: Rec) -> bool:
    a, b = l.get("birth_date"), r.get("birth_date")
    if a is None or b is None or a == b:
        return False
    same_year = a[:4] == b[:4]
    transposed = same_year and a[5:7] == b[8:10] and a[8:10] == b[5:7]
    one_digit = Levenshtein.distance(a, b) == 1
    year_off = a[5:] == b[5:] and abs(int(a[:4]) - int(b[:4])) <= 2
    estimate = same_year and (a[5:] == "01-01" or b[5:] == "01-01")
    return transposed or one_digit or year_off or estimate


_SQL_DOB_NEAR = (
    '("birth_date_l" <> "birth_date_r" AND ('
    '(substr("birth_date_l", 1, 4) = substr("birth_date_r", 1, 4)'
    ' AND substr("birth_date_l", 6, 2) = substr("birth_date_r", 9, 2)'
    ' AND substr("birth_date_l", 9, 2) = substr("birth_date_r", 6, 2))'
    ' OR levenshtein("birth_date_l", "birth_date_r") = 1'
    ' OR (substr("birth_date_l", 6, 5) = substr("birth_date_r", 6, 5)'
    ' AND abs(CAST(substr("birth_date_l", 1, 4) AS INTEGER) - CAST(substr("birth_date_r", 1, 4) AS INTEGER)) <= 2)'
    ' OR (substr("birth_date_l", 1, 4) = substr("birth_date_r", 1, 4)'
    " AND (substr(\"birth_date_l\", 6, 5) = '01-01' OR substr(\"birth_date_r\", 6, 5) = '01-01'))))"
)

# -- first name: exact, a short form, swapped with the surname, or similar -----------------


def _token(name: str) -> str:
    return name.split(" ", 1)[0]


def _alias(l: Rec, r: Rec) -> bool:
    """One first name stands for the other: a direct nickname, a short form, or part of a compound name.

    A direct nickname: either first token is among the other's roots (BOB and ROBERT, not
    ALEXA and ALEXIS, which only share a root). A short form: a 3-5 letter token that
    begins a token at least two letters longer (KIM/KIMBERLY, CHRIS/CHRISTOPHER; not
    DANIEL/DANIELA, a brother and sister as often as one person). Part of a compound given
    name: one name's words are some of the other's (MARIA / MARIA GUADALUPE).
    """
    if not _both(l, r, "first_name"):
        return False
    a, b = l["first_name"], r["first_name"]
    ta, tb = _token(a), _token(b)
    if ta in r["first_name_roots"].split(" ") or tb in l["first_name_roots"].split(" "):
        return True
    short, long_ = (ta, tb) if len(ta) <= len(tb) else (tb, ta)
    if 3 <= len(short) <= 5 and len(long_) >= len(short) + 2 and long_.startswith(short):
        return True
    wa, wb = set(a.split(" ")), set(b.split(" "))
    return wa != wb and (wa <= wb or wb <= wa)


def _sql_alias() -> str:
    ta, tb = "split_part(\"first_name_l\", ' ', 1)", "split_part(\"first_name_r\", ' ', 1)"

    def short_form(s: str, g: str) -> str:
        return f"(length({s}) BETWEEN 3 AND 5 AND length({g}) >= length({s}) + 2 AND starts_with({g}, {s}))"

    wa, wb = "string_split(\"first_name_l\", ' ')", "string_split(\"first_name_r\", ' ')"
    return (
        f"(list_contains(string_split(\"first_name_roots_r\", ' '), {ta})"
        f" OR list_contains(string_split(\"first_name_roots_l\", ' '), {tb})"
        f" OR (length({ta}) <= length({tb}) AND {short_form(ta, tb)})"
        f" OR (length({tb}) < length({ta}) AND {short_form(tb, ta)})"
        f" OR (\"first_name_l\" <> \"first_name_r\" AND (list_has_all({wb}, {wa}) OR list_has_all({wa}, {wb}))))"
    )


def _swapped(l: Rec, r: Rec) -> bool:
    """Given and family names arrived in each other's places (NGUYEN HUONG / HUONG NGUYEN)."""
    return (_both(l, r, "first_name") and _both(l, r, "last_name")
            and l["first_name"] == r["last_name"] and l["last_name"] == r["first_name"]
            and l["first_name"] != l["last_name"])


_SQL_SWAPPED = ('("first_name_l" = "last_name_r" AND "last_name_l" = "first_name_r"'
                ' AND "first_name_l" <> "last_name_l")')

#: How alike each name must be to the other record's other name for a swap spelt differently.
SWAP_SIMILARITY = 0.88


def _swapped_near(l: Rec, r: Rec) -> bool:
    """Names swapped, and spelt a little differently too (PHAM ERIC / ERICK PHA, LEE JI HOON / JIHOON LEE).

    Each name is close to the other record's other name, and the names fit better crosswise
    than straight (JAMES JAMESON against itself is not a swap).
    """
    if not (_both(l, r, "first_name") and _both(l, r, "last_name")) or l["first_name"] == l["last_name"]:
        return False
    cross = (JaroWinkler.similarity(l["first_name"], r["last_name"]),
             JaroWinkler.similarity(l["last_name"], r["first_name"]))
    straight = (JaroWinkler.similarity(l["first_name"], r["first_name"]),
                JaroWinkler.similarity(l["last_name"], r["last_name"]))
    return min(cross) >= SWAP_SIMILARITY and cross[0] + cross[1] > straight[0] + straight[1]


def _sql_swapped_near() -> str:
    def jw(a: str, b: str) -> str:
        return f'jaro_winkler_similarity("{a}", "{b}")'

    cross = (jw("first_name_l", "last_name_r"), jw("last_name_l", "first_name_r"))
    straight = (jw("first_name_l", "first_name_r"), jw("last_name_l", "last_name_r"))
    return (f'("first_name_l" <> "last_name_l" AND {cross[0]} >= {SWAP_SIMILARITY} AND {cross[1]} >= {SWAP_SIMILARITY}'
            f" AND {cross[0]} + {cross[1]} > {straight[0]} + {straight[1]})")


_SQL_SWAPPED_NEAR = _sql_swapped_near()

_first_exact = _eq("first_name")
_first_similar = _per_pair(_any(
    _first_exact, _eq("first_name_canonical"), _eq("first_name_phonetic"), _jw_at_least("first_name", 0.88), _alias,
))
_first_missing = _either_missing("first_name")
# Names swapped are judged by ``last_name`` (its "given and family names swapped" level, which is
# the agreement of both names): counted here as well, the same coincidence would count twice.
_first_unknown = _per_pair(_any(_first_missing, _swapped_near))
_dob_exact = _eq("birth_date")
_dob_missing = _either_missing("birth_date")
_SQL_ALIAS = _sql_alias()

_SQL_FIRST_SIMILAR = (
    f"({_sql_eq('first_name')} OR {_sql_eq('first_name_canonical')} OR {_sql_eq('first_name_phonetic')}"
    f" OR {_sql_jw('first_name', 0.88)} OR {_SQL_ALIAS})"
)
_SQL_FIRST_UNKNOWN = f"({_sql_missing('first_name')} OR {_SQL_SWAPPED_NEAR})"

# A twin shares the surname: only within a family does "same birth date, another first name"
# mean a second child rather than a mangled or one-name record. Alike: exact, a shared part (a
# compound surname cut) or similar. (Not by sound: an EM rule blocks on the phonetic key, and a
# comparison reading it could not be estimated there.)
_surname_alike = _any(
    _eq("last_name"), _jw_at_least("last_name", 0.88),
    lambda l, r: _both(l, r, "last_name") and not set(l["last_name"].split(" ")).isdisjoint(r["last_name"].split(" ")),
)
_SQL_SURNAME_ALIKE = (
    f"({_sql_eq('last_name')} OR {_sql_jw('last_name', 0.88)}"
    " OR list_has_any(string_split(\"last_name_l\", ' '), string_split(\"last_name_r\", ' ')))"
)
_household = _per_pair(_all(_surname_alike, _any(_eq("address_key"), _eq("phone"), _eq("phone_last7"))))
_SQL_HOUSEHOLD = (f"({_SQL_SURNAME_ALIKE} AND ({_sql_eq('address_key')} OR {_sql_eq('phone')}"
                  f" OR {_sql_eq('phone_last7')}))")
_SQL_NOT_HOUSEHOLD = f"NOT COALESCE({_SQL_HOUSEHOLD}, FALSE)"

NAME_DOB = Comparison(
    "name_dob",
    "First name and birth date judged together: a shared birth date with a different first name is a twin.",
    (
        Level(
            "first name (missing or swapped) and birth date missing",
            f"{_SQL_FIRST_UNKNOWN} AND {_sql_missing('birth_date')}",
            _all(_first_unknown, _dob_missing),
            is_null=True,
        ),
        # Not weighted by how common the first name is: people with one name and birth date but
        # nothing else in common (moved, or two people) are told apart by other evidence, not by
        # trusting a rare name more.
        Level("first name and birth date exact", f"{_sql_eq('first_name')} AND {_sql_eq('birth_date')}",
              _all(_first_exact, _dob_exact)),
        Level("first name nickname or short form, birth date exact", f"{_SQL_ALIAS} AND {_sql_eq('birth_date')}",
              _all(_alias, _dob_exact)),
        # Before the twin levels: a placeholder or a swap says nothing of the first name.
        # BABY BOY B is one of twins: its birth date and household are its twin's too.
        Level("a multiple-birth placeholder, birth date exact or near",
              f"(\"multiple_birth_l\" = 'Y' OR \"multiple_birth_r\" = 'Y') AND ({_sql_eq('birth_date')} OR {_SQL_DOB_NEAR})",
              _all(lambda l, r: l.get("multiple_birth") == "Y" or r.get("multiple_birth") == "Y",
                   _any(_dob_exact, _dob_near))),
        Level("first name missing or swapped, birth date exact or near",
              f"{_SQL_FIRST_UNKNOWN} AND ({_sql_eq('birth_date')} OR {_SQL_DOB_NEAR})",
              _all(_first_unknown, _any(_dob_exact, _dob_near))),
        Level("birth date exact, another established first name",
              f"{_sql_eq('birth_date')} AND {_sql_eq('first_name_established')} AND {_SQL_HOUSEHOLD}",
              _all(_dob_exact, _eq("first_name_established"), _household), fixed_m=TWIN_M),
        # Left: a spelling variant with at least one rare spelling on the same birth date, a typo.
        Level("first name spelling variant, birth date exact", f"{_SQL_FIRST_SIMILAR} AND {_sql_eq('birth_date')}",
              _all(_first_similar, _dob_exact)),
        Level("first name exact, birth date near", f"{_sql_eq('first_name')} AND {_SQL_DOB_NEAR}",
              _all(_first_exact, _dob_near)),
        # Both a little off and the rest shared is a sibling (AIDEN and AIDAN a year apart) as often as a typo.
        Level("first name similar, birth date near", f"{_SQL_FIRST_SIMILAR} AND {_SQL_DOB_NEAR}",
              _all(_first_similar, _dob_near)),
        # Weighted by how common the first name is: with no birth date, a rare first name is most of the evidence.
        Level("first name exact, birth date missing", f"{_sql_eq('first_name')} AND {_sql_missing('birth_date')}",
              _all(_first_exact, _dob_missing), tf_column="first_name_alone"),
        Level("first name similar, birth date missing", f"{_SQL_FIRST_SIMILAR} AND {_sql_missing('birth_date')}",
              _all(_first_similar, _dob_missing)),
        # One of the two missing and the other differing, outside a household, is evidence against
        # learned like any level. Within one it is another member (a newborn's sibling, a parent
        # without a birth date): those pairs are left to "both differ", whose m is fixed.
        Level("first name missing or swapped, birth date differs",
              f"{_SQL_FIRST_UNKNOWN} AND {_SQL_NOT_HOUSEHOLD}", _all(_first_unknown, _not(_household))),
        Level("first name differs, birth date missing",
              f"{_sql_missing('birth_date')} AND {_SQL_NOT_HOUSEHOLD}", _all(_dob_missing, _not(_household))),
        Level("birth date exact, first name differs", f"{_sql_eq('birth_date')} AND {_SQL_HOUSEHOLD}",
              _all(_dob_exact, _household), fixed_m=TWIN_M),
        # Not a twin: outside a family a shared birth date with other names is learned like any level.
        Level("birth date exact, first name and surname differ", _sql_eq("birth_date"), _dob_exact),
        Level("first name similar, birth date differs", _SQL_FIRST_SIMILAR, _first_similar, fixed_m=GENERATION_M),
        Level("both differ", "ELSE", _always, fixed_m=BOTH_DIFFER_M),
    ),
)

def _surname_part(l: Rec, r: Rec) -> bool:
    """The surnames share a word: a compound or hyphenated surname cut to one of its parts."""
    return _both(l, r, "last_name") and not set(l["last_name"].split(" ")).isdisjoint(r["last_name"].split(" "))


def _maiden_in_middle(l: Rec, r: Rec) -> bool:
    """One record's surname is the other's middle name: a maiden name kept as a middle name."""
    return (_both(l, r, "last_name") and ((r.get("middle_name") is not None and l["last_name"] == r["middle_name"])
                                          or (l.get("middle_name") is not None and r["last_name"] == l["middle_name"])))


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
              lambda l, r: not any(_both(l, r, c) for c in _CONTACT_COLS), is_null=True),
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
