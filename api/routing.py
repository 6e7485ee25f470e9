"""URL converters that keep two routes from claiming one path, so a path's ``Allow`` header is the truth.

``/v1/persons/merge`` (POST) also looked like ``/v1/persons/{person_id}`` (GET) with
the id ``merge``, and ``/v1/records/{source_system}/{source_record_id}/undo-link``
(POST) like a GET of the record ``.../undo-link``: an OPTIONS or a wrong method
listed a GET the path does not take. A person id is never ``merge`` (ids are
``MPI...``), and a record key ending in ``/undo-link`` cannot be read by its path
(``mpi export`` still lists it).
"""

from __future__ import annotations

from werkzeug.routing import BaseConverter, PathConverter


class PersonIdConverter(BaseConverter):
    """A person id: one path segment, never the word ``merge``."""

    regex = r"(?!merge$)[^/]+"


class RecordIdConverter(PathConverter):
    """A source record id (slashes allowed, as sent), never one ending in ``/undo-link``."""

    regex = r"[^/](?:(?!/undo-link$).)*"


def init_app(app, api) -> None:
    """Register the converters with Flask, and as strings in the OpenAPI document."""
    app.url_map.converters["person_id"] = PersonIdConverter
    app.url_map.converters["record_id"] = RecordIdConverter
    api.register_converter(PersonIdConverter, lambda c: {"type": "string", "not": {"enum": ["merge"]}})
    api.register_converter(RecordIdConverter, lambda c: {"type": "string", "not": {"pattern": "/undo-link$"}})
