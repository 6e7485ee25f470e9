"""The match policy: what a score means, kept apart from code.

A policy is a plain spec (a dict in the model file) validated once, with every
problem reported together, then compiled into a frozen :class:`Policy`. Its
thresholds are Fellegi-Sunter match weights (log2 Bayes factors including the
prior), the same numbers the evidence adds up to.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from mpi.errors import ModelError
from mpi.matching.comparisons import COMPARISONS

#: Contact levels at which two records share no household: a ZIP code, one character off
#: or not, or only the town is what strangers share.
_NO_HOUSEHOLD_SHARED = ("contact: differs", "contact: ZIP agrees", "contact: ZIP one character off",
                        "contact: city agrees", "contact: no contact field on both sides")

#: Evidence that holds a pair for a steward however high it scores: a first name
#: spelt another way, or a short form across the sexes, on the same birth date is
#: a typo as often as a twin, and a twin shares every household fact (surname,
#: address, phone, a parent's email) that would otherwise add up to a link.
DEFAULT_HOLD_LEVELS = [
    ["name_dob: first name spelling variant, birth date exact"],
    ["name_dob: first name nickname or short form, birth date exact", "sex: differs"],
    ["name_dob: both differ"],
    ["name_dob: first name similar, birth date near"],
    ["name_dob: a multiple-birth placeholder, birth date exact or near"],
    ["name_dob: first name missing or swapped, birth date exact or near", "sex: differs"],
    # A short form on one birth date with another middle name or identifier: a twin (ISABEL K and BELLA D).
    # (Another identifier is a conflict on its own: DEFAULT_CONFLICT_LEVELS, DEFAULT_FIRM_CONFLICT_LEVELS.)
    ["name_dob: first name nickname or short form, birth date exact", "middle_name: conflict"],
    # Neither a first name (a placeholder such as BABY GIRL, or none) nor a birth date to compare:
    # what agrees is the household's (surname, address, phone), which a newborn and a sibling share.
    ["name_dob: first name (missing or swapped) and birth date missing"],
    # No birth date, and a first name only like the other (CARRLOS / CARLOS, JULIO / JULIAN, BARB /
    # BARBARA): the household agrees either way, and a parent and child of one name share it.
    ["name_dob: first name similar, birth date missing"],
    # One first name (or its short form: a namesake's records carry nicknames too) and birth
    # date, no household fact shared: a move, or two people who share a name and a birthday.
    # Only a weight a coincidence does not reach links it.
    *({"levels": [name_dob, contact], "below": 18.0}
      for name_dob in ("name_dob: first name and birth date exact",
                       "name_dob: first name nickname or short form, birth date exact")
      for contact in _NO_HOUSEHOLD_SHARED),
]
#: Evidence against *any* record of a person that keeps a record from joining it
#: automatically: a record without a birth date can match a father and his son
#: alike, and must not become the bridge that links the two.
DEFAULT_CONFLICT_LEVELS = [
    "name_dob: birth date exact, another established first name",
    "name_dob: birth date exact, first name differs",
    "name_dob: birth date exact, first name and surname differ",
    "name_dob: first name similar, birth date differs",
    "name_dob: both differ",
    # No first name (or no birth date) to tell, and the other differs: a sibling's or a parent's record.
    "name_dob: first name missing or swapped, birth date differs",
    "name_dob: first name differs, birth date missing",
    "suffix: conflict",
    # One first name and birth date but another middle name (not an initial of it): a twin named
    # ADAEZE CHIOMA and ADAEZE NGOZI, or a namesake; against any record, so that a record without a
    # middle name cannot carry the other twin's into the person.
    ["name_dob: first name and birth date exact", "middle_name: conflict"],
    # Another member id (not one keying slip: that is its own level): another member, however alike
    # otherwise. Lifted by the same SSN (a clear level): a member id changes with a re-enrolment or
    # another plan, the SSN does not.
    "medicaid_id: conflict",
    # No birth date, and a suffix on one side only: the father or the son, whichever record it is.
    ["name_dob: first name exact, birth date missing", "suffix: on one side only"],
]
#: Conflicts no clear level lifts: another SSN (not one digit off or two swapped, which is its own
#: level) is another human, however much else agrees, and the same member id does not say otherwise
#: (a family's case number, or a parent's id keyed on a child's record).
DEFAULT_FIRM_CONFLICT_LEVELS = ["ssn_last4: conflict"]
#: Evidence twins never share, which lifts a hold.
DEFAULT_CLEAR_LEVELS = ["ssn_last4: exact", "medicaid_id: exact"]

DEFAULT_POLICY = {
    "upper_match_weight": 16.0,
    "lower_match_weight": 4.0,
    "ambiguity_margin": 6.0,
    "max_candidates": 5,
    "hold_levels": DEFAULT_HOLD_LEVELS,
    "conflict_levels": DEFAULT_CONFLICT_LEVELS,
    "firm_conflict_levels": DEFAULT_FIRM_CONFLICT_LEVELS,
    "clear_levels": DEFAULT_CLEAR_LEVELS,
    "batch_auto_merge": False,
    "target_precision": 0.999,
}

_LEVELS = {f"{c.name}: {lv.label}" for c in COMPARISONS for lv in c.levels}
#: Each level's bit: the real-time scorer keeps a pair's levels as one int, so that checking the
#: conflict rules against every record of every candidate person is a few integer tests, not set algebra.
LEVEL_BITS = {name: 1 << i for i, name in enumerate(f"{c.name}: {lv.label}" for c in COMPARISONS for lv in c.levels)}


@dataclass(frozen=True)
class Hold:
    """Levels that together hold a pair for review (below a weight, if ``below`` is set)."""

    levels: frozenset[str]
    below: float | None = None

    def as_spec(self) -> list[str] | dict[str, Any]:
        levels = sorted(self.levels)
        return levels if self.below is None else {"levels": levels, "below": self.below}


@dataclass(frozen=True)
class Policy:
    """Compiled thresholds for the three-way decision.

    Attributes:
        upper_match_weight: at or above this the best person is auto-linked.
        lower_match_weight: below this for every person a new person is created.
        ambiguity_margin: a second person above the lower threshold and within
            this many bits of the best sends the record to review instead.
        max_candidates: candidates returned by ``/v1/match`` and kept on a case.
        hold_levels: combinations of comparison levels (``"comparison: level label"``,
            all of a combination present in a pair's evidence) that send the pair to
            review instead of an auto-link, whatever its weight, or (an entry
            ``{"levels": [...], "below": w}``) unless it weighs at least ``w``.
        conflict_levels: levels (or combinations of levels, as lists) that, in the
            evidence against any of a person's records, keep a record from joining
            that person automatically.
        firm_conflict_levels: conflicts (as ``conflict_levels``) that no clear level lifts:
            another identifier that nothing else in the pair can explain.
        clear_levels: levels that lift a hold or a conflict (not a firm one) when the same
            pair's evidence has one.
        batch_auto_merge: whether a batch dedup run merges two persons itself when their best pair
            scores at or above the upper threshold with no hold or conflict (off: it opens a case).
        target_precision: the auto-link (pairwise) precision the upper threshold is recalibrated for when a
            model learns from steward decisions (``mpi train --from-decisions``).
    """

    upper_match_weight: float
    lower_match_weight: float
    ambiguity_margin: float
    max_candidates: int
    hold_levels: tuple[Hold, ...] = field(default=())
    conflict_levels: tuple[frozenset[str], ...] = field(default=())
    firm_conflict_levels: tuple[frozenset[str], ...] = field(default=())
    clear_levels: frozenset[str] = field(default=frozenset())
    batch_auto_merge: bool = False
    target_precision: float = 0.999

    def hold(self, evidence: Sequence[Mapping[str, Any]]) -> list[str] | None:
        """The hold combination a pair's evidence meets (and no clear level lifts), or None."""
        return self.hold_in(_present(evidence), sum(e["weight"] for e in evidence))

    def hold_in(self, present: set[str], weight: float) -> list[str] | None:
        """:meth:`hold` for a pair's levels (``"comparison: label"``) and weight."""
        if present & self.clear_levels:
            return None
        for rule in self.hold_levels:
            if rule.levels <= present and (rule.below is None or weight < rule.below):
                return sorted(rule.levels)
        return None

    def clears(self, evidence: Sequence[Mapping[str, Any]]) -> bool:
        """Whether a pair's evidence meets neither a hold nor a conflict: what, at or above the upper threshold,
        may be linked (or merged) without a steward."""
        return self.hold(evidence) is None and self.conflict(evidence) is None

    def conflict(self, evidence: Iterable[Mapping[str, Any]]) -> str | None:
        """The conflict a pair's evidence shows (and no clear level lifts), or None."""
        return self.conflict_in(_present(evidence))

    def conflict_in(self, present: set[str]) -> str | None:
        """:meth:`conflict` for a pair's levels (``"comparison: label"``): a firm conflict whatever else the
        pair shows, else a conflict no clear level lifts."""
        for rule in self.firm_conflict_levels:
            if rule <= present:
                return " + ".join(sorted(rule))
        if present & self.clear_levels:
            return None
        for rule in self.conflict_levels:
            if rule <= present:
                return " + ".join(sorted(rule))
        return None

    def conflict_in_bits(self, bits: int) -> str | None:
        """:meth:`conflict_in` for a pair's levels as bits (``LEVEL_BITS``)."""
        firm, clear, rules = self._conflict_masks
        for mask, why in firm:
            if bits & mask == mask:
                return why
        if bits & clear:
            return None
        for mask, why in rules:
            if bits & mask == mask:
                return why
        return None

    @cached_property
    def _conflict_masks(self) -> tuple[tuple[tuple[int, str], ...], int, tuple[tuple[int, str], ...]]:
        def mask(levels: Iterable[str]) -> int:
            return sum(LEVEL_BITS[name] for name in set(levels))

        def masks(rules: Iterable[frozenset[str]]) -> tuple[tuple[int, str], ...]:
            return tuple((mask(rule), " + ".join(sorted(rule))) for rule in rules)
        return masks(self.firm_conflict_levels), mask(self.clear_levels), masks(self.conflict_levels)

    @classmethod
    def from_spec(cls, spec: dict[str, Any] | None) -> Policy:
        """Validate a policy spec; raise one ModelError naming every bad key."""
        spec = {**DEFAULT_POLICY, **(spec or {})}
        errors: dict[str, list[str]] = {}
        for key in ("upper_match_weight", "lower_match_weight", "ambiguity_margin"):
            if not isinstance(spec[key], (int, float)) or isinstance(spec[key], bool):
                errors.setdefault(key, []).append("must be a number")
        if not isinstance(spec["max_candidates"], int) or spec["max_candidates"] < 1:
            errors.setdefault("max_candidates", []).append("must be a positive integer")
        if not isinstance(spec["batch_auto_merge"], bool):
            errors.setdefault("batch_auto_merge", []).append("must be true or false")
        target = spec["target_precision"]
        if isinstance(target, bool) or not isinstance(target, (int, float)) or not 0 < target < 1:
            errors.setdefault("target_precision", []).append("must be a number strictly between 0 and 1")
        unknown = sorted(set(spec) - set(DEFAULT_POLICY))
        for key in unknown:
            errors.setdefault(key, []).append("unknown policy key")
        for key in ("hold_levels", "conflict_levels", "firm_conflict_levels", "clear_levels"):
            for problem in _level_problems(spec[key], nested=key != "clear_levels", below=key == "hold_levels"):
                errors.setdefault(key, []).append(problem)
        if not errors and spec["lower_match_weight"] > spec["upper_match_weight"]:
            errors["lower_match_weight"] = ["must not exceed upper_match_weight"]
        if errors:
            raise ModelError("invalid match policy", errors)
        return cls(
            upper_match_weight=float(spec["upper_match_weight"]),
            lower_match_weight=float(spec["lower_match_weight"]),
            ambiguity_margin=float(spec["ambiguity_margin"]),
            max_candidates=int(spec["max_candidates"]),
            hold_levels=tuple(Hold(frozenset(c), None) if isinstance(c, list)
                              else Hold(frozenset(c["levels"]), float(c["below"])) for c in spec["hold_levels"]),
            conflict_levels=tuple(frozenset([c] if isinstance(c, str) else c) for c in spec["conflict_levels"]),
            firm_conflict_levels=tuple(frozenset([c] if isinstance(c, str) else c)
                                       for c in spec["firm_conflict_levels"]),
            clear_levels=frozenset(spec["clear_levels"]),
            batch_auto_merge=spec["batch_auto_merge"],
            target_precision=float(spec["target_precision"]),
        )

    def as_spec(self) -> dict[str, Any]:
        return {
            "upper_match_weight": self.upper_match_weight,
            "lower_match_weight": self.lower_match_weight,
            "ambiguity_margin": self.ambiguity_margin,
            "max_candidates": self.max_candidates,
            "hold_levels": [rule.as_spec() for rule in self.hold_levels],
            "conflict_levels": [next(iter(c)) if len(c) == 1 else sorted(c) for c in self.conflict_levels],
            "firm_conflict_levels": [next(iter(c)) if len(c) == 1 else sorted(c) for c in self.firm_conflict_levels],
            "clear_levels": sorted(self.clear_levels),
            "batch_auto_merge": self.batch_auto_merge,
            "target_precision": self.target_precision,
        }


def _present(evidence: Iterable[Mapping[str, Any]]) -> set[str]:
    return {f"{e['comparison']}: {e['label']}" for e in evidence}


def _level_problems(value: Any, nested: bool, below: bool = False) -> list[str]:
    """What is wrong with a list of levels, or (``nested``) of rules: a level, a list of levels or
    (``below``) ``{"levels": [...], "below": number}``."""
    if not isinstance(value, list):
        return ["must be a list"]
    groups: Sequence[Any] = value if nested else [value]
    problems = []
    for group in groups:
        if nested and isinstance(group, str):
            group = [group]
        if below and isinstance(group, dict):
            below = group.get("below")
            if set(group) != {"levels", "below"} or not isinstance(below, (int, float)) or isinstance(below, bool):
                problems.append("a rule object has exactly 'levels' and a numeric 'below'")
                continue
            group = group["levels"]
        if not isinstance(group, list) or not group:
            problems.append("each entry must be a non-empty list of levels")
            continue
        problems += [f"unknown level {name!r}" for name in group if name not in _LEVELS]
    return problems
