"""Reconciliation: partners report what their systems show; the tracker compares, opens work items, shows the trend.

- ``POST /v1/partners/{partner_id}/status-snapshot``: a partner's snapshot, JSON
  (``{"rows": [...]}``) or CSV (``text/csv``), reconciled at once; the answer is the run.
  An admin, or a hub of the partner's own organisation (its system reports its own
  view; another organisation's hub gets 403, as does every other role).
- ``GET /v1/partners/{partner_id}/reconciliation``: its runs with their mismatch rates per
  stage, status category and expected label, and its open mismatches as patterns.
- ``GET /v1/reconciliation/items`` (the work queue), ``GET .../{item_id}``,
  ``POST .../{item_id}/close`` ``{cause, note}``, ``POST .../{item_id}/reissue``.

The reads and actions are staff work: stewards and admins, as the inbound queue's.
A snapshot and the items name referral ids (the access log records them); the
runs, rates and patterns hold counts and labels only.
"""

from __future__ import annotations

from flask import current_app, g, request
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import actor, require_role, require_steward
from api.reconciliation_schemas import (
    CloseSchema,
    ItemArgsSchema,
    ItemListSchema,
    ItemSchema,
    PartnerReconciliationSchema,
    ReissueSchema,
    ReportArgsSchema,
    RunResultSchema,
    SnapshotBodySchema,
)
from mpi.errors import Forbidden, NotFound, ValidationError
from mpi.vocab import Role

blp = Blueprint("reconciliation", __name__, url_prefix="/v1",
                description="Reconciliation: partners' status snapshots, mismatch work items and their trend")

_NOT_FOUND_PARTNER = {"description": "no such partner", "schema": "Error"}
_NOT_FOUND_ITEM = {"description": "no such work item", "schema": "Error"}


def _reconciler():
    return current_app.extensions["mpi"].reconciliation


@blp.before_request
def _authorise() -> None:
    """The snapshot: an admin or a hub (its organisation is checked in the view); the rest: stewards and admins."""
    if request.endpoint == "reconciliation.StatusSnapshot":
        require_role(Role.ADMIN, Role.HUB)
    else:
        require_steward()


@blp.route("/partners/<string:partner_id>/status-snapshot")
class StatusSnapshot(MethodView):
    @blp.doc(requestBody={
        "required": True,
        "description": "JSON: {rows: [{referral_id or reference, label, as_of?}]}. CSV: a header naming label and "
                       "referral_id or reference (as_of optional), one row per line; bad lines are named line N. "
                       "A snapshot with any problem is refused whole (422) and nothing of it is kept.",
        "content": {"application/json": {"schema": SnapshotBodySchema}}})
    @blp.response(201, RunResultSchema)
    @blp.alt_response(403, schema="Error", description="the caller is not an admin, nor a hub of the partner's "
                                                       "organisation")
    @blp.alt_response(404, **_NOT_FOUND_PARTNER)
    @blp.alt_response(415, schema="Error", description="the body is neither JSON (application/json) nor CSV "
                                                       "(text/csv)")
    def post(self, partner_id):
        """Report what the partner's system shows; it is kept and reconciled at once (the answer is the run).

        Each row is compared with the label the partner should show (the one of the last update it
        acknowledged, under the crosswalk version then in force) beside the referral's last action: a
        difference while an update is in flight, or inside the grace period, is a lag; an older one is a
        mismatch and opens a work item (one per mismatch, however many runs see it).
        """
        reconciler = _reconciler()
        partner = current_app.extensions["mpi"].store.partners.get(partner_id)
        if partner is None:
            raise NotFound("no such partner", {"partner_id": ["no such partner"]})
        if g.user["role"] == Role.HUB and g.user.get("organisation") != partner["organisation"]:
            raise Forbidden("a hub reports the snapshots of its own organisation's partners only",
                            {"partner_id": ["not a partner of the caller's organisation"]})
        if request.mimetype == "text/csv":
            try:
                text = request.get_data(cache=True).decode("utf-8")
            except UnicodeDecodeError:
                raise ValidationError("the CSV is not UTF-8", {"_body": ["not UTF-8"]}) from None
            run = reconciler.receive_csv(partner_id, text, actor())
        else:
            body = request.get_json(silent=True)
            if body is None:
                raise ValidationError("invalid status snapshot: a JSON body is required", {"rows": ["required"]})
            run = reconciler.receive_json(partner_id, body, actor())
        return run, 201


@blp.route("/partners/<string:partner_id>/reconciliation")
class PartnerReconciliation(MethodView):
    @blp.arguments(ReportArgsSchema, location="query")
    @blp.response(200, PartnerReconciliationSchema)
    @blp.alt_response(404, **_NOT_FOUND_PARTNER)
    def get(self, args, partner_id):
        """The partner's latest runs, each with its mismatch and lag rates and its counts per stage, status
        category (our state) and expected label, and its open mismatches grouped into patterns by signature."""
        return _reconciler().report(partner_id, args["runs"])


@blp.route("/reconciliation/items")
class Items(MethodView):
    @blp.arguments(ItemArgsSchema, location="query")
    @blp.response(200, ItemListSchema)
    def get(self, args):
        """The work queue, oldest first: filter by partner, state, severity, kind, our state, owner."""
        return _reconciler().items(**args)


@blp.route("/reconciliation/items/<string:item_id>")
class Item(MethodView):
    @blp.response(200, ItemSchema)
    @blp.alt_response(404, **_NOT_FOUND_ITEM)
    def get(self, item_id):
        """One work item: referral, partner, our state, expected and reported label, kind, severity, age, target."""
        return _reconciler().item(item_id)


@blp.route("/reconciliation/items/<string:item_id>/close")
class ItemClose(MethodView):
    @blp.arguments(CloseSchema)
    @blp.response(200, ItemSchema)
    @blp.alt_response(404, **_NOT_FOUND_ITEM)
    @blp.alt_response(409, schema="Error", description="the item is not open (closed or cleared already)")
    def post(self, args, item_id):
        """Close an open item with its cause: identifier_mismatch, receiving_logic_failure,
        missing_acknowledgement, mapping_defect or our_error (audited)."""
        return _reconciler().close(item_id, args["cause"], args["note"], actor())


@blp.route("/reconciliation/items/<string:item_id>/reissue")
class ItemReissue(MethodView):
    @blp.response(200, ReissueSchema)
    @blp.alt_response(404, **_NOT_FOUND_ITEM)
    @blp.alt_response(409, schema="Error", description="the item is not open, or names no referral we know")
    def post(self, item_id):
        """Write the right update again: the referral's current state, labelled under the partner's crosswalk
        version in force now, as a new outbound message (its own idempotency key, ``...:reissue-N``); audited."""
        return _reconciler().reissue(item_id, actor())

