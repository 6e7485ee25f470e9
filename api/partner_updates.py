"""``/v1/partners/{partner_id}/status-updates``: a partner system's status update in its own label.

A hub of the partner's organisation names its label instead of our state; the
label is mapped back through the partner's crosswalk version in force at the
event time and the update takes the one status-change path
(``mpi/exchange/labels.py``). A refused update (an unknown or ambiguous label, a
bad body, an unknown referral, an invalid transition) is kept in the inbound
exception queue as a refused ``POST /v1/referrals/{id}/status`` is
(``api/inbound_exceptions.py``).
"""

from __future__ import annotations

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import caller, require_role
from api.referral_schemas import ReferralOutSchema
from mpi.exchange.labels import PartnerStatusUpdateSchema
from mpi.vocab import Role

blp = Blueprint("partner_updates", __name__, url_prefix="/v1",
                description="Status updates from partner systems in their own labels")


@blp.before_request
def _authorise() -> None:
    """A hub of the partner's organisation, checked before a body is read: 401, 403 or 404, never a 422 first."""
    require_role(Role.HUB)
    partner_id = (request.view_args or {}).get("partner_id")
    current_app.extensions["mpi"].partner_labels.check_sender(partner_id, caller())


@blp.route("/partners/<string:partner_id>/status-updates")
class PartnerStatusUpdates(MethodView):
    @blp.arguments(PartnerStatusUpdateSchema)
    @blp.response(200, ReferralOutSchema)
    @blp.alt_response(403, schema="Error", description="the caller is not a hub of the partner's organisation, or "
                                                       "the step is the other side's")
    @blp.alt_response(404, schema="Error", description="no such partner, or no such referral the caller sees")
    @blp.alt_response(409, schema="Error", description=(
        "invalid_transition (the states allowed from here are listed), identity_pending, or conflict"))
    def post(self, body, partner_id):
        """Change a referral's status with the partner's own label (mapped back through its crosswalk).

        A 422 of code ``unknown_label`` (the crosswalk version in force at the event time shows no such
        label) or ``ambiguous_label`` (a lossy label its reason does not resolve) names ``label``; the
        update is kept in the inbound exception queue (``X-Inbound-Exception``) and the referral is unchanged.
        """
        return current_app.extensions["mpi"].partner_labels.status_update(partner_id, body, caller())
