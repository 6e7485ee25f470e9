"""``/v1/organisations``: the directory of organisations that request and perform referrals."""

from __future__ import annotations

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import actor, require_caller, require_role
from api.referral_schemas import OrganisationBodySchema, OrganisationListSchema, OrganisationSchema
from mpi.vocab import Role

blp = Blueprint("organisations", __name__, url_prefix="/v1", description="The directory of organisations")


@blp.before_request
def _authorise() -> None:
    """Every caller is known, and a writer is an admin, before a body is read: 401 or 403, never a 422 first."""
    if request.method == "POST":
        require_role(Role.ADMIN)
    else:
        require_caller()



def _directory():
    return current_app.extensions["mpi"].directory


@blp.route("/organisations")
class Organisations(MethodView):
    @blp.response(200, OrganisationListSchema)
    def get(self):
        """Every organisation: kind, service types, business calendar and time zone, supervisors."""
        return {"organisations": _directory().all()}

    @blp.arguments(OrganisationBodySchema)
    @blp.response(201, OrganisationSchema)
    @blp.alt_response(403, schema="Error", description="the caller is not an admin")
    def post(self, body):
        """Add an organisation, or replace the entry of one with the same code (admin)."""
        return _directory().add(body, actor())


@blp.route("/organisations/<string:code>")
class Organisation(MethodView):
    @blp.response(200, OrganisationSchema)
    @blp.alt_response(404, schema="Error", description="no such organisation")
    def get(self, code):
        """One organisation."""
        return _directory().get(code)
