"""Marshmallow schemas of ``GET /v1/metrics/referrals``: its query and its answer, as the OpenAPI document shows them.

The query's parameters are declared as text: the core checks them all together
(``mpi.referrals.metrics.MetricsQuery.parse``) so that one 422 names every bad
one, which a schema failing field by field before the core ran could not do.
Each measure is defined in ``docs/metrics.md``.
"""

from __future__ import annotations

import marshmallow as ma

from mpi.referral_vocab import Urgency
from mpi.referrals.metrics import INTERVALS

_URGENCIES = ", ".join(u.value for u in Urgency)
#: ``from`` and ``to``: an ISO date or date-time (the core's parse checks them, all bad ones together).
_INSTANT = {"anyOf": [{"format": "date"}, {"format": "date-time"}, {"maxLength": 0}]}


class MetricsArgsSchema(ma.Schema):
    from_ = ma.fields.String(data_key="from", attribute="from", metadata={**_INSTANT,
        "description": "start of the period (received_at), inclusive: an ISO date (its midnight, UTC) or datetime; "
                       "default: 30 days before `to`"})
    to = ma.fields.String(metadata={**_INSTANT,
        "description": "end of the period, exclusive: an ISO date or datetime; default: now (inclusive)"})
    performer = ma.fields.List(ma.fields.String(), metadata={"description": "organisation code; repeatable"})
    requester = ma.fields.List(ma.fields.String(), metadata={"description": "organisation code; repeatable"})
    service_type = ma.fields.List(ma.fields.String(), metadata={"description": "repeatable"})
    urgency = ma.fields.List(ma.fields.String(metadata={"enum": ["", *(u.value for u in Urgency)]}),
                             metadata={"description": f"{_URGENCIES}; repeatable"})
    interval = ma.fields.String(metadata={"enum": ["", *INTERVALS],
        "description": f"add a series by bucket of received_at (UTC): {', '.join(INTERVALS)}"})
    format = ma.fields.String(metadata={"enum": ["", "json", "csv"], "description": "json (default) or csv (text/csv, one metric,value row each)"})


class ShareSchema(ma.Schema):
    count = ma.fields.Integer(metadata={"description": "referrals counted"})
    of = ma.fields.Integer(metadata={"description": "out of"})
    share = ma.fields.Float(allow_none=True, metadata={"description": "count / of, to 4 places; null when of is 0"})


class IntervalSchema(ma.Schema):
    n = ma.fields.Integer(metadata={"description": "referrals whose clock was met"})
    median_business_hours = ma.fields.Float(allow_none=True)
    p90_business_hours = ma.fields.Float(allow_none=True)


class IntervalsSchema(ma.Schema):
    to_acknowledge = ma.fields.Nested(IntervalSchema)
    to_triage = ma.fields.Nested(IntervalSchema)
    to_first_contact = ma.fields.Nested(IntervalSchema)


class DeclineSchema(ma.Schema):
    reason = ma.fields.String(allow_none=True)
    party = ma.fields.String(allow_none=True)
    count = ma.fields.Integer()


class GatedSchema(ma.Schema):
    count = ma.fields.Integer(metadata={"description": "referrals ever gated on identity"})
    total_hours = ma.fields.Float(metadata={"description": "their time gated, up to now for those still gated"})
    median_hours = ma.fields.Float(allow_none=True)


class OverdueByClockSchema(ma.Schema):
    acknowledge = ma.fields.Integer()
    triage = ma.fields.Integer()
    first_contact = ma.fields.Integer()


class OverdueSchema(ma.Schema):
    count = ma.fields.Integer(metadata={"description": "open referrals past the due time of a running clock, now"})
    by_clock = ma.fields.Nested(OverdueByClockSchema, metadata={
        "description": "each counted once, under the earliest clock it is overdue on"})


class SeriesEntrySchema(ma.Schema):
    period_start = ma.fields.Date()
    referrals = ma.fields.Integer()
    acknowledged_within_1_business_day = ma.fields.Float(allow_none=True)
    acknowledged_within_target = ma.fields.Float(allow_none=True)
    triaged_within_target = ma.fields.Float(allow_none=True)
    first_contact_within_target = ma.fields.Float(allow_none=True)
    acceptance_rate = ma.fields.Float(allow_none=True)
    completion_rate = ma.fields.Float(allow_none=True)


class PeriodSchema(ma.Schema):
    from_ = ma.fields.DateTime(data_key="from", attribute="from")
    to = ma.fields.DateTime()
    interval = ma.fields.String(allow_none=True)


class FiltersSchema(ma.Schema):
    performer = ma.fields.List(ma.fields.String())
    requester = ma.fields.List(ma.fields.String())
    service_type = ma.fields.List(ma.fields.String())
    urgency = ma.fields.List(ma.fields.String())


class ReferralMetricsSchema(ma.Schema):
    """The loop measures over the referrals received in a period (definitions: docs/metrics.md)."""

    period = ma.fields.Nested(PeriodSchema)
    filters = ma.fields.Nested(FiltersSchema)
    as_of = ma.fields.DateTime(metadata={"description": "the time overdue and gated time are measured at"})
    referrals = ma.fields.Integer(metadata={"description": "received in the period"})
    acknowledged_within_1_business_day = ma.fields.Nested(ShareSchema)
    acknowledged_within_target = ma.fields.Nested(ShareSchema)
    triaged_within_target = ma.fields.Nested(ShareSchema)
    first_contact_within_target = ma.fields.Nested(ShareSchema)
    intervals = ma.fields.Nested(IntervalsSchema)
    acceptance_rate = ma.fields.Nested(ShareSchema, metadata={"description": "accepted / accepted, declined or redirected"})
    completion_rate = ma.fields.Nested(ShareSchema, metadata={"description": "completed / accepted"})
    verified_start_or_documented_non_start = ma.fields.Nested(ShareSchema)
    declines_by_reason = ma.fields.List(ma.fields.Nested(DeclineSchema))
    redirects = ma.fields.Integer()
    gated = ma.fields.Nested(GatedSchema)
    overdue = ma.fields.Nested(OverdueSchema)
    status_unknown_beyond_target = ma.fields.Nested(ShareSchema, metadata={
        "description": "still submitted past the acknowledgement's due time"})
    series = ma.fields.List(ma.fields.Nested(SeriesEntrySchema), metadata={"description": "only with interval"})
