"""Persons kept apart as SQL: pure builders over ``persons_apart`` that follow merge redirects, run by ``cases.py``.

A steward's ``not_duplicate`` on a ``POSSIBLE_DUPLICATE`` case is stored as the
two person ids decided on. Persons change after that: one of the two may be
merged into a third person (or the third into it). The pair is about the humans,
so it holds for whatever live person each id now stands for: each stored id is
followed along ``redirect_to`` to its live person, and the pair is read as the
two live persons. An unmerge restores the loser as a live person, so the pair
reads as it was decided again. A pair whose two ids now lead to one person (a
steward merged them after all) is no longer a pair and is left out.
"""

from __future__ import annotations

from typing import Any

from mpi.vocab import PersonStatus

#: How many redirects a walk follows at most (a chain of merges is a few long; this only stops a loop).
MAX_HOPS = 64

#: ``live``: each id (the stored pairs' and any bound with ``?`` in ``extra``) with the live person it leads to.
_LIVE = """WITH RECURSIVE ids(origin) AS (
    SELECT person_a FROM persons_apart UNION SELECT person_b FROM persons_apart{extra}
), walk(origin, here, hops) AS (
    SELECT origin, origin, 0 FROM ids
    UNION ALL
    SELECT w.origin, p.redirect_to, w.hops + 1 FROM walk w JOIN persons p ON p.person_id = w.here
    WHERE p.status = ? AND p.redirect_to IS NOT NULL AND w.hops < ?
), live AS (
    SELECT origin, arg_max(here, hops) AS live FROM walk GROUP BY origin
), pairs AS (
    SELECT least(la.live, lb.live) AS a, greatest(la.live, lb.live) AS b
    FROM persons_apart pa JOIN live la ON la.origin = pa.person_a JOIN live lb ON lb.origin = pa.person_b
    WHERE la.live <> lb.live
)"""


def ordered(person_a: str, person_b: str) -> tuple[str, str]:
    """The pair as stored: the smaller id first."""
    return (person_a, person_b) if person_a < person_b else (person_b, person_a)


def live_pairs_query() -> tuple[str, list[Any]]:
    """SQL and parameters of every pair kept apart, as (live a, live b) with a < b, each pair once."""
    return (_LIVE.format(extra="") + " SELECT DISTINCT a, b FROM pairs ORDER BY a, b",
            [PersonStatus.REDIRECTED.value, MAX_HOPS])


def are_apart_query(person_a: str, person_b: str) -> tuple[str, list[Any]]:
    """SQL and parameters answering one row when the persons the two ids stand for are kept apart.

    The two ids are followed to their live persons as the stored ones are, so a
    caller may pass an id merged away since (it stands for its survivor).
    """
    extra = " UNION SELECT ? UNION SELECT ?"
    sql = (_LIVE.format(extra=extra) + ", asked AS (SELECT least(x.live, y.live) AS a, greatest(x.live, y.live) AS b "
           "FROM live x, live y WHERE x.origin = ? AND y.origin = ?) "
           "SELECT 1 FROM pairs JOIN asked USING (a, b) LIMIT 1")
    return sql, [person_a, person_b, PersonStatus.REDIRECTED.value, MAX_HOPS, person_a, person_b]
