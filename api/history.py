"""``/v1/persons/{person_id}/history``: what happened to a person, and who it was at an instant (stewards only)."""

from __future__ import annotations

import logging

import marshmallow as ma
from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import actor, require_steward
from api.schemas import EvidenceSchema, RecordKeySchema
from mpi.errors import MpiError
from mpi.identity.history import instant

logger = logging.getLogger(__name__)

blp = Blueprint("history", __name__, url_prefix="/v1",
                description="A person's history of links, merges and cases, and its records at an instant")
blp.before_request(require_steward)


#: ``as_of`` as the history reads it: a date, or a date-time (seconds, fraction and offset optional; naive is UTC).
AS_OF = (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"
         r"([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?$")


def _as_of(value: str) -> None:
    """A real calendar date and time (the pattern lets 2026-02-30 through)."""
    try:
        instant(value)
    except MpiError as e:
        raise ma.ValidationError("an ISO 8601 date (YYYY-MM-DD) or date-time") from e


class HistoryQuerySchema(ma.Schema):
    as_of = ma.fields.String(validate=[ma.validate.Regexp(AS_OF, error="an ISO 8601 date (YYYY-MM-DD) or date-time"),
                                       _as_of], metadata={
        "anyOf": [{"format": "date"}, {"format": "date-time"}],
        "description": "an ISO 8601 date (the end of that day, UTC) or date-time: also return the records "
                       "linked to the person then, and only the events up to then"})


class HistoryLinkSchema(ma.Schema):
    link_source = ma.fields.String(metadata={"description": "AUTO or MANUAL"})
    decision = ma.fields.String()
    score = ma.fields.Float(allow_none=True, metadata={"description": "match weight of the link"})
    probability = ma.fields.Float(allow_none=True)
    evidence = ma.fields.List(ma.fields.Nested(EvidenceSchema), metadata={"description": "waterfall, prior first"})
    model_version = ma.fields.String(allow_none=True)
    linked_at = ma.fields.DateTime()


class HistoryEventSchema(ma.Schema):
    event_id = ma.fields.Integer()
    at = ma.fields.DateTime(metadata={"description": "when"})
    actor = ma.fields.String(metadata={"description": "who (user:NAME, or system:...)"})
    action = ma.fields.String(metadata={"description": "the audit action, e.g. link.created, person.merged"})
    kind = ma.fields.String(metadata={"description": "link, unlink, merge, unmerge, case, person or other"})
    reason = ma.fields.String(allow_none=True, metadata={"description": "why"})
    entity_type = ma.fields.String()
    entity_id = ma.fields.String()
    record = ma.fields.Nested(RecordKeySchema, allow_none=True, metadata={"description": "the record concerned"})
    person_id = ma.fields.String(allow_none=True, metadata={"description": "the person linked to (or survivor)"})
    previous_person_id = ma.fields.String(allow_none=True, metadata={
        "description": "the person the record left (or the merge's loser)"})
    merge_id = ma.fields.String(allow_none=True)
    case_id = ma.fields.String(allow_none=True)
    match_weight = ma.fields.Float(allow_none=True, metadata={"description": "the score that led to a link"})
    model_version = ma.fields.String(allow_none=True)
    link = ma.fields.Nested(HistoryLinkSchema, allow_none=True, metadata={
        "description": "the link this event made, with its evidence, while it is known (standing, or in a merge's "
                       "snapshot)"})
    detail = ma.fields.Dict(metadata={"description": "the audit event's detail (ids only)"})


class RecordAsOfSchema(RecordKeySchema):
    since = ma.fields.DateTime(metadata={"description": "when the record last joined the person"})
    by = ma.fields.String(metadata={"description": "who linked it"})
    action = ma.fields.String(metadata={"description": "the audit action that linked it"})
    event_id = ma.fields.Integer()


class PersonHistorySchema(ma.Schema):
    person_id = ma.fields.String(metadata={"description": "the id asked for"})
    events = ma.fields.List(ma.fields.Nested(HistoryEventSchema), metadata={"description": "newest first"})
    as_of = ma.fields.DateTime(allow_none=True)
    as_of_person_id = ma.fields.String(allow_none=True, metadata={
        "description": "with as_of: the live person the id stood for then (following merges in force then)"})
    redirected_from = ma.fields.List(ma.fields.String(), allow_none=True)
    records = ma.fields.List(ma.fields.Nested(RecordAsOfSchema), allow_none=True, metadata={
        "description": "with as_of: the records linked to the person then"})


@blp.route("/persons/<string:person_id>/history")
class PersonHistory(MethodView):
    @blp.arguments(HistoryQuerySchema, location="query")
    @blp.response(200, PersonHistorySchema)
    @blp.alt_response(403, "FORBIDDEN")
    @blp.alt_response(404, "NOT_FOUND")
    def get(self, query, person_id):
        """Every link and unlink, merge and unmerge and review case touching a person, newest first.

        Each event says who, when and why, and a link the score and evidence behind it.
        With `?as_of=`, also who the person was then: the records linked to it at that
        instant, replayed from the audit log. Not redirected: a merged id has its own history.
        """
        service = current_app.extensions["mpi"].history
        until = instant(query["as_of"]) if query.get("as_of") else None
        events = service.history(person_id)
        body = {"person_id": person_id, "events": events, "as_of": None, "as_of_person_id": None,
                "redirected_from": None, "records": None}
        if until is not None:
            then = service.as_of(person_id, until)
            body.update(events=[e for e in events if e["at"] <= until], as_of=until,
                        as_of_person_id=then["person_id"], redirected_from=then["redirected_from"],
                        records=then["records"])
        logger.info("history of person %s read by %s", person_id, actor())
        return body
