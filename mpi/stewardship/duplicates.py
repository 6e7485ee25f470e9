"""``POSSIBLE_DUPLICATE`` cases: what the case workflow checks before acting on two persons instead of a record.

A batch run (``mpi.batch``) opens such a case through
:meth:`~mpi.stewardship.desk.ReviewDesk.open_duplicate`: no record, and the two
persons as its candidates (rank 1 and 2). A steward settles it by merging them
(choosing the survivor) or by saying they are different humans
(``not_duplicate``: the pair is kept apart for good, ``store.cases.keep_persons_apart``).
Actions that need a record (link, new person) are refused. Either person may
have been merged into a third one since the case opened: the case then stands
for the live persons the two ids lead to. Pure checks over a case as read;
nothing here writes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from mpi.errors import Conflict, ValidationError
from mpi.vocab import Decision

DUPLICATE = Decision.POSSIBLE_DUPLICATE.value


def is_duplicate(case: Mapping[str, Any]) -> bool:
    """Whether the case holds two persons (``POSSIBLE_DUPLICATE``) rather than a record."""
    return case.get("kind") == DUPLICATE


def refuse_record_action(case: Mapping[str, Any], action: str) -> None:
    """A duplicate case has no record to link or to make a person of: a ``Conflict`` naming ``kind``.

    Raises:
        Conflict: the case is a ``POSSIBLE_DUPLICATE`` case.
    """
    if is_duplicate(case):
        raise Conflict(f"review case {case['case_id']} is a {DUPLICATE} case: it holds two persons and no record, "
                       f"so {action} is not possible; merge the persons or resolve it not_duplicate",
                       {"kind": [f"{DUPLICATE}: no record to {action}"]})


def the_two(case: Mapping[str, Any], live: Callable[[str], str]) -> tuple[str, str]:
    """The two live persons of a duplicate case (its rank 1 and 2 candidates, merges followed).

    Raises:
        Conflict: both ids now lead to one person (merged since the case opened): nothing is left to decide.
    """
    first, second = (live(c["person_id"]) for c in case["candidates"][:2])
    if first == second:
        raise Conflict(f"review case {case['case_id']}: both persons are now {first} (merged since the case "
                       "opened); withdraw the case", {"candidates": [f"both are now {first}"]})
    return first, second


def merge_sides(case: Mapping[str, Any], survivor_id: str, loser_id: str,
                live: Callable[[str], str]) -> tuple[str, str]:
    """The live survivor and loser of a duplicate case's merge: each must be one of the case's two persons
    (its id as the case holds it, or the live person it now leads to), and they must differ.

    Raises:
        ValidationError: ``survivor_id`` or ``loser_id`` is not one of the two, or both name the same person.
        Conflict: the two persons are already one (see :func:`the_two`).
    """
    pair = the_two(case, live)
    sides, errors = {}, {}
    for field, given in (("survivor_id", survivor_id), ("loser_id", loser_id)):
        known = {c["person_id"]: live(c["person_id"]) for c in case["candidates"][:2]}
        known.update({p: p for p in pair})
        if not isinstance(given, str) or given not in known:
            errors[field] = [f"must be one of the case's persons: {', '.join(pair)}"]
        else:
            sides[field] = known[given]
    if not errors and sides["survivor_id"] == sides["loser_id"]:
        errors["loser_id"] = ["must be the other of the case's two persons"]
    if errors:
        raise ValidationError(f"a merge from case {case['case_id']} joins its two persons", errors)
    return sides["survivor_id"], sides["loser_id"]
