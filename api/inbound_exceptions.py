"""``/v1/inbound-exceptions``: referrals and status updates kept after failing validation, and their recovery.

:func:`init_app` keeps them: after ``POST /v1/referrals`` or ``POST
/v1/referrals/{id}/status`` is answered with a validation failure (``400``/``415``
from ``api/bodies.py`` for a body that is not JSON, ``422``, ``404`` for an unknown
referral, ``409 invalid_transition``), the raw body, the sender and the problems
per field go to ``services.inbound`` (``mpi/exchange/inbound.py``). The answer is
unchanged but for an ``X-Inbound-Exception`` header naming the exception. A caller
that is not authenticated is no sender: nothing is kept for a ``401``.

The queue is staff work: stewards and admins read and work it (a coordinator of
the sending organisation does not, yet: a kept body may name the wrong
organisation, so scoping it by what it says is not safe).
"""

from __future__ import annotations

import logging

from flask import Flask, current_app, g, request
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import actor, require_steward
from api.inbound_schemas import InboundArgsSchema, InboundExceptionSchema, InboundListSchema, ReplaySchema, ReturnSchema
from mpi.auth import Caller, authenticate
from mpi.errors import MpiError
from mpi.exchange.inbound_vocab import InboundKind

logger = logging.getLogger(__name__)

blp = Blueprint("inbound_exceptions", __name__, url_prefix="/v1",
                description="Inbound exceptions: referrals and status updates kept after failing validation")
blp.before_request(require_steward)

#: The routes whose failed bodies are kept, by Flask endpoint.
KEPT_ROUTES = {"referrals.Referrals": InboundKind.REFERRAL, "referrals.Status": InboundKind.STATUS_UPDATE,
               "partner_updates.PartnerStatusUpdates": InboundKind.STATUS_UPDATE}
#: The routes whose body (not the path) names the referral a status update is about.
NAMED_IN_BODY = frozenset({"partner_updates.PartnerStatusUpdates"})
#: Answers that mean the message failed validation (409 only for an invalid transition, not a race or a gate).
KEPT_STATUSES = frozenset({400, 404, 415, 422})
KEPT_CONFLICTS = frozenset({"invalid_transition"})


def _desk():
    return current_app.extensions["mpi"].inbound


def init_app(app: Flask) -> None:
    """Keep every referral and status update that failed validation, after it is answered."""

    @app.after_request
    def _keep(response):
        kind = KEPT_ROUTES.get(request.endpoint or "")
        if kind is None or request.method != "POST" or not 400 <= response.status_code < 500:
            return response
        error = response.get_json(silent=True) or {}
        status, code = response.status_code, str(error.get("code") or "")
        if status not in KEPT_STATUSES and not (status == 409 and code in KEPT_CONFLICTS):
            return response
        sender = _sender()
        if sender is None:
            return response
        referral_id = (request.view_args or {}).get("referral_id")
        if request.endpoint in NAMED_IN_BODY:
            referral_id = _named_referral()
        try:
            exception_id = _desk().keep(kind, referral_id, sender, request.content_type,
                                        request.get_data(cache=True), code, status, error.get("errors") or {})
        except Exception as e:  # noqa: BLE001 - the sender's answer stands; the failure is logged, by ids only
            logger.error("inbound %s from %s NOT KEPT: %s", kind.value, sender.actor,
                         e.code if isinstance(e, MpiError) else type(e).__name__)
            return response
        response.headers["X-Inbound-Exception"] = exception_id
        return response


def _named_referral() -> str | None:
    """The referral a partner's status update names in its body (a short text only; never more of the body)."""
    data = request.get_json(silent=True, cache=True)
    value = data.get("referral_id") if isinstance(data, dict) else None
    return value if isinstance(value, str) and 0 < len(value) <= 64 else None


def _sender() -> Caller | None:
    """The authenticated caller, also when ``api/bodies.py`` answered before authentication ran."""
    user = g.get("user")
    if user is None:
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header[:7].lower() == "bearer " else None
        try:
            user = authenticate(current_app.extensions["mpi"].store, token)
        except MpiError:
            return None
    return Caller.of(user)


@blp.route("/inbound-exceptions")
class InboundExceptions(MethodView):
    @blp.arguments(InboundArgsSchema, location="query")
    @blp.response(200, InboundListSchema)
    def get(self, args):
        """The queue, oldest first, filtered by state, severity and sender (steward or admin)."""
        return _desk().page(**args)


@blp.route("/inbound-exceptions/<string:exception_id>")
class InboundException(MethodView):
    @blp.response(200, InboundExceptionSchema)
    @blp.alt_response(404, schema="Error", description="no such inbound exception")
    def get(self, exception_id):
        """One kept message: sender, received time, raw body, reasons, severity, owner, target, age, remedy."""
        return _desk().get(exception_id)


def _work_answers(view):
    view = blp.alt_response(404, schema="Error", description="no such inbound exception")(view)
    return blp.alt_response(409, schema="Error", description="resolved or returned already (or claimed, "
                                                             "for a claim)")(view)


@blp.route("/inbound-exceptions/<string:exception_id>/claim")
class InboundClaim(MethodView):
    @blp.response(200, InboundExceptionSchema)
    @_work_answers
    def post(self, exception_id):
        """Take an open exception to work: it shows 'exception recovery in progress'."""
        return _desk().claim(exception_id, actor())


@blp.route("/inbound-exceptions/<string:exception_id>/replay")
class InboundReplay(MethodView):
    @blp.arguments(ReplaySchema)
    @blp.response(200, InboundExceptionSchema)
    @_work_answers
    @blp.alt_response(422, schema="Error", description="code replay_refused: the corrected body fails the intake "
                                                       "again (every problem named, as the intake names them; which "
                                                       "schema applies follows the exception's kind); it stays")
    def post(self, args, exception_id):
        """Replay a corrected body through the same intake as the original, as its sender.

        On success the exception is resolved and names the referral it produced
        (``produced_referral_id``); on failure the intake's answer is returned and the
        exception stays as it was (the attempt is in the audit log).
        """
        return _desk().replay(exception_id, args["body"], actor(), args["referral_id"])


@blp.route("/inbound-exceptions/<string:exception_id>/return")
class InboundReturn(MethodView):
    @blp.arguments(ReturnSchema)
    @blp.response(200, InboundExceptionSchema)
    @_work_answers
    def post(self, args, exception_id):
        """Return an exception to its sender with a reason."""
        return _desk().return_to_sender(exception_id, args["reason"], actor())
