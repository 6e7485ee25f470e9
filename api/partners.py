"""``/v1/partners``: partner systems of the exchange and their versioned status crosswalks (admin).

What ``mpi partners`` does on the store is here for a running service. A
partner's signing secret is in the answer that adds it and nowhere else.
Partners name organisations and endpoints, never a person: no PHI.
"""

from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import actor, require_role
from api.partner_schemas import (CrosswalkBodySchema, CrosswalkVersionSchema, PartnerBodySchema,
                                 PartnerCreatedSchema, PartnerDetailSchema, PartnerListSchema)
from mpi.vocab import Role

blp = Blueprint("partners", __name__, url_prefix="/v1",
                description="Partner systems, their subscriptions and versioned status crosswalks (admin)")

_FORBIDDEN = {"description": "the caller is not an admin", "schema": "Error"}
_NOT_FOUND = {"description": "no such partner", "schema": "Error"}


@blp.before_request
def _authorise() -> None:
    """Every route is an admin's, checked before a body is read: 401 or 403, never a 422 first."""
    require_role(Role.ADMIN)


def _partners():
    return current_app.extensions["mpi"].partners


@blp.route("/partners")
class Partners(MethodView):
    @blp.response(200, PartnerListSchema)
    @blp.alt_response(403, **_FORBIDDEN)
    def get(self):
        """Every partner: organisation, endpoint, format, subscriptions, status, crosswalk versions (no secret)."""
        return {"partners": _partners().all()}

    @blp.arguments(PartnerBodySchema)
    @blp.response(201, PartnerCreatedSchema)
    @blp.alt_response(403, **_FORBIDDEN)
    @blp.alt_response(409, schema="Error", description="the partner id is taken")
    def post(self, body):
        """Add a partner; its signing secret (``signing_secret``) is in this answer only."""
        partner, secret = _partners().add(body, actor())
        return {**partner, "signing_secret": secret}


@blp.route("/partners/<string:partner_id>")
class Partner(MethodView):
    @blp.response(200, PartnerDetailSchema)
    @blp.alt_response(403, **_FORBIDDEN)
    @blp.alt_response(404, **_NOT_FOUND)
    def get(self, partner_id):
        """One partner with its crosswalk versions, oldest first, each row marked lossy or not."""
        return _partners().get(partner_id)


@blp.route("/partners/<string:partner_id>/crosswalk")
class Crosswalk(MethodView):
    @blp.arguments(CrosswalkBodySchema)
    @blp.response(201, CrosswalkVersionSchema)
    @blp.alt_response(403, **_FORBIDDEN)
    @blp.alt_response(404, **_NOT_FOUND)
    def post(self, body, partner_id):
        """Add a crosswalk version in force from ``effective_from`` (today by default); earlier ones stay."""
        return _partners().add_crosswalk(partner_id, body["rows"], body["effective_from"], actor())
