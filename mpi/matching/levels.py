"""Building blocks of the comparisons: a level's SQL and its Python twin, side by side.

A :class:`Level` carries both its Splink SQL condition (for training and batch
prediction) and a Python predicate over two normalised records (for the
real-time scorer). The helpers here build the two from one description (a
column equal, Jaro-Winkler at least, a few edits), mirroring SQL NULL semantics
in Python, so the two engines cannot drift apart unnoticed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler, Levenshtein

from mpi.matching.compiled import LevelOf, compile_levels

Rec = Mapping[str, object]
Predicate = Callable[[Rec, Rec], bool]


@dataclass(frozen=True)
class Level:
    """One comparison level: its label, Splink SQL and the equivalent Python test."""

    label: str
    sql: str
    test: Predicate
    is_null: bool = False
    tf_column: str | None = None
    #: A fixed m probability that EM leaves alone (the conflict levels: twins, generations).
    fixed_m: float | None = None
    #: The values of its comparison's ``dispatch`` under which the test can hold (None: any).
    only_when: frozenset[str] | None = None


@dataclass(frozen=True)
class Comparison:
    """A named comparison: an ordered list of levels, the null level first."""

    name: str
    description: str
    levels: tuple[Level, ...] = field(default_factory=tuple)
    #: A cheap function of the pair that rules levels out by their ``only_when``, so that
    #: only the levels that can hold are tested (the answer is the same, in fewer tests).
    dispatch: Callable[[Rec, Rec], str] | None = None

    @cached_property
    def level_of(self) -> LevelOf:
        """``level_of(l, r)``: index of the first level that holds for the pair (the last is a catch-all),
        compiled into one function (:mod:`mpi.matching.compiled`); it answers as :meth:`interpreted_level_of`."""
        return compile_levels(self)

    def interpreted_level_of(self, l: Rec, r: Rec) -> int:
        """Index of the first level that holds for the pair, each level's test called in turn."""
        if self.dispatch is not None:
            plans, rest = self._plans
            for i, level in plans.get(self.dispatch(l, r), rest):
                if level.test(l, r):
                    return i
            return len(self.levels) - 1
        for i, level in enumerate(self.levels):
            if level.test(l, r):
                return i
        return len(self.levels) - 1

    @cached_property
    def _plans(self) -> tuple[dict[str, tuple[tuple[int, Level], ...]], tuple[tuple[int, Level], ...]]:
        """Per dispatch value, the levels (with their index) that can hold; and those for any other value."""
        values = {v for level in self.levels if level.only_when for v in level.only_when}
        indexed = list(enumerate(self.levels))
        plans = {v: tuple((i, lv) for i, lv in indexed if lv.only_when is None or v in lv.only_when) for v in values}
        return plans, tuple((i, lv) for i, lv in indexed if lv.only_when is None)


# -- small Python helpers mirroring SQL NULL semantics -------------------------------


def _both(l: Rec, r: Rec, col: str) -> bool:
    return l.get(col) is not None and r.get(col) is not None


# These run a few hundred thousand times a second on the real-time path, so they
# are plain closures: no generator per call, one ``get`` per side. Each also carries
# its test as Python source (``_source``), which ``mpi.matching.compiled`` writes
# inline into one function per comparison.


def _source(test: Predicate, expr: str, *parts: Predicate, once: bool = False, **binds: Any) -> Predicate:
    """Note a test's source: ``expr`` over ``l`` and ``r``, ``{0}``, ``{1}``... standing for the ``parts``' own,
    ``binds`` the names it calls; ``once``: asked by several levels, computed once a pair."""
    test.expr, test.parts, test.binds, test.once = expr, parts, binds, once
    return test


def _either_missing(col: str) -> Predicate:
    return _source(lambda l, r: l.get(col) is None or r.get(col) is None,
                   f"(l.get({col!r}) is None or r.get({col!r}) is None)")


def _eq(col: str) -> Predicate:
    # A present value never equals a missing one (None), so one test of ``a`` is enough.
    return _source(lambda l, r: (a := l.get(col)) is not None and a == r.get(col),
                   f"((_v := l.get({col!r})) is not None and _v == r.get({col!r}))")


def _pair_source(col: str, call: str, bound: str) -> str:
    return f"((_a := l.get({col!r})) is not None and (_b := r.get({col!r})) is not None and {call}(_a, _b) {bound})"


def _jw_at_least(col: str, threshold: float) -> Predicate:
    def test(l: Rec, r: Rec) -> bool:
        a, b = l.get(col), r.get(col)
        return a is not None and b is not None and JaroWinkler.similarity(a, b) >= threshold
    return _source(test, _pair_source(col, "_JW", f">= {threshold!r}"), _JW=JaroWinkler.similarity)


def _lev_at_most(col: str, distance: int) -> Predicate:
    def test(l: Rec, r: Rec) -> bool:
        a, b = l.get(col), r.get(col)
        return a is not None and b is not None and Levenshtein.distance(a, b) <= distance
    return _source(test, _pair_source(col, "_LEV", f"<= {distance!r}"), _LEV=Levenshtein.distance)


def _dl_at_most(col: str, distance: int) -> Predicate:
    """Damerau-Levenshtein: two adjacent characters swapped (1243 for 1234) is one edit, as keyed."""
    return _source(lambda l, r: _both(l, r, col) and DamerauLevenshtein.distance(l[col], r[col]) <= distance,
                   _pair_source(col, "_DL", f"<= {distance!r}"), _DL=DamerauLevenshtein.distance)


def _any(*preds: Predicate) -> Predicate:
    source = "(" + " or ".join(f"{{{i}}}" for i in range(len(preds))) + ")"
    if len(preds) == 2:
        p, q = preds
        return _source(lambda l, r: bool(p(l, r) or q(l, r)), source, *preds)

    def test(l: Rec, r: Rec) -> bool:
        for p in preds:
            if p(l, r):
                return True
        return False
    return _source(test, source, *preds)


def _all(*preds: Predicate) -> Predicate:
    source = "(" + " and ".join(f"{{{i}}}" for i in range(len(preds))) + ")"
    if len(preds) == 2:
        p, q = preds
        return _source(lambda l, r: bool(p(l, r) and q(l, r)), source, *preds)

    def test(l: Rec, r: Rec) -> bool:
        for p in preds:
            if not p(l, r):
                return False
        return True
    return _source(test, source, *preds)


def _last_pair(pred: Predicate) -> Predicate:
    """A predicate asked of the same pair more than once (by several levels, or by two comparisons: names swapped
    and spelt differently, ``name_dob``'s and ``last_name``'s): computed once, the last pair and its answer kept as
    one tuple (swapped in atomically, holding both records, so neither identity can be reused meanwhile)."""
    last: tuple = (None, None, False)

    def test(l: Rec, r: Rec) -> bool:
        nonlocal last
        seen = last
        if seen[0] is l and seen[1] is r:
            return seen[2]
        answer = pred(l, r)
        last = (l, r, answer)
        return answer
    test.__doc__ = pred.__doc__
    return test


def _per_pair(pred: Predicate) -> Predicate:
    """A predicate several levels of one comparison ask: computed once per pair of records (:func:`_last_pair`);
    written inline, it is a local of the compiled function's call."""
    return _source(_last_pair(pred), "{0}", pred, once=True)


def _not(pred: Predicate) -> Predicate:
    return _source(lambda l, r: not pred(l, r), "(not {0})", pred)


def _always(l: Rec, r: Rec) -> bool:
    return True


_source(_always, "True")


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
