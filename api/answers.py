"""The API's JSON writer: keys in the order the schemas give them, and each answer kept for the access log.

Flask 3 no longer reads the ``JSON_SORT_KEYS`` setting the app carried (it is
``app.json.sort_keys`` now), so every answer had its keys sorted, dict by dict, as it was
written. And the access log read each JSON answer it had just written back into objects
to find the persons and records it showed (``access_log.Touch``): together about a tenth
of a ``/v1/match``'s time in the server at 1M persons. This writer leaves the keys in
their order and keeps, on the request, the object it wrote each response from
(:func:`answer_of`), which the log reads instead.
"""

from __future__ import annotations

from typing import Any

from flask import Response, g, has_request_context
from flask.json.provider import DefaultJSONProvider


class AnswerProvider(DefaultJSONProvider):
    """Flask's JSON provider with keys unsorted, keeping the object of each response it writes in a request."""

    sort_keys = False

    def response(self, *args: Any, **kwargs: Any) -> Response:
        answer = self._prepare_response_obj(args, kwargs)
        response = super().response(answer)
        if has_request_context():
            g.json_answer = (response, answer)
        return response


def answer_of(response: Response) -> Any | None:
    """The object this response's JSON was written from (None if the provider did not write this response)."""
    kept = g.get("json_answer")
    return kept[1] if kept is not None and kept[0] is response else None
