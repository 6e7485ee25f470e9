"""Marshmallow schemas of ``/v1/partners``: partners, their subscriptions and crosswalk versions (a secret once)."""

from __future__ import annotations

import marshmallow as ma

from mpi.exchange.crosswalk import LABEL, MAX_LABEL
from mpi.exchange.partners import ENDPOINT, NAME, PARTNER_ID
from mpi.exchange.vocab import PartnerFormat, PartnerStatus, Subscription
from mpi.referral_vocab import ReasonCode, ReferralState

_FORMATS = [f.value for f in PartnerFormat]
_SUBSCRIPTIONS = [s.value for s in Subscription]
_STATES = [s.value for s in ReferralState]
_REASONS = [r.value for r in ReasonCode]


class PartnerBodySchema(ma.Schema):
    """A partner to add: an organisation's system, where and how it is sent status feedback, and for what."""

    class Meta:
        unknown = ma.RAISE

    partner_id = ma.fields.String(required=True, validate=ma.validate.Regexp(
        PARTNER_ID, error="2-64 lower-case letters, digits or . _ -, starting with a letter or digit"),
        metadata={"description": "the partner's id, e.g. bluepath-fhir"})
    organisation = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=64), metadata={
        "description": "code of the organisation of the directory the partner's system belongs to"})
    name = ma.fields.String(required=True, validate=[ma.validate.Length(min=1, max=200), ma.validate.Regexp(
        NAME, error="not only spaces, no control characters")])
    endpoint = ma.fields.String(required=True, validate=[ma.validate.Length(max=2000), ma.validate.Regexp(
        ENDPOINT, error="an http:// or https:// URL: a host, an optional port, a path (no user or password)")],
        metadata={"description": "where messages are sent: an http:// or https:// URL (no user or password in it)"})
    format = ma.fields.String(required=True, validate=ma.validate.OneOf(_FORMATS), metadata={
        "description": "fhir-task (a FHIR R4 Task PUT) or webhook (a signed JSON event)"})
    subscriptions = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(_SUBSCRIPTIONS)), required=True,
                                   validate=ma.validate.Length(min=1, max=len(_SUBSCRIPTIONS)), metadata={
        "description": "what it receives: requester (every status change of the referrals its organisation "
                       "requested), performer (of those it performs), member (of its members' referrals: persons "
                       "its organisation holds a record of)"})


class CrosswalkRowSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    state = ma.fields.String(required=True, validate=ma.validate.OneOf(_STATES), metadata={
        "description": "an internal state of a referral"})
    reason = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.OneOf(_REASONS), metadata={
        "description": "a reason code, for a label only for that reason; none: any reason"})
    label = ma.fields.String(required=True, validate=[ma.validate.Length(min=1, max=MAX_LABEL), ma.validate.Regexp(
        LABEL, error="not only spaces, no control characters")], metadata={
        "description": "what the partner's system shows for it"})
    line = ma.fields.Integer(load_default=None, validate=ma.validate.Range(min=1), metadata={
        "description": "its line in the CSV it came from (mpi partners crosswalk sends it); none: its place from 1"})


class CrosswalkBodySchema(ma.Schema):
    """A new crosswalk version: its rows and the date it is in force from."""

    class Meta:
        unknown = ma.RAISE

    effective_from = ma.fields.Date(load_default=None, allow_none=True, metadata={
        "description": "the date (UTC) it is in force from, YYYY-MM-DD; none: today"})
    rows = ma.fields.List(ma.fields.Nested(CrosswalkRowSchema), required=True, validate=ma.validate.Length(min=1))


class PartnerSchema(ma.Schema):
    """A partner as listed: never its signing secret."""

    partner_id = ma.fields.String()
    organisation = ma.fields.String()
    name = ma.fields.String()
    endpoint = ma.fields.String()
    format = ma.fields.String(metadata={"description": ", ".join(_FORMATS)})
    subscriptions = ma.fields.List(ma.fields.String(), metadata={"description": ", ".join(_SUBSCRIPTIONS)})
    status = ma.fields.String(metadata={"description": ", ".join(s.value for s in PartnerStatus)})
    created_at = ma.fields.DateTime()
    created_by = ma.fields.String(metadata={"description": "who added it, as the audit log names callers"})
    updated_at = ma.fields.DateTime()


class PartnerCreatedSchema(PartnerSchema):
    """A partner just added, with its signing secret: shown in this answer only."""

    signing_secret = ma.fields.String(metadata={
        "description": "the HMAC-SHA256 key its messages are signed with (shown once; the service keeps it to sign)"})


class PartnerListedSchema(PartnerSchema):
    crosswalk_versions = ma.fields.Integer(metadata={"description": "how many crosswalk versions it has"})
    latest_crosswalk = ma.fields.Integer(allow_none=True, metadata={"description": "its newest version's id"})


class PartnerListSchema(ma.Schema):
    partners = ma.fields.List(ma.fields.Nested(PartnerListedSchema))


class CrosswalkMappingSchema(ma.Schema):
    line = ma.fields.Integer(metadata={"description": "its line in the CSV (or its place in the list, from 1)"})
    state = ma.fields.String()
    reason = ma.fields.String(allow_none=True)
    label = ma.fields.String()
    lossy = ma.fields.Boolean(metadata={"description": "its label is shared with another internal state"})


class CrosswalkVersionSchema(ma.Schema):
    """One version of a partner's status crosswalk, with its rows and their lossy marks."""

    version_id = ma.fields.Integer()
    partner_id = ma.fields.String()
    effective_from = ma.fields.Date(metadata={"description": "in force from this date's first moment (UTC)"})
    created_at = ma.fields.DateTime()
    created_by = ma.fields.String()
    rows = ma.fields.List(ma.fields.Nested(CrosswalkMappingSchema))
    lossy_rows = ma.fields.Integer(metadata={"description": "how many rows are lossy"})


class PartnerDetailSchema(PartnerSchema):
    crosswalks = ma.fields.List(ma.fields.Nested(CrosswalkVersionSchema), metadata={
        "description": "its crosswalk versions, oldest first"})
