"""FHIR R4 Patient ``$match``: a Patient read as a canonical record, the candidates answered as a searchset Bundle.

Pure functions, as ``mpi.referrals.fhir`` builds its resources: plain dicts in and
out (the runtime depends on no FHIR library; the tests check every shape with the
``fhir.resources`` R4B models). :func:`match_request` reads the operation's
Parameters (``resource``, ``onlyCertainMatches``, ``count``) and maps the Patient to
the record the matcher takes, naming every problem by its FHIR path;
:func:`match_bundle` answers the scored candidates, best first, each with
``search.score`` (the match probability) and the ``match-grade`` extension.

Identifiers are read by system (``docs/fhir.md``): :data:`SSN_SYSTEM` gives
``ssn_last4`` (its last four digits: a full SSN is never kept) and
:data:`MEDICAID_SYSTEM` gives ``medicaid_id``; either may instead be named by its
v2-0203 identifier type (``SS``, ``MA``). Any other identifier takes no part in matching.

What the answer shows is what a match result needs and no more (minimum necessary):
a candidate the index is at least possibly sure of carries the person's golden
names, gender, birth date, contacts and address; a ``certainly-not`` one only its
id, enough to rule it out; no answer carries an SSN or a Medicaid id.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from mpi.errors import ValidationError
from mpi.identity.matcher import MatchService
from mpi.matching.decisions import Candidate, decide, decision_grade, grade
from mpi.matching.policy import Policy
from mpi.matching.prepare import Prepared, prepare
from mpi.records.unused import unused_fields
from mpi.vocab import Decision, MatchGrade

MATCH_GRADE_URL = "http://hl7.org/fhir/StructureDefinition/match-grade"
#: The US SSN system (a full SSN or its last four digits; only the last four are used).
SSN_SYSTEM = "http://hl7.org/fhir/sid/us-ssn"
#: Medicaid / MCO member ids: no national system exists, so the index names its own.
MEDICAID_SYSTEM = "urn:closedloop-mpi:medicaid-id"
IDENTIFIER_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0203"
#: The person id of a candidate, as an identifier of its Patient.
PERSON_SYSTEM = "urn:closedloop-mpi:person"
#: The key the matcher's validation asks of every record; a Patient to match has none, and nothing is stored.
MATCH_KEY = {"source_system": "fhir-match", "source_record_id": "$match"}
#: Largest ``count``: FHIR's positiveInt.
MAX_COUNT = 2**31 - 1
GENDER = {"female": "F", "male": "M", "other": "U", "unknown": "U"}
GENDER_OF_SEX = {"F": "female", "M": "male", "U": "unknown"}
#: Where each canonical field came from in the Patient, to name a problem by its FHIR path.
FHIR_PATH = {
    "first_name": "Patient.name.given", "middle_name": "Patient.name.given", "last_name": "Patient.name.family",
    "suffix": "Patient.name.suffix", "birth_date": "Patient.birthDate", "sex": "Patient.gender",
    "ssn_last4": "Patient.identifier", "medicaid_id": "Patient.identifier", "phone": "Patient.telecom",
    "email": "Patient.telecom", "address_line1": "Patient.address.line", "address_line2": "Patient.address.line",
    "city": "Patient.address.city", "state": "Patient.address.state", "postal_code": "Patient.address.postalCode",
    "_schema": "Patient",
}
PARAMETERS = ("resource", "onlyCertainMatches", "count")
_DIGITS = re.compile(r"\D")


class MatchRequest(NamedTuple):
    """The operation's input: the Patient as a prepared canonical record, and how to answer."""

    prepared: Prepared
    only_certain: bool
    count: int | None


# --------------------------------------------------------------------------------------------- input

def match_request(body: Any) -> MatchRequest:
    """Read a ``$match`` Parameters resource.

    Raises:
        ValidationError: naming each problem by its FHIR path (``Parameters.parameter``,
            ``Patient.birthDate``...): not a Parameters resource, no Patient ``resource``, a bad
            ``onlyCertainMatches`` or ``count``, an unknown parameter, a bad Patient element, or
            a Patient with nothing to match on. Values are never echoed.
    """
    if not isinstance(body, Mapping) or body.get("resourceType") != "Parameters":
        raise ValidationError("the body must be a FHIR Parameters resource",
                              {"resourceType": ["must be Parameters"]})
    parameters = body.get("parameter")
    if not isinstance(parameters, list) or not all(isinstance(p, Mapping) for p in parameters):
        raise ValidationError("Parameters.parameter must be a list of parameters",
                              {"Parameters.parameter": ["must be a list of objects with a name"]})
    errors: dict[str, list[str]] = {}
    given: dict[str, Mapping[str, Any]] = {}
    for parameter in parameters:
        name = parameter.get("name")
        if name not in PARAMETERS:
            errors.setdefault("Parameters.parameter.name", []).append(
                f"unknown parameter: use {', '.join(PARAMETERS)}")
        elif name in given:
            errors.setdefault(f"Parameters.parameter[{name}]", []).append("given more than once")
        else:
            given[name] = parameter
    only_certain = _boolean(given.get("onlyCertainMatches"), errors)
    count = _count(given.get("count"), errors)
    patient = _patient(given.get("resource"), errors)
    record = patient_record(patient, errors) if patient is not None else None
    if errors:
        raise ValidationError(f"invalid $match parameters: {', '.join(sorted(errors))}", errors)
    try:
        prepared = prepare({**MATCH_KEY, **record})
    except ValidationError as e:
        raise ValidationError(e.message.replace("record", "Patient", 1), _fhir_paths(e.errors)) from None
    return MatchRequest(prepared, only_certain, count)


def _boolean(parameter: Mapping[str, Any] | None, errors: dict) -> bool:
    if parameter is None:
        return False
    value = parameter.get("valueBoolean")
    if not isinstance(value, bool):
        errors["Parameters.parameter[onlyCertainMatches]"] = ["must have a valueBoolean, true or false"]
        return False
    return value


def _count(parameter: Mapping[str, Any] | None, errors: dict) -> int | None:
    if parameter is None:
        return None
    value = parameter.get("valueInteger", parameter.get("valuePositiveInt"))
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_COUNT:
        message = f"must have a valueInteger (or valuePositiveInt) from 1 to {MAX_COUNT}"
        errors["Parameters.parameter[count]"] = [message]
        return None
    return value


def _patient(parameter: Mapping[str, Any] | None, errors: dict) -> Mapping[str, Any] | None:
    if parameter is None:
        errors["Parameters.parameter[resource]"] = ["required: the Patient to match"]
        return None
    resource = parameter.get("resource")
    if not isinstance(resource, Mapping) or resource.get("resourceType") != "Patient":
        errors["Parameters.parameter[resource]"] = ["must hold a Patient resource"]
        return None
    return resource


def patient_record(patient: Mapping[str, Any], errors: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """The canonical record's demographic fields read from a Patient (no source key).

    The first official (else usual, else first) name; the first phone and the first email
    of ``telecom``; the first home (else first) address; ``ssn_last4`` and ``medicaid_id``
    from the identifiers of their systems. Elements of the wrong JSON type are named in
    ``errors`` by FHIR path.
    """
    errors = {} if errors is None else errors
    record: dict[str, Any] = {}
    name = _preferred(_objects(patient, "name", "Patient.name", errors), ("official", "usual"))
    if name:
        given = _strings(name, "given", "Patient.name.given", errors)
        record["first_name"] = given[0] if given else None
        record["middle_name"] = " ".join(given[1:]) or None
        record["last_name"] = _string(name, "family", "Patient.name.family", errors)
        suffix = _strings(name, "suffix", "Patient.name.suffix", errors)
        record["suffix"] = suffix[0] if suffix else None
    record["birth_date"] = _string(patient, "birthDate", "Patient.birthDate", errors)
    gender = _string(patient, "gender", "Patient.gender", errors)
    if gender is not None:
        if gender in GENDER:
            record["sex"] = GENDER[gender]
        else:
            errors["Patient.gender"] = ["must be male, female, other or unknown"]
    for telecom in _objects(patient, "telecom", "Patient.telecom", errors):
        system = telecom.get("system")
        field = {"phone": "phone", "sms": "phone", "email": "email"}.get(system)
        if field and not record.get(field):
            record[field] = _string(telecom, "value", "Patient.telecom.value", errors)
    address = _preferred(_objects(patient, "address", "Patient.address", errors), ("home",))
    if address:
        lines = _strings(address, "line", "Patient.address.line", errors)
        record["address_line1"] = lines[0] if lines else None
        record["address_line2"] = " ".join(lines[1:]) or None
        for field, element in (("city", "city"), ("state", "state"), ("postal_code", "postalCode")):
            record[field] = _string(address, element, f"Patient.address.{element}", errors)
    for identifier in _objects(patient, "identifier", "Patient.identifier", errors):
        field = _identifier_field(identifier)
        value = _string(identifier, "value", "Patient.identifier.value", errors)
        if field == "ssn_last4" and value is not None:
            digits = _DIGITS.sub("", value)
            if len(digits) not in (4, 9):
                errors["Patient.identifier"] = ["an SSN must be its 9 digits or its last 4"]
            record.setdefault("ssn_last4", digits[-4:])
        elif field == "medicaid_id" and value is not None:
            record.setdefault("medicaid_id", value)
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
            found = {"SS": "ssn_last4", "MA": "medicaid_id"}.get(coding.get("code"))
            if found:
                return found
    return None


def _objects(parent: Mapping[str, Any], key: str, path: str, errors: dict) -> list[Mapping[str, Any]]:
    value = parent.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        errors[path] = ["must be a list of objects"]
        return []
    return value


def _strings(parent: Mapping[str, Any], key: str, path: str, errors: dict) -> list[str]:
    value = parent.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        errors[path] = ["must be a list of strings"]
        return []
    return value


def _string(parent: Mapping[str, Any], key: str, path: str, errors: dict) -> str | None:
    value = parent.get(key)
    if value is not None and not isinstance(value, str):
        errors[path] = ["must be a string"]
        return None
    return value


def _preferred(items: Sequence[Mapping[str, Any]], uses: tuple[str, ...]) -> Mapping[str, Any] | None:
    for use in uses:
        for item in items:
            if item.get("use") == use:
                return item
    return items[0] if items else None


def _fhir_paths(errors: Mapping[str, list[str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for field, messages in errors.items():
        out.setdefault(FHIR_PATH.get(field, "Patient"), []).extend(messages)
    return out


# --------------------------------------------------------------------------------------------- matching

def match_patient(matching: MatchService, body: Any, base: str) -> dict[str, Any]:
    """Answer ``$match``: the Patient scored against the whole index, read-only, as a searchset Bundle.

    As ``/v1/match``: the candidates are found and the decision made under the writer lock
    with nothing written; the golden views shown are read under the same lock, so they are
    those of the persons scored. ``base`` is the FHIR base URL for ``fullUrl``.

    Raises:
        ValidationError: the Parameters or the Patient cannot be matched (:func:`match_request`).
    """
    request = match_request(body)
    record, norm, _ = request.prepared
    model = matching.active_model()
    with matching.store.serialised():
        candidates = matching.find_candidates(norm, model)
        shown = candidates[: request.count or model.policy.max_candidates]
        golden = {c.person_id: (matching.store.persons.get(c.person_id) or {}).get("golden") or {} for c in shown}
    decision = decide(candidates, model.policy)
    return match_bundle(request, decision, candidates, model.policy, golden, base, unused_fields(record, norm))


# --------------------------------------------------------------------------------------------- answer

def entry_grades(decision: Decision, candidates: Sequence[Candidate], policy: Policy) -> list[MatchGrade]:
    """The match-grade of each candidate, best first.

    The best one's grade is the decision's (:func:`~mpi.matching.decisions.decision_grade`: an
    ambiguous best, or one held by the policy, is never ``certain``); the others grade by their
    weight against the thresholds but never above ``probable``, since only one person can be the
    Patient for certain.
    """
    if not candidates:
        return []
    grades = [decision_grade(decision, list(candidates), policy)]
    for candidate in candidates[1:]:
        found = grade(candidate.match_weight, policy)
        grades.append(MatchGrade.PROBABLE if found is MatchGrade.CERTAIN else found)
    return grades


def match_bundle(request: MatchRequest, decision: Decision, candidates: Sequence[Candidate], policy: Policy,
                 golden: Mapping[str, Mapping[str, Any]], base: str,
                 warnings: Sequence[Mapping[str, str]] = ()) -> dict[str, Any]:
    """The searchset Bundle answering ``$match``: the candidates best first, at most ``count``.

    ``onlyCertainMatches`` keeps the one ``certain`` candidate, if the decision is a match;
    otherwise (no match, or several persons close) the answer is empty, as R4 asks. ``count``
    defaults to the policy's ``max_candidates``. ``golden`` is each candidate's golden view
    by person id; ``warnings`` (fields sent but unusable for matching) become an
    OperationOutcome entry of ``search.mode`` ``outcome``.
    """
    graded = list(zip(candidates, entry_grades(decision, candidates, policy)))
    if request.only_certain:
        graded = [(c, g) for c, g in graded[:1] if g is MatchGrade.CERTAIN]
    graded = graded[: request.count or policy.max_candidates]
    entries = [_entry(c, g, golden.get(c.person_id) or {}, base) for c, g in graded]
    if warnings:
        problems = [{"field": FHIR_PATH.get(w["field"], "Patient"), "message": w["message"]} for w in warnings]
        entries.append({"resource": operation_outcome(problems, severity="warning"),
                        "search": {"mode": "outcome"}})
    return {"resourceType": "Bundle", "type": "searchset", "total": len(graded), "entry": entries}


def _entry(candidate: Candidate, match_grade: MatchGrade, golden: Mapping[str, Any], base: str) -> dict[str, Any]:
    person_id = candidate.person_id
    shown = golden if match_grade is not MatchGrade.CERTAINLY_NOT else {}
    return {
        "fullUrl": f"{base}/Patient/{person_id}",
        "resource": patient_resource(person_id, shown),
        "search": {
            "extension": [{"url": MATCH_GRADE_URL, "valueCode": match_grade.value}],
            "mode": "match",
            "score": round(min(max(float(candidate.match_probability), 0.0), 1.0), 6),
        },
    }


def patient_resource(person_id: str, golden: Mapping[str, Any]) -> dict[str, Any]:
    """A person as a Patient: its id, and what of its golden view a match result may show.

    Never its SSN last four or Medicaid id: the caller matched with its own.
    """
    patient: dict[str, Any] = {"resourceType": "Patient", "id": person_id,
                               "identifier": [{"system": PERSON_SYSTEM, "value": person_id}], "active": True}
    given = [v for v in (golden.get("first_name"), golden.get("middle_name")) if v]
    name = {k: v for k, v in (("family", golden.get("last_name")), ("given", given),
                              ("suffix", [golden["suffix"]] if golden.get("suffix") else None)) if v}
    if name:
        patient["name"] = [{"use": "official", **name}]
    if golden.get("sex") in GENDER_OF_SEX:
        patient["gender"] = GENDER_OF_SEX[golden["sex"]]
    if golden.get("birth_date"):
        patient["birthDate"] = golden["birth_date"]
    telecom = [{"system": field, "value": golden[field]} for field in ("phone", "email") if golden.get(field)]
    if telecom:
        patient["telecom"] = telecom
    lines = [v for v in (golden.get("address_line1"), golden.get("address_line2")) if v]
    address = {k: v for k, v in (("line", lines), ("city", golden.get("city")), ("state", golden.get("state")),
                                 ("postalCode", golden.get("postal_code"))) if v}
    if address:
        patient["address"] = [{"use": "home", **address}]
    return patient


def operation_outcome(problems: Sequence[Mapping[str, str]] | Mapping[str, Sequence[str]], *,
                      severity: str = "error", code: str = "invalid", message: str | None = None) -> dict[str, Any]:
    """An OperationOutcome with one issue per problem, each naming its field in ``expression``.

    ``problems`` is a list of ``{"field", "message"}`` or the error shape's ``errors`` (messages
    by field); ``message`` (the error's one line) leads when given, or stands alone.
    """
    items = ([(p["field"], p["message"]) for p in problems] if not isinstance(problems, Mapping)
             else [(field, m) for field, messages in problems.items() for m in messages])
    issues = [{"severity": severity, "code": code, "diagnostics": f"{field}: {text}",
               **({"expression": [field]} if field and not field.startswith("_") else {})}
              for field, text in items]
    if message is not None or not issues:
        issues.insert(0, {"severity": severity, "code": code, "diagnostics": message or "error"})
    return {"resourceType": "OperationOutcome", "issue": issues}
