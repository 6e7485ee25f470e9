"""Marshmallow schemas of ``/v1/admin``: API keys, users and model versions (never a hash; a secret once)."""

from __future__ import annotations

import marshmallow as ma

from mpi.auth import EXPIRY
from mpi.vocab import Role

_ROLES = [r.value for r in Role]


class KeyBodySchema(ma.Schema):
    """A key to make: for which organisation, with which role, until when."""

    class Meta:
        unknown = ma.RAISE

    organisation = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=64), metadata={
        "description": "code of an organisation of the directory"})
    role = ma.fields.String(required=True, validate=ma.validate.OneOf(_ROLES), metadata={"description": ", ".join(_ROLES)})
    expires = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Regexp(
        EXPIRY, error="a date (YYYY-MM-DD) or a date and time (YYYY-MM-DDTHH:MM[:SS][+HH:MM])"), metadata={
        "description": "when the key stops working: a date (YYYY-MM-DD, its first moment UTC) or a date and time "
                       "(ISO 8601, UTC without an offset); it must be later than now. None: never"})


class KeySchema(ma.Schema):
    """An API key as listed: never its secret or its hash."""

    key_id = ma.fields.String(metadata={"description": "the key's id (not secret), e.g. K7QH2MXP4"})
    organisation = ma.fields.String()
    role = ma.fields.String(metadata={"description": ", ".join(_ROLES)})
    status = ma.fields.String(metadata={"description": "active, expired or revoked"})
    created_at = ma.fields.DateTime()
    created_by = ma.fields.String(metadata={"description": "who made it, as the audit log names callers"})
    expires_at = ma.fields.DateTime(allow_none=True)
    revoked_at = ma.fields.DateTime(allow_none=True)
    revoked_by = ma.fields.String(allow_none=True)


class KeyCreatedSchema(KeySchema):
    """A key just made, with its secret: shown in this answer only."""

    key = ma.fields.String(metadata={"description": "the secret to send as the bearer token (shown once)"})


class KeyListSchema(ma.Schema):
    keys = ma.fields.List(ma.fields.Nested(KeySchema))


class UserBodySchema(ma.Schema):
    #: What OpenAPI says beside the fields (``api/spec.py``): a hub or a coordinator names its organisation.
    OPENAPI_EXTRA = {"anyOf": [
        {"properties": {"role": {"enum": [r for r in _ROLES if r not in ("hub", "coordinator")]}}},
        {"required": ["organisation"], "properties": {"organisation": {"type": "string"}}},
    ]}

    """A user to create, or to give a new token (its old one stops working)."""

    class Meta:
        unknown = ma.RAISE

    name = ma.fields.String(required=True, validate=ma.validate.Regexp(
        r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$", error="1-64 letters, digits or . _ @ -, starting with a letter or digit"))
    role = ma.fields.String(required=True, validate=ma.validate.OneOf(_ROLES), metadata={"description": ", ".join(_ROLES)})
    organisation = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Length(min=1, max=64),
                                    metadata={"description": "code of the user's organisation (a hub's or a coordinator's is required)"})


class UserSchema(ma.Schema):
    """A user as listed: never its token or the token's hash."""

    name = ma.fields.String()
    role = ma.fields.String()
    organisation = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime()


class UserCreatedSchema(UserSchema):
    token = ma.fields.String(metadata={"description": "the user's bearer token (shown once)"})


class UserListSchema(ma.Schema):
    users = ma.fields.List(ma.fields.Nested(UserSchema))


class ModelPolicySchema(ma.Schema):
    lower_match_weight = ma.fields.Float()
    upper_match_weight = ma.fields.Float()


class ModelVersionSchema(ma.Schema):
    """A model version in the models folder."""

    version = ma.fields.String()
    created_at = ma.fields.String(allow_none=True)
    splink_version = ma.fields.String(allow_none=True)
    trained_on = ma.fields.Dict(allow_none=True, metadata={"description": "the file and record count it was trained on"})
    learned_from = ma.fields.Dict(allow_none=True, metadata={
        "description": "for a version learned from steward decisions (`mpi train --from-decisions`): decisions and "
                       "labelled pairs by kind, the held-out share, both held-out precisions, the base version"})
    policy = ma.fields.Nested(ModelPolicySchema)
    active = ma.fields.Boolean()


class ModelListSchema(ma.Schema):
    active = ma.fields.String(allow_none=True, metadata={"description": "the active version"})
    models = ma.fields.List(ma.fields.Nested(ModelVersionSchema))


class ModelActivatedSchema(ma.Schema):
    active = ma.fields.String(metadata={"description": "the version now active"})
    previous = ma.fields.String(allow_none=True)


class TrainFromDecisionsBodySchema(ma.Schema):
    """What ``mpi train --from-decisions`` asks of the service."""

    class Meta:
        unknown = ma.RAISE

    version = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Regexp(
        r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$", error="1-80 letters, digits, '.', '_' or '-'"), metadata={
        "description": "the new version's name (default: the base model's and -learned<UTC time>)"})
    activate = ma.fields.Boolean(load_default=True, metadata={
        "description": "activate it if it is at least as precise on the held-out decisions as the active model"})
    # Inclusive bounds: the spec says them as they are (an exclusive bound is lost on the way to OpenAPI).
    held_out = ma.fields.Float(load_default=0.25, validate=ma.validate.Range(min=0.01, max=0.9), metadata={
        "description": "share of decisions held out to judge it (0.01 to 0.9)"})
    seed = ma.fields.Integer(load_default=42, validate=ma.validate.Range(min=0, max=2**31 - 1), metadata={
        "description": "seed of the held-out split"})


class TrainedSchema(ma.Schema):
    """A model version learned from steward decisions, and whether it is now active."""

    version = ma.fields.String()
    activated = ma.fields.Boolean()
    reason = ma.fields.String(metadata={"description": "both held-out precisions, and why it is or is not active"})
    learned_from = ma.fields.Dict(metadata={"description": "as written in the model file"})
