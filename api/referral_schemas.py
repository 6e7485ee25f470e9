"""Marshmallow schemas of the referral tracker's API: organisations, referrals, their lists and alerts.

Request bodies are the core's own schemas (``mpi.referrals.validation``), so the
API documents exactly what the core checks.
"""

from __future__ import annotations

from zoneinfo import available_timezones

import marshmallow as ma
from holidays import list_supported_countries

from api.outbound_schemas import PartnerViewSchema
from api.schemas import MAX_OFFSET
from mpi.directory.calendar import DAYS
from mpi.directory.organisations import CODE, SERVICE_TYPE, USER_NAME
from mpi.records.text import NOT_BLANK, WHITESPACE_RANGE
from mpi.referrals.lifecycle import Clock
from mpi.referrals.validation import (
    ContactSchema,
    CorrectionSchema,
    ReferralSchema,
    ReopenSchema,
    ServiceAddressSchema,
    StatusChangeSchema,
)
from mpi.referral_vocab import AlertKind, OrganisationKind, ReferralState, Urgency

__all__ = ["ReferralSchema", "StatusChangeSchema", "CorrectionSchema", "ReopenSchema"]

_STATES = [s.value for s in ReferralState]


# ------------------------------------------------------------------------------------------ organisations

class CalendarSchema(ma.Schema):
    timezone = ma.fields.String(metadata={"description": "IANA time zone, e.g. America/Chicago"})
    hours = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(allow_none=True), metadata={
        "description": "business hours per weekday (mon..sun) as HH:MM-HH:MM; null or missing: closed"})
    holidays = ma.fields.Dict(allow_none=True, metadata={
        "description": "public holidays: {country, subdivision} as the holidays package knows them; null: none"})
    closed = ma.fields.List(ma.fields.String(), metadata={"description": "other closed days, YYYY-MM-DD"})


def calendar_spec() -> dict:
    """The calendar a directory entry takes, as JSON Schema (the directory checks it: ``BusinessCalendar``)."""
    hour = "(0?[0-9]|1[0-9]|2[0-3]):[0-5][0-9]"
    window = f"^[{WHITESPACE_RANGE}]*{hour}[{WHITESPACE_RANGE}]*-[{WHITESPACE_RANGE}]*({hour}|24:00)[{WHITESPACE_RANGE}]*$"
    day = {"type": "string", "nullable": True, "pattern": window}
    return {
        "type": "object", "nullable": True, "additionalProperties": False,
        "properties": {
            "timezone": {"type": "string", "enum": sorted(available_timezones())},
            "hours": {"type": "object", "additionalProperties": False, "properties": {d: day for d in DAYS},
                      "anyOf": [{"required": [d], "properties": {d: {"type": "string"}}} for d in DAYS],
                      "description": "business hours per weekday as HH:MM-HH:MM; null or missing: closed"},
            "holidays": {"type": "object", "nullable": True, "additionalProperties": False, "required": ["country"],
                         "properties": {"country": {"type": "string", "enum": sorted(list_supported_countries())},
                                        "subdivision": {"type": "string", "nullable": True}}},
            "closed": {"type": "array", "items": {"type": "string", "format": "date"}},
        },
    }


class OrganisationBodySchema(ma.Schema):
    """An organisation's entry: checked whole by the directory, so every problem is named together."""

    class Meta:
        unknown = ma.RAISE

    code = ma.fields.String(required=True, metadata={"description": "short code, e.g. st-marys",
                                                     "pattern": CODE.pattern})
    name = ma.fields.String(required=True, metadata={"minLength": 1, "maxLength": 200, "pattern": NOT_BLANK})
    kind = ma.fields.String(required=True, metadata={"enum": [k.value for k in OrganisationKind]})
    service_types = ma.fields.Raw(load_default=list, allow_none=True, metadata={
        "description": "a list of the service types it performs (food, housing, ...)", "type": "array",
        "items": {"type": "string", "pattern": SERVICE_TYPE.pattern}, "nullable": True})
    calendar = ma.fields.Dict(allow_none=True, load_default=None, metadata={
        "description": "its business-hours calendar; default Mon-Fri 09:00-17:00 America/New_York with US federal "
                       "holidays. Each day's close is after its open, and a subdivision is one of the country's "
                       "(rules comparing two values, which the schema cannot say: 422 naming the field)",
        **calendar_spec()})
    supervisors = ma.fields.Raw(load_default=list, allow_none=True, metadata={
        "description": "a list of user names that escalations go to", "type": "array",
        "items": {"type": "string", "pattern": USER_NAME.pattern}, "nullable": True})


class OrganisationSchema(ma.Schema):
    code = ma.fields.String()
    name = ma.fields.String()
    kind = ma.fields.String()
    service_types = ma.fields.List(ma.fields.String())
    timezone = ma.fields.Function(lambda o: (o.get("calendar") or {}).get("timezone"))
    calendar = ma.fields.Nested(CalendarSchema)
    supervisors = ma.fields.List(ma.fields.String())
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class OrganisationListSchema(ma.Schema):
    organisations = ma.fields.List(ma.fields.Nested(OrganisationSchema))


# ---------------------------------------------------------------------------------------------- referrals

class HistorySchema(ma.Schema):
    seq = ma.fields.Integer(metadata={"description": "the version this change made"})
    kind = ma.fields.String(metadata={"description": "intake, status, correction, reopen, gate, lift or person"})
    from_state = ma.fields.String(allow_none=True)
    to_state = ma.fields.String(allow_none=True)
    event_time = ma.fields.DateTime(metadata={"description": "when it happened"})
    recorded_time = ma.fields.DateTime(metadata={"description": "when the service stored it"})
    actor = ma.fields.String()
    party = ma.fields.String(allow_none=True)
    reason = ma.fields.String(allow_none=True)
    note = ma.fields.String(allow_none=True)
    detail = ma.fields.Dict(allow_none=True)


class LineageSchema(ma.Schema):
    referral_id = ma.fields.String()
    reference = ma.fields.String()
    performer = ma.fields.String()
    state = ma.fields.String()
    predecessor_id = ma.fields.String(allow_none=True)


class ClockSchema(ma.Schema):
    target_business_hours = ma.fields.Float(allow_none=True)
    due_at = ma.fields.DateTime(allow_none=True, metadata={"description": "empty while the clock is paused"})
    met_at = ma.fields.DateTime(allow_none=True)
    business_hours_taken = ma.fields.Float(allow_none=True)
    within_target = ma.fields.Boolean(allow_none=True)
    overdue = ma.fields.Boolean()


class RecordKeySchema(ma.Schema):
    source_system = ma.fields.String()
    source_record_id = ma.fields.String()


class ReferralOutSchema(ma.Schema):
    """A referral as readers see it."""

    referral_id = ma.fields.String()
    reference = ma.fields.String(metadata={"description": "human reference, e.g. REF-2026-000123"})
    requester = ma.fields.String()
    requester_referral_id = ma.fields.String()
    performer = ma.fields.String()
    service_type = ma.fields.String()
    urgency = ma.fields.String(metadata={"description": ", ".join(u.value for u in Urgency)})
    reason = ma.fields.String(allow_none=True, metadata={
        "description": "null for its performer when consent is not granted and the service type is sensitive "
                       "(then withheld names it)"})
    requester_contact = ma.fields.Nested(ContactSchema, allow_none=True)
    consent = ma.fields.String(allow_none=True)
    withheld = ma.fields.List(ma.fields.String(), metadata={
        "description": "fields not shown to this caller for want of the person's consent (ask the requester)"})
    risk_flags = ma.fields.List(ma.fields.String())
    service_address = ma.fields.Nested(ServiceAddressSchema, allow_none=True)
    record = ma.fields.Function(lambda r: {"source_system": r["source_system"],
                                           "source_record_id": r["source_record_id"]},
                                metadata={"description": "the requester's record of the person"})
    person_id = ma.fields.String(allow_none=True, metadata={"description": "null while gated"})
    state = ma.fields.String(metadata={"description": ", ".join(_STATES)})
    state_reason = ma.fields.String(allow_none=True)
    state_party = ma.fields.String(allow_none=True)
    gate = ma.fields.String(allow_none=True, metadata={"description": "identity_pending, or null"})
    review_case_id = ma.fields.String(allow_none=True, metadata={
        "description": "the review case it waits on (while gated) or last waited on"})
    gated_seconds = ma.fields.Float(metadata={"description": "time spent gated, up to now"})
    predecessor_id = ma.fields.String(allow_none=True)
    successor_ids = ma.fields.List(ma.fields.String())
    received_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()
    closed_at = ma.fields.DateTime(allow_none=True)
    expected_acknowledge_by = ma.fields.DateTime(attribute="ack_due_at", allow_none=True)
    expected_triage_by = ma.fields.DateTime(attribute="triage_due_at", allow_none=True)
    expected_first_contact_by = ma.fields.DateTime(attribute="contact_due_at", allow_none=True)
    expires_at = ma.fields.DateTime(attribute="expiry_due_at", allow_none=True)
    next_due_at = ma.fields.DateTime(allow_none=True)
    next_clock = ma.fields.String(allow_none=True)
    overdue = ma.fields.Boolean()
    clocks = ma.fields.Dict(keys=ma.fields.String(validate=ma.validate.OneOf([c.value for c in Clock])),
                            values=ma.fields.Nested(ClockSchema))
    next_states = ma.fields.List(ma.fields.String(), metadata={"description": "states the lifecycle allows next"})
    your_steps = ma.fields.List(ma.fields.String(), metadata={"description": "those the caller may take now"})
    version = ma.fields.Integer()
    history = ma.fields.List(ma.fields.Nested(HistorySchema))
    lineage = ma.fields.List(ma.fields.Nested(LineageSchema))
    partner_views = ma.fields.List(ma.fields.Nested(PartnerViewSchema), metadata={
        "description": "in GET /v1/referrals/{referral_id} only: each partner system that hears of it (of its "
                       "requester or performer, or any for a steward or admin), stale since the event time of the "
                       "first change it has not acknowledged, with the manual reports it was given"})


class ReferralSummarySchema(ReferralOutSchema):
    """A referral in a list: without its history, lineage and partner views."""

    class Meta:
        exclude = ("history", "lineage", "partner_views")


class ReferralListArgsSchema(ma.Schema):
    state = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(_STATES)), metadata={"description": "repeatable"})
    performer = ma.fields.String()
    requester = ma.fields.String()
    gated = ma.fields.Boolean()
    overdue = ma.fields.Boolean()
    urgency = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf([u.value for u in Urgency])))
    service_type = ma.fields.String()
    waiting_on = ma.fields.String(metadata={"description": "an organisation: referrals whose next step is its"})
    person_id = ma.fields.String()
    order = ma.fields.String(load_default="due", validate=ma.validate.OneOf(["due", "newest"]))
    limit = ma.fields.Integer(load_default=50, validate=ma.validate.Range(min=1, max=1000))
    offset = ma.fields.Integer(load_default=0, validate=ma.validate.Range(min=0, max=MAX_OFFSET))


class ReferralListSchema(ma.Schema):
    referrals = ma.fields.List(ma.fields.Nested(ReferralSummarySchema))
    total = ma.fields.Integer()
    limit = ma.fields.Integer()
    offset = ma.fields.Integer()


# ------------------------------------------------------------------------------------------------- alerts

class AlertSchema(ma.Schema):
    alert_id = ma.fields.String()
    referral_id = ma.fields.String()
    kind = ma.fields.String(metadata={"description": ", ".join(k.value for k in AlertKind)})
    clock = ma.fields.String()
    organisation = ma.fields.String(metadata={"description": "the organisation that owns the clock"})
    recipients = ma.fields.List(ma.fields.String(), metadata={"description": "supervisors an escalation names"})
    due_at = ma.fields.DateTime()
    raised_at = ma.fields.DateTime()
    acknowledged_at = ma.fields.DateTime(allow_none=True)
    acknowledged_by = ma.fields.String(allow_none=True)


class AlertArgsSchema(ma.Schema):
    kind = ma.fields.String(validate=ma.validate.OneOf([k.value for k in AlertKind]))
    referral_id = ma.fields.String()
    acknowledged = ma.fields.Boolean()
    mine = ma.fields.Boolean(load_default=False, metadata={"description": "only alerts naming the caller"})
    limit = ma.fields.Integer(load_default=50, validate=ma.validate.Range(min=1, max=1000))
    offset = ma.fields.Integer(load_default=0, validate=ma.validate.Range(min=0, max=MAX_OFFSET))


class AlertListSchema(ma.Schema):
    alerts = ma.fields.List(ma.fields.Nested(AlertSchema))
    total = ma.fields.Integer()
    limit = ma.fields.Integer()
    offset = ma.fields.Integer()
