"""Every route that touches PHI writes its access event: the coverage test of the access audit (issue 14, point 3).

Every route of the app (API, FHIR and review UI, by method and Flask endpoint) is
classified here, either as touching PHI, with a call that exercises it on a small
real store (a referral network, persons, a held review case, a merge, an alert),
or in :data:`NOT_PHI`. A route added later fails :func:`test_every_route_is_classified`
until it is classified here. Then every PHI route is called through the real app
and its event must name the caller, organisation, role, purpose of use, method,
route template, status, and the entities the call touched; and no access-log row
may hold a value of a record (a name, a birth date, an identifier).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace

import pytest

from api import create_app
from api.access_log import TOUCHES, UNTOUCHED
from conftest import PEOPLE, activate_policy_on, record
from exchange_world import Partner
from mpi.auth import add_user
from referral_network import MONDAY_10AM, build, clock, net_services, referral_body  # noqa: F401
from test_review_ui import csrf_of, sign_in

#: Routes that touch no person, record, case or referral, by "METHOD endpoint".
NOT_PHI = frozenset({
    "GET persons.Health", "GET api-docs.openapi_json", "GET metrics.Scrape", "GET metrics.ReferralMetrics",
    "GET metrics.ExchangeMetrics", "GET metrics.MatchingMetrics", "GET review_ui.matching_metrics",
    "GET organisations.Organisations", "POST organisations.Organisations", "GET organisations.Organisation",
    "GET review_ui.sign_in", "POST review_ui.sign_in", "POST review_ui.sign_out", "GET review_ui.static",
    "GET review_ui.metrics",
    "GET admin.Keys", "POST admin.Keys", "GET admin.Key", "DELETE admin.Key", "POST admin.KeyRevoke",
    "GET admin.Users", "POST admin.Users", "GET admin.Models", "POST admin.ModelActivate",
    "POST admin.TrainFromDecisions",
    "GET partners.Partners", "POST partners.Partners", "GET partners.Partner", "POST partners.Crosswalk",
    "POST outbound_exceptions.PartnerPause", "POST outbound_exceptions.PartnerResume",
    "POST outbound_exceptions.PartnerBackPost",
    "POST review_ui.pause_partner", "POST review_ui.resume_partner", "POST review_ui.back_post_partner",
    "GET reconciliation.PartnerReconciliation", "GET review_ui.dedup_runs",
})
#: The purpose of use every API and FHIR call below sends (review UI pages send none: the role's default).
SENT_PURPOSE = "COC"
DEFAULT_PURPOSE = {"hub": "TREAT", "coordinator": "CAREMGT", "steward": "HOPERAT", "admin": "HSYSADMIN",
                   "auditor": "HCOMPL"}


@dataclass
class Call:
    """One call of a PHI route, by a user, and the entities its access event must name."""

    key: str
    who: str
    response: object
    entities: set[tuple[str, str]]
    purpose: str | None = SENT_PURPOSE


def _routes(app) -> set[str]:
    return {f"{m} {rule.endpoint}" for rule in app.url_map.iter_rules() for m in rule.methods - {"HEAD", "OPTIONS"}}


@pytest.fixture
def world(net_services, clock):  # noqa: F811
    """A referral network with two persons, a held case, a referral with an alert, and signed-in UI clients."""
    services = net_services
    network = build(services)
    network.tokens["audrey"] = add_user(services.store, "audrey", "auditor")
    app = create_app(services=services)
    app.config["TESTING"] = True
    api = app.test_client()

    def headers(who: str) -> dict:
        return {"Authorization": f"Bearer {network.tokens[who]}", "X-Purpose-Of-Use": SENT_PURPOSE}

    hub = headers("hub-stmarys")
    marisol = api.post("/v1/records", json=record("marisol", "st-marys-ehr", "MRN-1"), headers=hub).json
    theodore = api.post("/v1/records", json=record("theodore", "st-marys-ehr", "MRN-2"), headers=hub).json
    desmond = api.post("/v1/records", json=record("desmond", "st-marys-ehr", "MRN-3"), headers=hub).json
    sparse = record("marisol", "bluepath-mco", "BPM-77", first_name="Mari", phone="", email="", ssn_last4="",
                    medicaid_id="", address_line2="")
    weight = services.matching.match(sparse, "test")["candidates"][0]["match_weight"]
    activate_policy_on(services, upper_match_weight=weight + 5, lower_match_weight=weight - 5)
    held = api.post("/v1/records", json=sparse, headers=hub).json
    assert held["decision"] == "POSSIBLE_MATCH", held["decision"]
    referral = api.post("/v1/referrals", json=referral_body("theodore", ref="SM-9", person=record(
        "theodore", "st-marys-ehr", "MRN-2")), headers=hub).json
    clock.set(MONDAY_10AM + timedelta(hours=6))  # 6 of the food bank's 8 hours to acknowledge: a reminder
    services.sweep.run()
    # St Mary's feed, broken: the next referral's first message dies and opens an outbound pattern.
    feed = Partner()
    feed.answer = lambda r: 400
    services.partners.add({"partner_id": "st-marys-feed", "organisation": "st-marys", "name": "feed",
                           "endpoint": feed.url, "format": "webhook", "subscriptions": ["requester"]}, "test")
    uis = {}
    for who in ("sam", "cora", "audrey", "root"):
        uis[who] = app.test_client()
        assert sign_in(uis[who], who, network.tokens[who]).status_code == 303
    yield SimpleNamespace(services=services, network=network, app=app, api=api, headers=headers, uis=uis,
                          marisol=marisol["person_id"], theodore=theodore["person_id"],
                          desmond=desmond["person_id"], case_id=held["review_case_id"],
                          referral_id=referral["referral_id"])
    feed.close()


def _finished(services, run_id: str) -> dict:
    """A dedup run the service started in the background, once it has finished."""
    deadline = time.monotonic() + 120
    while (run := services.dedup.get(run_id))["outcome"] == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert run["outcome"] == "completed", run
    return run


def _ui_post(client, page: str, path: str, **form):
    return client.post(path, data={"csrf_token": csrf_of(client.get(page)), **form})


def calls(w) -> Iterator[Call]:
    """Every PHI route exercised, in an order that keeps the world usable (resolving steps last)."""
    api, h = w.api, w.headers
    P, C, F = "person", "review_case", "referral"
    mari, theo, des, case, ref = w.marisol, w.theodore, w.desmond, w.case_id, w.referral_id

    yield Call("POST records.Records", "hub-stmarys",
               api.post("/v1/records", json=record("marisol", "st-marys-ehr", "MRN-1", phone="404-555-0144"),
                        headers=h("hub-stmarys")), {("record", "st-marys-ehr/MRN-1"), (P, mari)})
    yield Call("POST records.Match", "hub-stmarys",
               api.post("/v1/match", json=record("marisol", "other-ehr", "X-1"), headers=h("hub-stmarys")),
               {(P, mari)})
    patient = {"resourceType": "Patient", "name": [{"family": "Quintanilla", "given": ["Marisol"]}],
               "birthDate": "1984-03-17", "gender": "female"}
    yield Call("POST fhir_patient.PatientMatch", "hub-stmarys", api.post(
        "/fhir/Patient/$match", json={"resourceType": "Parameters", "parameter": [
            {"name": "resource", "resource": patient}]}, headers=h("hub-stmarys")), {(P, mari)})
    yield Call("GET admin.Export", "sam", api.get("/v1/admin/export", headers=h("sam")), set())
    yield Call("POST backup.Backup", "root", api.post("/v1/admin/backup", headers=h("root")), set())
    started = api.post("/v1/dedup-runs", json={}, headers=h("root"))
    yield Call("POST dedup.DedupRuns", "root", started, set())
    run = _finished(w.services, started.get_json()["run_id"])
    found = {(P, f[side]) for f in run["findings"] for side in ("person_a", "person_b")}
    found |= {(C, f["case_id"]) for f in run["findings"] if f["case_id"]}
    yield Call("GET dedup.DedupRun", "sam", api.get(f"/v1/dedup-runs/{run['run_id']}", headers=h("sam")), found)
    yield Call("GET dedup.DedupRuns", "sam", api.get("/v1/dedup-runs", headers=h("sam")), set())
    yield Call("GET records.SourceRecord", "hub-stmarys",
               api.get("/v1/records/st-marys-ehr/MRN-1", headers=h("hub-stmarys")),
               {("record", "st-marys-ehr/MRN-1"), (P, mari)})
    yield Call("GET persons.Person", "hub-stmarys", api.get(f"/v1/persons/{mari}", headers=h("hub-stmarys")),
               {(P, mari), ("record", "st-marys-ehr/MRN-1")})
    yield Call("GET person_search.PersonSearch", "sam", api.get("/v1/persons?name=Wojcik", headers=h("sam")),
               {(P, theo), ("record", "st-marys-ehr/MRN-2")})
    yield Call("GET history.PersonHistory", "sam", api.get(f"/v1/persons/{mari}/history", headers=h("sam")),
               {(P, mari)})
    yield Call("GET review_cases.ReviewCases", "sam", api.get("/v1/review-cases", headers=h("sam")),
               {(C, case), ("record", "bluepath-mco/BPM-77"), (P, mari)})
    yield Call("GET review_cases.ReviewCase", "sam", api.get(f"/v1/review-cases/{case}", headers=h("sam")),
               {(C, case), ("record", "bluepath-mco/BPM-77"), (P, mari)})
    version = w.services.cases.get(case)["version"]
    yield Call("POST review_cases.CaseClaim", "sam", api.post(
        f"/v1/review-cases/{case}/claim", json={"reason": "mine", "version": version}, headers=h("sam")),
        {(C, case), (P, mari)})
    stale = {"reason": "late", "version": 999}
    for name, path, body in (
            ("CaseAssign", "assign", {**stale, "owner": "sam"}), ("CaseHold", "hold", {
                **stale, "follow_up": (MONDAY_10AM + timedelta(days=3)).date().isoformat(), "note": "call"}),
            ("CaseRelease", "release", stale), ("CaseBlocks", "blocks", {**stale, "blocks": []}),
            ("CaseLink", "link", {**stale, "person_id": mari}), ("CaseNewPerson", "new-person", stale),
            ("CaseMerge", "merge", {**stale, "survivor_id": mari, "loser_id": theo}),
            ("CaseNotDuplicate", "not-duplicate", stale), ("CaseWithdraw", "withdraw", stale),
            ("CaseConfirm", "confirm", stale), ("CaseReject", "reject", stale)):
        yield Call(f"POST review_cases.{name}", "sam",
                   api.post(f"/v1/review-cases/{case}/{path}", json=body, headers=h("sam")), {(C, case)})
    yield Call("POST review_cases.UndoLink", "sam", api.post(
        "/v1/records/st-marys-ehr/MRN-1/undo-link", json={"reason": "test"}, headers=h("sam")),
        {("record", "st-marys-ehr/MRN-1")})
    merge = api.post("/v1/persons/merge", json={"survivor_id": theo, "loser_id": des, "reason": "one man"},
                     headers=h("sam"))
    yield Call("POST merges.Merge", "sam", merge, {("merge", merge.json["merge_id"]), (P, theo), (P, des)})
    merge_id = merge.json["merge_id"]
    yield Call("GET merges.MergeRecord", "sam", api.get(f"/v1/merges/{merge_id}", headers=h("sam")),
               {("merge", merge_id), (P, theo), (P, des)})
    yield Call("POST merges.Unmerge", "sam", api.post(f"/v1/merges/{merge_id}/unmerge", json={"reason": "two"},
                                                      headers=h("sam")), {("merge", merge_id), (P, theo), (P, des)})
    created = api.post("/v1/referrals", json=referral_body("desmond", ref="SM-10", person=record(
        "desmond", "st-marys-ehr", "MRN-3")), headers=h("hub-stmarys"))
    yield Call("POST referrals.Referrals", "hub-stmarys", created,
               {(F, created.json["referral_id"]), ("record", "st-marys-ehr/MRN-3"), (P, des)})
    # The outbound exception queue: SM-10's first message died at St Mary's broken feed.
    sm10 = created.json["referral_id"]
    w.services.delivery.run_once()
    patterns = api.get("/v1/outbound-exceptions", headers=h("root"))
    pattern_id = patterns.json["patterns"][0]["pattern_id"]
    yield Call("GET outbound_exceptions.OutboundExceptions", "root", patterns, {(F, sm10)})
    report = {"partner_id": "st-marys-feed", "told_by": "Cora", "method": "phone", "state": "submitted",
              "reported_at": w.services.clock.now().isoformat(), "note": "phoned"}
    yield Call("POST manual_reports.ManualReports", "cora", api.post(
        f"/v1/referrals/{sm10}/manual-reports", json=report, headers=h("cora")), {(F, sm10)})
    yield Call("GET manual_reports.ManualReports", "cora", api.get(
        f"/v1/referrals/{sm10}/manual-reports", headers=h("cora")), {(F, sm10)})
    yield Call("GET outbound_exceptions.OutboundException", "root",
               api.get(f"/v1/outbound-exceptions/{pattern_id}", headers=h("root")), {(F, sm10)})
    yield Call("GET review_ui.outbound", "root", w.uis["root"].get("/review/outbound"), {(F, sm10)}, purpose=None)
    yield Call("POST review_ui.manual_report", "cora", _ui_post(
        w.uis["cora"], f"/review/referrals/{sm10}", f"/review/referrals/{sm10}/manual-reports", **{
            **report, "reported_at": ""}), {(F, sm10)}, purpose=None)
    yield Call("POST review_ui.back_post_pattern", "root", _ui_post(
        w.uis["root"], "/review/outbound", f"/review/outbound/{pattern_id}/back-post", note=""), set(), purpose=None)
    yield Call("POST outbound_exceptions.PatternBackPost", "root", api.post(
        f"/v1/outbound-exceptions/{pattern_id}/back-post", json={"note": "fixed"}, headers=h("root")), {(F, sm10)})
    # A partner system's status update in its own label changes the referral its body names.
    w.services.partners.add({"partner_id": "foodbank-sys", "organisation": "foodbank", "name": "Food bank system",
                             "endpoint": "https://foodbank.example/hook", "format": "webhook",
                             "subscriptions": ["performer"]}, "test")
    w.services.partners.add_crosswalk("foodbank-sys", [{"state": "acknowledged", "label": "Received"}], "2026-01-01",
                                      "test")
    mine = created.json["referral_id"]
    yield Call("POST partner_updates.PartnerStatusUpdates", "hub-foodbank", api.post(
        "/v1/partners/foodbank-sys/status-updates", json={"referral_id": mine, "label": "Received"},
        headers=h("hub-foodbank")), {(F, mine), (P, des)})
    yield Call("GET referrals.Referrals", "cora", api.get("/v1/referrals", headers=h("cora")), {(F, ref), (P, theo)})
    yield Call("GET referrals.Referral", "cora", api.get(f"/v1/referrals/{ref}", headers=h("cora")),
               {(F, ref), (P, theo)})
    alerts = api.get("/v1/alerts", headers=h("cora"))
    [alert] = [a for a in alerts.json["alerts"] if a["referral_id"] == ref]
    yield Call("GET alerts.Alerts", "cora", alerts, {("alert", alert["alert_id"]), (F, ref)})
    yield Call("POST alerts.Acknowledge", "cora", api.post(f"/v1/alerts/{alert['alert_id']}/ack", headers=h("cora")),
               {("alert", alert["alert_id"]), (F, ref)})
    # The inbound exception queue holds raw bodies: a status update of an unknown referral is kept; a steward works it.
    I = "inbound_exception"
    ix = api.post("/v1/referrals/RF99999999/status", json={"state": "acknowledged"},
                  headers=h("cora")).headers["X-Inbound-Exception"]
    yield Call("GET inbound_exceptions.InboundExceptions", "sam", api.get("/v1/inbound-exceptions", headers=h("sam")),
               {(I, ix), (F, "RF99999999")})
    yield Call("GET inbound_exceptions.InboundException", "sam",
               api.get(f"/v1/inbound-exceptions/{ix}", headers=h("sam")), {(I, ix), (F, "RF99999999")})
    yield Call("POST inbound_exceptions.InboundClaim", "sam",
               api.post(f"/v1/inbound-exceptions/{ix}/claim", headers=h("sam")), {(I, ix)})
    yield Call("POST inbound_exceptions.InboundReplay", "sam",
               api.post(f"/v1/inbound-exceptions/{ix}/replay", json={"body": {"state": "bogus"}}, headers=h("sam")),
               {(I, ix)})
    ix2 = api.post("/v1/referrals/RF99999998/status", json={"state": "acknowledged"},
                   headers=h("cora")).headers["X-Inbound-Exception"]
    yield Call("POST inbound_exceptions.InboundReturn", "sam",
               api.post(f"/v1/inbound-exceptions/{ix}/return", json={"reason": "no such referral"}, headers=h("sam")),
               {(I, ix), (F, "RF99999999")})
    yield Call("GET fhir.Task", "cora", api.get(f"/fhir/Task/{ref}", headers=h("cora")), {(F, ref), (P, theo)})
    yield Call("GET fhir.ServiceRequest", "cora", api.get(f"/fhir/ServiceRequest/{ref}", headers=h("cora")),
               {(F, ref), (P, theo)})
    yield Call("GET fhir.TaskHistory", "cora", api.get(f"/fhir/Task/{ref}/_history", headers=h("cora")), {(F, ref)})
    yield Call("GET fhir.TaskVersion", "cora", api.get(f"/fhir/Task/{ref}/_history/1", headers=h("cora")),
               {(F, ref)})
    yield Call("GET fhir.TaskSearch", "cora", api.get("/fhir/Task?owner=foodbank", headers=h("cora")),
               {(F, ref), (P, theo)})
    yield Call("POST referrals.Status", "cora", api.post(f"/v1/referrals/{ref}/status", json={
        "state": "acknowledged"}, headers=h("cora")), {(F, ref), (P, theo)})
    yield Call("POST referrals.Correction", "hub-stmarys", api.post(f"/v1/referrals/{ref}/correction", json={
        "reason": "fixed"}, headers=h("hub-stmarys")), {(F, ref)})
    yield Call("POST referrals.Reopen", "hub-stmarys", api.post(f"/v1/referrals/{ref}/reopen", json={
        "reason": "again"}, headers=h("hub-stmarys")), {(F, ref)})
    yield Call("GET access_audit.AccessEvents", "audrey", api.get("/v1/audit", headers=h("audrey")), set())
    # Reconciliation: St Mary's feed reports a referral it was never told of; a steward works the item it opens.
    R = "reconciliation_item"
    yield Call("POST reconciliation.StatusSnapshot", "hub-stmarys", api.post(
        "/v1/partners/st-marys-feed/status-snapshot", json={"rows": [{"referral_id": "RF99999999", "label": "x"}]},
        headers=h("hub-stmarys")), {("partner", "st-marys-feed")})
    [item] = w.services.reconciliation.items()["items"]
    ri = item["item_id"]
    yield Call("GET reconciliation.Items", "sam", api.get("/v1/reconciliation/items", headers=h("sam")), {(R, ri)})
    yield Call("GET reconciliation.Item", "sam", api.get(f"/v1/reconciliation/items/{ri}", headers=h("sam")),
               {(R, ri)})
    yield Call("POST reconciliation.ItemReissue", "sam", api.post(f"/v1/reconciliation/items/{ri}/reissue",
                                                                  headers=h("sam")), {(R, ri)})

    # -- the review UI: no header sent, so each role's default purpose
    sam, cora, audrey = w.uis["sam"], w.uis["cora"], w.uis["audrey"]
    ui = dict(purpose=None)
    yield Call("GET review_ui.queue", "sam", sam.get("/review/"), {(C, case)}, **ui)
    yield Call("GET review_ui.next_case", "sam", sam.get("/review/next"), {(C, case)}, **ui)
    yield Call("GET review_ui.case", "sam", sam.get(f"/review/cases/{case}"), {(C, case), (P, mari)}, **ui)
    yield Call("POST review_ui.case_action", "sam", _ui_post(
        sam, f"/review/cases/{case}", f"/review/cases/{case}/release", reason="x", version="999"), {(C, case)}, **ui)
    yield Call("GET review_ui.person", "sam", sam.get(f"/review/persons/{theo}"), {(P, theo)}, **ui)
    yield Call("GET review_ui.audit", "sam", sam.get("/review/audit"), set(), **ui)
    yield Call("GET review_ui.compare_persons", "sam", sam.get(f"/review/compare?a={theo}&b={des}"),
               {(P, theo), (P, des)}, **ui)
    yield Call("GET review_ui.merge_preview", "sam", sam.get(f"/review/persons/{theo}/merge-preview?loser_id={des}"),
               {(P, theo), (P, des)}, **ui)
    yield Call("POST review_ui.undo_link", "sam", _ui_post(
        sam, f"/review/persons/{theo}", f"/review/persons/{theo}/records/nowhere/R-0/undo-link", reason="wrong"),
        {(P, theo), ("record", "nowhere/R-0")}, **ui)
    yield Call("GET review_ui.search", "sam", sam.get("/review/search?q=Wojcik"), {(P, theo)}, **ui)
    # One ticked: the search again, saying to tick two (two go on to the compare page, which logs its own read).
    yield Call("GET review_ui.search_compare", "sam", sam.get(f"/review/search/compare?q=Wojcik&person={theo}"),
               {(P, theo)}, **ui)
    yield Call("POST review_ui.merge", "sam", _ui_post(
        sam, f"/review/persons/{theo}", f"/review/persons/{theo}/merge", loser_id=des, reason="one"),
        {(P, theo)}, **ui)
    yield Call("POST review_ui.unmerge", "sam", _ui_post(
        sam, f"/review/persons/{theo}", f"/review/merges/{merge_id}/unmerge", reason="two"),
        {("merge", merge_id)}, **ui)
    yield Call("GET review_ui.worklist", "cora", cora.get("/review/referrals"), {(F, ref), (P, theo)}, **ui)
    yield Call("GET review_ui.referral", "cora", cora.get(f"/review/referrals/{ref}"), {(F, ref), (P, theo)}, **ui)
    yield Call("GET review_ui.alerts", "cora", cora.get("/review/alerts"), {(F, ref)}, **ui)
    yield Call("POST review_ui.acknowledge_alert", "cora", _ui_post(
        cora, "/review/alerts", f"/review/alerts/{alert['alert_id']}/ack"), {("alert", alert["alert_id"])}, **ui)
    for name, path, form in (("referral_status", "status", {"state": "in_triage"}),
                             ("referral_correction", "correction", {}), ("referral_reopen", "reopen", {"reason": "x"})):
        yield Call(f"POST review_ui.{name}", "cora", _ui_post(
            cora, f"/review/referrals/{ref}", f"/review/referrals/{ref}/{path}", **form), {(F, ref)}, **ui)
    yield Call("GET review_ui.inbound_queue", "sam", sam.get("/review/inbound"), {(I, ix2)}, **ui)
    yield Call("GET review_ui.inbound_item", "sam", sam.get(f"/review/inbound/{ix2}"), {(I, ix2)}, **ui)
    yield Call("POST review_ui.inbound_action", "sam", _ui_post(
        sam, f"/review/inbound/{ix2}", f"/review/inbound/{ix2}/claim"), {(I, ix2)}, **ui)
    yield Call("GET review_ui.access", "audrey", audrey.get("/review/access"), set(), **ui)
    yield Call("GET review_ui.reconciliation", "sam", sam.get("/review/reconciliation"), set(), **ui)
    yield Call("POST review_ui.reconciliation_action", "sam", _ui_post(
        sam, "/review/reconciliation", f"/review/reconciliation/items/{ri}/close", cause="identifier_mismatch"),
        {(R, ri)}, **ui)
    yield Call("POST reconciliation.ItemClose", "sam", api.post(f"/v1/reconciliation/items/{ri}/close", json={
        "cause": "our_error"}, headers=h("sam")), {(R, ri)})
    # The dedup run's report page names the persons and cases it links to.
    report = w.services.dedup.get(run["run_id"], with_report=True)["report"]
    shown = {(P, p[side]) for t in report["nearest"].values() for pairs in t.values() for p in pairs
             for side in ("person_l", "person_r") if p[side]} | {(C, c["case_id"]) for c in report["cases"] if c["case_id"]}
    assert shown, "the run's report names someone"
    yield Call("GET review_ui.dedup_run", "sam", sam.get(f"/review/dedup-runs/{run['run_id']}"), shown, **ui)
    yield Call("GET review_ui.dedup_run_cases", "sam", sam.get(f"/review/dedup-runs/{run['run_id']}/cases.csv"),
               set(), **ui)


def _last_event(services) -> dict:
    return services.store.access.page(limit=1)["events"][0]


def test_every_route_is_classified_as_touching_phi_or_not(world):
    exercised = {c.key for c in calls(world)}
    routes = _routes(world.app)

    assert not exercised & NOT_PHI, "a route cannot be both"
    unclassified = routes - exercised - NOT_PHI
    assert not unclassified, f"classify these routes in tests/test_access_coverage.py: {sorted(unclassified)}"
    assert not (exercised | NOT_PHI) - routes, "stale entries name routes that no longer exist"


def test_the_access_log_table_names_only_routes_that_exist(world):
    endpoints = {rule.endpoint for rule in world.app.url_map.iter_rules()}

    assert set(TOUCHES) <= endpoints, sorted(set(TOUCHES) - endpoints)
    assert UNTOUCHED <= endpoints, sorted(UNTOUCHED - endpoints)
    assert {k.split(" ", 1)[1] for k in NOT_PHI} == UNTOUCHED, "the app skips exactly the routes classified here"
    assert not UNTOUCHED & set(TOUCHES)


def test_every_phi_route_writes_its_access_event_with_caller_purpose_and_entities(world):
    users = {name: (c.role, c.organisation) for name, c in world.network.callers.items()}
    users["audrey"] = ("auditor", None)
    rules = {rule.endpoint: rule.rule for rule in world.app.url_map.iter_rules()}
    problems, seen = [], 0
    for call in calls(world):
        seen += 1
        event = _last_event(world.services)
        method, endpoint = call.key.split(" ")
        role, organisation = users[call.who]
        expected = {"actor": f"user:{call.who}", "organisation": organisation, "role": role,
                    "purpose": call.purpose or DEFAULT_PURPOSE[role], "method": method, "route": rules[endpoint],
                    "status": call.response.status_code}
        got = {k: event[k] for k in expected}
        if got != expected:
            problems.append(f"{call.key}: {got} != {expected}")
        logged = {(e["type"], e["id"]) for e in event["entities"]}
        if not call.entities <= logged:
            problems.append(f"{call.key} ({call.response.status_code}): missing {call.entities - logged}")
    assert seen > 50
    assert not problems, "\n".join(problems)


def _phi_values() -> set[str]:
    values = set()
    for person in PEOPLE.values():
        for field in ("first_name", "last_name", "birth_date", "ssn_last4", "medicaid_id", "phone", "email",
                      "address_line1", "postal_code"):
            if person.get(field):
                values.add(person[field])
    return values | {"404-555-0144", "food insecurity after discharge", "Mari"}


def test_no_access_log_row_holds_a_value_of_a_record(world):
    for _ in calls(world):
        pass
    rows = world.services.store.access.page(limit=10_000)["events"]
    text = json.dumps(rows, default=str)

    assert len(rows) > 50, "expected rows to check"
    assert "MPI" in text and "st-marys-ehr/MRN-1" in text, "the rows name ids"
    leaked = {v for v in _phi_values() if re.search(rf"\b{re.escape(v)}\b", text)}
    assert not leaked, f"PHI in the access log: {sorted(leaked)}"
