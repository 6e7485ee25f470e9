"""What a request body must be before any view reads it: JSON, within the size limit, readable, storable text.

Checked once for every ``POST``, ``PUT`` and ``PATCH`` under ``/v1/`` and ``/fhir/``
with a body, before authentication and before any view, so nothing is half-written:

- a body over ``MPI_MAX_BODY_BYTES`` answers ``413 request_entity_too_large`` (Flask's
  ``MAX_CONTENT_LENGTH``: Werkzeug stops reading past it);
- a body that is not JSON (``text/plain``, a form) answers ``415 unsupported_media_type``,
  not a misleading "missing source_system" (but ``text/csv`` on a route that reads CSV:
  :data:`CSV_ENDPOINTS`, a partner's status snapshot, whose view reads and checks it);
- JSON that cannot be read safely answers ``400 bad_request``: not UTF-8, not JSON, nested
  deeper than :data:`MAX_DEPTH`, or a number of more digits than Python converts;
- a string holding a lone UTF-16 surrogate (``"\\ud800"``), which no store can hold, answers
  ``400 bad_request`` naming the field by its path (``person.first_name``).

Values are never echoed back: the messages name fields, not what they held. A referral
or status update refused here is still kept, raw, as an inbound exception (the
``after_request`` hook of ``api/inbound_exceptions.py``), so nothing a sender sends is lost.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, request

from api.errors import error_response

#: Deepest nesting of arrays and objects a body may have (a record is flat; a referral nests two levels).
MAX_DEPTH = 32
_METHODS = frozenset({"POST", "PUT", "PATCH"})
_PREFIXES = ("/v1/", "/fhir/")
#: Routes (Flask endpoints) that also take ``text/csv``: their views read and check it themselves.
CSV_ENDPOINTS = frozenset({"reconciliation.StatusSnapshot"})


def init_app(app: Flask, max_bytes: int) -> None:
    """Refuse oversized and unreadable bodies on the API's routes, before any view runs."""
    app.config["MAX_CONTENT_LENGTH"] = max_bytes

    @app.before_request
    def _check_body():
        if request.method not in _METHODS or not request.path.startswith(_PREFIXES):
            return None
        if not request.content_length and not request.get_data(cache=True):
            return None  # no body: the view says what it needs
        if request.mimetype == "text/csv" and request.endpoint in CSV_ENDPOINTS:
            return None
        if not request.is_json:
            csv_too = request.endpoint in CSV_ENDPOINTS
            return error_response("unsupported_media_type", 415,
                                  "the body must be JSON (Content-Type: application/json)"
                                  + (" or CSV (Content-Type: text/csv)" if csv_too else ""),
                                  {"Content-Type": [f"not {'JSON or CSV' if csv_too else 'JSON'}: "
                                                    f"{request.mimetype or 'none given'}"]})
        problem = unreadable(request.get_data(cache=True))
        if problem is not None:
            field, message = problem
            return error_response("bad_request", 400, f"the body is not JSON this service reads: {message}",
                                  {field: [message]})
        return None


def unreadable(body: bytes) -> tuple[str, str] | None:
    """Why a body cannot be taken as JSON, as (field, message), or None when it can."""
    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        return "_body", "not UTF-8"
    except RecursionError:
        return "_body", f"nested deeper than {MAX_DEPTH} levels"
    except ValueError as e:  # JSONDecodeError, and a number of more digits than Python converts
        return "_body", "a number too long" if "digits" in str(e) else "not JSON"
    return _walk(data)


def _walk(data: Any) -> tuple[str, str] | None:
    """The first string no store can hold, or the first level past :data:`MAX_DEPTH`, with its path."""
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, str):
            if not _storable(value):
                return path or "_body", "a lone UTF-16 surrogate: not text"
        elif isinstance(value, (dict, list)):
            if depth >= MAX_DEPTH:
                return path or "_body", f"nested deeper than {MAX_DEPTH} levels"
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str) and not _storable(key):
                    return path or "_body", "a lone UTF-16 surrogate in a field name: not text"
                # A list's items are named by the list, as validation errors name them.
                name = path if isinstance(value, list) else f"{path}.{key}" if path else str(key)
                stack.append((item, name, depth + 1))
    return None


def _storable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
