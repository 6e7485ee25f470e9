"""Marshmallow schemas of the inbound exception queue (``/v1/inbound-exceptions``)."""

from __future__ import annotations

import marshmallow as ma

from api.schemas import MAX_OFFSET
from mpi.exchange.inbound_vocab import RECOVERY_IN_PROGRESS, InboundKind, InboundState, Remedy, Severity


def _words(enum) -> str:
    return ", ".join(e.value for e in enum)


class InboundExceptionSchema(ma.Schema):
    exception_id = ma.fields.String()
    kind = ma.fields.String(metadata={"description": _words(InboundKind)})
    referral_id = ma.fields.String(allow_none=True, metadata={"description": "the referral a status update named"})
    sender = ma.fields.String(metadata={"description": "the caller that sent it (a user name, or key:ID)"})
    sender_role = ma.fields.String()
    sender_organisation = ma.fields.String(allow_none=True)
    received_at = ma.fields.DateTime()
    content_type = ma.fields.String(allow_none=True)
    raw_body = ma.fields.String(metadata={"description": "the body as received (bytes not UTF-8 shown as U+FFFD)"})
    raw_body_bytes = ma.fields.Integer()
    error_code = ma.fields.String(metadata={"description": "the code of the error the sender was answered"})
    http_status = ma.fields.Integer()
    reasons = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.List(ma.fields.String()),
                             metadata={"description": "the problems per field, as the sender was answered"})
    severity = ma.fields.String(metadata={"description": _words(Severity)})
    owner = ma.fields.String(metadata={"description": "the owning team (MPI_INBOUND_OWNER)"})
    due_at = ma.fields.DateTime(metadata={"description": "target resolution time (MPI_INBOUND_TARGET_*_HOURS)"})
    age_s = ma.fields.Integer(metadata={"description": "seconds since it was received (until it closed)"})
    overdue = ma.fields.Boolean()
    remedy = ma.fields.String(metadata={"description": _words(Remedy)})
    state = ma.fields.String(metadata={"description": _words(InboundState)})
    shows = ma.fields.String(metadata={"description": f"the state, or '{RECOVERY_IN_PROGRESS}' while worked"})
    claimed_by = ma.fields.String(allow_none=True)
    claimed_at = ma.fields.DateTime(allow_none=True)
    closed_by = ma.fields.String(allow_none=True)
    closed_at = ma.fields.DateTime(allow_none=True)
    produced_referral_id = ma.fields.String(allow_none=True, metadata={"description": "what a replay produced"})
    return_reason = ma.fields.String(allow_none=True)


class InboundArgsSchema(ma.Schema):
    state = ma.fields.String(validate=ma.validate.OneOf([s.value for s in InboundState]))
    severity = ma.fields.String(validate=ma.validate.OneOf([s.value for s in Severity]))
    sender = ma.fields.String(validate=ma.validate.Length(max=200))
    limit = ma.fields.Integer(load_default=50, validate=ma.validate.Range(min=1, max=1000))
    offset = ma.fields.Integer(load_default=0, validate=ma.validate.Range(min=0, max=MAX_OFFSET))


class InboundListSchema(ma.Schema):
    exceptions = ma.fields.List(ma.fields.Nested(InboundExceptionSchema))
    total = ma.fields.Integer()


class ReplaySchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    body = ma.fields.Dict(required=True, metadata={"description": "the corrected referral or status update"})
    referral_id = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Length(max=64),
                                   metadata={"description": "a status update's referral, when the original "
                                                            "named one that does not exist"})


class ReturnSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=2000),
                              metadata={"description": "why it goes back to the sender"})
