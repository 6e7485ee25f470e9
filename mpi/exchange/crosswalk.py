"""A partner's status crosswalk: a versioned, dated map from an internal state (and reason) to the partner's label.

What users write is rows of ``state, reason, label`` (a CSV for ``mpi partners
crosswalk``, a JSON list for ``POST /v1/partners/{id}/crosswalk``);
:func:`validate_rows` checks them once, naming every bad row together, and
:class:`CrosswalkVersion` is the compiled, frozen version with its lossy marks.
A mapping is *lossy* where two internal states share one label (``redirected``
and ``declined`` both shown as "Declined"): the partner cannot tell them apart.
Labels are compared without case or extra spaces for that.

A version is in force from the first moment (UTC) of its ``effective_from`` date
until a later-dated version's; :func:`in_force` finds it for a time, the later
version winning when two share a date. Nothing here reads the store or the clock.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Mapping as MappingType, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, NamedTuple

from mpi.errors import MpiError, ValidationError
from mpi.referral_vocab import ReasonCode, ReferralState

#: The columns of a crosswalk CSV, in this order.
CSV_COLUMNS = ("state", "reason", "label")
#: The longest label a partner may have.
MAX_LABEL = 120
#: A label: some text, no control characters (the API's schema has the same pattern).
LABEL = re.compile(r"^[^\x00-\x1f\x7f]*[^\x00-\x20\x7f][^\x00-\x1f\x7f]*$")
_STATES = ", ".join(s.value for s in ReferralState)


class NoLabel(MpiError):
    """No crosswalk version is in force at the time asked, or the version in force maps no label for the state."""

    status = 409
    code = "no_crosswalk_label"


class UnknownLabel(ValidationError):
    """An inbound label the partner's crosswalk version in force does not know (never guessed: kept as an exception)."""

    code = "unknown_label"


class AmbiguousLabel(ValidationError):
    """An inbound lossy label that maps to two internal states, and no reason given that tells them apart."""

    code = "ambiguous_label"


class Mapping(NamedTuple):
    """One row of a version: an internal state (and reason, or None for any) shown as the partner's label."""

    line: int
    state: str
    reason: str | None
    label: str
    lossy: bool


class Mapped(NamedTuple):
    """What :func:`state_for` answers: the internal state and reason a partner's label maps back to, and from where."""

    state: str
    reason: str | None
    version_id: int
    lossy: bool


class Label(NamedTuple):
    """What :func:`label_for` answers: the partner's label, the version it came from, and whether it is lossy."""

    label: str
    version_id: int
    effective_from: date
    lossy: bool


def _folded(label: str) -> str:
    return " ".join(label.split()).casefold()


@dataclass(frozen=True)
class CrosswalkVersion:
    """One compiled version of a partner's crosswalk (build it with :meth:`from_stored`)."""

    version_id: int
    effective_from: date
    rows: tuple[Mapping, ...]

    @classmethod
    def from_stored(cls, version: MappingType[str, Any]) -> CrosswalkVersion:
        """Compile a stored version (already validated when it was added): the lossy marks are computed here."""
        return cls(version["version_id"], version["effective_from"], tuple(mark_lossy(version["rows"])))

    @property
    def lossy(self) -> tuple[Mapping, ...]:
        return tuple(r for r in self.rows if r.lossy)

    def lookup(self, state: str, reason: str | None) -> Mapping | None:
        """The row for this state and reason, else the state's row without a reason, else None."""
        fallback = None
        for row in self.rows:
            if row.state == state and row.reason == reason:
                return row
            if row.state == state and row.reason is None:
                fallback = row
        return fallback

    def rows_for_label(self, label: str) -> tuple[Mapping, ...]:
        """Every row showing this label (compared as the lossy marks compare: no case, no extra spaces)."""
        folded = _folded(label)
        return tuple(r for r in self.rows if _folded(r.label) == folded)


def mark_lossy(rows: Iterable[MappingType[str, Any]]) -> list[Mapping]:
    """Rows as :class:`Mapping`, each marked lossy when its label is shared with a row of another state."""
    rows = list(rows)
    states_of: dict[str, set[str]] = {}
    for r in rows:
        states_of.setdefault(_folded(r["label"]), set()).add(r["state"])
    return [Mapping(r["line"], r["state"], r["reason"], r["label"], len(states_of[_folded(r["label"])]) > 1)
            for r in rows]


def validate_rows(rows: Sequence[MappingType[str, Any]], *, by_line: bool = False) -> list[dict]:
    """Check a version's rows, every problem together; returns them clean (``reason`` None when blank).

    Args:
        rows: each with ``state``, ``reason`` (optional) and ``label``; with ``line`` when ``by_line``.
        by_line: name a bad row ``line N`` (a CSV); otherwise the field ``rows.state`` (``rows.label``, ...),
            as the API names a list's items, with ``row N:`` (from 1) before each message.

    Raises:
        ValidationError: no rows, an unknown state or reason, a blank or long label, a state and reason twice.
    """
    errors: dict[str, list[str]] = {}
    clean: list[dict] = []
    seen: dict[tuple[str, str | None], str] = {}

    def problem(i: int, field: str, message: str) -> None:
        if by_line:
            errors.setdefault(f"line {rows[i]['line']}", []).append(f"{field}: {message}")
        else:
            errors.setdefault(f"rows.{field}", []).append(f"row {i + 1}: {message}")

    if not rows:
        raise ValidationError("invalid crosswalk: it has no rows",
                              {"input" if by_line else "rows": ["at least one row (state, reason, label)"]})
    for i, row in enumerate(rows):
        state = (row.get("state") or "").strip()
        reason = (row.get("reason") or "").strip() or None
        raw_label = row.get("label") or ""
        label = " ".join(raw_label.split())
        if state not in {s.value for s in ReferralState}:
            problem(i, "state", f"{'required' if not state else 'not an internal state'}: one of {_STATES}")
        if reason is not None and reason not in {r.value for r in ReasonCode}:
            problem(i, "reason", "not a reason code (no-capacity, redirected, ...); blank for any reason")
        if not label:
            problem(i, "label", "required: the partner's label for this state")
        elif len(raw_label) > MAX_LABEL or not LABEL.match(raw_label):
            problem(i, "label", f"at most {MAX_LABEL} characters, no control characters")
        line = row.get("line") or i + 1
        if (state, reason) in seen:
            problem(i, "state", f"this state and reason are mapped already ({seen[(state, reason)]})")
        else:
            seen[(state, reason)] = f"line {line}" if by_line else f"row {i + 1}"
        clean.append({"line": line, "state": state, "reason": reason, "label": label})
    if errors:
        raise ValidationError(f"invalid crosswalk: {len(errors)} bad {'rows' if by_line else 'fields'}", errors)
    return clean


def rows_from_csv(text: str) -> list[dict]:
    """Read a crosswalk CSV (header ``state,reason,label``) into rows with their line numbers; then validate them.

    Raises:
        ValidationError: a header other than those columns, or bad rows named ``line N``.
    """
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = next(reader, None)
    if header is None or [h.strip().lower() for h in header] != list(CSV_COLUMNS):
        raise ValidationError("invalid crosswalk CSV: its header must be state,reason,label",
                              {"line 1": [f"header must be {','.join(CSV_COLUMNS)}"]})
    rows: list[dict] = []
    errors: dict[str, list[str]] = {}
    for values in reader:
        if not any(v.strip() for v in values):
            continue
        line = reader.line_num
        if len(values) != len(CSV_COLUMNS):
            errors[f"line {line}"] = [f"{len(values)} values where the header has {len(CSV_COLUMNS)}"]
            continue
        rows.append({"line": line, **dict(zip(CSV_COLUMNS, values))})
    try:
        clean = validate_rows(rows, by_line=True) if rows or not errors else []
    except ValidationError as e:
        errors.update(e.errors)
    if errors:
        raise ValidationError(f"invalid crosswalk CSV: bad rows at {', '.join(sorted(errors, key=_line_number))}",
                              dict(sorted(errors.items(), key=lambda kv: _line_number(kv[0]))))
    return clean


def _line_number(key: str) -> int:
    return int(key.split()[-1]) if key.startswith("line ") else 0


def in_force(versions: Sequence[CrosswalkVersion], at: datetime | date) -> CrosswalkVersion:
    """The version in force at ``at``: the latest ``effective_from`` on or before its UTC date (later id on a tie).

    Raises:
        NoLabel: no version is in force yet at ``at`` (or the partner has none).
    """
    day = at.astimezone(timezone.utc).date() if isinstance(at, datetime) else at
    candidates = [v for v in versions if v.effective_from <= day]
    if not candidates:
        first = min((v.effective_from for v in versions), default=None)
        raise NoLabel(f"no crosswalk version in force on {day.isoformat()}"
                      + (f" (the first is in force from {first.isoformat()})" if first else " (it has none)"),
                      {"at": ["before the partner's first crosswalk version" if first else "no crosswalk version"]})
    return max(candidates, key=lambda v: (v.effective_from, v.version_id))


def label_for(versions: Sequence[CrosswalkVersion], state: str, reason: str | None, at: datetime | date) -> Label:
    """The partner's label for an internal state and reason at a time, under the version then in force.

    Raises:
        ValidationError: ``state`` is not an internal state, or ``reason`` not a reason code.
        NoLabel: no version in force at ``at``, or that version maps no label for the state.
    """
    errors = {}
    if state not in {s.value for s in ReferralState}:
        errors["state"] = [f"not an internal state: one of {_STATES}"]
    if reason is not None and reason not in {r.value for r in ReasonCode}:
        errors["reason"] = ["not a reason code"]
    if errors:
        raise ValidationError("no label for an unknown state or reason", errors)
    version = in_force(versions, at)
    row = version.lookup(state, reason)
    if row is None:
        raise NoLabel(f"crosswalk version {version.version_id} maps no label for state {state}",
                      {"state": [f"not mapped in crosswalk version {version.version_id}"]})
    return Label(row.label, version.version_id, version.effective_from, row.lossy)


def state_for(versions: Sequence[CrosswalkVersion], label: str, reason: str | None, at: datetime | date,
              takes_reason: Callable[[str, str], bool] = lambda state, reason: True) -> Mapped:
    """The internal state (and reason) a partner's label maps back to, under the version in force at ``at``.

    The rows showing the label are the candidates. A row naming the update's reason wins; otherwise, with a
    reason, the rows without one stand, narrowed to the states that take it (``takes_reason``: the
    lifecycle's rule); with no reason, every row showing the label. One state left is the answer (its
    row's reason when they agree, else the update's); none is an unknown label; two or more an ambiguous
    one. A label is never guessed.

    Raises:
        UnknownLabel: no version in force at ``at``, or its rows show no such label (field ``label``).
        AmbiguousLabel: the label is lossy and ``reason`` does not tell its states apart (field ``label``).
    """
    try:
        version = in_force(versions, at)
    except NoLabel as e:
        raise UnknownLabel(f"unknown label: {e.message}", {"label": [e.message]}) from None
    rows = version.rows_for_label(label)
    if not rows:
        raise UnknownLabel(f"unknown label: crosswalk version {version.version_id} shows no such label",
                           {"label": [f"not a label of crosswalk version {version.version_id} "
                                      f"(in force from {version.effective_from.isoformat()})"]})
    exact = [r for r in rows if reason is not None and r.reason == reason]
    if exact:
        candidates = exact
    else:
        candidates = list(rows)  # no reason given: every row showing the label
        if reason is not None:
            candidates = [r for r in rows if r.reason is None and takes_reason(r.state, reason)]
    states = sorted({r.state for r in candidates})
    if len(states) == 1:
        reasons = {r.reason for r in candidates}
        return Mapped(states[0], (reasons.pop() if len(reasons) == 1 else None) or reason, version.version_id,
                      any(r.lossy for r in candidates))
    if not states:
        raise UnknownLabel(f"unknown label: crosswalk version {version.version_id} maps it to no state "
                           f"that takes reason {reason}",
                           {"label": [f"no state of crosswalk version {version.version_id} shown so takes this "
                                      "reason"], "reason": ["taken by no state this label maps to"]})
    every = sorted({r.state for r in rows})
    raise AmbiguousLabel(f"ambiguous label: crosswalk version {version.version_id} shows it for "
                         f"{' and '.join(every)}",
                         {"label": [f"lossy: shown for {', '.join(every)} in crosswalk version "
                                    f"{version.version_id}; a reason must tell them apart"]})
