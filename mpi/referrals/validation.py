"""What a requester sends: a referral and the person it is for, checked before anything is written.

One marshmallow schema serves the API (it documents ``POST /v1/referrals``) and
the core (:func:`validate_referral`, which every caller goes through). Unknown
fields are an error, so a misspelt field is never silently dropped; errors name
every bad field by its path (``person.birth_date``, ``requester_contact.phone``)
and never echo a value. The minimum data set is not checked here but by
:func:`mpi.referrals.policy.missing_fields`, once the shape is right.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from marshmallow import RAISE, Schema, fields, validate
from marshmallow import ValidationError as MarshmallowError

from mpi.errors import ValidationError, flatten
from mpi.records.validation import NO_CONTROL, RecordSchema
from mpi.referral_vocab import Consent, Party, ReasonCode, ReferralState, Urgency

#: What a step's ``event_time`` must be, which a schema cannot say (relative to now and to the referral's own times).
_EVENT_TIME = ("when it happened (default: now); not in the future, nor before the referral was received or its "
               "last recorded change (a 422 naming event_time)")
_CODE = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", error="a code: letters, digits and . _ - only")
_SERVICE = validate.Regexp(r"^[a-z0-9][a-z0-9._-]{0,63}$", error="a code: lower-case letters, digits and . _ -")


def _text(max_length: int, **kwargs: Any) -> fields.String:
    return fields.String(load_default=None, allow_none=True, validate=validate.Length(max=max_length), **kwargs)


def _one_of(enum, **kwargs: Any) -> fields.String:
    values = [e.value for e in enum]
    return fields.String(validate=validate.OneOf(values, error=f"must be one of {', '.join(values)}"), **kwargs)


class ContactSchema(Schema):
    """Who at the requester to call back about the referral."""

    class Meta:
        unknown = RAISE

    name = _text(200)
    phone = _text(32)
    email = _text(254)


class ServiceAddressSchema(Schema):
    """Where the service is delivered (it may differ from the person's own address)."""

    class Meta:
        unknown = RAISE

    address_line1 = _text(200)
    address_line2 = _text(200)
    city = _text(100)
    state = _text(32)
    postal_code = _text(16)


class ReferralSchema(Schema):
    """A referral as a requester sends it."""

    class Meta:
        unknown = RAISE

    requester = fields.String(required=True, validate=_CODE,
                              metadata={"description": "code of the referring organisation (the caller's own)"})
    requester_referral_id = fields.String(required=True, validate=[validate.Length(min=1, max=128), NO_CONTROL],
                                          metadata={"description": "the requester's own id of this referral"})
    performer = fields.String(required=True, validate=_CODE,
                              metadata={"description": "code of the organisation asked to serve"})
    service_type = fields.String(required=True, validate=_SERVICE,
                                 metadata={"description": "what is asked for (food, housing, ...)"})
    urgency = _one_of(Urgency, required=True)
    reason = _text(2000, metadata={"description": "why the person is referred"})
    requester_contact = fields.Nested(ContactSchema, load_default=None, allow_none=True)
    consent = _one_of(Consent, load_default=None, allow_none=True)
    risk_flags = fields.List(fields.String(validate=validate.Length(min=1, max=64)), load_default=list,
                             validate=validate.Length(max=20))
    service_address = fields.Nested(ServiceAddressSchema, load_default=None, allow_none=True)
    person = fields.Nested(RecordSchema(unknown=RAISE), required=True,
                           metadata={"description": "the person: a canonical record, as POST /v1/records takes it"})


class StatusChangeSchema(Schema):
    """A step of the lifecycle."""

    class Meta:
        unknown = RAISE

    state = _one_of(ReferralState, required=True)
    event_time = fields.AwareDateTime(load_default=None, allow_none=True, default_timezone=timezone.utc,
                                      metadata={"description": _EVENT_TIME})
    reason = _one_of(ReasonCode, load_default=None, allow_none=True)
    party = _one_of(Party, load_default=None, allow_none=True)
    note = _text(2000)
    performer = fields.String(load_default=None, allow_none=True, validate=_CODE,
                              metadata={"description": "for redirected: the organisation the successor goes to"})


class CorrectionSchema(Schema):
    """The requester's correction of a referral returned as information-incomplete: the fields it sends replace
    the referral's own (those it leaves out stay as they are)."""

    class Meta:
        unknown = RAISE

    event_time = fields.AwareDateTime(load_default=None, allow_none=True, default_timezone=timezone.utc,
                                      metadata={"description": _EVENT_TIME})
    reason = fields.String(allow_none=True, validate=validate.Length(max=2000))
    requester_contact = fields.Nested(ContactSchema, allow_none=True)
    consent = _one_of(Consent, allow_none=True)
    risk_flags = fields.List(fields.String(validate=validate.Length(min=1, max=64)), validate=validate.Length(max=20))
    service_address = fields.Nested(ServiceAddressSchema, allow_none=True)
    note = _text(2000)


class ReopenSchema(Schema):
    """Reopening a closed referral."""

    class Meta:
        unknown = RAISE

    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000),
                           metadata={"description": "why it is reopened"})
    event_time = fields.AwareDateTime(load_default=None, allow_none=True, default_timezone=timezone.utc,
                                      metadata={"description": _EVENT_TIME})


def load(schema: Schema, data: Any, what: str) -> dict[str, Any]:
    """Load ``data`` with a schema; raise ValidationError naming every bad field (never its value)."""
    if not isinstance(data, Mapping):
        raise ValidationError(f"the {what} must be a JSON object", {"_schema": ["must be an object"]})
    try:
        return schema.load(data)
    except MarshmallowError as e:
        errors = flatten(e.messages)
        raise ValidationError(f"invalid {what}: {', '.join(sorted(errors))}", errors) from None


_REFERRAL = ReferralSchema()
_STATUS = StatusChangeSchema()
_CORRECTION = CorrectionSchema()
_REOPEN = ReopenSchema()


def validate_referral(data: Any) -> dict[str, Any]:
    return load(_REFERRAL, data, "referral")


def validate_status_change(data: Any) -> dict[str, Any]:
    return load(_STATUS, _iso_times(data), "status change")


def validate_correction(data: Any) -> dict[str, Any]:
    return load(_CORRECTION, _iso_times(data), "correction")


def validate_reopen(data: Any) -> dict[str, Any]:
    return load(_REOPEN, _iso_times(data), "reopen")


def _iso_times(data: Any) -> Any:
    """A datetime already loaded (the API's schema ran first) back to ISO text, so loading twice is the same."""
    if isinstance(data, Mapping) and isinstance(data.get("event_time"), datetime):
        return {**data, "event_time": data["event_time"].isoformat()}
    return data
