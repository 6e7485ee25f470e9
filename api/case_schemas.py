"""Marshmallow schemas of the review-case API: queue filters, action bodies and case responses."""

from __future__ import annotations

import marshmallow as ma

from api.schemas import ID, MAX_AGE_HOURS, MAX_OFFSET, REASON, EvidenceList, HeldBecauseSchema, SourceRecordSchema

_REASON = ma.fields.String(required=True, validate=REASON, metadata={
    "description": "why (required, not blank): kept in the audit log with the actor and time"})
_VERSION = ma.fields.Integer(required=True, strict=True, metadata={
    "description": "the case version you saw; a case changed since answers 409 and nothing is changed"})
_STATES = ["open", "in_review", "on_hold", "resolved", "withdrawn"]
_PRIORITIES = ["urgent", "high", "routine"]
_KINDS = ["POSSIBLE_MATCH", "POSSIBLE_DUPLICATE", "SPOT_CHECK"]


# ---------------------------------------------------------------------------------------- requests

class QueueArgsSchema(ma.Schema):
    state = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(_STATES)), metadata={
        "description": "repeatable; default open, in_review and on_hold"})
    priority = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(_PRIORITIES)),
                              metadata={"description": "repeatable"})
    owner = ma.fields.String(metadata={"description": "user name of the steward a case is assigned to"})
    source_system = ma.fields.String(metadata={"description": "system that sent the case's record"})
    kind = ma.fields.String(validate=ma.validate.OneOf(_KINDS), metadata={
        "description": "POSSIBLE_MATCH: a record held for review; POSSIBLE_DUPLICATE: two persons that may be one; "
                       "SPOT_CHECK: an auto-link drawn for a steward to confirm (the record stays linked)"})
    min_age_hours = ma.fields.Float(validate=ma.validate.Range(min=0, max=MAX_AGE_HOURS), metadata={
        "description": "only cases at least this many hours old"})
    overdue = ma.fields.Boolean(metadata={"description": "true: only overdue cases; false: only those not overdue"})
    limit = ma.fields.Integer(load_default=100, validate=ma.validate.Range(min=1, max=1000))
    offset = ma.fields.Integer(load_default=0, validate=ma.validate.Range(min=0, max=MAX_OFFSET))


class ActionSchema(ma.Schema):
    """Body of every case action: why, and the version the steward saw."""

    reason = _REASON
    version = _VERSION


class AssignSchema(ActionSchema):
    owner = ma.fields.String(required=True, validate=ID, metadata={"description": "user name of a steward or admin"})


class LinkBodySchema(ActionSchema):
    person_id = ma.fields.String(required=True, validate=ID, metadata={"description": "one of the case's candidates"})


class MergeBodySchema(ActionSchema):
    survivor_id = ma.fields.String(required=True, validate=ID, metadata={
        "description": "the person that stays (on a POSSIBLE_DUPLICATE case: one of its two persons)"})
    loser_id = ma.fields.String(required=True, validate=ID, metadata={
        "description": "the person merged into it (its records move; its id redirects to the survivor; on a "
                       "POSSIBLE_DUPLICATE case: the other of its two persons)"})


class NotDuplicateBodySchema(ActionSchema):
    person_id = ma.fields.String(allow_none=True, validate=ID, metadata={
        "description": "the candidate the record is not; omitted: none of the candidates"})


class HoldBodySchema(ActionSchema):
    follow_up = ma.fields.Date(required=True, metadata={
        "description": "when to follow up (YYYY-MM-DD): today or later, in UTC (a rule relative to the day the "
                       "request is made, which a schema cannot say: a past date answers 422)"})
    note = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=2000), metadata={
        "description": "what is being verified and how (default: the reason)"})


class BlockSchema(ma.Schema):
    kind = ma.fields.String(required=True, validate=ID, metadata={"description": "what waits on the case, e.g. referral"})
    id = ma.fields.String(required=True, validate=ID, metadata={"description": "its id in the system that owns it"})
    priority = ma.fields.String(validate=ma.validate.OneOf(_PRIORITIES), metadata={
        "description": "urgent makes the case urgent; any referral makes it at least high"})


class BlocksBodySchema(ma.Schema):
    blocks = ma.fields.List(ma.fields.Nested(BlockSchema), required=True)
    reason = _REASON
    version = ma.fields.Integer(strict=True, allow_none=True, metadata={
        "description": "the case version you saw (optional for a system caller)"})


class ReasonSchema(ma.Schema):
    reason = _REASON


# --------------------------------------------------------------------------------------- responses

class HoldSchema(ma.Schema):
    note = ma.fields.String()
    follow_up = ma.fields.Date()
    held_by = ma.fields.String()
    held_at = ma.fields.DateTime()


class CandidateRecordSchema(ma.Schema):
    source_system = ma.fields.String()
    source_record_id = ma.fields.String()
    raw = ma.fields.Dict(metadata={"description": "the record as sent"})
    norm = ma.fields.Dict(metadata={"description": "its normalised form"})
    decision = ma.fields.String()
    link_source = ma.fields.String()
    score = ma.fields.Float(allow_none=True)
    linked_at = ma.fields.DateTime()


class CandidatePersonSchema(ma.Schema):
    person_id = ma.fields.String(metadata={"description": "the live person (a merged candidate's survivor)"})
    status = ma.fields.String()
    golden = ma.fields.Dict()
    records = ma.fields.List(ma.fields.Nested(CandidateRecordSchema))


class CaseCandidateSchema(ma.Schema):
    rank = ma.fields.Integer()
    person_id = ma.fields.String()
    match_weight = ma.fields.Float()
    match_probability = ma.fields.Float()
    evidence = EvidenceList(metadata={"description": "waterfall, prior first"})
    person = ma.fields.Nested(CandidatePersonSchema, allow_none=True)


class CaseSchema(ma.Schema):
    case_id = ma.fields.String()
    kind = ma.fields.String(metadata={"description": "POSSIBLE_MATCH (a record held: record and source_* set; "
                                                     "its candidates are ranked persons) or POSSIBLE_DUPLICATE (two "
                                                     "persons that may be one, found by a batch run: no record, "
                                                     "source_* null; its two candidates are the persons, each with "
                                                     "the best pair's weight and evidence) or SPOT_CHECK (an "
                                                     "auto-link drawn for a steward to check: record and source_* "
                                                     "set, the record still linked; its one candidate is the person "
                                                     "it is linked to, with the link's weight and evidence)",
                                      "enum": _KINDS})
    source_system = ma.fields.String(allow_none=True)
    source_record_id = ma.fields.String(allow_none=True)
    state = ma.fields.String(metadata={"description": ", ".join(_STATES)})
    priority = ma.fields.String(metadata={"description": "follows what the case blocks"})
    resolution = ma.fields.String(allow_none=True, metadata={
        "description": "linked, new_person, merged or not_duplicate once resolved; a SPOT_CHECK case: confirmed "
                       "or rejected"})
    owner = ma.fields.String(allow_none=True)
    blocks = ma.fields.List(ma.fields.Nested(BlockSchema))
    model_version = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()
    due_at = ma.fields.DateTime(metadata={"description": "created_at plus the priority's target"})
    overdue = ma.fields.Boolean()
    age_hours = ma.fields.Float()
    version = ma.fields.Integer(metadata={"description": "send it back with the next action"})
    hold = ma.fields.Nested(HoldSchema, allow_none=True)
    held_because = ma.fields.Nested(HeldBecauseSchema, metadata={
        "description": "why the case holds its record (or its two persons): the rule that held it, replaced when "
                       "the case is re-scored"})
    candidates = ma.fields.List(ma.fields.Nested(CaseCandidateSchema))


class CaseDetailSchema(CaseSchema):
    record = ma.fields.Nested(SourceRecordSchema, allow_none=True, metadata={"description": "the inbound record"})


class NotDuplicateResultSchema(CaseDetailSchema):
    outcome = ma.fields.Dict(allow_none=True, metadata={
        "description": "the record decided again without the remembered persons: decision, person_id, "
                       "review_case_id (null for a linked record, which stays as it is)"})


class MergeResultSchema(CaseDetailSchema):
    merge_id = ma.fields.String(metadata={
        "description": "the merge that resolved the case: undo it with POST /v1/merges/{merge_id}/unmerge"})


class QueueCountsSchema(ma.Schema):
    total = ma.fields.Integer()
    by_priority = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    by_state = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    by_age = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(), metadata={
        "description": "under_4h, 4h_to_24h, 1d_to_3d, over_3d"})
    overdue = ma.fields.Integer()


class QueueSchema(ma.Schema):
    cases = ma.fields.List(ma.fields.Nested(CaseSchema))
    counts = ma.fields.Nested(QueueCountsSchema, metadata={"description": "the whole waiting queue, unfiltered"})
    limit = ma.fields.Integer()
    offset = ma.fields.Integer()


class UndoLinkResultSchema(ma.Schema):
    source_system = ma.fields.String()
    source_record_id = ma.fields.String()
    previous_person_id = ma.fields.String()
    review_case = ma.fields.Nested(CaseDetailSchema, metadata={"description": "the new open case holding the record"})


class RejectResultSchema(CaseDetailSchema):
    previous_person_id = ma.fields.String(metadata={"description": "the person the record was auto-linked to"})
    review_case = ma.fields.Nested(CaseDetailSchema, metadata={
        "description": "the new open POSSIBLE_MATCH case holding the record (returned_by_steward)"})
