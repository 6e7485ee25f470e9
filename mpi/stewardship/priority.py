"""What a review case blocks, the priority that follows from it, and the time a steward has to decide.

A case left open keeps whatever waits on the person's identity waiting: a
referral cannot be routed to a person the index has not settled. So a case's
priority is never set by hand; it follows from what the case blocks (a list
such as ``[{"kind": "referral", "id": "R-81", "priority": "urgent"}]``, filled
by the referral tracker when it arrives):

- any blocker marked urgent (a hospital discharge of a high-risk person) -> ``urgent``;
- any referral, or any blocker marked high -> ``high``;
- nothing, or only routine blockers -> ``routine``.

Each priority has a target resolution time (``MPI_CASE_TARGET_*_HOURS``); a case
is due at ``created_at + target`` and overdue once that has passed while it is
still open, in review or on hold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from mpi.errors import ValidationError
from mpi.vocab import URGENCY, CasePriority

#: The setting holding each priority's target, in hours.
TARGET_SETTINGS = {
    CasePriority.URGENT: "MPI_CASE_TARGET_URGENT_HOURS",
    CasePriority.HIGH: "MPI_CASE_TARGET_HIGH_HOURS",
    CasePriority.ROUTINE: "MPI_CASE_TARGET_ROUTINE_HOURS",
}

_BLOCK_FIELDS = {"kind", "id", "priority"}


@dataclass(frozen=True)
class CaseTargets:
    """Target resolution time per priority, in hours."""

    urgent: float = 4.0
    high: float = 24.0
    routine: float = 72.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> CaseTargets:
        """Targets from resolved settings; every bad value is reported together.

        Raises:
            ValidationError: naming each setting that is not a positive number of hours.
        """
        values, errors = {}, {}
        for priority, name in TARGET_SETTINGS.items():
            raw = config.get(name)
            if raw in (None, ""):
                continue
            try:
                hours = float(raw)
            except (TypeError, ValueError):
                hours = float("nan")
            if not hours > 0:
                errors[name] = ["must be a positive number of hours"]
            values[priority.value] = hours
        if errors:
            raise ValidationError(f"invalid case targets: {', '.join(sorted(errors))}", errors)
        return cls(**values)

    def target(self, priority: str) -> timedelta:
        """The time a case of this priority should take to resolve."""
        return timedelta(hours=getattr(self, CasePriority(priority).value))

    def due_at(self, created_at: datetime, priority: str) -> datetime:
        return created_at + self.target(priority)

    def by_priority(self) -> dict[str, timedelta]:
        return {p.value: self.target(p) for p in URGENCY}


def validate_blocks(blocks: Any) -> list[dict[str, str]]:
    """What a case blocks, checked: a list of ``{"kind", "id", "priority"?}`` with text values.

    Raises:
        ValidationError: naming ``blocks`` with each bad item's position.
    """
    if not isinstance(blocks, list):
        raise ValidationError("blocks must be a list", {"blocks": ["must be a list of {kind, id, priority}"]})
    problems, clean = [], []
    priorities = {p.value for p in CasePriority}
    for i, item in enumerate(blocks):
        if not isinstance(item, Mapping):
            problems.append(f"item {i}: must be an object")
            continue
        unknown = set(item) - _BLOCK_FIELDS
        kind, ident, priority = item.get("kind"), item.get("id"), item.get("priority")
        if unknown:
            problems.append(f"item {i}: unknown field(s) {', '.join(sorted(map(str, unknown)))}")
        if not isinstance(kind, str) or not kind.strip():
            problems.append(f"item {i}: kind is required")
        if not isinstance(ident, str) or not ident.strip():
            problems.append(f"item {i}: id is required")
        if priority is not None and priority not in priorities:
            problems.append(f"item {i}: priority must be one of {', '.join(sorted(priorities))}")
        clean.append({"kind": str(kind).strip(), "id": str(ident).strip(),
                      **({"priority": priority} if priority else {})})
    if problems:
        raise ValidationError("invalid blocks", {"blocks": problems})
    return clean


def priority_for(blocks: list[Mapping[str, Any]]) -> CasePriority:
    """The priority a case gets from what it blocks (rules in the module docstring)."""
    rank = len(URGENCY) - 1
    for item in blocks or ():
        level = item.get("priority")
        own = URGENCY.index(CasePriority(level)) if level else len(URGENCY) - 1
        if item.get("kind") == "referral":
            own = min(own, URGENCY.index(CasePriority.HIGH))
        rank = min(rank, own)
    return URGENCY[rank]
