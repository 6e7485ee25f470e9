"""``POST /fhir/Patient/$match``: FHIR R4 Patient matching, read-only, answered as a searchset Bundle.

The operation MPIs already speak (``docs/fhir.md``): a Parameters resource in
(``resource``, ``onlyCertainMatches``, ``count``), the candidate persons out, each
with ``search.score`` and the ``match-grade`` extension. It scores as ``/v1/match``
does and writes nothing. Hubs, stewards and admins may call it, as they match records.

Unlike the read-only referral routes of ``api/fhir.py``, whose errors keep the
API's JSON error shape, every error of this operation answers as a FHIR
OperationOutcome (``application/fhir+json``), as FHIR clients of ``$match``
expect: the one JSON error shape is made as everywhere and then rewritten into an
OperationOutcome after the request, with one issue per field. So the 401, 403,
413, 415, 400 and 422 of the shared checks read the same way here.
"""

from __future__ import annotations

import json

import marshmallow as ma
from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import caller, require_role
from api.fhir import FHIR_JSON, ResourceSchema, _log
from mpi.identity.fhir_match import operation_outcome
from mpi.identity.fhir_patient import ParametersSchema
from mpi.vocab import Role

blp = Blueprint("fhir_patient", __name__, url_prefix="/fhir",
                description="FHIR R4 Patient $match: score a Patient against the index, read-only")
blp.after_request(_log)

#: OperationOutcome.issue.code by HTTP status (http://hl7.org/fhir/issue-type).
ISSUE_CODE = {400: "structure", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported",
              413: "too-long", 415: "not-supported", 422: "invalid"}


@blp.before_request
def _caller() -> None:
    require_role(Role.HUB, Role.STEWARD, Role.ADMIN)


@blp.after_request
def _as_operation_outcome(response):
    """Rewrite an error in the JSON error shape into an OperationOutcome (the status stays)."""
    if response.status_code < 400 or response.mimetype != "application/json":
        return response
    body = response.get_json(silent=True) or {}
    outcome = operation_outcome(body.get("errors") or {}, code=ISSUE_CODE.get(response.status_code, "exception"),
                                message=body.get("message") or "error")
    response.set_data(json.dumps(outcome, ensure_ascii=False))
    response.mimetype = FHIR_JSON
    return response


class OperationOutcomeSchema(ma.Schema):
    """A FHIR R4 OperationOutcome: one issue per problem, ``expression`` naming the field by its FHIR path."""

    class Meta:
        unknown = ma.INCLUDE

    resourceType = ma.fields.String(required=True, validate=ma.validate.OneOf(["OperationOutcome"]))
    issue = ma.fields.List(ma.fields.Dict(), required=True)


PARAMETERS_EXAMPLE = {
    "resourceType": "Parameters",
    "parameter": [
        {"name": "resource", "resource": {
            "resourceType": "Patient", "name": [{"family": "Quintanilla", "given": ["Marisol"]}],
            "gender": "female", "birthDate": "1984-03-17",
            "telecom": [{"system": "phone", "value": "(404) 555-0143"}],
            "identifier": [{"system": "http://hl7.org/fhir/sid/us-ssn", "value": "4821"}]}},
        {"name": "onlyCertainMatches", "valueBoolean": False},
        {"name": "count", "valueInteger": 3},
    ],
}


@blp.route("/Patient/$match")
class PatientMatch(MethodView):
    @blp.doc(requestBody={"required": True, "description": "a FHIR R4 Parameters resource: resource (a Patient), "
                          "onlyCertainMatches (valueBoolean), count (valueInteger or valuePositiveInt)",
                          "content": {media: {"schema": ParametersSchema, "example": PARAMETERS_EXAMPLE}
                                      for media in (FHIR_JSON, "application/json")}})
    @blp.response(200, ResourceSchema, content_type=FHIR_JSON,
                  description="a searchset Bundle: one entry per candidate person, best first, each a Patient "
                              "with search.mode match, search.score (the match probability) and the match-grade "
                              "extension; an OperationOutcome entry (search.mode outcome) warns of fields not "
                              "used for matching")
    @blp.alt_response(400, schema=OperationOutcomeSchema, content_type=FHIR_JSON,
                      description="an OperationOutcome: the body is not JSON this service reads")
    @blp.alt_response(401, schema=OperationOutcomeSchema, content_type=FHIR_JSON,
                      description="an OperationOutcome: no valid token")
    @blp.alt_response(403, schema=OperationOutcomeSchema, content_type=FHIR_JSON,
                      description="an OperationOutcome: a role other than hub, steward or admin")
    @blp.alt_response(413, schema=OperationOutcomeSchema, content_type=FHIR_JSON,
                      description="an OperationOutcome: the body is over MPI_MAX_BODY_BYTES")
    @blp.alt_response(415, schema=OperationOutcomeSchema, content_type=FHIR_JSON,
                      description="an OperationOutcome: the body is not JSON")
    @blp.alt_response(422, schema=OperationOutcomeSchema, content_type=FHIR_JSON,
                      description="an OperationOutcome naming each problem by its FHIR path: not Parameters, no "
                                  "Patient resource, a bad onlyCertainMatches or count, a bad Patient element, "
                                  "or not enough to match on")
    def post(self):
        """Match a Patient against the index without writing (FHIR R4 ``Patient/$match``).

        Identifiers by system: ``http://hl7.org/fhir/sid/us-ssn`` (9 digits or the last 4) gives the SSN
        last four, ``urn:closedloop-mpi:medicaid-id`` the Medicaid id (or identifier types ``SS``, ``MA``
        of v2-0203). ``onlyCertainMatches`` answers the one certain person or nothing; ``count`` caps the
        entries (default: the policy's ``max_candidates``).
        """
        body = request.get_json(silent=True) if request.get_data(cache=True) else None
        bundle = current_app.extensions["mpi"].trust.match_patient(body, request.url_root.rstrip("/") + blp.url_prefix,
                                                                   caller())
        return current_app.response_class(json.dumps(bundle, ensure_ascii=False), mimetype=FHIR_JSON)
