"""``GET /v1/persons``: stewards' search for persons (steward or admin role; anyone else 403).

The criteria are normalised as matching normalises a record and looked up by the store's index of
search terms (``mpi/identity/search.py`` says what matches and how results rank). Every person
answered is a read, recorded in the access log by id (``api/access_log.py``); the query itself is
patient data and is never logged.
"""

from __future__ import annotations

import logging

import marshmallow as ma
from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import actor, require_steward
from mpi.identity.search import MAX_PER_PAGE, Criteria

logger = logging.getLogger(__name__)

blp = Blueprint("person_search", __name__, url_prefix="/v1",
                description="Search for persons (steward or admin role)")
blp.before_request(require_steward)

_TEXT = {"validate": ma.validate.Length(max=200)}



#: No @, space or control character on either side of one @. Spelt out rather than ``\s``, which Python and the
#: spec's readers (ECMA-262) draw differently (\x1c-\x1f and \x85 are spaces to Python only, \ufeff to ECMA only),
#: so the spec and the server accept the same strings.
_NOT_IN_EMAIL = r"@\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_EMAIL = rf"^[^{_NOT_IN_EMAIL}]+@[^{_NOT_IN_EMAIL}]+$"
class SearchArgsSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    q = ma.fields.String(**_TEXT, metadata={"description": (
        "free text, split into the criteria it looks like: an email, a date, a SYSTEM/ID record key, a person "
        "id, a phone, five digits (a ZIP), a word with digits (an identifier), else name words; the other "
        "parameters win over what it gives")})
    name = ma.fields.String(**_TEXT, metadata={"description": (
        "one word (first or last name) or a first and last name, either order; nicknames (Bill: William) and "
        "surnames that sound alike (Smyth: Smith) match")})
    birth_date = ma.fields.String(validate=ma.validate.Regexp(
        r"^([0-9]{4}-[0-9]{1,2}-[0-9]{1,2}|[0-9]{8}|[0-9]{1,2}/[0-9]{1,2}/[0-9]{4})$"), metadata={
        "description": "YYYY-MM-DD, YYYYMMDD or MM/DD/YYYY; a real date, not in the future"})
    phone = ma.fields.String(validate=[ma.validate.Length(max=40),
                                       ma.validate.Regexp(r"^[0-9+().\- ]*[0-9][0-9+().\- ]*$")],
                             metadata={"description": "any format with its area code (normalised to E.164)"})
    email = ma.fields.String(validate=[ma.validate.Length(max=200), ma.validate.Regexp(_EMAIL)])
    identifier = ma.fields.String(**_TEXT, metadata={"description": "a Medicaid id, or SSN last 4"})
    postal_code = ma.fields.String(validate=ma.validate.Regexp(r"^[0-9]{5}(-[0-9]{4})?$"), metadata={"description": (
        "ZIP code: alone it finds persons; with other criteria it ranks those in it first")})
    source_system = ma.fields.String(**_TEXT, metadata={"description": "with source_record_id: a record's person"})
    source_record_id = ma.fields.String(**_TEXT, metadata={"description": "with source_system"})
    person_id = ma.fields.String(validate=ma.validate.Regexp(r"^MPI[0-9]{8}$"), metadata={
        "description": "a person id (a merged-away one finds its survivor)"})
    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1, max=10_000))
    per_page = ma.fields.Integer(load_default=20, validate=ma.validate.Range(min=1, max=MAX_PER_PAGE))


class MatchedSchema(ma.Schema):
    criterion = ma.fields.String(metadata={"description": (
        "name, birth_date, phone, email, identifier, postal_code, record or person_id")})
    how = ma.fields.String(metadata={"description": (
        "exact; for a name also nickname or phonetic; for a person id also redirected (merged away)")})


class SearchRecordSchema(ma.Schema):
    source_system = ma.fields.String()
    source_record_id = ma.fields.String()
    decision = ma.fields.String(metadata={"description": "the link's decision"})
    link_source = ma.fields.String(metadata={"description": "AUTO or MANUAL"})
    first_name = ma.fields.String(allow_none=True)
    last_name = ma.fields.String(allow_none=True)
    birth_date = ma.fields.String(allow_none=True)
    sex = ma.fields.String(allow_none=True)
    phone = ma.fields.String(allow_none=True)
    email = ma.fields.String(allow_none=True)
    medicaid_id = ma.fields.String(allow_none=True)
    ssn_last4 = ma.fields.String(allow_none=True)
    address_line1 = ma.fields.String(allow_none=True)
    city = ma.fields.String(allow_none=True)
    postal_code = ma.fields.String(allow_none=True)


class GoldenSummarySchema(ma.Schema):
    first_name = ma.fields.String(allow_none=True)
    middle_name = ma.fields.String(allow_none=True)
    last_name = ma.fields.String(allow_none=True)
    birth_date = ma.fields.String(allow_none=True)
    sex = ma.fields.String(allow_none=True)
    phone = ma.fields.String(allow_none=True)
    email = ma.fields.String(allow_none=True)
    postal_code = ma.fields.String(allow_none=True)


class SearchHitSchema(ma.Schema):
    rank = ma.fields.Integer(metadata={"description": "position in the whole result, from 1"})
    person_id = ma.fields.String(metadata={"description": "a live person (merge redirects followed)"})
    matched = ma.fields.List(ma.fields.Nested(MatchedSchema), metadata={"description": "the criteria it matched"})
    golden = ma.fields.Nested(GoldenSummarySchema, metadata={"description": "the golden view, normalised"})
    records = ma.fields.List(ma.fields.Nested(SearchRecordSchema), metadata={
        "description": "every record linked to the person, as sent"})


class SearchResultSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(SearchHitSchema))
    page = ma.fields.Integer()
    per_page = ma.fields.Integer()
    total = ma.fields.Integer(metadata={"description": "persons found in all"})
    truncated = ma.fields.Boolean(metadata={"description": (
        "a term matched more records than one search reads (500): narrow the search")})


@blp.route("/persons")
class PersonSearch(MethodView):
    @blp.arguments(SearchArgsSchema, location="query")
    @blp.response(200, SearchResultSchema)
    @blp.alt_response(403, schema="Error", description="the caller is not a steward or admin")
    def get(self, args):
        """Persons found by name, birth date, phone, email, identifier, postcode, record key or person id.

        At least one criterion (else 422 naming them); a record key is both its parts; a value that
        normalises to nothing (a placeholder phone, a date in the future) is a 422 naming its field.
        Ranked: more criteria matched first, then the name's grade (exact, nickname, phonetic), then
        person id; paged by ``page`` and ``per_page`` (at most 100). Each person answered is a read in
        the access log (by id; the query is never logged).
        """
        page, per_page, q = args.pop("page"), args.pop("per_page"), args.pop("q", None)
        criteria = Criteria.from_text(q, **args) if q else Criteria(**args)
        result = current_app.extensions["mpi"].search.search(criteria, page, per_page)
        logger.info("search by %s answered %d persons", actor(), len(result["items"]))
        return result
