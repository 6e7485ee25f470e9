"""The model's DuckDB SQL said in Spark SQL, with the same answer for every pair.

A model file's comparison levels and blocking rules are SQL in DuckDB's dialect
(:mod:`mpi.matching.levels`, ``sql_dialect: duckdb`` in Splink's JSON), and
Splink runs whatever SQL it is given on the backend it is handed: it does not
translate a level's condition. :func:`spark_settings` does, with sqlglot (which
Splink itself uses), and fixes what a plain transpile gets wrong:

- ``jaro_winkler_similarity``: Spark has none, and the one in Splink's jar
  (``jaro_winkler``) scores differently (DIANE / DANIEL: 0.86 there, 0.89 in
  DuckDB, on either side of a 0.88 level). It becomes :func:`jaro_winkler_sql`,
  DuckDB's algorithm in Spark's own higher-order functions: no Python on the
  executors, and the same double to the last bit (the Winkler step is one fused
  multiply-add in DuckDB, so ``java.lang.Math.fma`` here).
- ``list_has_any`` and ``list_has_all``: ``arrays_overlap`` and an ``array_except``
  test, NULL when either list is NULL, as in DuckDB.
- ``damerau_levenshtein``: the function Splink's jar registers (the same
  distance on our data), but NULL for a NULL side, where the jar says 100.
- double-quoted identifiers become back-quoted ones (in Spark, ``"x"`` is a string).

Pure functions: nothing here runs SQL or imports Splink.
"""

from __future__ import annotations

import copy
from typing import Any

import sqlglot
from sqlglot import exp

#: Splink's JSON blocking rule or level condition that is not an expression.
_ELSE = "ELSE"


def _let(value: str, name: str, body: str) -> str:
    """``body`` with ``name`` bound to ``value``, computed once (Spark SQL has no LET)."""
    return f"element_at(transform(array({value}), {name} -> {body}), 1)"


def _double(literal: str) -> str:
    return f"CAST({literal} AS DOUBLE)"


def _fma(a: str, b: str, c: str) -> str:
    """``a * b + c`` rounded once, as a fused multiply-add: Dekker's exact product and Knuth's exact sum.

    ``a``, ``b``, ``c`` must be cheap (each is read several times). Exact but for a double rounding once in
    about 2**50 cases; the parity test compares the function with DuckDB's bit for bit.
    """
    def high(x: str) -> str:  # Veltkamp's split of a 53-bit double (2**27 + 1)
        return f"({_double('134217729')} * {x} - ({_double('134217729')} * {x} - {x}))"
    parts = f"named_struct('p', {a} * {b}, 'ah', {high(a)}, 'bh', {high(b)}, 't', {c} + {a} * {b})"
    error = f"(((v.ah * v.bh - v.p) + v.ah * ({b} - v.bh)) + ({a} - v.ah) * v.bh) + ({a} - v.ah) * ({b} - v.bh)"
    rounding = f"(v.p - (v.t - (v.t - v.p))) + ({c} - (v.t - v.p))"
    return _let(parts, "v", f"v.t + (({rounding}) + ({error}))")


def jaro_winkler_sql(a: str, b: str) -> str:
    """Spark SQL for DuckDB's ``jaro_winkler_similarity(a, b)`` (``a``, ``b``: Spark SQL expressions).

    Jaro: each character of ``a`` in turn takes the first unmatched equal
    character of ``b`` within ``max(len) / 2 - 1`` places; half the matched
    characters out of order (integer division) are transpositions. Winkler: a
    score above 0.7 gains 0.1 of the rest per character of common prefix (at
    most 4), in one fused multiply-add as DuckDB's compiled code does it. NULL
    if either side is NULL, 0 if either is empty: DuckDB's answers. Spark's
    own higher-order functions only (no UDF): nothing to install on executors.
    """
    l1, l2 = f"length({a})", f"length({b})"
    window = f"greatest(CAST(floor(greatest({l1}, {l2}) / 2) AS INT) - 1, 0)"
    lo, hi = f"greatest(1, i - {window})", f"least({l2}, i + {window})"
    # The first unmatched equal character of b in the window, or 0 (a descending sequence is empty here).
    found = (f"element_at(concat(filter(sequence({lo}, {hi}), k -> k >= {lo} AND k <= {hi}"
             f" AND substr(acc.used, k, 1) = '0' AND substr({b}, k, 1) = substr({a}, i, 1)), array(0)), 1)")
    step = _let(found, "j", "CASE WHEN j = 0 THEN acc ELSE named_struct("
                f"'used', overlay(acc.used PLACING '1' FROM j FOR 1), "
                f"'matched', concat(acc.matched, substr({a}, i, 1))) END")
    start = f"named_struct('used', repeat('0', {l2}), 'matched', '')"
    matched_b = f"concat_ws('', transform(filter(sequence(1, {l2}), q -> substr(acc.used, q, 1) = '1'), " \
                f"q -> substr({b}, q, 1)))"
    half_t = "size(filter(sequence(1, u.m), x -> substr(acc.matched, x, 1) <> substr(u.mb, x, 1))) div 2"
    jaro = f"((u.m / {l1} + u.m / {l2}) + (u.m - {half_t}) / u.m) / {_double('3')}"
    most = f"least(4, {l1}, {l2})"
    same = f"transform(sequence(1, {most}), y -> substr({a}, y, 1) = substr({b}, y, 1))"
    prefix = f"CASE WHEN array_position({same}, false) = 0 THEN {most} ELSE array_position({same}, false) - 1 END"
    boosted = _fma("z.w", f"({_double('1')} - z.s)", "z.s")
    winkler = _let(f"named_struct('s', {jaro}, 'w', CAST({prefix} AS DOUBLE) * {_double('0.1')})", "z",
                   f"CASE WHEN z.s > {_double('0.7')} THEN {boosted} ELSE z.s END")
    finish = _let(f"named_struct('m', length(acc.matched), 'mb', {matched_b})", "u",
                  f"CASE WHEN u.m = 0 THEN {_double('0')} ELSE {winkler} END")
    # Over the positions of a (none when it is empty; NULL when it is NULL).
    return f"aggregate(filter(sequence(0, {l1}), i -> i > 0), {start}, (acc, i) -> {step}, acc -> {finish})"


def _spark(node: exp.Expression) -> str:
    return node.sql(dialect="spark")


def _parse(sql: str) -> exp.Expression:
    return sqlglot.parse_one(sql, read="spark")


def _null_if_either(a: exp.Expression, b: exp.Expression, then: str) -> exp.Expression:
    return _parse(f"(CASE WHEN {_spark(a)} IS NULL OR {_spark(b)} IS NULL THEN NULL ELSE {then} END)")


def _rewrite(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.JarowinklerSimilarity):
        return _parse(jaro_winkler_sql(_spark(node.this), _spark(node.expression)))
    if isinstance(node, exp.ArrayOverlaps):
        return exp.Anonymous(this="arrays_overlap", expressions=[node.this, node.expression])
    if isinstance(node, exp.Anonymous):
        name, args = node.name.lower(), node.expressions
        if name == "list_has_all" and len(args) == 2:
            return _null_if_either(*args, f"size(array_except({_spark(args[1])}, {_spark(args[0])})) = 0")
        if name == "damerau_levenshtein" and len(args) == 2:
            return _null_if_either(*args, f"damerau_levenshtein({_spark(args[0])}, {_spark(args[1])})")
    return node


def to_spark(sql: str) -> str:
    """One DuckDB condition (a level's ``sql_condition`` or a blocking rule) in Spark SQL."""
    if sql.strip().upper() == _ELSE:
        return sql
    return _spark(sqlglot.parse_one(sql, read="duckdb").transform(_rewrite))


def _rule(rule: str | dict[str, Any]) -> dict[str, Any]:
    spec = {"blocking_rule": rule} if isinstance(rule, str) else dict(rule)
    if spec.get("sql_dialect", "duckdb") != "spark":
        spec["blocking_rule"] = to_spark(spec["blocking_rule"])
    spec["sql_dialect"] = "spark"
    return spec


def spark_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Splink settings (a model's JSON) with every level condition and blocking rule in Spark SQL.

    Rules already marked ``sql_dialect: spark`` are kept as written; the rest are DuckDB's.
    """
    out = copy.deepcopy(settings)
    if out.get("sql_dialect", "duckdb") != "spark":
        for comparison in out["comparisons"]:
            for level in comparison["comparison_levels"]:
                level["sql_condition"] = to_spark(level["sql_condition"])
    out["blocking_rules_to_generate_predictions"] = [_rule(r) for r in
                                                     out.get("blocking_rules_to_generate_predictions", [])]
    out["sql_dialect"] = "spark"
    return out
