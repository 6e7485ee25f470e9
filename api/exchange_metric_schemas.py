"""Marshmallow schemas of ``GET /v1/metrics/exchange``: exception governance's figures per queue (docs/metrics.md)."""

from __future__ import annotations

import marshmallow as ma

from api.metric_schemas import _INSTANT
from mpi.exchange.governance import QUEUES, SEVERITIES


class ExchangeMetricsArgsSchema(ma.Schema):
    from_ = ma.fields.String(data_key="from", attribute="from", metadata={**_INSTANT,
        "description": "start of the period (when items were opened or resolved), inclusive: an ISO date (its "
                       "midnight, UTC) or datetime; default: 30 days before `to`"})
    to = ma.fields.String(metadata={**_INSTANT,
        "description": "end of the period, exclusive: an ISO date or datetime; default: now (inclusive)"})


class TierSchema(ma.Schema):
    severity = ma.fields.String(metadata={"enum": list(SEVERITIES)})
    meaning = ma.fields.String(metadata={"description": "its coordination consequence"})


class SourceCountSchema(ma.Schema):
    source = ma.fields.String(metadata={"description": "the sender's organisation (inbound), the partner"})
    count = ma.fields.Integer()


class RecurrenceSchema(ma.Schema):
    source = ma.fields.String()
    message_type = ma.fields.String(metadata={"description": "the kind (inbound), the state carried (outbound), "
                                                             "the status category (reconciliation)"})
    count = ma.fields.Integer(metadata={"description": "items opened in the period"})


class BySeveritySchema(ma.Schema):
    high = ma.fields.Integer()
    medium = ma.fields.Integer()
    low = ma.fields.Integer()


class QueueAgeSchema(ma.Schema):
    oldest_s = ma.fields.Integer(allow_none=True, metadata={"description": "age of the oldest open item, now"})
    median_s = ma.fields.Integer(allow_none=True)


class WithinTargetSchema(ma.Schema):
    count = ma.fields.Integer(metadata={"description": "resolved by their due time"})
    of = ma.fields.Integer(metadata={"description": "items opened in the period whose outcome is known (resolved, "
                                                    "or open past their target)"})
    share = ma.fields.Float(allow_none=True, metadata={"description": "count / of, to 4 places; null when of is 0"})


class RecoverySchema(ma.Schema):
    n = ma.fields.Integer(metadata={"description": "items resolved in the period"})
    median_s = ma.fields.Integer(allow_none=True, metadata={"description": "resolved_at - opened_at"})
    p90_s = ma.fields.Integer(allow_none=True)


class FiguresSchema(ma.Schema):
    volume = ma.fields.Integer(metadata={"description": "items opened in the period"})
    volume_by_source = ma.fields.List(ma.fields.Nested(SourceCountSchema))
    open = ma.fields.Integer(metadata={"description": "open now"})
    open_by_severity = ma.fields.Nested(BySeveritySchema)
    overdue = ma.fields.Integer(metadata={"description": "open now and past their target"})
    queue_age = ma.fields.Nested(QueueAgeSchema)
    resolved_within_target = ma.fields.Nested(WithinTargetSchema)
    time_to_recovery = ma.fields.Nested(RecoverySchema, metadata={"description": "time to manual recovery"})
    recurrence = ma.fields.List(ma.fields.Nested(RecurrenceSchema), metadata={
        "description": "items per (source, message type) opened in the period, most first"})


class QueueFiguresSchema(FiguresSchema):
    queue = ma.fields.String(metadata={"description": ", ".join(QUEUES)})
    owners = ma.fields.List(ma.fields.String(), metadata={"description": "the owning teams its items name"})


class ExchangeMetricsSchema(ma.Schema):
    """Exception governance over the exchange's queues (definitions: docs/metrics.md#exchange)."""

    from_ = ma.fields.DateTime(data_key="from", attribute="from")
    to = ma.fields.DateTime()
    at = ma.fields.DateTime(metadata={"description": "the moment open items, overdue and queue age are measured at"})
    severity_tiers = ma.fields.List(ma.fields.Nested(TierSchema))
    queues = ma.fields.List(ma.fields.Nested(QueueFiguresSchema))
    all = ma.fields.Nested(FiguresSchema, metadata={"description": "every queue together"})
