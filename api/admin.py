"""``/v1/admin``: administering a running service (keys, users, export, model versions) without its store file.

The serving process holds the DuckDB file's lock, so what ``mpi keys``, ``mpi
users``, ``mpi export`` and ``mpi model`` do on the store is also here, for the
admin role (the export for stewards too), and ``mpi --url URL --token T`` calls
it. Organisations are ``/v1/organisations`` (an admin adds them). A secret (a
key or a user's token) is in the answer that makes it and nowhere else.
"""

from __future__ import annotations

from flask import Response, current_app, request, stream_with_context
from flask.views import MethodView
from flask_smorest import Blueprint

from api.admin_schemas import (KeyBodySchema, KeyCreatedSchema, KeyListSchema, KeySchema, ModelActivatedSchema,
                               ModelListSchema, TrainedSchema, TrainFromDecisionsBodySchema, UserBodySchema,
                               UserCreatedSchema, UserListSchema)
from api.auth import actor, require_role
from mpi.auth import add_user, create_key, key_status, keys_with_status, revoke_key
from mpi.errors import Conflict, NotFound
from mpi.identity.export import export_csv
from mpi.vocab import AuditAction, EntityType, Role

blp = Blueprint("admin", __name__, url_prefix="/v1/admin",
                description="Keys, users, the export and model versions, while the service runs (admin)")

_FORBIDDEN = {"description": "the caller's role may not do this", "schema": "Error"}
_NOT_FOUND = {"description": "no such key", "schema": "Error"}


def _services():
    return current_app.extensions["mpi"]


def _admin() -> None:
    require_role(Role.ADMIN)


@blp.before_request
def _admin_before_body() -> None:
    """A route that reads a body checks the caller before the body (a 401 or 403, never a 422 first)."""
    if request.endpoint == "admin.TrainFromDecisions":
        _admin()


@blp.route("/keys")
class Keys(MethodView):
    @blp.response(200, KeyListSchema)
    @blp.alt_response(403, **_FORBIDDEN)
    def get(self):
        """Every API key: organisation, role, when made and by whom, expiry, status (never a secret)."""
        _admin()
        return {"keys": keys_with_status(_services().store)}

    @blp.arguments(KeyBodySchema)
    @blp.response(201, KeyCreatedSchema)
    @blp.alt_response(403, **_FORBIDDEN)
    def post(self, body):
        """Make a key for an organisation and a role; its secret (``key``) is in this answer only."""
        _admin()
        store = _services().store
        key, secret = create_key(store, body["organisation"], body["role"], actor(), body["expires"])
        return {**key, "status": key_status(key, store.db.now()), "key": secret}


@blp.route("/keys/<string:key_id>")
class Key(MethodView):
    @blp.response(200, KeySchema)
    @blp.alt_response(403, **_FORBIDDEN)
    @blp.alt_response(404, **_NOT_FOUND)
    def get(self, key_id):
        """One key and its status."""
        _admin()
        store = _services().store
        key = store.keys.get(key_id)
        if key is None:
            raise NotFound("no such API key")
        return {**key, "status": key_status(key, store.db.now())}

    @blp.response(200, KeySchema)
    @blp.alt_response(403, **_FORBIDDEN)
    @blp.alt_response(404, **_NOT_FOUND)
    def delete(self, key_id):
        """Revoke a key (as ``POST .../revoke``): the key stays listed, as revoked."""
        return _revoke(key_id)


@blp.route("/keys/<string:key_id>/revoke")
class KeyRevoke(MethodView):
    @blp.response(200, KeySchema)
    @blp.alt_response(403, **_FORBIDDEN)
    @blp.alt_response(404, **_NOT_FOUND)
    def post(self, key_id):
        """Revoke a key: refused from this moment. A key revoked before stays as it was."""
        return _revoke(key_id)


def _revoke(key_id: str) -> dict:
    _admin()
    store = _services().store
    key = revoke_key(store, key_id, actor())
    return {**key, "status": key_status(key, store.db.now())}


@blp.route("/users")
class Users(MethodView):
    @blp.response(200, UserListSchema)
    @blp.alt_response(403, **_FORBIDDEN)
    def get(self):
        """Every user: name, role, organisation (never a token)."""
        _admin()
        return {"users": _services().store.users.all()}

    @blp.arguments(UserBodySchema)
    @blp.response(201, UserCreatedSchema)
    @blp.alt_response(403, **_FORBIDDEN)
    def post(self, body):
        """Create a user, or give one a new token (the old one stops working); the token is in this answer only."""
        _admin()
        store = _services().store
        with store.transaction():
            token = add_user(store, body["name"], body["role"], organisation=body["organisation"])
            store.audit.append(actor(), AuditAction.USER_ADDED, EntityType.USER, body["name"], None,
                               {"role": body["role"], "organisation": body["organisation"]})
        return {**store.users.get(body["name"]), "token": token}


@blp.route("/export")
class Export(MethodView):
    @blp.doc(responses={"200": {"description": "one CSV row per source record (what `mpi export` writes)",
                                "content": {"text/csv": {"schema": {"type": "string"}}}}})
    @blp.alt_response(403, **_FORBIDDEN)
    def get(self):
        """Every source record's person, decision, link source, score and open case, as CSV streamed (steward, admin)."""
        require_role(Role.STEWARD, Role.ADMIN)
        # Read on a cursor of its own as it is sent, beside other requests.
        return Response(stream_with_context(export_csv(_services().store)), mimetype="text/csv",
                        headers={"Content-Disposition": 'attachment; filename="export.csv"'})


@blp.route("/models")
class Models(MethodView):
    @blp.response(200, ModelListSchema)
    @blp.alt_response(403, **_FORBIDDEN)
    def get(self):
        """Model versions in the models folder, oldest first, and which one is active."""
        _admin()
        services = _services()
        active = services.models.version()
        return {"active": active,
                "models": [{**v, "active": v["version"] == active} for v in services.registry.versions()]}


@blp.route("/models/<string:version>/activate")
class ModelActivate(MethodView):
    @blp.response(200, ModelActivatedSchema)
    @blp.alt_response(403, **_FORBIDDEN)
    @blp.alt_response(404, schema="Error", description="no such model version")
    def post(self, version):
        """Make a model version the one matching uses (audited)."""
        _admin()
        services = _services()
        if version not in {v["version"] for v in services.registry.versions()}:  # a name no file could have too
            raise NotFound("no such model version in the models folder", {"version": ["no such model version"]})
        previous = services.models.version()
        services.models.activate(version, actor())
        return {"active": version, "previous": previous}


@blp.route("/models/train-from-decisions")
class TrainFromDecisions(MethodView):
    @blp.arguments(TrainFromDecisionsBodySchema)
    @blp.response(201, TrainedSchema)
    @blp.alt_response(409, schema="Error", description="a model version of that name exists (naming `version`), or "
                      "the decisions do not allow it yet (naming `decisions`: none, too few held out to judge a new "
                      "model, or nothing new); nothing is written")
    @blp.alt_response(503, schema="Error", description="no active model to learn on")
    def post(self, body):
        """Learn a new model version from every steward decision (``mpi train --from-decisions``): m from their
        labelled pairs, the upper threshold for the policy's target precision; activated only if at least as precise
        on the held-out decisions (409 naming ``decisions`` when there are too few to judge, and nothing is written)."""
        _admin()
        services = _services()
        if body["version"] is not None and services.registry.path_of(body["version"]).exists():
            raise Conflict("a model version of that name exists", {"version": ["exists"]})
        services.ensure_active_model(actor())
        return services.learning.train(actor(), body["version"], body["activate"], body["held_out"], body["seed"]), 201
