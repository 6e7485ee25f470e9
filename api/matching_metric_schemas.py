"""Marshmallow schemas of ``GET /v1/metrics/matching``: its query and its answer (``mpi.stewardship.matching_metrics``)."""

from __future__ import annotations

import marshmallow as ma

from mpi.stewardship.matching_metrics import BUCKETS

_INTERVAL = "Wilson score interval at 95%"


class MatchingMetricsArgsSchema(ma.Schema):
    from_ = ma.fields.Date(data_key="from", attribute="from", metadata={
        "description": "first day of the period (UTC), inclusive: YYYY-MM-DD; default: since the first auto-link"})
    to = ma.fields.Date(metadata={"description": "last day of the period (UTC), inclusive: YYYY-MM-DD; default: "
                                                 "today; not before `from` (a 422 naming `to`: 'must be after from')"})
    bucket = ma.fields.String(validate=ma.validate.OneOf(BUCKETS), metadata={
        "description": "size of the over_time buckets (of the link's time, UTC): week (from Monday) or month; "
                       "default month"})


class SpotChecksSchema(ma.Schema):
    sampled = ma.fields.Integer(metadata={"description": "SPOT_CHECK cases opened (auto-links drawn)"})
    confirmed = ma.fields.Integer(metadata={"description": "resolved confirmed: the link was right"})
    rejected = ma.fields.Integer(metadata={"description": "resolved rejected: the wrong person"})
    open = ma.fields.Integer(metadata={"description": "still waiting for a steward"})


class FromSpotChecksSchema(ma.Schema):
    estimate = ma.fields.Float(allow_none=True, metadata={
        "description": "confirmed / (confirmed + rejected), to 4 places; null when none is answered"})
    low = ma.fields.Float(allow_none=True, metadata={"description": f"lower bound ({_INTERVAL})"})
    high = ma.fields.Float(allow_none=True, metadata={"description": f"upper bound ({_INTERVAL})"})
    n = ma.fields.Integer(metadata={"description": "spot-checks answered (confirmed + rejected)"})
    method = ma.fields.String(metadata={"enum": ["wilson-95"]})


class FromUndoneSchema(ma.Schema):
    auto_links = ma.fields.Integer()
    undone_or_unmerged = ma.fields.Integer(metadata={
        "description": "of them, later taken from their person by a steward (undone, rejected on a spot-check, "
                       "linked elsewhere) or by an unmerge"})
    estimate = ma.fields.Float(allow_none=True, metadata={
        "description": "1 - undone_or_unmerged / auto_links, to 4 places: counts only errors someone noticed, so "
                       "an upper bound on precision; null when there are no auto-links"})
    low = ma.fields.Float(allow_none=True, metadata={"description": f"lower bound ({_INTERVAL})"})
    high = ma.fields.Float(allow_none=True, metadata={"description": f"upper bound ({_INTERVAL})"})
    method = ma.fields.String(metadata={"enum": ["wilson-95"]})


class PrecisionSchema(ma.Schema):
    from_spot_checks = ma.fields.Nested(FromSpotChecksSchema, metadata={
        "description": "unbiased: the sample is drawn independently of the match"})
    from_undone = ma.fields.Nested(FromUndoneSchema)


class FiguresSchema(ma.Schema):
    auto_links = ma.fields.Integer(metadata={
        "description": "records the matcher linked (MATCH, AUTO) to a person they were not linked to before"})
    spot_checks = ma.fields.Nested(SpotChecksSchema)
    precision = ma.fields.Nested(PrecisionSchema)


class BySourceSystemSchema(FiguresSchema):
    source_system = ma.fields.String(metadata={"description": "the system that sent the linked record"})


class OverTimeSchema(FiguresSchema):
    period = ma.fields.Date(metadata={"description": "first day of the bucket (UTC)"})


class ReviewShareSchema(ma.Schema):
    records_decided = ma.fields.Integer(metadata={
        "description": "the matcher's decisions: its links (MATCH or NO_MATCH) and the cases it opened to hold a "
                       "record"})
    held = ma.fields.Integer(metadata={"description": "of them, records held for a steward (POSSIBLE_MATCH)"})
    share = ma.fields.Float(allow_none=True, metadata={"description": "held / records_decided, to 4 places"})


class MatchingPeriodSchema(ma.Schema):
    from_ = ma.fields.Date(data_key="from", attribute="from", allow_none=True)
    to = ma.fields.Date()
    bucket = ma.fields.String(metadata={"enum": list(BUCKETS)})


class MatchingMetricsSchema(FiguresSchema):
    """How well the matcher does over a period: auto-link precision two ways with intervals, review share."""

    period = ma.fields.Nested(MatchingPeriodSchema)
    by_source_system = ma.fields.List(ma.fields.Nested(BySourceSystemSchema))
    over_time = ma.fields.List(ma.fields.Nested(OverTimeSchema))
    review_share = ma.fields.Nested(ReviewShareSchema)
    decisions_by_case_kind = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer()),
        metadata={"description": "cases resolved in the period: kind -> resolution -> count"})
