"""First name and birth date judged together (``name_dob``), and the name helpers it shares.

"Same birth date, different first name" is the twin signal only within a family
(a surname alike and an address or phone shared); a missing first name and names
swapped are one case, "first name unknown", so that a swap is counted once (by
``last_name``). Re-exported by :mod:`mpi.matching.comparisons`.
"""

from __future__ import annotations

from rapidfuzz.distance import JaroWinkler, Levenshtein

from mpi.matching.levels import (
    Comparison,
    Level,
    Rec,
    _all,
    _always,
    _any,
    _both,
    _either_missing,
    _eq,
    _jw_at_least,
    _last_pair,
    _not,
    _per_pair,
    _source,
    _sql_eq,
    _sql_jw,
    _sql_missing,
)

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


# -- birth date: exact, transposed, one digit off, year off, estimate ----------------------


def _dob_near(l: Rec, r: Rec) -> bool:
    a, b = l.get("birth_date"), r.get("birth_date")
    if a is None or b is None or a == b:
        return False
    same_year = a[:4] == b[:4]
    if not same_year and a[4:] != b[4:] and len(a) == len(b) == 10:
        # Year and month-day both differ: two characters at least, so not one digit off, and no other test
        # can hold (most pairs of strangers: the edit distance and the years as numbers are not needed).
        return False
    transposed = same_year and a[5:7] == b[8:10] and a[8:10] == b[5:7]
    one_digit = Levenshtein.distance(a, b) == 1
    year_off = a[5:] == b[5:] and abs(int(a[:4]) - int(b[:4])) <= 2
    estimate = same_year and (a[5:] == "01-01" or b[5:] == "01-01")
    return transposed or one_digit or year_off or estimate


def _dob_relation(l: Rec, r: Rec) -> str:
    """How the two birth dates relate: missing (either), exact, near (``_dob_near``) or differs.

    ``NAME_DOB`` dispatches on it: most of its levels hold under one relation only.
    """
    a, b = l.get("birth_date"), r.get("birth_date")
    if a is None or b is None:
        return "missing"
    if a == b:
        return "exact"
    return "near" if _dob_near(l, r) else "differs"


_MISSING, _EXACT, _NEAR = frozenset({"missing"}), frozenset({"exact"}), frozenset({"near"})
_EXACT_OR_NEAR = _EXACT | _NEAR

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


# (Both of ``l``'s names present and equal to ``r``'s crosswise are ``r``'s present too.)
_source(_swapped, "((_a := l.get('first_name')) is not None and (_b := l.get('last_name')) is not None"
                  " and _a == r.get('last_name') and _b == r.get('first_name') and _a != _b)")


def _surname_part(l: Rec, r: Rec) -> bool:
    """The surnames share a word: a compound or hyphenated surname cut to one of its parts."""
    return _both(l, r, "last_name") and not set(l["last_name"].split(" ")).isdisjoint(r["last_name"].split(" "))


_source(_surname_part, "((_a := l.get('last_name')) is not None and (_b := r.get('last_name')) is not None"
                       " and not set(_a.split(' ')).isdisjoint(_b.split(' ')))")


_SQL_SWAPPED = ('("first_name_l" = "last_name_r" AND "last_name_l" = "first_name_r"'
                ' AND "first_name_l" <> "last_name_l")')

#: How alike each name must be to the other record's other name for a swap spelt differently.
SWAP_SIMILARITY = 0.88


def _swapped_near_test(l: Rec, r: Rec) -> bool:
    """Names swapped, and spelt a little differently too (PHAM ERIC / ERICK PHA, LEE JI HOON / JIHOON LEE).

    Each name is close to the other record's other name, and the names fit better crosswise
    than straight (JAMES JAMESON against itself is not a swap).
    """
    if not (_both(l, r, "first_name") and _both(l, r, "last_name")) or l["first_name"] == l["last_name"]:
        return False
    # One similarity at a time: most pairs fail the first, and this runs for every candidate.
    cross_first = JaroWinkler.similarity(l["first_name"], r["last_name"])
    if cross_first < SWAP_SIMILARITY:
        return False
    cross_last = JaroWinkler.similarity(l["last_name"], r["first_name"])
    if cross_last < SWAP_SIMILARITY:
        return False
    straight = JaroWinkler.similarity(l["first_name"], r["first_name"]) + JaroWinkler.similarity(
        l["last_name"], r["last_name"])
    return cross_first + cross_last > straight


#: Asked by ``name_dob`` (first name unknown) and ``last_name`` (a level of its own) of each pair: computed once.
_swapped_near = _last_pair(_swapped_near_test)


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
    _surname_part,
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
            _all(_dob_missing, _first_unknown),
            is_null=True,
            only_when=_MISSING,
        ),
        # Not weighted by how common the first name is: people with one name and birth date but
        # nothing else in common (moved, or two people) are told apart by other evidence, not by
        # trusting a rare name more.
        Level("first name and birth date exact", f"{_sql_eq('first_name')} AND {_sql_eq('birth_date')}",
              _all(_first_exact, _dob_exact), only_when=_EXACT),
        Level("first name nickname or short form, birth date exact", f"{_SQL_ALIAS} AND {_sql_eq('birth_date')}",
              _all(_dob_exact, _alias), only_when=_EXACT),
        # Before the twin levels: a placeholder or a swap says nothing of the first name.
        # BABY BOY B is one of twins: its birth date and household are its twin's too.
        Level("a multiple-birth placeholder, birth date exact or near",
              f"(\"multiple_birth_l\" = 'Y' OR \"multiple_birth_r\" = 'Y') AND ({_sql_eq('birth_date')} OR {_SQL_DOB_NEAR})",
              _all(_source(lambda l, r: l.get("multiple_birth") == "Y" or r.get("multiple_birth") == "Y",
                           "(l.get('multiple_birth') == 'Y' or r.get('multiple_birth') == 'Y')"),
                   _any(_dob_exact, _dob_near)), only_when=_EXACT_OR_NEAR),
        Level("first name missing or swapped, birth date exact or near",
              f"{_SQL_FIRST_UNKNOWN} AND ({_sql_eq('birth_date')} OR {_SQL_DOB_NEAR})",
              _all(_any(_dob_exact, _dob_near), _first_unknown), only_when=_EXACT_OR_NEAR),
        Level("birth date exact, another established first name",
              f"{_sql_eq('birth_date')} AND {_sql_eq('first_name_established')} AND {_SQL_HOUSEHOLD}",
              _all(_dob_exact, _eq("first_name_established"), _household), fixed_m=TWIN_M, only_when=_EXACT),
        # Left: a spelling variant with at least one rare spelling on the same birth date, a typo.
        Level("first name spelling variant, birth date exact", f"{_SQL_FIRST_SIMILAR} AND {_sql_eq('birth_date')}",
              _all(_dob_exact, _first_similar), only_when=_EXACT),
        Level("first name exact, birth date near", f"{_sql_eq('first_name')} AND {_SQL_DOB_NEAR}",
              _all(_first_exact, _dob_near), only_when=_NEAR),
        # Both a little off and the rest shared is a sibling (AIDEN and AIDAN a year apart) as often as a typo.
        Level("first name similar, birth date near", f"{_SQL_FIRST_SIMILAR} AND {_SQL_DOB_NEAR}",
              _all(_dob_near, _first_similar), only_when=_NEAR),
        # Weighted by how common the first name is: with no birth date, a rare first name is most of the evidence.
        Level("first name exact, birth date missing", f"{_sql_eq('first_name')} AND {_sql_missing('birth_date')}",
              _all(_first_exact, _dob_missing), tf_column="first_name_alone", only_when=_MISSING),
        Level("first name similar, birth date missing", f"{_SQL_FIRST_SIMILAR} AND {_sql_missing('birth_date')}",
              _all(_dob_missing, _first_similar), only_when=_MISSING),
        # One of the two missing and the other differing, outside a household, is evidence against
        # learned like any level. Within one it is another member (a newborn's sibling, a parent
        # without a birth date): those pairs are left to "both differ", whose m is fixed.
        Level("first name missing or swapped, birth date differs",
              f"{_SQL_FIRST_UNKNOWN} AND {_SQL_NOT_HOUSEHOLD}", _all(_first_unknown, _not(_household))),
        Level("first name differs, birth date missing",
              f"{_sql_missing('birth_date')} AND {_SQL_NOT_HOUSEHOLD}", _all(_dob_missing, _not(_household)),
              only_when=_MISSING),
        Level("birth date exact, first name differs", f"{_sql_eq('birth_date')} AND {_SQL_HOUSEHOLD}",
              _all(_dob_exact, _household), fixed_m=TWIN_M, only_when=_EXACT),
        # Not a twin: outside a family a shared birth date with other names is learned like any level.
        Level("birth date exact, first name and surname differ", _sql_eq("birth_date"), _dob_exact,
              only_when=_EXACT),
        Level("first name similar, birth date differs", _SQL_FIRST_SIMILAR, _first_similar, fixed_m=GENERATION_M),
        Level("both differ", "ELSE", _always, fixed_m=BOTH_DIFFER_M),
    ),
    dispatch=_dob_relation,
)
