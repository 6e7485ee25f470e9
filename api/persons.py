"""``/v1/persons`` and ``/v1/health``."""

from __future__ import annotations

import logging

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import actor, caller, require_caller
from api.schemas import HealthSchema, PersonSchema

logger = logging.getLogger(__name__)

blp = Blueprint("persons", __name__, url_prefix="/v1", description="Persons of the index")


@blp.route("/persons/<person_id:person_id>")
class Person(MethodView):
    decorators = []

    @blp.response(200, PersonSchema)
    @blp.alt_response(403, schema="Error", description="an auditor: it reads no person data")
    @blp.alt_response(404, schema="Error", description=(
        "no such person, or one the caller's organisation was not given (the same answer: existence does not leak)"))
    def get(self, person_id):
        """A person (following merge redirects) with golden demographics and linked records, as far as the caller
        may see it (minimum necessary).

        Stewards and admins see it whole. A hub or coordinator sees only a person its organisation was
        given (its own record linked to it, a certain match answered to it, a referral it requested or
        performs), with identifiers masked and only its own records listed; the performer of a referral
        made without the person's consent sees a name and a way to contact only. `disclosure` says which.
        """
        require_caller()
        person = current_app.extensions["mpi"].trust.person(person_id, caller())
        logger.info("person %s read by %s", person["person_id"], actor())
        return person


@blp.route("/health")
class Health(MethodView):
    @blp.response(200, HealthSchema)
    @blp.doc(security=[])
    def get(self):
        """Liveness: the store answers and a model is active. No authentication, no patient data."""
        services = current_app.extensions["mpi"]
        return {"status": "ok", "schema_version": services.store.schema_version(),
                "active_model": services.models.version()}
