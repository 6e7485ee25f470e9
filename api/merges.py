"""``/v1/persons/merge`` and ``/v1/merges/{merge_id}``: merge two persons, and undo it (stewards only)."""

from __future__ import annotations

import marshmallow as ma
from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import actor, require_steward
from api.schemas import ID, REASON

blp = Blueprint("merges", __name__, url_prefix="/v1",
                description="Merge two persons into one (the loser redirects to the survivor), and unmerge")
blp.before_request(require_steward)

_REASON = {"description": "why (required, not blank; kept in the audit log)"}


class MergeRequestSchema(ma.Schema):
    survivor_id = ma.fields.String(required=True, validate=ID, metadata={"description": "the person that stays"})
    loser_id = ma.fields.String(required=True, validate=ID, metadata={
        "description": "the person that goes: its records move to the survivor, its id redirects there"})
    reason = ma.fields.String(required=True, validate=REASON, metadata=_REASON)


class UnmergeRequestSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=REASON, metadata=_REASON)


class MergeSchema(ma.Schema):
    merge_id = ma.fields.String()
    survivor_id = ma.fields.String()
    loser_id = ma.fields.String()
    actor = ma.fields.String(metadata={"description": "who merged"})
    reason = ma.fields.String(metadata={"description": "why"})
    case_id = ma.fields.String(allow_none=True, metadata={"description": "the review case the merge resolved"})
    merged_at = ma.fields.DateTime()
    undone_at = ma.fields.DateTime(allow_none=True, metadata={"description": "when it was unmerged, if it was"})
    undone_by = ma.fields.String(allow_none=True)
    undo_reason = ma.fields.String(allow_none=True)


def _merges():
    return current_app.extensions["mpi"].merges


@blp.route("/persons/merge")
class Merge(MethodView):
    @blp.arguments(MergeRequestSchema)
    @blp.response(201, MergeSchema)
    @blp.alt_response(403, "FORBIDDEN")
    @blp.alt_response(404, "NOT_FOUND")
    def post(self, body):
        """Merge the loser into the survivor: its records move (MANUAL links), its id redirects.

        Every row the merge changes is kept first, so `POST /v1/merges/{merge_id}/unmerge`
        can put both persons back exactly. A person merged into itself, or one already
        redirected, is a 422 naming the field; an unknown one a 404.
        """
        merges = _merges()
        merge_id = merges.merge(body["survivor_id"], body["loser_id"], actor(), body["reason"])
        return merges.get(merge_id)


@blp.route("/merges/<string:merge_id>")
class MergeRecord(MethodView):
    @blp.response(200, MergeSchema)
    @blp.alt_response(403, "FORBIDDEN")
    @blp.alt_response(404, "NOT_FOUND")
    def get(self, merge_id):
        """A merge: who, why, when, and whether (and by whom) it was undone."""
        return _merges().get(merge_id)


@blp.route("/merges/<string:merge_id>/unmerge")
class Unmerge(MethodView):
    @blp.arguments(UnmergeRequestSchema)
    @blp.response(200, MergeSchema)
    @blp.alt_response(403, "FORBIDDEN")
    @blp.alt_response(404, "NOT_FOUND")
    @blp.alt_response(409, "CONFLICT")
    def post(self, body, merge_id):
        """Undo a merge: both persons, their records' links and scores exactly as before it.

        A second unmerge of the same merge, or one whose records have moved again since,
        is a 409 (`conflict`): reload and decide again.
        """
        return _merges().unmerge(merge_id, actor(), body["reason"])
