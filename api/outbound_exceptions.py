"""``/v1/outbound-exceptions`` and the partner operations: the outbound exception queue and its recovery (admin).

Dead messages grouped as patterns (``services.outbound``, ``mpi/exchange/outbound.py``):
list and read them, back-post one after the fix (its note closes it); pause a
partner (its messages keep queueing), resume it, or back-post all it holds.
This is exchange operations, an admin's (shared/domain.md §4a: admin runs
partners); a coordinator records what it told a partner by hand instead
(``api/manual_reports.py``). Patterns name referrals by id: reading them is an
access event; pausing, resuming and back-posting a partner answer no referral.
"""

from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import actor, require_role
from api.outbound_schemas import (NoteSchema, PartnerStateSchema, PatternArgsSchema, PatternDetailSchema,
                                  PatternListSchema, PauseSchema, ResumeSchema)
from mpi.vocab import Role

blp = Blueprint("outbound_exceptions", __name__, url_prefix="/v1",
                description="The outbound exception queue: patterns of undelivered status updates, pausing, "
                            "resuming and back-posting partners (admin)")

_FORBIDDEN = {"description": "the caller is not an admin", "schema": "Error"}
_NO_PATTERN = {"description": "no such pattern", "schema": "Error"}
_NO_PARTNER = {"description": "no such partner", "schema": "Error"}


@blp.before_request
def _authorise() -> None:
    """Every route is an admin's, checked before a body is read: 401 or 403, never a 422 first."""
    require_role(Role.ADMIN)


def _desk():
    return current_app.extensions["mpi"].outbound


@blp.route("/outbound-exceptions")
class OutboundExceptions(MethodView):
    @blp.arguments(PatternArgsSchema, location="query")
    @blp.response(200, PatternListSchema)
    @blp.alt_response(403, **_FORBIDDEN)
    def get(self, args):
        """Patterns, open first then oldest first: partner, message type, error, count, first and last time,
        referrals affected, severity, owner, target; filtered by partner, message type, severity, error, state."""
        return _desk().page(**args)


@blp.route("/outbound-exceptions/<string:pattern_id>")
class OutboundException(MethodView):
    @blp.response(200, PatternDetailSchema)
    @blp.alt_response(403, **_FORBIDDEN)
    @blp.alt_response(404, **_NO_PATTERN)
    def get(self, pattern_id):
        """One pattern with the referrals it affects (the first 100; referrals_total counts all) and the manual
        reports its partner was given about them."""
        return _desk().get(pattern_id)


@blp.route("/outbound-exceptions/<string:pattern_id>/back-post")
class PatternBackPost(MethodView):
    @blp.arguments(NoteSchema)
    @blp.response(200, PatternDetailSchema)
    @blp.alt_response(403, **_FORBIDDEN)
    @blp.alt_response(404, **_NO_PATTERN)
    @blp.alt_response(409, schema="Error", description="the pattern is closed already")
    def post(self, body, pattern_id):
        """Send the pattern's dead messages again, in event order, each with its original event time (its new
        transmission time is added when sent); the pattern closes with the note."""
        return _desk().back_post_pattern(pattern_id, body["note"], actor())


@blp.route("/partners/<string:partner_id>/pause")
class PartnerPause(MethodView):
    @blp.arguments(PauseSchema)
    @blp.response(200, PartnerStateSchema)
    @blp.alt_response(403, **_FORBIDDEN)
    @blp.alt_response(404, **_NO_PARTNER)
    def post(self, body, partner_id):
        """Stop sending to the partner: its messages keep queueing, and each referral shows its view stale since
        the first it misses (pausing a paused partner changes nothing)."""
        return _desk().pause(partner_id, body["reason"], actor())


@blp.route("/partners/<string:partner_id>/resume")
class PartnerResume(MethodView):
    @blp.arguments(ResumeSchema)
    @blp.response(200, PartnerStateSchema)
    @blp.alt_response(403, **_FORBIDDEN)
    @blp.alt_response(404, **_NO_PARTNER)
    def post(self, body, partner_id):
        """Send to the partner again: its queued messages flow, in order (dead ones wait for a back-post)."""
        return _desk().resume(partner_id, actor())


@blp.route("/partners/<string:partner_id>/back-post")
class PartnerBackPost(MethodView):
    @blp.arguments(NoteSchema)
    @blp.response(200, PartnerStateSchema)
    @blp.alt_response(403, **_FORBIDDEN)
    @blp.alt_response(404, **_NO_PARTNER)
    def post(self, body, partner_id):
        """Send every message the partner holds again (dead, failed, queued), in event order, close its open
        patterns with the note, and resume it if it was paused."""
        return _desk().back_post_partner(partner_id, body["note"], actor())
