"""What the OpenAPI document adds to what flask-smorest derives: the error answers and the server's whole rules.

flask-smorest documents each operation's success and the ``422`` of its
arguments. :class:`ContractPlugin` (an apispec plugin) adds, to every operation,
the other errors it may answer, each in the one error shape (``Error``):

- ``400``, ``413``, ``415`` where a body is read (``api.bodies`` refuses it first);
- ``401`` and ``403`` where a bearer token is needed (no token, or a role or
  organisation that may not);
- ``404`` where the path names something; ``405`` everywhere (with ``Allow``);
- ``422`` where a body or a query is checked.

It also says what the schemas' own validators cannot: a schema that refuses
unknown fields (marshmallow's ``RAISE``) is ``additionalProperties: false``, and a
source record must carry one of the fields matching can block on
(:data:`mpi.matching.prepare.ENOUGH_FIELDS`), as ``anyOf``.
"""

from __future__ import annotations

from apispec import BasePlugin
from apispec.ext.marshmallow.common import resolve_schema_instance
from marshmallow import RAISE

from mpi.matching.prepare import ENOUGH_FIELDS, ENOUGH_TO_MATCH
from mpi.records.text import NOT_BLANK
from mpi.records.validation import RecordSchema

_ERROR = {"$ref": "#/components/schemas/Error"}

#: Each error status, the description it gets, and when an operation may answer it.
ERRORS = {
    "400": "the body is not JSON this service reads: not UTF-8, not JSON, nested deeper than 32 levels, a number "
           "too long, or a lone UTF-16 surrogate (the field is named)",
    "401": "no bearer token, or one this service does not know",
    "403": "the caller's role, or its organisation, may not do this",
    "404": "no such resource (an id or code in the path), or one the caller may not see",
    "405": "the path does not take this method: the Allow header lists those it does",
    "413": "the body is larger than MPI_MAX_BODY_BYTES",
    "415": "the body is not JSON (Content-Type: application/json)",
    "422": "a field, parameter or rule of the request is not met: each one named under errors",
}


def _applies(status: str, operation: dict, path: str) -> bool:
    body = "requestBody" in operation
    secured = operation.get("security") != []
    query = any(p.get("in") == "query" for p in operation.get("parameters", []) if isinstance(p, dict))
    return {
        "400": body, "413": body, "415": body,
        "401": secured, "403": secured,
        "404": "{" in path,
        "405": True,
        "422": body or query,
    }[status]


def _error_response(status: str) -> dict:
    response = {"description": ERRORS[status], "content": {"application/json": {"schema": _ERROR}}}
    if status == "405":
        response["headers"] = {"Allow": {"description": "the methods the path takes", "schema": {"type": "string"}}}
    return response


def _only_null_or(prop: dict) -> dict:
    """A nullable nested schema as null or that schema: apispec writes it ``anyOf: [any object, nullable; $ref]``,
    which lets any object through; ``enum: [null]`` is OpenAPI 3.0's way to say only null."""
    branches = prop.get("anyOf")
    if not isinstance(branches, list) or len(branches) != 2:
        return prop
    refs = [b for b in branches if "$ref" in b]
    loose = [b for b in branches if {k: v for k, v in b.items() if k != "default"} == {"type": "object",
                                                                                        "nullable": True}]
    if len(refs) == 1 and len(loose) == 1:
        return {**prop, "anyOf": [refs[0], {"type": "object", "nullable": True, "enum": [None]}]}
    return prop


def record_any_of() -> list[dict]:
    """A source record's alternatives of enough to match on: each names fields that must be present, not blank."""
    return [{"required": list(fields),
             "properties": {f: {"type": "string", "pattern": NOT_BLANK} for f in fields}}
            for fields in ENOUGH_FIELDS]


class ContractPlugin(BasePlugin):
    """Adds the error answers to every operation and the rules validators cannot carry to the schemas."""

    def operation_helper(self, path=None, operations=None, **kwargs):
        for method, operation in (operations or {}).items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            for status in ERRORS:
                if status in responses or int(status) in responses or not _applies(status, operation, path):
                    continue
                responses[status] = _error_response(status)

    def schema_helper(self, name, definition, **kwargs):
        schema = kwargs.get("schema")
        if schema is None:
            return None
        instance = resolve_schema_instance(schema)
        extra = {}
        for field, prop in (definition.get("properties") or {}).items():
            definition["properties"][field] = _only_null_or(prop)
        if instance.unknown == RAISE and not instance.many:
            extra["additionalProperties"] = False
        extra.update(getattr(instance, "OPENAPI_EXTRA", {}))
        if isinstance(instance, RecordSchema):
            extra["anyOf"] = record_any_of()
            extra["description"] = (
                "A source record. It must carry enough to match on: at least "
                f"{', '.join(ENOUGH_TO_MATCH[:-1])} or {ENOUGH_TO_MATCH[-1]}, each usable once normalised (a "
                "phone, email or ZIP that cannot be read does not count): otherwise 422, errors._schema.")
        return extra
