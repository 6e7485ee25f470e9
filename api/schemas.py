"""Marshmallow schemas of the JSON API: requests (the canonical record) and responses."""

from __future__ import annotations

import marshmallow as ma

from mpi.records.text import NOT_BLANK
from mpi.records.validation import RecordSchema
from mpi.vocab import HeldCode

#: The largest page offset a list takes: past it there is no page, and the store's OFFSET is a signed 64-bit number.
MAX_OFFSET = 1_000_000_000
#: The oldest age, in hours, a filter may ask for (about 114 years): past it a date cannot be computed.
MAX_AGE_HOURS = 1_000_000
#: An id or code a body names (a person, a case's owner): not empty. One that names nothing answers 404.
ID = [ma.validate.Length(min=1, max=128), ma.validate.Regexp(NOT_BLANK, error="required: not blank")]
#: Why a steward acts: required, not blank, at most 2,000 characters (the spec carries the same pattern).
REASON = [ma.validate.Length(min=1, max=2000), ma.validate.Regexp(NOT_BLANK, error="required: say why")]

__all__ = ["RecordSchema", "MatchResultSchema", "DecisionResultSchema", "PersonSchema", "SourceRecordSchema"]


class EvidenceSchema(ma.Schema):
    comparison = ma.fields.String(metadata={"description": "comparison name, or 'prior'"})
    level = ma.fields.Integer(allow_none=True, metadata={"description": "index of the level in the comparison"})
    label = ma.fields.String(metadata={"description": "what the level means"})
    weight = ma.fields.Float(metadata={"description": "match weight (log2 Bayes factor), incl. tf adjustment"})
    tf_adjustment = ma.fields.Float(metadata={"description": "term-frequency part of the weight"})
    cumulative_weight = ma.fields.Float(metadata={
        "description": "running total up to and including this entry (the last one is the pair's match weight)"})
    index_records = ma.fields.Integer(metadata={
        "description": "on the prior only: records in the index the prior was scaled to"})


class EvidenceList(ma.fields.List):
    """A waterfall of :class:`EvidenceSchema` entries: documented as such, dumped without a schema per entry.

    The scorer makes the entries (str, int and float values under the schema's names), and a
    ``/v1/match`` answer carries up to five candidates of eleven entries each: dumped through
    ``Nested(EvidenceSchema)`` they were a fifth of a request's time at a million persons.
    """

    _KEYS = tuple(EvidenceSchema._declared_fields)

    def __init__(self, **kwargs):
        super().__init__(ma.fields.Nested(EvidenceSchema), **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        keys = self._KEYS
        return [{k: entry[k] for k in keys if k in entry} for entry in value]


class RecordKeySchema(ma.Schema):
    source_system = ma.fields.String()
    source_record_id = ma.fields.String()


class CandidateSchema(ma.Schema):
    person_id = ma.fields.String()
    match_weight = ma.fields.Float()
    match_probability = ma.fields.Float()
    match_grade = ma.fields.String(metadata={"description": "FHIR match grade"})
    matched_record = ma.fields.Nested(RecordKeySchema, allow_none=True, metadata={
        "description": "the person's best-scoring record; for a hub or coordinator only if it is its organisation's "
                       "own, else null (which other systems hold a person is not theirs to learn)"})
    weakest_record_weight = ma.fields.Float(metadata={
        "description": "lowest weight against any of the person's records"})
    held_by = ma.fields.List(ma.fields.String(), allow_none=True, metadata={
        "description": "the policy's hold rule this pair meets (levels 'comparison: label'): held for review "
                       "however high it scores (e.g. a first name spelt another way on the same birth date: "
                       "a typo or a twin)"})
    conflict = ma.fields.Dict(allow_none=True, metadata={
        "description": "a record of the person this one contradicts (source_system, source_record_id, level): "
                       "the record is not auto-linked to a person it contradicts in part; for a hub or coordinator "
                       "the level only, unless the record is its organisation's own"})
    evidence = EvidenceList(metadata={"description": "waterfall, prior first"})


class FieldWarningSchema(ma.Schema):
    field = ma.fields.String(metadata={"description": "the record's field"})
    message = ma.fields.String(metadata={"description": "why it takes no part in matching (its value kept as sent)"})


class HeldBecauseSchema(ma.Schema):
    code = ma.fields.String(metadata={
        "description": "the rule that held it (docs/api.md: Why a case is held)", "enum": [c.value for c in HeldCode]})
    sentence = ma.fields.String(metadata={
        "description": "the rule in words, with ids and numbers (never a name or other record value); the case's "
                       "opening audit reason says the same"})


_HELD_BECAUSE = {"description": "why the record is held (POSSIBLE_MATCH): the rule that held it; null otherwise"}


class MatchResultSchema(ma.Schema):
    decision = ma.fields.String(metadata={"description": "MATCH, POSSIBLE_MATCH or NO_MATCH if it were submitted"})
    match_grade = ma.fields.String()
    model_version = ma.fields.String()
    candidates = ma.fields.List(ma.fields.Nested(CandidateSchema))
    held_because = ma.fields.Nested(HeldBecauseSchema, allow_none=True, metadata=_HELD_BECAUSE)
    warnings = ma.fields.List(ma.fields.Nested(FieldWarningSchema), metadata={
        "description": "fields sent with a value matching cannot use (an invalid phone, email, ZIP, state or SSN "
                       "last 4): the record is kept with the value as sent, and that field is not matched on"})


class DecisionResultSchema(MatchResultSchema):
    source_system = ma.fields.String()
    source_record_id = ma.fields.String()
    person_id = ma.fields.String(allow_none=True)
    review_case_id = ma.fields.String(allow_none=True)
    link_source = ma.fields.String(allow_none=True, metadata={"description": "AUTO or MANUAL"})
    match_weight = ma.fields.Float(allow_none=True)
    match_probability = ma.fields.Float(allow_none=True)
    unchanged = ma.fields.Boolean(metadata={
        "description": "true when the record was sent again exactly as stored: nothing was written, audited or "
                       "decided again, and the answer is its standing decision (without candidates)"})


class LinkSchema(ma.Schema):
    person_id = ma.fields.String()
    decision = ma.fields.String()
    link_source = ma.fields.String()
    score = ma.fields.Float(allow_none=True)
    probability = ma.fields.Float(allow_none=True)
    model_version = ma.fields.String(allow_none=True)
    linked_at = ma.fields.DateTime()
    evidence = EvidenceList()


class SourceRecordSchema(ma.Schema):
    source_system = ma.fields.String()
    source_record_id = ma.fields.String()
    raw = ma.fields.Dict(metadata={"description": "the record as sent"})
    norm = ma.fields.Dict(metadata={"description": "its normalised form"})
    received_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()
    link = ma.fields.Nested(LinkSchema, allow_none=True)
    review_case_id = ma.fields.String(allow_none=True)


class PersonRecordSchema(ma.Schema):
    source_system = ma.fields.String()
    source_record_id = ma.fields.String()
    decision = ma.fields.String()
    link_source = ma.fields.String()
    score = ma.fields.Float(allow_none=True)
    model_version = ma.fields.String(allow_none=True)
    linked_at = ma.fields.DateTime()


class PersonSchema(ma.Schema):
    person_id = ma.fields.String()
    status = ma.fields.String()
    requested_id = ma.fields.String(metadata={"description": "the id asked for"})
    redirected_from = ma.fields.List(ma.fields.String(), metadata={"description": "merged ids followed to this one"})
    golden = ma.fields.Dict(metadata={"description": "golden demographics (survivorship rule in the README)"})
    records = ma.fields.List(ma.fields.Nested(PersonRecordSchema), metadata={
        "description": "its linked records (a hub's or coordinator's own only)"})
    disclosure = ma.fields.String(metadata={
        "description": "whole (stewards, admins), masked (ssn_last4 as **21, medicaid_id to its last 4, the "
                       "organisation's own records only) or contact (a name and a way to contact only: the "
                       "performer of a referral made without the person's consent)"})
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class HealthSchema(ma.Schema):
    status = ma.fields.String()
    schema_version = ma.fields.Integer()
    active_model = ma.fields.String(allow_none=True)
