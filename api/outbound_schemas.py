"""Marshmallow schemas of the outbound exception queue (``/v1/outbound-exceptions``), partner pause, resume and
back-post, and manual status reports (``/v1/referrals/{referral_id}/manual-reports``)."""

from __future__ import annotations

import marshmallow as ma

from api.schemas import MAX_OFFSET
from mpi.exchange.manual_reports import MAX_TOLD_BY
from mpi.exchange.outbound import MAX_NOTE
from mpi.exchange.outbound_vocab import ManualMethod, PatternState, Severity
from mpi.exchange.partners import NAME, PARTNER_ID
from mpi.exchange.vocab import DeliveryStatus, PartnerStatus
from mpi.records.text import NOT_BLANK
from mpi.referral_vocab import ReferralState

_STATES = [s.value for s in ReferralState]


def _words(enum) -> str:
    return ", ".join(e.value for e in enum)


def _note(description: str) -> ma.fields.String:
    return ma.fields.String(required=True, validate=[ma.validate.Length(min=1, max=MAX_NOTE), ma.validate.Regexp(
        NOT_BLANK, error="required: not only spaces")], metadata={"description": description})


class ManualReportSchema(ma.Schema):
    report_id = ma.fields.String()
    referral_id = ma.fields.String()
    partner_id = ma.fields.String()
    told_by = ma.fields.String(metadata={"description": "who told the partner"})
    method = ma.fields.String(metadata={"description": _words(ManualMethod)})
    state = ma.fields.String(metadata={"description": "the referral state the partner was told"})
    reported_at = ma.fields.DateTime(metadata={"description": "when the partner was told"})
    note = ma.fields.String()
    recorded_at = ma.fields.DateTime()
    recorded_by = ma.fields.String(metadata={"description": "who recorded it, as the audit log names callers"})


class ManualReportBodySchema(ma.Schema):
    """A manual status report: who told the partner what, how and when."""

    class Meta:
        unknown = ma.RAISE

    partner_id = ma.fields.String(required=True, validate=ma.validate.Regexp(PARTNER_ID, error="a partner id"),
                                  metadata={"description": "the partner that was told (a partner of the exchange)"})
    told_by = ma.fields.String(required=True, validate=[ma.validate.Length(min=1, max=MAX_TOLD_BY), ma.validate.Regexp(
        NAME, error="not only spaces, no control characters")], metadata={"description": "who told the partner"})
    method = ma.fields.String(required=True, validate=ma.validate.OneOf([m.value for m in ManualMethod]),
                              metadata={"description": _words(ManualMethod)})
    state = ma.fields.String(required=True, validate=ma.validate.OneOf(_STATES), metadata={
        "description": "the referral state the partner was told"})
    reported_at = ma.fields.AwareDateTime(required=True, metadata={
        "description": "when the partner was told, with its UTC offset; must not be in the future"})
    note = _note("what was said, and to whom at the partner")


class ManualReportListSchema(ma.Schema):
    manual_reports = ma.fields.List(ma.fields.Nested(ManualReportSchema))


class PatternReferralSchema(ma.Schema):
    referral_id = ma.fields.String()
    messages = ma.fields.Integer(metadata={"description": "its dead messages in the pattern"})
    event_time = ma.fields.DateTime(metadata={"description": "the event time of the first of them"})
    dead_at = ma.fields.DateTime(metadata={"description": "when the first of them died"})
    status = ma.fields.String(metadata={"description": f"its latest message's delivery status: "
                                                       f"{_words(DeliveryStatus)}"})


class BackPostSchema(ma.Schema):
    back_post_id = ma.fields.String()
    messages = ma.fields.Integer(metadata={"description": "messages queued again"})
    patterns_closed = ma.fields.List(ma.fields.String())


class PatternSchema(ma.Schema):
    pattern_id = ma.fields.String()
    partner_id = ma.fields.String()
    partner_status = ma.fields.String(allow_none=True, metadata={"description": _words(PartnerStatus)})
    message_type = ma.fields.String(metadata={"description": "the referral state the messages carry"})
    error_code = ma.fields.String(metadata={"description": "http_NNN, timeout, connect_error or network_error"})
    severity = ma.fields.String(metadata={"description": _words(Severity)})
    owner = ma.fields.String(metadata={"description": "the owning team (MPI_OUTBOUND_OWNER)"})
    state = ma.fields.String(metadata={"description": _words(PatternState)})
    count = ma.fields.Integer(metadata={"description": "dead messages in it"})
    first_dead_at = ma.fields.DateTime(allow_none=True)
    last_dead_at = ma.fields.DateTime(allow_none=True)
    referrals_total = ma.fields.Integer(metadata={"description": "referrals it affects (referrals lists the first "
                                                                 "100)"})
    referrals = ma.fields.List(ma.fields.Nested(PatternReferralSchema))
    opened_at = ma.fields.DateTime()
    due_at = ma.fields.DateTime(metadata={"description": "target resolution time (MPI_OUTBOUND_TARGET_*_HOURS)"})
    age_s = ma.fields.Integer(metadata={"description": "seconds since it opened (until it closed)"})
    overdue = ma.fields.Boolean()
    closed_at = ma.fields.DateTime(allow_none=True)
    closed_by = ma.fields.String(allow_none=True)
    close_note = ma.fields.String(allow_none=True)
    back_post_id = ma.fields.String(allow_none=True, metadata={"description": "the back-post that closed it"})


class PatternDetailSchema(PatternSchema):
    manual_reports = ma.fields.List(ma.fields.Nested(ManualReportSchema), metadata={
        "description": "manual reports its partner was given about the referrals it lists"})
    back_post = ma.fields.Nested(BackPostSchema, metadata={"description": "in a back-post's answer only"})


class PatternListSchema(ma.Schema):
    patterns = ma.fields.List(ma.fields.Nested(PatternSchema))
    total = ma.fields.Integer()


class PatternArgsSchema(ma.Schema):
    partner_id = ma.fields.String(validate=ma.validate.Length(max=64))
    message_type = ma.fields.String(validate=ma.validate.OneOf(_STATES))
    severity = ma.fields.String(validate=ma.validate.OneOf([s.value for s in Severity]))
    error_code = ma.fields.String(validate=ma.validate.Length(max=64))
    state = ma.fields.String(validate=ma.validate.OneOf([s.value for s in PatternState]))
    limit = ma.fields.Integer(load_default=50, validate=ma.validate.Range(min=1, max=1000))
    offset = ma.fields.Integer(load_default=0, validate=ma.validate.Range(min=0, max=MAX_OFFSET))


class NoteSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    note = _note("why it can go again: what was fixed (closes the patterns)")


class PauseSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    reason = _note("why the partner is paused")


class ResumeSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE


class PartnerStateSchema(ma.Schema):
    partner_id = ma.fields.String()
    status = ma.fields.String(metadata={"description": _words(PartnerStatus)})
    stale_referrals = ma.fields.Integer(metadata={"description": "referrals it has undelivered messages of"})
    undelivered = ma.fields.Integer(metadata={"description": "its messages not yet acknowledged"})
    stale_since = ma.fields.DateTime(allow_none=True, metadata={
        "description": "event time of its earliest undelivered message: its view is stale since then"})
    open_patterns = ma.fields.List(ma.fields.String())
    back_post = ma.fields.Nested(BackPostSchema, metadata={"description": "in a back-post's answer only"})


class PartnerViewSchema(ma.Schema):
    """How one partner's view of a referral stands."""

    partner_id = ma.fields.String()
    partner_status = ma.fields.String(allow_none=True, metadata={"description": _words(PartnerStatus)})
    stale_since = ma.fields.DateTime(allow_none=True, metadata={
        "description": "event time of the first change it has not acknowledged; null: it has every change"})
    undelivered = ma.fields.Integer()
    dead = ma.fields.Integer(metadata={"description": "of them, dead (in the outbound exception queue)"})
    last_acknowledged_at = ma.fields.DateTime(allow_none=True)
    manual_reports = ma.fields.List(ma.fields.Nested(ManualReportSchema))
