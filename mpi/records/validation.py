"""The canonical record contract: validation of what a source system sends.

One marshmallow schema serves the API (unknown fields are an error, so a
misspelt field name is not silently dropped) and the CSV loader (unknown
columns are ignored). Errors name the field and never echo its value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, fields, pre_load, validate
from marshmallow import ValidationError as MarshmallowError

from mpi.clock import today as calendar_today
from mpi.errors import ValidationError
from mpi.records.fields import DEMOGRAPHIC_FIELDS, RECORD_FIELDS
from mpi.records.text import CONTROL_RANGE, WHITESPACE_RANGE

#: Text that reads as missing (empty or white space only): a demographic field sent so is taken as not sent.
BLANK = rf"^[{WHITESPACE_RANGE}]*$"

_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_SSN_LAST4 = re.compile(r"^[0-9]{4}\Z")


def _valid_birth_date(value: str) -> None:
    if not _ISO_DATE.match(value):
        raise MarshmallowError("must be a date as YYYY-MM-DD")
    try:
        parsed = date.fromisoformat(value)
    except ValueError as e:
        raise MarshmallowError("is not a real calendar date") from e
    if parsed > calendar_today():
        raise MarshmallowError("is in the future")


def _valid_ssn_last4(value: str) -> None:
    if not _SSN_LAST4.match(value):
        raise MarshmallowError("must be exactly 4 digits")


def _text(max_length: int = 100, **kwargs: Any) -> fields.String:
    return fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=max_length), **kwargs
    )


#: A key must read back as sent: a newline, a tab, NUL or another control character is refused
#: (it could not be read back through a URL, and would forge lines of a log).
#: ``(?![\s\S])`` is the end of the text in Python and in ECMA-262 alike (the spec's pattern is this one).
NO_CONTROL = validate.Regexp(rf"^[^{CONTROL_RANGE}]*(?![\s\S])", error="no control characters (a newline, a tab, NUL)")


class RecordSchema(Schema):
    """A source record as one flat object with the canonical field names."""

    source_system = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=64), validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$",
                                                                 error="letters, digits and . _ : - only")],
        metadata={"description": "code of the sending system, e.g. st-marys-ehr"},
    )
    source_record_id = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=128), NO_CONTROL],
        metadata={"description": "the sending system's own id (MRN, member id, client id)"},
    )
    first_name = _text()
    middle_name = _text()
    last_name = _text()
    suffix = _text(16)
    birth_date = fields.String(load_default=None, allow_none=True, validate=_valid_birth_date, metadata={
        "description": "YYYY-MM-DD, a real calendar date, not after today (UTC): a rule relative to the day the "
                       "request is made, which a schema cannot say (a future date answers 422); blank: missing",
        "anyOf": [{"format": "date"}, {"pattern": BLANK}]})
    sex = fields.String(load_default=None, allow_none=True,
                        validate=validate.OneOf(["F", "M", "U", "f", "m", "u"], error="must be F, M or U"))
    ssn_last4 = fields.String(load_default=None, allow_none=True, metadata={"anyOf": [{"pattern": "^[0-9]{4}$"},
                                                                                      {"pattern": BLANK}]},
                              validate=_valid_ssn_last4)
    medicaid_id = _text(32)
    phone = _text(32)
    email = _text(254)
    address_line1 = _text(200)
    address_line2 = _text(200)
    city = _text()
    state = _text(32)
    postal_code = _text(16)

    @pre_load
    def _blank_is_missing(self, data: Any, **kwargs: Any) -> Any:
        """Empty or whitespace-only text means missing, as in the CSV files."""
        if not isinstance(data, Mapping):
            return data
        out = {}
        for key, value in data.items():
            if isinstance(value, str):
                value = value.strip()
                if value == "" and key in DEMOGRAPHIC_FIELDS:
                    value = None
            out[key] = value
        return out


_API_SCHEMA = RecordSchema(unknown=RAISE)
_CSV_SCHEMA = RecordSchema(unknown=EXCLUDE)


def validate_record(data: Any, *, strict: bool = True) -> dict[str, str | None]:
    """Validate one record; raise ValidationError naming every bad field.

    Args:
        data: the record as sent.
        strict: refuse unknown fields (the API); when False they are ignored (CSV).
    """
    if not isinstance(data, Mapping):
        raise ValidationError("the record must be a JSON object", {"_schema": ["must be an object"]})
    try:
        loaded = (_API_SCHEMA if strict else _CSV_SCHEMA).load(data)
    except MarshmallowError as e:
        messages = e.messages if isinstance(e.messages, dict) else {"_schema": e.messages}
        errors = {k: [str(m) for m in (v if isinstance(v, list) else [v])] for k, v in messages.items()}
        raise ValidationError(f"invalid record: {', '.join(sorted(errors))}", errors) from None
    return {f: loaded.get(f) for f in RECORD_FIELDS}
