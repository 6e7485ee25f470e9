"""FHIR R4 Patient ``$match``, its input: the Parameters resource read, and its Patient as a canonical record.

:func:`match_request` checks the operation's Parameters (``resource``,
``onlyCertainMatches``, ``count``) with :class:`ParametersSchema`, which the OpenAPI
document shows as it is (the spec says what the server enforces), then maps the
Patient to the record the matcher takes (:func:`patient_record`), naming every
problem by its FHIR path (``Parameters.parameter.valueInteger``,
``Patient.birthDate``) and never echoing a value. ``mpi.identity.fhir_match``
scores it and answers.

Identifiers are read by system (``docs/fhir.md``): :data:`SSN_SYSTEM` gives
``ssn_last4`` (its last four digits: a full SSN is never kept) and
:data:`MEDICAID_SYSTEM` gives ``medicaid_id``; either may instead be named by its
v2-0203 identifier type (``SS``, ``MA``). Any other identifier takes no part in matching.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from marshmallow import INCLUDE, RAISE, Schema, fields, validate
from marshmallow import ValidationError as MarshmallowError

from mpi.errors import ValidationError, flatten
from mpi.matching.prepare import Prepared, prepare

#: The US SSN system (a full SSN or its last four digits; only the last four are used).
SSN_SYSTEM = "http://hl7.org/fhir/sid/us-ssn"
#: Medicaid / MCO member ids: no national system exists, so the index names its own.
MEDICAID_SYSTEM = "urn:closedloop-mpi:medicaid-id"
IDENTIFIER_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0203"
IDENTIFIER_TYPES = {"SS": "ssn_last4", "MA": "medicaid_id"}
#: The key the matcher's validation asks of every record; a Patient to match has none, and nothing is stored.
MATCH_KEY = {"source_system": "fhir-match", "source_record_id": "$match"}
#: Largest ``count``: FHIR's positiveInt.
MAX_COUNT = 2**31 - 1
PARAMETERS = ("resource", "onlyCertainMatches", "count")
GENDER = {"female": "F", "male": "M", "other": "U", "unknown": "U"}
#: Where each canonical field came from in the Patient, to name a problem by its FHIR path.
FHIR_PATH = {
    "first_name": "Patient.name.given", "middle_name": "Patient.name.given", "last_name": "Patient.name.family",
    "suffix": "Patient.name.suffix", "birth_date": "Patient.birthDate", "sex": "Patient.gender",
    "ssn_last4": "Patient.identifier", "medicaid_id": "Patient.identifier", "phone": "Patient.telecom",
    "email": "Patient.telecom", "address_line1": "Patient.address.line", "address_line2": "Patient.address.line",
    "city": "Patient.address.city", "state": "Patient.address.state", "postal_code": "Patient.address.postalCode",
    "_schema": "Patient",
}
_SSN = re.compile(r"^(\d{4}|\d{3}-?\d{2}-?\d{4})$")


class StrictBoolean(fields.Boolean):
    """A JSON ``true`` or ``false`` only (marshmallow's Boolean also takes ``"yes"`` and ``1``)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input="")
        return value


# --------------------------------------------------------------------------------------------- schemas

class _Element(Schema):
    """A FHIR element: the parts the mapping reads are typed; FHIR's many others are let through."""

    class Meta:
        unknown = INCLUDE


class HumanNameSchema(_Element):
    use = fields.String()
    family = fields.String()
    given = fields.List(fields.String())
    suffix = fields.List(fields.String())


class ContactPointSchema(_Element):
    system = fields.String(metadata={"description": "phone (or sms) and email are read"})
    value = fields.String()
    use = fields.String()


class AddressSchema(_Element):
    use = fields.String()
    line = fields.List(fields.String())
    city = fields.String()
    state = fields.String()
    postalCode = fields.String()


class IdentifierSchema(_Element):
    system = fields.String(metadata={"description": f"{SSN_SYSTEM} (SSN: 9 digits or the last 4) or "
                                                    f"{MEDICAID_SYSTEM} (Medicaid id); others are not read"})
    value = fields.String()
    type = fields.Dict(metadata={"description": f"a coding of {IDENTIFIER_TYPE_SYSTEM}: SS or MA"})


class PatientSchema(_Element):
    """The Patient to match: what of it the mapping reads (``docs/fhir.md``)."""

    resourceType = fields.String(required=True, validate=validate.OneOf(["Patient"]))
    name = fields.List(fields.Nested(HumanNameSchema))
    gender = fields.String(validate=validate.OneOf(list(GENDER)))
    birthDate = fields.String(validate=validate.Regexp(r"^\d{4}-\d{2}-\d{2}$", error="must be a full date, "
                                                                                        "YYYY-MM-DD"))
    telecom = fields.List(fields.Nested(ContactPointSchema))
    address = fields.List(fields.Nested(AddressSchema))
    identifier = fields.List(fields.Nested(IdentifierSchema))


class ParameterSchema(Schema):
    """One parameter of ``$match``: its name and the one value that name takes."""

    class Meta:
        unknown = RAISE

    name = fields.String(required=True, validate=validate.OneOf(PARAMETERS))
    resource = fields.Nested(PatientSchema, metadata={"description": "with name resource: the Patient to match"})
    valueBoolean = StrictBoolean(metadata={"description": "with name onlyCertainMatches"})
    valueInteger = fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_COUNT),
                                  metadata={"description": "with name count (or valuePositiveInt)"})
    valuePositiveInt = fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_COUNT))


class ParametersSchema(_Element):
    """The ``$match`` input: a FHIR R4 Parameters resource; one parameter named ``resource`` is required."""

    resourceType = fields.String(required=True, validate=validate.OneOf(["Parameters"]))
    parameter = fields.List(fields.Nested(ParameterSchema), required=True, validate=validate.Length(min=1))


_PARAMETERS = ParametersSchema()


class MatchRequest(NamedTuple):
    """The operation's input: the Patient as a prepared canonical record, and how to answer."""

    prepared: Prepared
    only_certain: bool
    count: int | None


# --------------------------------------------------------------------------------------------- reading

def match_request(body: Any) -> MatchRequest:
    """Read a ``$match`` Parameters resource.

    Raises:
        ValidationError: naming each problem by its FHIR path: not a Parameters resource, a bad
            parameter or Patient element (:class:`ParametersSchema`), no ``resource``, a
            parameter given twice or without its value, an SSN not of 4 or 9 digits, or a
            Patient with nothing to match on. Values are never echoed.
    """
    if not isinstance(body, Mapping):
        raise ValidationError("the body must be a FHIR Parameters resource", {"resourceType": ["must be Parameters"]})
    try:
        loaded = _PARAMETERS.load(body)
    except MarshmallowError as e:
        errors = _paths(flatten(e.messages, "Parameters"))
        raise ValidationError(f"invalid $match parameters: {', '.join(sorted(errors))}", errors) from None
    errors: dict[str, list[str]] = {}
    given: dict[str, Mapping[str, Any]] = {}
    for parameter in loaded["parameter"]:
        if parameter["name"] in given:
            errors.setdefault("Parameters.parameter.name", []).append(f"{parameter['name']} given more than once")
        given[parameter["name"]] = parameter
    only_certain = _value(given.get("onlyCertainMatches"), ("valueBoolean",), False, errors)
    count = _value(given.get("count"), ("valueInteger", "valuePositiveInt"), None, errors)
    patient = (given.get("resource") or {}).get("resource")
    if patient is None:
        errors["Parameters.parameter.resource"] = ["required: a parameter named resource holding the Patient"]
    record = patient_record(patient, errors) if patient is not None else {}
    if errors:
        raise ValidationError(f"invalid $match parameters: {', '.join(sorted(errors))}", errors)
    try:
        prepared = prepare({**MATCH_KEY, **record})
    except ValidationError as e:
        raise ValidationError(e.message.replace("record", "Patient", 1), _fhir_paths(e.errors)) from None
    return MatchRequest(prepared, only_certain, count)


def _value(parameter: Mapping[str, Any] | None, keys: tuple[str, ...], default: Any, errors: dict) -> Any:
    """The value of a parameter given, by the first of its keys present; the default when it is not given."""
    if parameter is None:
        return default
    for key in keys:
        if key in parameter:
            return parameter[key]
    errors[f"Parameters.parameter.{keys[0]}"] = [f"required with {parameter['name']}"]
    return default


def patient_record(patient: Mapping[str, Any], errors: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """The canonical record's demographic fields read from a Patient :class:`PatientSchema` accepts (no key).

    The first official (else usual, else first) name; the first phone (or sms) and the first
    email of ``telecom``; the first home (else first) address; ``ssn_last4`` and ``medicaid_id``
    from the identifiers of their systems or types. An SSN of other than 4 or 9 digits is named
    in ``errors``.
    """
    errors = {} if errors is None else errors
    record: dict[str, Any] = {}
    name = _preferred(patient.get("name") or [], ("official", "usual"))
    if name:
        given = name.get("given") or []
        record["first_name"] = given[0] if given else None
        record["middle_name"] = " ".join(given[1:]) or None
        record["last_name"] = name.get("family")
        record["suffix"] = (name.get("suffix") or [None])[0]
    record["birth_date"] = patient.get("birthDate")
    if patient.get("gender") in GENDER:
        record["sex"] = GENDER[patient["gender"]]
    for telecom in patient.get("telecom") or []:
        field = {"phone": "phone", "sms": "phone", "email": "email"}.get(telecom.get("system"))
        if field and not record.get(field):
            record[field] = telecom.get("value")
    address = _preferred(patient.get("address") or [], ("home",))
    if address:
        lines = address.get("line") or []
        record["address_line1"] = lines[0] if lines else None
        record["address_line2"] = " ".join(lines[1:]) or None
        for field, element in (("city", "city"), ("state", "state"), ("postal_code", "postalCode")):
            record[field] = address.get(element)
    for identifier in patient.get("identifier") or []:
        field, value = _identifier_field(identifier), identifier.get("value")
        if value is None or field is None or field in record:
            continue
        if field == "ssn_last4":
            if not _SSN.match(value):
                errors["Patient.identifier.value"] = ["an SSN must be its 9 digits (dashes allowed) or its last 4"]
                continue
            value = value[-4:]
        record[field] = value
    return record


def _identifier_field(identifier: Mapping[str, Any]) -> str | None:
    system = identifier.get("system")
    if system == SSN_SYSTEM:
        return "ssn_last4"
    if system == MEDICAID_SYSTEM:
        return "medicaid_id"
    kind = identifier.get("type")
    codings = kind.get("coding") if isinstance(kind, Mapping) else None
    for coding in codings if isinstance(codings, list) else ():
        if isinstance(coding, Mapping) and coding.get("system") == IDENTIFIER_TYPE_SYSTEM:
            if coding.get("code") in IDENTIFIER_TYPES:
                return IDENTIFIER_TYPES[coding["code"]]
    return None


def _preferred(items: Sequence[Mapping[str, Any]], uses: tuple[str, ...]) -> Mapping[str, Any] | None:
    for use in uses:
        for item in items:
            if item.get("use") == use:
                return item
    return items[0] if items else None


def _paths(errors: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """Schema errors by FHIR path: a Patient's own elements from ``Patient`` (``Patient.birthDate``)."""
    out: dict[str, list[str]] = {}
    for path, messages in errors.items():
        if path != "Parameters.parameter.resource.resourceType":  # not a Patient: the parameter is wrong
            path = path.replace("Parameters.parameter.resource.", "Patient.", 1)
        else:
            path = "Parameters.parameter.resource"
        out.setdefault(path, []).extend(messages)
    return out


def _fhir_paths(errors: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """The matcher's errors (by canonical field) by the Patient element the field came from."""
    out: dict[str, list[str]] = {}
    for field, messages in errors.items():
        out.setdefault(FHIR_PATH.get(field, "Patient"), []).extend(messages)
    return out
