"""A partner's status snapshot: what its system shows for each referral, read from CSV or JSON and checked whole.

A row names the referral by our id (``referral_id``) or by the partner's own
reference (``reference``: the id its organisation gave the referral when it
requested it), says the ``label`` the partner's system shows, and optionally
when it showed it (``as_of``, ISO 8601 with an offset). Every problem is named
together (``line N`` for a CSV, ``rows.N.field`` for JSON, from 0 as the API
names list items) and nothing is kept from a snapshot with one: it is kept
whole or not at all. A referral named twice is a problem (which label holds?).
Values are never echoed in messages: they name fields and lines.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from mpi.errors import ValidationError
from mpi.exchange.crosswalk import LABEL, MAX_LABEL

#: The columns a snapshot may have (a CSV's header names some of them, in any order).
COLUMNS = ("referral_id", "reference", "label", "as_of")
#: An id or a reference: 1-64 printable characters, no spaces at either end.
IDENT = re.compile(r"^[!-~](?:[ -~]{0,62}[!-~])?$")
#: When a partner's system showed a label: an RFC 3339 date and time with its offset.
AS_OF = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})$")
#: Most rows one snapshot may carry.
MAX_ROWS = 250_000
_SHOWN = 20  # problems named at most (a broken file of 100,000 lines is not 100,000 messages)


def rows_from_csv(text: str) -> list[dict[str, Any]]:
    """Read a snapshot CSV (a header naming ``label`` and ``referral_id`` or ``reference``; ``as_of`` optional).

    Raises:
        ValidationError: a bad header (``line 1``) or bad rows (``line N``), every one named.
    """
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = [h.strip().lower() for h in next(reader, [])]
    except csv.Error:
        header = []
    unknown = [h for h in header if h not in COLUMNS]
    if not header or unknown or "label" not in header or not {"referral_id", "reference"} & set(header) \
            or len(set(header)) != len(header):
        raise ValidationError("invalid status snapshot CSV: its header must name label and referral_id or reference "
                              "(as_of optional), each once", {"line 1": [
                                  f"a header of {', '.join(COLUMNS)} (label and referral_id or reference required)"]})
    rows: list[dict[str, Any]] = []
    errors: dict[str, list[str]] = {}
    try:
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            line = reader.line_num
            if len(values) != len(header):
                errors[f"line {line}"] = [f"{len(values)} values where the header has {len(header)}"]
                continue
            rows.append({"line": line, **dict(zip(header, values))})
    except csv.Error:
        errors[f"line {reader.line_num}"] = ["not readable CSV (an unclosed quote?)"]
    return validate_rows(rows, by_line=True, errors=errors)


def rows_from_json(data: Any, *, bare_list: bool = False) -> list[dict[str, Any]]:
    """Read a snapshot as JSON: an object with ``rows`` (the API's body), or with ``bare_list`` (a file given to
    ``mpi reconcile``) a list of rows too.

    Raises:
        ValidationError: not a list of objects, or bad rows (``rows.N.field``), every one named.
    """
    if isinstance(data, list) and not bare_list:
        raise ValidationError("invalid status snapshot: an object with rows", {"_schema": ["an object with rows"]})
    if isinstance(data, Mapping):
        extra = sorted(set(data) - {"rows"})
        if extra:
            raise ValidationError("invalid status snapshot: unknown fields", {f: ["unknown field"] for f in extra})
        data = data.get("rows")
    if not isinstance(data, list):
        raise ValidationError("invalid status snapshot: rows must be a list", {"rows": ["a list of rows"]})
    rows, errors = [], {}
    for i, row in enumerate(data):
        if not isinstance(row, Mapping):
            errors[f"rows.{i}"] = ["must be an object"]
            continue
        for name in sorted(set(row) - set(COLUMNS)):
            errors[f"rows.{i}.{name}"] = ["unknown field"]
        rows.append({**{k: v for k, v in row.items() if k in COLUMNS}, "line": i + 1, "_place": i})
    return validate_rows(rows, by_line=False, errors=errors)


def validate_rows(rows: Sequence[Mapping[str, Any]], *, by_line: bool,
                  errors: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
    """Check every row together; returns them clean (``line``, ``referral_id``, ``reference``, ``label``, ``as_of``).

    Raises:
        ValidationError: naming each bad row's field (``line N``, or ``rows.N.field``) and the count.
    """
    errors = dict(errors or {})
    clean: list[dict[str, Any]] = []
    seen: dict[tuple[str, str], int] = {}

    def problem(row: Mapping[str, Any], field: str, message: str) -> None:
        key = f"line {row['line']}" if by_line else f"rows.{row['_place']}.{field}"
        errors.setdefault(key, []).append(f"{field}: {message}" if by_line else message)

    if not rows and not errors:
        errors["rows" if not by_line else "line 2"] = ["no rows: a snapshot reports at least one referral"]
    if len(rows) > MAX_ROWS:
        errors["rows"] = [f"at most {MAX_ROWS} rows in one snapshot"]
        rows = []
    for row in rows:
        referral_id, reference = _text(row.get("referral_id")), _text(row.get("reference"))
        label, as_of = row.get("label"), row.get("as_of")
        for field, value in (("referral_id", row.get("referral_id")), ("reference", row.get("reference"))):
            text = value.strip() if by_line and isinstance(value, str) else value  # a CSV's cells may be padded
            malformed = text not in (None, "") and not (isinstance(text, str) and IDENT.match(text))
            given_empty = not by_line and field in row and text in (None, "")  # JSON: null or "" is not absent
            if malformed or given_empty:
                problem(row, field, "1-64 printable characters, no spaces at either end")
        if referral_id is None and reference is None:
            problem(row, "referral_id", "give referral_id (ours) or reference (yours)")
        if not isinstance(label, str) or not label.strip() or len(label) > MAX_LABEL or not LABEL.match(label):
            problem(row, "label", f"required: 1-{MAX_LABEL} characters, no control characters")
        when = _instant(as_of)
        if as_of not in (None, "") and when is None:
            problem(row, "as_of", "a date and time with its offset, RFC 3339 (2026-11-23T15:00:00Z)"
                    if not (isinstance(as_of, str) and AS_OF.match(as_of.strip())) else "not a real date and time")
        elif as_of == "" and not by_line:
            problem(row, "as_of", "a date and time with its offset, RFC 3339 (2026-11-23T15:00:00Z)")
        subject = ("referral_id", referral_id) if referral_id is not None else ("reference", reference or "")
        if subject[1] and subject in seen:
            problem(row, subject[0], f"this referral is reported already ({'line' if by_line else 'row'} "
                                     f"{seen[subject] if by_line else seen[subject] - 1})")
        elif subject[1]:
            seen[subject] = row["line"]
        clean.append({"line": int(row["line"]), "referral_id": referral_id, "reference": reference,
                      "label": label.strip() if isinstance(label, str) else label, "as_of": when})
    if errors:
        shown = dict(sorted(errors.items(), key=lambda kv: _order(kv[0]))[:_SHOWN])
        more = len(errors) - len(shown)
        raise ValidationError(f"invalid status snapshot: {len(errors)} bad {'lines' if by_line else 'fields'}"
                              + (f" (the first {_SHOWN} named)" if more else ""), shown)
    return clean


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str) or not AS_OF.match(value.strip()):
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


def _order(key: str) -> tuple[int, str]:
    digits = re.findall(r"\d+", key)
    return (int(digits[0]) if digits else -1, key)


def looks_like_json(text: str) -> bool:
    """Whether a file's text is JSON rather than CSV (its first non-space character opens a list or an object)."""
    return text.lstrip("\ufeff \t\r\n")[:1] in ("[", "{")
