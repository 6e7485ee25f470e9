"""One JSON error shape for every error: ``code``, ``status``, ``message``, ``errors``.

``code`` is a stable machine word (``validation_error``, ``not_found``, ...),
``status`` the HTTP status, ``message`` one line for a person, and ``errors``
the problems per field. Messages never carry a record's values.
"""

from __future__ import annotations

import logging

import marshmallow as ma
from flask import current_app, jsonify
from flask_smorest import Api
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestEntityTooLarge

from mpi.errors import MpiError, flatten

logger = logging.getLogger(__name__)


class ErrorSchema(ma.Schema):
    """The body of every error response."""

    code = ma.fields.String(required=True, metadata={"description": "machine-readable error word"})
    status = ma.fields.Integer(required=True, metadata={"description": "HTTP status"})
    message = ma.fields.String(required=True, metadata={"description": "what went wrong, for a person"})
    errors = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.List(ma.fields.String()),
        metadata={"description": "problems per field name"},
    )


def error_response(code: str, status: int, message: str, errors: dict | None = None):
    response = jsonify({"code": code, "status": status, "message": message, "errors": errors or {}})
    response.status_code = status
    return response


def _flatten(messages) -> dict[str, list[str]]:
    """webargs nests errors by location (``{"json": {...}}``): lift them to field names, nested ones dotted."""
    if isinstance(messages, dict) and set(messages) <= {"json", "query", "path", "headers", "form"}:
        merged: dict = {}
        for part in messages.values():
            merged.update(part if isinstance(part, dict) else {"_schema": part})
        messages = merged
    return flatten(messages)


class MpiApi(Api):
    """flask-smorest's Api with our error shape, for documentation and responses alike."""

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: HTTPException):
        data = getattr(error, "data", None) or {}
        if error.code == 422:
            errors = _flatten(data.get("messages") or data.get("errors") or {})
            return error_response("validation_error", 422, f"invalid request: {', '.join(sorted(errors))}", errors)
        word = (error.name or "error").lower().replace(" ", "_")
        if error.code >= 500:
            logger.exception("unhandled error")
            return error_response("internal_error", error.code, "internal error")
        if isinstance(error, RequestEntityTooLarge):
            limit = current_app.config.get("MAX_CONTENT_LENGTH")
            return error_response(word, 413, f"the body is larger than the {limit} bytes this service reads "
                                             "(MPI_MAX_BODY_BYTES)", {"_body": [f"over {limit} bytes"]})
        response = error_response(word, error.code, data.get("message") or error.description or error.name)
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            response.headers["Allow"] = ", ".join(sorted(error.valid_methods))
        return response


def register(app) -> None:
    """Map the core's errors onto the shared shape."""

    @app.errorhandler(MpiError)
    def _mpi_error(e: MpiError):
        if e.status >= 500:
            logger.error("%s: %s", type(e).__name__, e.message)
        return error_response(e.code, e.status, e.message, e.errors)
