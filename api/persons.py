"""``/v1/persons`` and ``/v1/health``."""

from __future__ import annotations

import logging

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import actor, require_identity_role
from api.schemas import HealthSchema, PersonSchema

logger = logging.getLogger(__name__)

blp = Blueprint("persons", __name__, url_prefix="/v1", description="Persons of the index")


@blp.route("/persons/<person_id:person_id>")
class Person(MethodView):
    decorators = []

    @blp.response(200, PersonSchema)
    def get(self, person_id):
        """A person (following merge redirects) with golden demographics and linked records."""
        require_identity_role()
        person = current_app.extensions["mpi"].persons.person(person_id)
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
