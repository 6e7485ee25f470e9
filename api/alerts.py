"""``/v1/alerts``: the sweep's reminders and escalations, and acknowledging them."""

from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import caller, require_caller
from api.referral_schemas import AlertArgsSchema, AlertListSchema, AlertSchema

blp = Blueprint("alerts", __name__, url_prefix="/v1", description="Reminders and escalations of referral targets")
blp.before_request(require_caller)


@blp.route("/alerts")
class Alerts(MethodView):
    @blp.arguments(AlertArgsSchema, location="query")
    @blp.response(200, AlertListSchema)
    def get(self, args):
        """Alerts of the caller's organisation (all, for stewards and admins), newest first."""
        return current_app.extensions["mpi"].alerts.page(caller(), **args)


@blp.route("/alerts/<string:alert_id>/ack")
class Acknowledge(MethodView):
    @blp.response(200, AlertSchema)
    @blp.alt_response(404, schema="Error", description="no such alert, or another organisation's")
    @blp.alt_response(409, schema="Error", description="acknowledged already")
    def post(self, alert_id):
        """Acknowledge an alert: who and when are recorded."""
        return current_app.extensions["mpi"].alerts.acknowledge(alert_id, caller())
