"""``/v1/referrals``: intake gated by identity, the lifecycle's steps, and reads scoped to the caller.

A hub or a coordinator acts for its organisation: it sees the referrals its
organisation requested or performs (any other answers 404) and takes its own
side's steps (the other side's answer 403 naming who may). The work is done by
``services.referrals`` (``mpi/referrals/``), which the worklist calls too.
"""

from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import caller, require_caller
from api.referral_schemas import (
    CorrectionSchema,
    ReferralListArgsSchema,
    ReferralListSchema,
    ReferralOutSchema,
    ReferralSchema,
    ReopenSchema,
    StatusChangeSchema,
)

blp = Blueprint("referrals", __name__, url_prefix="/v1", description="Referrals between organisations")
blp.before_request(require_caller)


def _referrals():
    return current_app.extensions["mpi"].referrals


def _step_answers(view):
    view = blp.alt_response(403, schema="Error", description="a step of the other side (the message names who may)")(view)
    view = blp.alt_response(404, schema="Error", description="no such referral, or another organisation's")(view)
    return blp.alt_response(409, schema="Error", description=(
        "invalid_transition (the states allowed from here are listed), identity_pending (the review case is "
        "named), or conflict (changed meanwhile)"))(view)


@blp.route("/referrals")
class Referrals(MethodView):
    @blp.arguments(ReferralSchema)
    @blp.response(201, ReferralOutSchema)
    @blp.alt_response(200, schema=ReferralOutSchema, description="a retry: the same (requester, "
                                                                  "requester_referral_id) again; nothing is written")
    @blp.alt_response(403, schema="Error", description="the caller does not send referrals as this requester")
    def post(self, body):
        """Receive a referral: its person goes through the match decision; a possible match gates it.

        The answer names the referral, its reference, state (submitted), gate
        (identity_pending or null), person (null while gated), the review case and
        when triage is expected. A referral without its minimum data set answers 422
        (code minimum_data_set) naming every missing field.
        """
        referral, new = _referrals().submit(body, caller())
        return referral, 201 if new else 200

    @blp.arguments(ReferralListArgsSchema, location="query")
    @blp.response(200, ReferralListSchema)
    def get(self, args):
        """Referrals the caller may see, due first, filtered by state, performer, requester, gated, overdue,
        urgency, service type or the organisation whose step is next; paged."""
        return _referrals().page(caller(), **args)


@blp.route("/referrals/<string:referral_id>")
class Referral(MethodView):
    @blp.response(200, ReferralOutSchema)
    @blp.alt_response(404, schema="Error", description="no such referral, or another organisation's")
    def get(self, referral_id):
        """A referral with its history (both times of every change), lineage, gate, gated time and due times,
        and how each partner's view of it stands (``partner_views``: stale since when, manual reports)."""
        referral = _referrals().get(referral_id, caller())
        referral["partner_views"] = current_app.extensions["mpi"].outbound.partner_views(referral, caller())
        return referral


@blp.route("/referrals/<string:referral_id>/status")
class Status(MethodView):
    @blp.arguments(StatusChangeSchema)
    @blp.response(200, ReferralOutSchema)
    @_step_answers
    def post(self, body, referral_id):
        """Move the referral to another state (with event_time, a coded reason where required, party, note;
        for redirected the new performer)."""
        return _referrals().change_status(referral_id, body, caller())


@blp.route("/referrals/<string:referral_id>/correction")
class Correction(MethodView):
    @blp.arguments(CorrectionSchema)
    @blp.response(200, ReferralOutSchema)
    @_step_answers
    def post(self, body, referral_id):
        """The requester's correction of a referral returned as information-incomplete: it goes back where it was."""
        return _referrals().correct(referral_id, body, caller())


@blp.route("/referrals/<string:referral_id>/reopen")
class Reopen(MethodView):
    @blp.arguments(ReopenSchema)
    @blp.response(200, ReferralOutSchema)
    @_step_answers
    def post(self, body, referral_id):
        """Reopen a closed referral (with a reason), back in the state it closed from."""
        return _referrals().reopen(referral_id, body, caller())
