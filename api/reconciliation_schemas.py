"""Marshmallow schemas of reconciliation: a partner's status snapshot, its runs and rates, and the work queue."""

from __future__ import annotations

import marshmallow as ma

from api.schemas import MAX_OFFSET
from mpi.exchange.crosswalk import LABEL, MAX_LABEL
from mpi.exchange.inbound_vocab import Severity
from mpi.exchange.reconcile_vocab import Cause, ItemState, MismatchKind
from mpi.exchange.snapshot import AS_OF, IDENT, MAX_ROWS
from mpi.referral_vocab import ReferralState


def _words(enum) -> str:
    return ", ".join(e.value for e in enum)


class SnapshotRowSchema(ma.Schema):
    """What the partner's system shows for one referral, named by our id or the partner's own reference."""

    class Meta:
        unknown = ma.RAISE

    #: One of the two names is required (OpenAPI: anyOf; the server names ``referral_id`` when neither is given).
    OPENAPI_EXTRA = {"anyOf": [{"required": ["referral_id"]}, {"required": ["reference"]}]}

    referral_id = ma.fields.String(validate=[ma.validate.Length(min=1, max=64), ma.validate.Regexp(IDENT)], metadata={
        "description": "our referral id (RF...), as the messages the partner received carry it"})
    reference = ma.fields.String(validate=[ma.validate.Length(min=1, max=64), ma.validate.Regexp(IDENT)], metadata={
        "description": "the partner's own id for the referral: the id its organisation gave it when requesting "
                       "it (used when referral_id is not given)"})
    label = ma.fields.String(required=True, validate=[ma.validate.Length(min=1, max=MAX_LABEL),
                                                      ma.validate.Regexp(LABEL)], metadata={
        "description": "the label the partner's system shows (compared without case or surrounding spaces)"})
    as_of = ma.fields.String(allow_none=True, validate=ma.validate.Regexp(AS_OF), metadata={
        "description": "when its system showed it: a date and time with its offset (RFC 3339); none: the time "
                       "the snapshot is received"})


class SnapshotBodySchema(ma.Schema):
    """A status snapshot as JSON (``text/csv`` is taken too: a header naming label and referral_id or
    reference, as_of optional; bad lines named ``line N``)."""

    class Meta:
        unknown = ma.RAISE

    rows = ma.fields.List(ma.fields.Nested(SnapshotRowSchema), required=True,
                          validate=ma.validate.Length(min=1, max=MAX_ROWS), metadata={
        "description": "one row per referral (a referral named twice is refused, naming the second row)"})


class RateSchema(ma.Schema):
    stage = ma.fields.String(metadata={"description": "open, closed, or unknown (no referral placed)"})
    category = ma.fields.String(metadata={"description": "the status category: our internal state (unknown: none)"})
    expected_label = ma.fields.String(allow_none=True, metadata={"description": "the label it should show"})
    compared = ma.fields.Integer()
    matched = ma.fields.Integer()
    lagging = ma.fields.Integer()
    mismatched = ma.fields.Integer()
    mismatch_rate = ma.fields.Float(allow_none=True, metadata={"description": "mismatched / compared"})


class RunSchema(ma.Schema):
    run_id = ma.fields.Integer()
    partner_id = ma.fields.String()
    snapshot_id = ma.fields.Integer()
    ran_at = ma.fields.DateTime()
    trigger = ma.fields.String(metadata={"description": "snapshot (as it was received) or scheduled (again)"})
    actor = ma.fields.String()
    grace_s = ma.fields.Float(metadata={"description": "the grace period it used, in seconds"})
    compared = ma.fields.Integer()
    matched = ma.fields.Integer()
    lagging = ma.fields.Integer()
    mismatched = ma.fields.Integer()
    opened = ma.fields.Integer(metadata={"description": "work items it opened"})
    seen_again = ma.fields.Integer(metadata={"description": "open work items it saw again (none opened for them)"})
    cleared = ma.fields.Integer(metadata={"description": "open work items it found matching, cleared"})
    mismatch_rate = ma.fields.Float(allow_none=True)
    lag_rate = ma.fields.Float(allow_none=True)
    by_category = ma.fields.List(ma.fields.Nested(RateSchema))


class RunResultSchema(RunSchema):
    """A run as a snapshot's answer: its counts, lags by reason and mismatches by kind."""

    lags = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(), metadata={
        "description": "lagging rows by reason: in_flight, superseded, grace"})
    kinds = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(), metadata={
        "description": f"mismatched rows by kind: {_words(MismatchKind)}"})


class MismatchPatternSchema(ma.Schema):
    """Open work items of one signature: one row with a count, not one per referral."""

    partner_id = ma.fields.String()
    kind = ma.fields.String(metadata={"description": _words(MismatchKind)})
    our_state = ma.fields.String(allow_none=True)
    expected_label = ma.fields.String(allow_none=True)
    reported_label = ma.fields.String()
    items = ma.fields.Integer(metadata={"description": "how many open items have this signature"})
    first_seen = ma.fields.DateTime()
    last_seen = ma.fields.DateTime()
    crosswalk_versions = ma.fields.List(ma.fields.Integer())
    severity = ma.fields.String(metadata={"description": "the highest of its items'"})


class PartnerReconciliationSchema(ma.Schema):
    partner_id = ma.fields.String()
    runs = ma.fields.List(ma.fields.Nested(RunSchema), metadata={"description": "its latest runs, oldest first"})
    patterns = ma.fields.List(ma.fields.Nested(MismatchPatternSchema))


class ReportArgsSchema(ma.Schema):
    runs = ma.fields.Integer(load_default=50, validate=ma.validate.Range(min=1, max=1000), metadata={
        "description": "how many of the latest runs"})


class ItemSchema(ma.Schema):
    item_id = ma.fields.String()
    partner_id = ma.fields.String()
    referral_id = ma.fields.String(allow_none=True, metadata={"description": "the referral placed (none: unknown)"})
    reported_id = ma.fields.String(allow_none=True, metadata={"description": "how the row named it"})
    our_state = ma.fields.String(allow_none=True)
    category = ma.fields.String(metadata={"description": "our state, or unknown"})
    stage = ma.fields.String()
    expected_label = ma.fields.String(allow_none=True)
    reported_label = ma.fields.String()
    crosswalk_version = ma.fields.Integer(allow_none=True, metadata={
        "description": "the crosswalk version the expected label is under"})
    kind = ma.fields.String(metadata={"description": _words(MismatchKind)})
    severity = ma.fields.String(metadata={"description": _words(Severity)})
    owner = ma.fields.String(metadata={"description": "the owning team (MPI_RECONCILE_OWNER)"})
    opened_at = ma.fields.DateTime()
    due_at = ma.fields.DateTime(metadata={"description": "target (MPI_RECONCILE_TARGET_*_HOURS)"})
    age_s = ma.fields.Integer()
    overdue = ma.fields.Boolean()
    opened_run_id = ma.fields.Integer()
    last_run_id = ma.fields.Integer()
    last_seen_at = ma.fields.DateTime()
    seen_count = ma.fields.Integer(metadata={"description": "runs that saw it"})
    state = ma.fields.String(metadata={"description": _words(ItemState)})
    cause = ma.fields.String(allow_none=True, metadata={"description": _words(Cause)})
    note = ma.fields.String(allow_none=True)
    closed_by = ma.fields.String(allow_none=True)
    closed_at = ma.fields.DateTime(allow_none=True)
    reissues = ma.fields.Integer()


class ItemArgsSchema(ma.Schema):
    partner_id = ma.fields.String(validate=ma.validate.Length(max=64))
    state = ma.fields.String(validate=ma.validate.OneOf([s.value for s in ItemState]))
    severity = ma.fields.String(validate=ma.validate.OneOf([s.value for s in Severity]))
    kind = ma.fields.String(validate=ma.validate.OneOf([k.value for k in MismatchKind]))
    our_state = ma.fields.String(validate=ma.validate.OneOf([s.value for s in ReferralState]))
    owner = ma.fields.String(validate=ma.validate.Length(max=200))
    limit = ma.fields.Integer(load_default=50, validate=ma.validate.Range(min=1, max=1000))
    offset = ma.fields.Integer(load_default=0, validate=ma.validate.Range(min=0, max=MAX_OFFSET))


class ItemListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(ItemSchema))
    total = ma.fields.Integer()


class CloseSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    cause = ma.fields.String(required=True, validate=ma.validate.OneOf([c.value for c in Cause]))
    note = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Length(max=2000))


class ReissuedMessageSchema(ma.Schema):
    message_id = ma.fields.Integer()
    idempotency_key = ma.fields.String(metadata={"description": "{referral_id}:{version}:{partner_id}:reissue-N"})
    partner_id = ma.fields.String()
    referral_id = ma.fields.String()
    message_type = ma.fields.String(metadata={"description": "the state it carries (the referral's current one)"})
    label = ma.fields.String(metadata={"description": "under the crosswalk version in force now"})
    crosswalk_version = ma.fields.Integer(allow_none=True)
    status = ma.fields.String()
    event_time = ma.fields.DateTime()


class ReissueSchema(ma.Schema):
    item = ma.fields.Nested(ItemSchema)
    message = ma.fields.Nested(ReissuedMessageSchema)
