"""``/v1/records`` and ``/v1/match``: submit and score source records."""

from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import caller, require_identity_role
from api.schemas import DecisionResultSchema, MatchResultSchema, RecordSchema, SourceRecordSchema

blp = Blueprint("records", __name__, url_prefix="/v1", description="Submit and match source records")
blp.before_request(require_identity_role)


#: One instance for every request: given the class, webargs would build a schema per request (its fields and all).
RECORD = RecordSchema()


def _services():
    return current_app.extensions["mpi"]


@blp.route("/records")
class Records(MethodView):
    @blp.arguments(RECORD)
    @blp.response(200, DecisionResultSchema)
    def post(self, record):
        """Submit a record: it is linked (MATCH), made a new person (NO_MATCH) or held for review.

        The same (source_system, source_record_id) again is an update of that
        record; a steward's MANUAL link is never changed by re-matching. The caller's organisation may
        read the record, and the person it is linked to (masked), from then on.
        """
        return _services().trust.submit(record, caller())


@blp.route("/records/<string:source_system>/<record_id:source_record_id>")
class SourceRecord(MethodView):
    @blp.response(200, SourceRecordSchema)
    @blp.alt_response(403, schema="Error", description="an auditor: it reads no person data")
    @blp.alt_response(404, schema="Error", description=(
        "no such record, or one the caller's organisation did not submit (the same answer)"))
    def get(self, source_system, source_record_id):
        """A stored source record with its link and any open review case.

        A hub or coordinator reads only the records its organisation submitted (or sent on its
        referrals), with `ssn_last4` and `medicaid_id` masked; stewards and admins read every record whole.
        """
        return _services().trust.record(source_system, source_record_id, caller())


@blp.route("/match")
class Match(MethodView):
    @blp.arguments(RECORD)
    @blp.response(200, MatchResultSchema)
    def post(self, record):
        """Score a record against the index without writing: top candidates with their evidence.

        A certain match (`MATCH`) gives its person to the caller's organisation, which may read it from
        then on; a possible match gives nothing.
        """
        return _services().trust.match(record, caller())
