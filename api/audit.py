"""``/v1/audit``: the access log, for auditors (and admins): who read or changed what, when and why.

Filterable by actor, organisation, role, purpose of use, entity type and id,
action and a time range; paged newest first by event id (``before`` is the
``older`` of the page before). Events carry ids only, never a value from a
record. The events themselves are written by ``api/access_log.py``.
"""

from __future__ import annotations

from datetime import timezone

import marshmallow as ma
from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import require_role
from mpi.access_vocab import AccessAction, PurposeOfUse
from mpi.vocab import EntityType, Role

blp = Blueprint("access_audit", __name__, url_prefix="/v1",
                description="The access log: every read and change of PHI (auditor or admin role)")


@blp.before_request
def _auditors_only() -> None:
    require_role(Role.AUDITOR, Role.ADMIN)


#: The most events one page answers.
MAX_PAGE = 500
_MAX_ID = 2**62


def _one_of(values) -> ma.validate.OneOf:
    return ma.validate.OneOf([v.value for v in values])


class AccessQuerySchema(ma.Schema):
    actor = ma.fields.String(validate=ma.validate.Length(min=1, max=200), metadata={
        "description": "the caller, as user:NAME (a bare NAME means user:NAME)"})
    organisation = ma.fields.String(validate=ma.validate.Length(min=1, max=200),
                                    metadata={"description": "the caller's organisation code"})
    role = ma.fields.String(validate=_one_of(Role), metadata={"description": "the caller's role"})
    purpose = ma.fields.String(validate=_one_of(PurposeOfUse), metadata={
        "description": "the HL7 v3 PurposeOfUse code recorded (sent in X-Purpose-Of-Use, else the role's default)"})
    entity_type = ma.fields.String(validate=_one_of(EntityType), metadata={"description": "person, record, ..."})
    entity_id = ma.fields.String(validate=ma.validate.Length(min=1, max=400), metadata={
        "description": "a person id, a case id, a referral id, or a record as source_system/source_record_id"})
    action = ma.fields.String(validate=_one_of(AccessAction), metadata={"description": "read, search, match, ..."})
    since = ma.fields.AwareDateTime(default_timezone=timezone.utc, metadata={
        "description": "events at or after this instant (ISO 8601; UTC when no offset is given)"})
    until = ma.fields.AwareDateTime(default_timezone=timezone.utc, metadata={"description": "events before this instant"})
    before = ma.fields.Integer(validate=ma.validate.Range(min=1, max=_MAX_ID), metadata={
        "description": "only events older than this event id: the `older` of the previous page"})
    limit = ma.fields.Integer(load_default=50, validate=ma.validate.Range(min=1, max=MAX_PAGE))


class AccessEntitySchema(ma.Schema):
    type = ma.fields.String(metadata={"description": "person, record, review_case, referral, merge or alert"})
    id = ma.fields.String()


class AccessEventSchema(ma.Schema):
    event_id = ma.fields.Integer()
    occurred_at = ma.fields.DateTime(metadata={"description": "when the answer was given"})
    actor = ma.fields.String(allow_none=True, metadata={"description": "user:NAME; null when no caller was known"})
    organisation = ma.fields.String(allow_none=True)
    role = ma.fields.String(allow_none=True)
    purpose = ma.fields.String(allow_none=True, metadata={"description": "HL7 v3 PurposeOfUse code"})
    action = ma.fields.String(metadata={"description": "read, search, match, submit, create, update, or route"})
    method = ma.fields.String(metadata={"description": "the HTTP method"})
    route = ma.fields.String(metadata={"description": "the route template, e.g. /v1/persons/<string:person_id>"})
    status = ma.fields.Integer(metadata={"description": "the HTTP status answered (401, 403, 404: an attempt)"})
    entities = ma.fields.List(ma.fields.Nested(AccessEntitySchema), metadata={
        "description": "what the request named and its answer showed, ids only"})


class AccessPageSchema(ma.Schema):
    events = ma.fields.List(ma.fields.Nested(AccessEventSchema), metadata={"description": "newest first"})
    older = ma.fields.Integer(allow_none=True, metadata={"description": "`before` of the next (older) page, if any"})
    total = ma.fields.Integer(metadata={"description": "events the filters match"})


def access_filters(args: dict) -> dict:
    """The store's filters from parsed query arguments (a bare actor name is a user's)."""
    filters = {k: args.get(k) for k in ("actor", "organisation", "role", "purpose", "entity_type", "entity_id",
                                        "action", "since", "until")}
    if filters["actor"] and ":" not in filters["actor"]:
        filters["actor"] = f"user:{filters['actor']}"
    return filters


@blp.route("/audit")
class AccessEvents(MethodView):
    @blp.arguments(AccessQuerySchema, location="query")
    @blp.response(200, AccessPageSchema)
    @blp.alt_response(401, schema="Error", description="no valid bearer token")
    @blp.alt_response(403, schema="Error", description="the caller is not an auditor or admin")
    def get(self, args):
        """Access events, newest first: who read or changed which persons, records, cases and referrals.

        Every request that touches them is an event (refused ones too, as attempts): the
        caller, organisation, role, purpose of use, action, method, route, status and the
        entity ids; never a name, a birth date or any other value of a record.
        """
        return current_app.extensions["mpi"].store.access.page(
            before=args.get("before"), limit=args["limit"], **access_filters(args))
