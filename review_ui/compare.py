"""Side-by-side comparison of the inbound record with a candidate person's records.

A steward compares what a source sent, so the cells show the values **as sent**;
whether two values agree is judged on their **normalised** forms (``Bob`` and
``ROBERT``, two spellings of one phone number), the same forms the matcher
compared. Each cell is marked:

- ``agree``: the normalised values are equal;
- ``close``: not equal, but alike the way the matcher gives credit for (a
  nickname of the same name, a sound-alike surname, a birth date one digit off or
  with day and month swapped, the same last seven phone digits, the same address
  key);
- ``differ``: both have a usable value and they are not alike;
- ``missing``: one side has no usable value (blank, or a placeholder such as
  ``BABY GIRL`` or ``1900-01-01`` that the normaliser drops).

Pure functions over dicts; nothing here reads the store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: The demographic fields in the order a steward reads them, with their labels.
FIELDS: tuple[tuple[str, str], ...] = (
    ("first_name", "First name"),
    ("middle_name", "Middle name"),
    ("last_name", "Last name"),
    ("suffix", "Suffix"),
    ("birth_date", "Birth date"),
    ("sex", "Sex"),
    ("ssn_last4", "SSN last 4"),
    ("medicaid_id", "Medicaid id"),
    ("phone", "Phone"),
    ("email", "Email"),
    ("address_line1", "Address"),
    ("address_line2", "Address line 2"),
    ("city", "City"),
    ("state", "State"),
    ("postal_code", "ZIP"),
)

#: Normalised columns whose equality makes two unequal values "close".
_CLOSE_BY = {
    "first_name": ("first_name_canonical", "first_name_phonetic"),
    "last_name": ("last_name_phonetic", "last_name_first_part"),
    "middle_name": ("middle_initial",),
    "phone": ("phone_last7",),
    "address_line1": ("address_key",),
}

#: Records compared side by side in one table; past these, a fold ("show all N records") holds the rest,
#: so a candidate with many records never needs a horizontal scroll.
SHOWN = 4

MARK_WORDS = {"agree": "agrees", "close": "similar", "differ": "differs", "missing": "not comparable"}


@dataclass(frozen=True)
class Cell:
    value: str
    mark: str  # agree / close / differ / missing; "" for the inbound record's own column

    @property
    def word(self) -> str:
        return MARK_WORDS.get(self.mark, "")


@dataclass(frozen=True)
class Row:
    field: str
    label: str
    inbound: Cell
    others: tuple[Cell, ...]


@dataclass(frozen=True)
class Comparison:
    """The inbound record beside some records, field by field, with the marks counted."""

    columns: tuple[str, ...]  # "system / id" of each compared record
    rows: tuple[Row, ...]
    counts: Mapping[str, int]  # marks of the first compared record (the best-scoring one)

    def parts(self, size: int = SHOWN) -> tuple[Comparison, ...]:
        """The comparison as tables of at most ``size`` records each, in order: the first is shown, the rest
        folded. Each part keeps every row (a field one part's records lack reads as empty there)."""
        if len(self.columns) <= size:
            return (self,)
        return tuple(
            Comparison(columns=self.columns[i:i + size],
                       rows=tuple(Row(r.field, r.label, r.inbound, r.others[i:i + size]) for r in self.rows),
                       counts=self.counts)
            for i in range(0, len(self.columns), size))


def _near_date(a: str, b: str) -> bool:
    """One digit off, or day and month swapped (``YYYY-MM-DD``)."""
    if len(a) != len(b):
        return False
    if sum(x != y for x, y in zip(a, b)) == 1:
        return True
    return len(a) == 10 and a[:4] == b[:4] and a[5:7] == b[8:10] and a[8:10] == b[5:7]


def mark(field: str, inbound: Mapping[str, Any], other: Mapping[str, Any]) -> str:
    """How ``other``'s normalised value of ``field`` reads against the inbound record's."""
    a, b = inbound.get(field), other.get(field)
    if a in (None, "") or b in (None, ""):
        return "missing"
    if a == b:
        return "agree"
    if field == "birth_date" and _near_date(str(a), str(b)):
        return "close"
    for column in _CLOSE_BY.get(field, ()):
        if inbound.get(column) not in (None, "") and inbound.get(column) == other.get(column):
            return "close"
    return "differ"


def _shown(record: Mapping[str, Any], field: str) -> str:
    raw = record.get("raw") or {}
    value = raw.get(field)
    if value in (None, ""):
        value = (record.get("norm") or {}).get(field)
    return "" if value is None else str(value)


def compare(inbound: Mapping[str, Any], records: Sequence[Mapping[str, Any]]) -> Comparison:
    """Compare the inbound record with ``records`` (each with ``raw`` and ``norm``), best-scoring first.

    Fields no record has are left out, so a sparse record does not give a page
    of empty rows.
    """
    inbound_norm = inbound.get("norm") or {}
    rows = []
    counts = {m: 0 for m in MARK_WORDS}
    for field, label in FIELDS:
        values = [_shown(inbound, field)] + [_shown(r, field) for r in records]
        if not any(values):
            continue
        cells = tuple(Cell(_shown(r, field), mark(field, inbound_norm, r.get("norm") or {})) for r in records)
        if cells:
            counts[cells[0].mark] += 1
        rows.append(Row(field, label, Cell(values[0], ""), cells))
    columns = tuple(f"{r.get('source_system')} / {r.get('source_record_id')}" for r in records)
    return Comparison(columns=columns, rows=tuple(rows), counts=counts)
