"""``/v1/referrals/{referral_id}/manual-reports``: what staff told a partner by hand while its feed was down.

Recording one is an admin's or a coordinator's of the referral's requester or
performer (``mpi/exchange/manual_reports.py`` decides); reading them is for
whoever may read the referral. Both touch the referral: access events, as its
other routes are.
"""

from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import caller, require_caller
from api.outbound_schemas import ManualReportBodySchema, ManualReportListSchema, ManualReportSchema

blp = Blueprint("manual_reports", __name__, url_prefix="/v1",
                description="Manual status reports: a referral's state told to a partner by hand")
blp.before_request(require_caller)


def _reports():
    return current_app.extensions["mpi"].manual_reports


@blp.route("/referrals/<string:referral_id>/manual-reports")
class ManualReports(MethodView):
    @blp.response(200, ManualReportListSchema)
    @blp.alt_response(404, schema="Error", description="no such referral, or another organisation's")
    def get(self, referral_id):
        """The referral's manual status reports, in the order they were told."""
        return {"manual_reports": _reports().of_referral(referral_id, caller())}

    @blp.arguments(ManualReportBodySchema)
    @blp.response(201, ManualReportSchema)
    @blp.alt_response(403, schema="Error", description="the caller is neither an admin nor a coordinator of the "
                                                       "referral's requester or performer")
    @blp.alt_response(404, schema="Error", description="no such referral, or another organisation's")
    def post(self, body, referral_id):
        """Record that a partner was told the referral's state by hand (who, how, when, with a note).

        An unknown partner_id answers 422 naming it (no such partner); a reported_at in the future, 422.
        """
        return _reports().record(referral_id, body, caller())
