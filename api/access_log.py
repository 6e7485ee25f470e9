"""The access log's edge: which entities each route touches, and the one hook that records every request.

Every read and change of a person, record, review case or referral, through the
API, FHIR or the review UI, is one access event (``store.access``): the caller
(actor, organisation, role), the purpose of use (``X-Purpose-Of-Use``, else the
role's default: ``mpi.auth.DEFAULT_PURPOSE``), the action, the HTTP method and
route template, the status answered and the entities touched, ids only. Refused
requests (401, 403, 404) are logged too, as attempted accesses.

What a route touches is said once, here, in :data:`TOUCHES`: the entities its view
arguments name, and those only its answer names (a match's candidate persons, a
queue page's cases), picked from the JSON answer by a path, or from the links an
HTML page shows. A route nobody has classified is still logged, by its route
template only (action ``route``); :data:`UNTOUCHED` lists the routes that touch
no PHI (health, the OpenAPI document, metrics, the directory, partners and their reconciliation
rates, sign-in, static, the list of dedup runs).

The event is appended after the answer is built, never inside the change's
transaction, and never under the writer lock: by default it is buffered and the
store writes the buffer with one INSERT every ``MPI_ACCESS_LOG_FLUSH_MS`` (100 ms),
so a request pays microseconds for it. With the setting at 0 each event is its own
INSERT before the answer leaves, and if it cannot be written a successful read is
not answered (503): nothing is shown that the log does not hold. A change has
committed by then, so its answer stands and the failure is logged (ids only).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from flask import Flask, Response, current_app, g, request

from api.answers import answer_of
from api.errors import error_response
from mpi.access_vocab import AccessAction
from mpi.auth import PURPOSE_HEADER, Caller, purpose_code, purpose_of
from mpi.errors import MpiError
from mpi.vocab import EntityType

logger = logging.getLogger(__name__)

PERSON, RECORD, CASE = EntityType.PERSON, EntityType.RECORD, EntityType.REVIEW_CASE
REFERRAL, MERGE, ALERT = EntityType.REFERRAL, EntityType.MERGE, EntityType.ALERT
INBOUND = EntityType.INBOUND_EXCEPTION
RECONCILIATION_ITEM, PARTNER = EntityType.RECONCILIATION_ITEM, EntityType.PARTNER
READ, SEARCH, MATCH = AccessAction.READ, AccessAction.SEARCH, AccessAction.MATCH
SUBMIT, CREATE, UPDATE, EXPORT = AccessAction.SUBMIT, AccessAction.CREATE, AccessAction.UPDATE, AccessAction.EXPORT

Entity = tuple[str, str]


@dataclass(frozen=True)
class Pick:
    """Entities of one type named in a JSON answer, at a dotted path (``*``: every item of a list).

    A path ending on an object with ``source_system`` and ``source_record_id`` names that
    record (``system/id``); ``prefix`` keeps only references that start with it, without it
    (``Patient/`` in a FHIR reference).
    """

    type: EntityType
    path: str
    prefix: str = ""

    def ids(self, answer: Any) -> Iterator[str]:
        for value in _walk(answer, self.path.split(".") if self.path else []):
            if isinstance(value, Mapping):
                if value.get("source_system") and value.get("source_record_id"):
                    yield f"{value['source_system']}/{value['source_record_id']}"
            elif isinstance(value, str) and value.startswith(self.prefix) and value[len(self.prefix):]:
                yield value[len(self.prefix):]


@dataclass(frozen=True)
class Links:
    """Entities of one type an HTML page (or its redirect) shows, by their review UI path (``cases``).

    A page names what it shows by a link to it, or, where the role may not open that page
    (a coordinator and a person), by a ``data-person="ID"`` attribute (``data-`` and the type).
    """

    type: EntityType
    folder: str

    def ids(self, page: str) -> Iterator[str]:
        pattern = rf'(?:^|")[^"\s]*/review/{self.folder}/([^"/?#\s]+)|data-{self.type.value}="([^"]+)"'
        for match in re.finditer(pattern, page):
            yield unquote(match.group(1) or match.group(2))


@dataclass(frozen=True)
class Touch:
    """How one route touches entities: its action, the view arguments naming them, the answer's picks."""

    action: AccessAction
    args: tuple[tuple[EntityType, tuple[str, ...]], ...] = ()
    answer: tuple[Pick | Links, ...] = ()

    def entities(self, view_args: Mapping[str, Any], response: Response) -> list[Entity]:
        """The entities the request named and its answer showed, in that order (duplicates kept once)."""
        found = [(t.value, "/".join(str(view_args[n]) for n in names)) for t, names in self.args
                 if all(view_args.get(n) for n in names)]
        if self.answer and response.status_code < 400:
            found += [(p.type.value, i) for p, doc in self._documents(response) for i in p.ids(doc)]
        return list(dict.fromkeys(found))

    def _documents(self, response: Response) -> Iterator[tuple[Pick | Links, Any]]:
        if response.is_json:
            answer = answer_of(response)  # the object the answer was written from; else its JSON read back
            if answer is None:
                answer = response.get_json(silent=True)
            yield from ((p, answer) for p in self.answer if isinstance(p, Pick))
        else:
            page = response.headers.get("Location", "") + "\n" + (
                response.get_data(as_text=True) if response.mimetype == "text/html" else "")
            yield from ((p, page) for p in self.answer if isinstance(p, Links))


def _walk(value: Any, path: list[str]) -> Iterator[Any]:
    if not path:
        yield value
    elif path[0] == "*":
        for item in value if isinstance(value, (list, tuple)) else ():
            yield from _walk(item, path[1:])
    elif isinstance(value, Mapping) and value.get(path[0]) is not None:
        yield from _walk(value[path[0]], path[1:])


def _person(*names: str) -> tuple:
    return ((PERSON, names or ("person_id",)),)


_RECORD_ARGS = ((RECORD, ("source_system", "source_record_id")),)
_CASE_ANSWER = (Pick(RECORD, "record"), Pick(PERSON, "candidates.*.person_id"))
_MERGE_ANSWER = (Pick(MERGE, "merge_id"), Pick(PERSON, "survivor_id"), Pick(PERSON, "loser_id"))
_REFERRAL_ARGS = ((REFERRAL, ("referral_id",)),)
_REFERRAL_ANSWER = (Pick(PERSON, "person_id"), Pick(RECORD, "record"), Pick(CASE, "review_case_id"))
_FHIR_READ = Touch(READ, _REFERRAL_ARGS, (Pick(PERSON, "for.reference", "Patient/"),
                                          Pick(PERSON, "subject.reference", "Patient/")))
_CASE_ACTIONS = ("CaseClaim", "CaseAssign", "CaseLink", "CaseNewPerson", "CaseMerge", "CaseNotDuplicate", "CaseHold",
                 "CaseRelease", "CaseWithdraw", "CaseBlocks", "CaseConfirm")
_INBOUND_ARGS = ((INBOUND, ("exception_id",)),)
_INBOUND_ANSWER = (Pick(REFERRAL, "referral_id"), Pick(REFERRAL, "produced_referral_id"))
_ITEM_ARGS = ((RECONCILIATION_ITEM, ("item_id",)),)
_UI_PAGE_LINKS = (Links(PERSON, "persons"), Links(CASE, "cases"), Links(REFERRAL, "referrals"))
_PATTERN_ANSWER = (Pick(REFERRAL, "referrals.*.referral_id"), Pick(REFERRAL, "manual_reports.*.referral_id"))

#: Every route that touches persons, records, cases or referrals, by Flask endpoint, then by method (``*``: any).
TOUCHES: dict[str, dict[str, Touch]] = {
    # -- the API
    "records.Records": {"*": Touch(SUBMIT, answer=(Pick(RECORD, ""), Pick(PERSON, "person_id"),
                                                   Pick(CASE, "review_case_id"), Pick(PERSON, "candidates.*.person_id")))},
    "records.Match": {"*": Touch(MATCH, answer=(Pick(PERSON, "candidates.*.person_id"),))},
    "records.SourceRecord": {"*": Touch(READ, _RECORD_ARGS, (Pick(PERSON, "link.person_id"),
                                                             Pick(CASE, "review_case_id")))},
    "persons.Person": {"*": Touch(READ, _person(), (Pick(PERSON, "person_id"), Pick(RECORD, "records.*")))},
    "history.PersonHistory": {"*": Touch(READ, _person())},
    # A search reads every person it answers (ids only: the query is patient data and is never logged).
    "person_search.PersonSearch": {"*": Touch(SEARCH, answer=(Pick(PERSON, "items.*.person_id"),
                                                              Pick(RECORD, "items.*.records.*")))},
    "merges.Merge": {"*": Touch(CREATE, answer=_MERGE_ANSWER)},
    "merges.MergeRecord": {"*": Touch(READ, ((MERGE, ("merge_id",)),), _MERGE_ANSWER)},
    "merges.Unmerge": {"*": Touch(UPDATE, ((MERGE, ("merge_id",)),), _MERGE_ANSWER)},
    "review_cases.ReviewCases": {"*": Touch(SEARCH, answer=(
        Pick(CASE, "cases.*.case_id"), Pick(RECORD, "cases.*"), Pick(PERSON, "cases.*.candidates.*.person_id")))},
    "review_cases.ReviewCase": {"*": Touch(READ, ((CASE, ("case_id",)),), _CASE_ANSWER)},
    **{f"review_cases.{name}": {"*": Touch(UPDATE, ((CASE, ("case_id",)),), _CASE_ANSWER)} for name in _CASE_ACTIONS},
    "review_cases.CaseMerge": {"*": Touch(UPDATE, ((CASE, ("case_id",)),), (*_CASE_ANSWER, Pick(MERGE, "merge_id")))},
    # A spot-check rejected: its record leaves the person (named) and is held in a new case (named).
    "review_cases.CaseReject": {"*": Touch(UPDATE, ((CASE, ("case_id",)),), (
        *_CASE_ANSWER, Pick(PERSON, "previous_person_id"), Pick(CASE, "review_case.case_id")))},
    "review_cases.UndoLink": {"*": Touch(UPDATE, _RECORD_ARGS, (Pick(PERSON, "previous_person_id"),
                                                                Pick(CASE, "review_case.case_id")))},
    "referrals.Referrals": {
        "POST": Touch(CREATE, answer=(Pick(REFERRAL, "referral_id"), *_REFERRAL_ANSWER)),
        "GET": Touch(SEARCH, answer=(Pick(REFERRAL, "referrals.*.referral_id"), Pick(PERSON, "referrals.*.person_id"))),
    },
    "referrals.Referral": {"*": Touch(READ, _REFERRAL_ARGS, _REFERRAL_ANSWER)},
    **{f"referrals.{name}": {"*": Touch(UPDATE, _REFERRAL_ARGS, _REFERRAL_ANSWER)}
       for name in ("Status", "Correction", "Reopen")},
    "fhir_patient.PatientMatch": {"*": Touch(MATCH, answer=(Pick(PERSON, "entry.*.resource.id"),))},
    "admin.Export": {"*": Touch(EXPORT)},
    "backup.Backup": {"*": Touch(EXPORT)},
    # A dedup run reads every record (as an export does); a run's page names the persons and cases it found.
    "dedup.DedupRuns": {"GET": Touch(SEARCH), "POST": Touch(EXPORT)},
    "dedup.DedupRun": {"*": Touch(READ, answer=(
        Pick(PERSON, "findings.*.person_a"), Pick(PERSON, "findings.*.person_b"), Pick(CASE, "findings.*.case_id"),
        *(Pick(kind, f"report.nearest.{at}.{side}.*.{field}_{end}") for at in ("lower", "upper")
          for side in ("above", "below") for kind, field in ((PERSON, "person"), (RECORD, "record"))
          for end in ("l", "r")),
        Pick(PERSON, "report.splits.*.person_id"), Pick(RECORD, "report.largest_clusters.*.records.*")))},
    "alerts.Alerts": {"*": Touch(SEARCH, answer=(Pick(ALERT, "alerts.*.alert_id"), Pick(REFERRAL, "alerts.*.referral_id")))},
    "alerts.Acknowledge": {"*": Touch(UPDATE, ((ALERT, ("alert_id",)),), (Pick(REFERRAL, "referral_id"),))},
    # An inbound exception holds a raw body (PHI): reading the queue or one of them is an access event.
    "inbound_exceptions.InboundExceptions": {"*": Touch(SEARCH, answer=(
        Pick(INBOUND, "exceptions.*.exception_id"), Pick(REFERRAL, "exceptions.*.referral_id"),
        Pick(REFERRAL, "exceptions.*.produced_referral_id")))},
    "inbound_exceptions.InboundException": {"*": Touch(READ, _INBOUND_ARGS, _INBOUND_ANSWER)},
    "inbound_exceptions.InboundClaim": {"*": Touch(UPDATE, _INBOUND_ARGS, _INBOUND_ANSWER)},
    "inbound_exceptions.InboundReturn": {"*": Touch(UPDATE, _INBOUND_ARGS, _INBOUND_ANSWER)},
    "inbound_exceptions.InboundReplay": {"*": Touch(SUBMIT, _INBOUND_ARGS, _INBOUND_ANSWER)},
    # Outbound patterns name the referrals they affect (ids only); manual reports are about one referral.
    "outbound_exceptions.OutboundExceptions": {"*": Touch(SEARCH, answer=(
        Pick(REFERRAL, "patterns.*.referrals.*.referral_id"),))},
    "outbound_exceptions.OutboundException": {"*": Touch(READ, answer=_PATTERN_ANSWER)},
    "outbound_exceptions.PatternBackPost": {"*": Touch(UPDATE, answer=_PATTERN_ANSWER)},
    "manual_reports.ManualReports": {"GET": Touch(READ, _REFERRAL_ARGS), "POST": Touch(UPDATE, _REFERRAL_ARGS)},
    # A partner's status update in its own label changes the referral its body names.
    "partner_updates.PartnerStatusUpdates": {"*": Touch(UPDATE, answer=(Pick(REFERRAL, "referral_id"),
                                                                        *_REFERRAL_ANSWER))},
    "access_audit.AccessEvents": {"*": Touch(SEARCH)},
    # A partner's status snapshot says what its system shows of each referral it names; a reconciliation work
    # item names a referral and what the partner shows of it. (Runs, rates and patterns are counts and labels.)
    "reconciliation.StatusSnapshot": {"*": Touch(SUBMIT, ((PARTNER, ("partner_id",)),))},
    "reconciliation.Items": {"*": Touch(SEARCH, answer=(Pick(RECONCILIATION_ITEM, "items.*.item_id"),
                                                        Pick(REFERRAL, "items.*.referral_id")))},
    "reconciliation.Item": {"*": Touch(READ, _ITEM_ARGS, (Pick(REFERRAL, "referral_id"),))},
    "reconciliation.ItemClose": {"*": Touch(UPDATE, _ITEM_ARGS, (Pick(REFERRAL, "referral_id"),))},
    "reconciliation.ItemReissue": {"*": Touch(UPDATE, _ITEM_ARGS, (Pick(REFERRAL, "item.referral_id"),))},
    # -- FHIR
    "fhir.Task": {"*": _FHIR_READ},
    "fhir.ServiceRequest": {"*": _FHIR_READ},
    "fhir.TaskHistory": {"*": Touch(READ, _REFERRAL_ARGS)},
    "fhir.TaskVersion": {"*": Touch(READ, _REFERRAL_ARGS)},
    "fhir.TaskSearch": {"*": Touch(SEARCH, answer=(Pick(REFERRAL, "entry.*.resource.id"),
                                                   Pick(PERSON, "entry.*.resource.for.reference", "Patient/")))},
    # -- the review UI (pages name what they show by their links)
    "review_ui.queue": {"*": Touch(SEARCH, answer=(Links(CASE, "cases"),))},
    "review_ui.next_case": {"*": Touch(READ, answer=(Links(CASE, "cases"),))},
    "review_ui.case": {"*": Touch(READ, ((CASE, ("case_id",)),), _UI_PAGE_LINKS)},
    "review_ui.case_action": {"*": Touch(UPDATE, ((CASE, ("case_id",)),))},
    "review_ui.person": {"*": Touch(READ, _person(), _UI_PAGE_LINKS)},
    # The search page reads every person it shows (ids only: the query is never logged).
    "review_ui.search": {"*": Touch(SEARCH, answer=(Links(PERSON, "persons"),))},
    # Two ticked persons sent on to the compare page (its redirect names them), or the search again.
    "review_ui.search_compare": {"*": Touch(SEARCH, answer=(Links(PERSON, "persons"),))},
    "review_ui.merge": {"*": Touch(UPDATE, _person(), (Links(PERSON, "persons"),))},
    "review_ui.unmerge": {"*": Touch(UPDATE, ((MERGE, ("merge_id",)),), (Links(PERSON, "persons"),))},
    "review_ui.compare_persons": {"*": Touch(READ, answer=(Links(PERSON, "persons"),))},
    "review_ui.merge_preview": {"*": Touch(READ, _person(), (Links(PERSON, "persons"),))},
    "review_ui.undo_link": {"*": Touch(UPDATE, _person() + _RECORD_ARGS, (Links(PERSON, "persons"),))},
    "review_ui.worklist": {"*": Touch(SEARCH, answer=(Links(REFERRAL, "referrals"), Links(PERSON, "persons")))},
    "review_ui.referral": {"*": Touch(READ, _REFERRAL_ARGS, _UI_PAGE_LINKS)},
    **{f"review_ui.{name}": {"*": Touch(UPDATE, _REFERRAL_ARGS)}
       for name in ("referral_status", "referral_correction", "referral_reopen")},
    "review_ui.alerts": {"*": Touch(SEARCH, answer=(Links(REFERRAL, "referrals"),))},
    "review_ui.acknowledge_alert": {"*": Touch(UPDATE, ((ALERT, ("alert_id",)),))},
    "review_ui.outbound": {"*": Touch(SEARCH, answer=(Links(REFERRAL, "referrals"),))},
    "review_ui.back_post_pattern": {"*": Touch(UPDATE)},
    "review_ui.manual_report": {"*": Touch(UPDATE, _REFERRAL_ARGS)},
    "review_ui.inbound_queue": {"*": Touch(SEARCH, answer=(Links(INBOUND, "inbound"),))},
    "review_ui.inbound_item": {"*": Touch(READ, _INBOUND_ARGS, (Links(REFERRAL, "referrals"),))},
    "review_ui.inbound_action": {"*": Touch(UPDATE, _INBOUND_ARGS)},
    "review_ui.audit": {"*": Touch(SEARCH)},
    "review_ui.access": {"*": Touch(SEARCH)},
    "review_ui.reconciliation": {"*": Touch(SEARCH, answer=(Links(REFERRAL, "referrals"),))},
    "review_ui.reconciliation_action": {"*": Touch(UPDATE, _ITEM_ARGS)},
    # A dedup run's report names persons and cases (its nearest pairs, its cases); its CSV is every finding.
    "review_ui.dedup_run": {"*": Touch(READ, answer=_UI_PAGE_LINKS)},
    "review_ui.dedup_run_cases": {"*": Touch(EXPORT)},
}

#: Routes that touch no PHI: not logged.
UNTOUCHED = frozenset({
    "persons.Health", "api-docs.openapi_json", "metrics.Scrape", "metrics.ReferralMetrics", "metrics.ExchangeMetrics",
    "metrics.MatchingMetrics", "review_ui.matching_metrics",  # counts, codes and source systems only
    "organisations.Organisations", "organisations.Organisation",
    "partners.Partners", "partners.Partner", "partners.Crosswalk", "reconciliation.PartnerReconciliation",
    "outbound_exceptions.PartnerPause", "outbound_exceptions.PartnerResume", "outbound_exceptions.PartnerBackPost",
    "review_ui.pause_partner", "review_ui.resume_partner", "review_ui.back_post_partner",
    "admin.Keys", "admin.Key", "admin.KeyRevoke", "admin.Users", "admin.Models", "admin.ModelActivate",
    "review_ui.sign_in", "review_ui.sign_out", "review_ui.static", "review_ui.metrics",
    "review_ui.dedup_runs",  # runs: ids, times and counts
    "admin.TrainFromDecisions",  # learns from every record; answers a version and counts, no person
})

#: What a route nobody has classified yet is logged as: its method and route template, no entities.
UNCLASSIFIED = Touch(AccessAction.ROUTE)


def touch_of(endpoint: str, method: str) -> Touch | None:
    """How a route touches entities: None for one that touches no PHI, :data:`UNCLASSIFIED` for one not yet said."""
    if endpoint in UNTOUCHED:
        return None
    by_method = TOUCHES.get(endpoint)
    if by_method is None:
        return UNCLASSIFIED
    return by_method.get(method) or by_method.get("*") or UNCLASSIFIED


def init_app(app: Flask) -> None:
    """Read the purpose of use before any view, and write one access event after each request that touches PHI."""

    @app.before_request
    def _purpose() -> None:
        g.purpose_sent = purpose_code(request.headers.get(PURPOSE_HEADER))

    @app.after_request
    def _record(response: Response) -> Response:
        # An OPTIONS answer is Flask's own (the allowed methods): it reads nothing and runs no view.
        touch = (touch_of(request.endpoint, request.method)
                 if request.endpoint and request.url_rule and request.method != "OPTIONS" else None)
        if touch is None:
            return response
        return _write(touch, response)


def document(api) -> None:
    """Say in the OpenAPI document that every operation takes ``X-Purpose-Of-Use`` (call once all are registered).

    The parameter is written out in each operation (not a ``$ref``), so a reader of an operation's
    parameters finds its name there like any other's.
    """
    from mpi.access_vocab import PurposeOfUse

    # Any case, as the server reads it: each letter of each code as a class of its two cases.
    codes = "|".join("".join(f"[{c}{c.lower()}]" for c in p.value) for p in PurposeOfUse)
    header = {"name": PURPOSE_HEADER, "in": "header", "required": False,
              "schema": {"type": "string", "pattern": rf"^[ \t]*(?:{codes})[ \t]*$"},
              "description": "why the caller reads or changes PHI: an HL7 v3 PurposeOfUse code, any case ("
                             + ", ".join(p.value for p in PurposeOfUse) + "), recorded in the access log; the "
                             "caller's role's default when the header is absent; an unknown code, or an empty "
                             "header, is a 400"}
    # apispec keeps the registered operations in ``_paths`` and offers no public way to amend them all.
    for operations in api.spec._paths.values():  # noqa: SLF001
        for method, operation in operations.items():
            if method in ("get", "post", "put", "patch", "delete"):
                operation.setdefault("parameters", []).append(dict(header))
                operation.setdefault("responses", {}).setdefault("400", {
                    "description": "an unknown purpose of use in X-Purpose-Of-Use",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})


def _write(touch: Touch, response: Response) -> Response:
    user = g.get("user") or g.get("steward")
    who = Caller.of(user) if user else None
    route = request.url_rule.rule
    try:
        entities = touch.entities(request.view_args or {}, response)
    except Exception as e:  # noqa: BLE001 - an answer of an unexpected shape still gets its event
        logger.error("access log: entities of %s %s not read: %s", request.method, route, type(e).__name__)
        entities = []
    try:
        current_app.extensions["mpi"].store.access.append(
            actor=who.actor if who else None, organisation=who.organisation if who else None,
            role=who.role if who else None, purpose=purpose_of(g.get("purpose_sent"), who.role if who else None),
            action=touch.action.value, method=request.method, route=route, status=response.status_code,
            entities=entities)
    except MpiError as e:
        logger.error("access log: event of %s %s (status %s) not written: %s", request.method, route,
                     response.status_code, type(e).__name__)
        if request.method in ("GET", "HEAD") and response.status_code < 400:
            return error_response("access_log_unavailable", 503,
                                  "the access log cannot record this read, so it is not answered")
    return response
