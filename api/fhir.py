"""``/fhir``: referrals as FHIR R4 resources (Task, ServiceRequest, the Task's history), read-only.

The same bearer tokens and the same scope as ``/v1/referrals``: a caller reads the
referrals its organisation requested or performs, and another organisation's Task
answers 404 as if it did not exist. Resources answer as ``application/fhir+json``;
errors keep the API's one JSON error shape (``{"code", "status", "message",
"errors"}``) rather than an OperationOutcome, so a client handles every error of
this service one way (``docs/fhir.md``). The resources are built by
``mpi.referrals.fhir`` from what ``services.referrals`` reads.
"""

from __future__ import annotations

import json
import logging
import re
import time
from urllib.parse import urlencode

import marshmallow as ma
from flask import current_app, g, request
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import caller, require_caller
from api.schemas import MAX_OFFSET
from mpi.records.text import WHITESPACE_RANGE
from mpi.referrals import fhir
from mpi.referrals.fhir import TASK_STATUSES
from mpi.referrals.fhir_search import search

FHIR_JSON = "application/fhir+json"

access = logging.getLogger("api.access")
blp = Blueprint("fhir", __name__, url_prefix="/fhir",
                description="Referrals as FHIR R4 resources: Task, ServiceRequest, Task history (read-only)")
blp.before_request(require_caller)


@blp.after_request
def _log(response):
    """One access line per FHIR read, as ``/v1`` calls get (ids in the path, never person data)."""
    user = g.get("user")
    elapsed_ms = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
    access.info("%s %s %s caller=%s %.1fms", request.method, request.path, response.status_code,
                user["name"] if user else "-", elapsed_ms)
    return response


class ResourceSchema(ma.Schema):
    """A FHIR R4 resource (Task, ServiceRequest or Bundle), as the FHIR specification defines it."""

    class Meta:
        unknown = ma.INCLUDE

    resourceType = ma.fields.String(required=True)
    id = ma.fields.String()


#: ``owner`` as the search reads it: a code, or a reference to an Organization.
OWNER = r"^(Organization/|/)?[^/]+$"


def _statuses() -> str:
    """``status`` as the search reads it: comma-separated Task.status codes (blanks around them and empty items
    ignored), at least one."""
    ws = f"[{WHITESPACE_RANGE}]*"
    code = f"({'|'.join(re.escape(s) for s in TASK_STATUSES)})"
    item = f"{ws}{code}?{ws}"
    return f"^({item},)*{ws}{code}{ws}(,{item})*$"


class TaskSearchArgsSchema(ma.Schema):
    owner = ma.fields.String(validate=ma.validate.Regexp(OWNER, error="an organisation code or Organization/<code>"),
                             metadata={"description": "the performer: foodbank or Organization/foodbank"})
    status = ma.fields.String(validate=ma.validate.Regexp(_statuses(), error="comma-separated Task.status codes"),
                              metadata={"description": "Task.status codes, comma-separated (any of them)"})
    count = ma.fields.Integer(data_key="_count", load_default=50, validate=ma.validate.Range(min=1, max=1000),
                              metadata={"description": "page size"})
    offset = ma.fields.Integer(data_key="_offset", load_default=0, validate=ma.validate.Range(min=0, max=MAX_OFFSET),
                               metadata={"description": "matches to skip"})


def _referrals():
    return current_app.extensions["mpi"].referrals


def _base() -> str:
    return request.url_root.rstrip("/") + blp.url_prefix


def _fhir(resource: dict):
    return current_app.response_class(json.dumps(resource, ensure_ascii=False), mimetype=FHIR_JSON)


def _resource(description: str):
    def decorate(view):
        view = blp.response(200, ResourceSchema, content_type=FHIR_JSON, description=description)(view)
        return blp.alt_response(404, schema="Error", description="no such resource, or another organisation's")(view)
    return decorate


@blp.route("/Task")
class TaskSearch(MethodView):
    @blp.arguments(TaskSearchArgsSchema, location="query")
    @blp.response(200, ResourceSchema, content_type=FHIR_JSON, description="a searchset Bundle of Tasks")
    def get(self, args):
        """Tasks the caller may see, newest first, by owner (the performer) and Task.status; paged with
        ``_count`` and ``_offset``."""
        count, offset = args["count"], args["offset"]
        referrals, total = search(_referrals(), caller(), owner=args.get("owner"), status=args.get("status"),
                                  count=count, offset=offset)
        asked = {k: args[k] for k in ("owner", "status") if k in args}

        def page_url(at: int) -> str:
            return f"{_base()}/Task?{urlencode({**asked, '_count': count, '_offset': at})}"

        links = {"self": page_url(offset)}
        if offset + count < total:
            links["next"] = page_url(offset + count)
        if offset > 0:
            links["previous"] = page_url(max(offset - count, 0))
        return _fhir(fhir.search_bundle(referrals, total, _base(), links))


@blp.route("/Task/<string:referral_id>")
class Task(MethodView):
    @_resource("the referral as a Task")
    def get(self, referral_id):
        """A referral as a Task: status and businessStatus, statusReason, owner, requester, focus, lineage."""
        return _fhir(fhir.task(_referrals().get(referral_id, caller())))


@blp.route("/Task/<string:referral_id>/_history")
class TaskHistory(MethodView):
    @_resource("a history Bundle: every version, newest first, each with its Provenance")
    def get(self, referral_id):
        """Every version of the Task, each with a Provenance (event time, recorded time, who)."""
        return _fhir(fhir.task_history(_referrals().get(referral_id, caller()), _base()))


@blp.route("/Task/<string:referral_id>/_history/<string:version_id>")
class TaskVersion(MethodView):
    @_resource("the Task at that version")
    def get(self, referral_id, version_id):
        """The Task as one version left it."""
        return _fhir(fhir.task_version(_referrals().get(referral_id, caller()), version_id))


@blp.route("/ServiceRequest/<string:referral_id>")
class ServiceRequest(MethodView):
    @_resource("the order a chain of redirects serves, as a ServiceRequest")
    def get(self, referral_id):
        """The order behind a referral and its redirects (its id is the first referral's), for either side of
        any referral of the chain."""
        return _fhir(fhir.service_request(_referrals().reads.chain(referral_id, caller())))
