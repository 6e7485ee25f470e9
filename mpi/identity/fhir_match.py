"""FHIR R4 Patient ``$match``: a Patient scored against the index, read-only, answered as a searchset Bundle.

Pure functions but :func:`match_patient`, as ``mpi.referrals.fhir`` builds its
resources: plain dicts (the runtime depends on no FHIR library; the tests check every
shape with the ``fhir.resources`` R4B models). The input is read by
``mpi.identity.fhir_patient``; :func:`match_bundle` answers the scored candidates,
best first, each with ``search.score`` (the match probability) and the
``match-grade`` extension, and :func:`operation_outcome` says what went wrong.

What the answer shows is what a match result needs and no more (minimum necessary):
a candidate the index is at least possibly sure of carries the person's golden
names, gender, birth date, contacts and address; a ``certainly-not`` one only its
id, enough to rule it out; no answer carries an SSN or a Medicaid id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from mpi.identity.fhir_patient import FHIR_PATH, MatchRequest, match_request
from mpi.identity.matcher import MatchService
from mpi.matching.decisions import Candidate, decide, decision_grade, grade
from mpi.matching.policy import Policy
from mpi.records.unused import unused_fields
from mpi.vocab import Decision, MatchGrade

logger = logging.getLogger(__name__)

MATCH_GRADE_URL = "http://hl7.org/fhir/StructureDefinition/match-grade"
#: The person id of a candidate, as an identifier of its Patient.
PERSON_SYSTEM = "urn:closedloop-mpi:person"
GENDER_OF_SEX = {"F": "female", "M": "male", "U": "unknown"}


# --------------------------------------------------------------------------------------------- matching

def match_patient(matching: MatchService, body: Any, base: str,
                  reveal: Callable[[Decision, Sequence[Candidate]], Collection[str] | None] | None = None,
                  ) -> dict[str, Any]:
    """Answer ``$match``: the Patient scored against the whole index, read-only, as a searchset Bundle.

    As ``/v1/match``: the candidates are found and the decision made under the writer lock
    with nothing written; the golden views shown are read under the same lock, so they are
    those of the persons scored. ``base`` is the FHIR base URL for ``fullUrl``. ``reveal``,
    given the decision and the candidates, names the persons whose golden view the caller may
    see (None: all); the others are answered with their id, score and grade only.

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
    revealed = reveal(decision, candidates) if reveal else None
    if revealed is not None:
        golden = {person_id: view for person_id, view in golden.items() if person_id in revealed}
    logger.debug("patient $match: %s candidates, decision %s", len(candidates), decision.value)
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
    bundle = {"resourceType": "Bundle", "type": "searchset", "total": len(graded)}
    return {**bundle, "entry": entries} if entries else bundle  # FHIR JSON has no empty arrays


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
    """An OperationOutcome with one issue per problem: its words in ``diagnostics``, its FHIR path in ``expression``.

    ``problems`` is a list of ``{"field", "message"}`` or the error shape's ``errors`` (messages
    by field); ``message`` (the error's one line) is the first issue when given, or stands alone.
    A field named ``_schema`` or ``_body`` is the whole body: its issue has no ``expression``.
    """
    items = ([(p["field"], p["message"]) for p in problems] if not isinstance(problems, Mapping)
             else [(field, m) for field, messages in problems.items() for m in messages])
    issues = [{"severity": severity, "code": code, "diagnostics": text,
               **({"expression": [field]} if field and not field.startswith("_") else {})}
              for field, text in items]
    if message is not None or not issues:
        issues.insert(0, {"severity": severity, "code": code, "diagnostics": message or "error"})
    return {"resourceType": "OperationOutcome", "issue": issues}
