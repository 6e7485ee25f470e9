"""Who may call what: every route and method of the app × every kind of caller, against one table.

The routes come from ``app.url_map`` (the API, FHIR and the review UI): a route
missing from :data:`TABLE` fails :func:`test_every_route_is_in_the_table`, so a new
route must be classified before it ships. Each call names real ids of a small
store (:mod:`api_world`), so "allowed" is told apart from "no such thing".

Callers: no credentials, an unknown token, a user of each role (the hub and the
coordinator act for the two sides of the world's referrals: St Mary's requests,
the food bank performs), and a hub and a coordinator of another organisation
(BluePath), which must not see those referrals. The API takes a bearer token; the
review UI a session made by signing in at ``/review/sign-in`` with that token.

Outcomes: ``ok`` (let through: any answer but 401, 403, 404, a sign-in redirect
or a 5xx), ``401``, ``403``, ``404`` (as if it did not exist), ``sign-in`` (the
review UI sends the browser to sign in). A 5xx always fails.

To add a route: add a row with one of the profiles below, or a dict of its own.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from api import create_app
from api_world import WORLD_PARTNER, build_world, services_on
from conftest import record
from exchange_world import Partner
from mpi.auth import Caller, create_key
from mpi.services import DEFAULT_MODEL_VERSION
from referral_network import ORGANISATIONS, referral_body

CALLERS = ("none", "bad-token", "hub", "coordinator", "steward", "admin", "auditor", "other-hub",
           "other-coordinator")
OK, UNAUTHORISED, FORBIDDEN, HIDDEN, SIGN_IN = "ok", "401", "403", "404", "sign-in"


def profile(default: str, **by_caller: str) -> dict[str, str]:
    """An outcome for every caller: ``default``, but for those named (``other_hub`` for ``other-hub``)."""
    named = {k.replace("_", "-"): v for k, v in by_caller.items()}
    return {c: named.get(c, default) for c in CALLERS}


# API profiles: who gets through with a bearer token.
PUBLIC = profile(OK)
ANY_CALLER = profile(OK, none=UNAUTHORISED, bad_token=UNAUTHORISED)
#: Records, matching and persons: a hub's work, and so a steward's and an admin's (docs: Role); a coordinator
#: sees a person only through its referrals, an auditor only the access log.
IDENTITY = profile(OK, none=UNAUTHORISED, bad_token=UNAUTHORISED, coordinator=FORBIDDEN, auditor=FORBIDDEN,
                   other_coordinator=FORBIDDEN)
#: Lists scoped to an organisation (referrals, alerts, loop measures): an auditor, of none, reads none of them.
SCOPED_LIST = profile(OK, none=UNAUTHORISED, bad_token=UNAUTHORISED, auditor=FORBIDDEN)
STEWARDS = profile(FORBIDDEN, none=UNAUTHORISED, bad_token=UNAUTHORISED, steward=OK, admin=OK)
ADMINS = profile(FORBIDDEN, none=UNAUTHORISED, bad_token=UNAUTHORISED, admin=OK)
#: A referral's reads: its two sides, and stewards and admins, who read every referral; a caller of another
#: organisation, or of none (an auditor): 404, as if it did not exist.
REFERRAL_READ = profile(OK, none=UNAUTHORISED, bad_token=UNAUTHORISED, auditor=HIDDEN, other_hub=HIDDEN,
                        other_coordinator=HIDDEN)
#: A manual status report: an admin, or a coordinator of the referral's requester or performer (here the food
#: bank's); a hub (a system) and a steward are refused; a caller who may not see the referral: 404.
MANUAL_REPORT = {**REFERRAL_READ, "hub": FORBIDDEN, "steward": FORBIDDEN}
#: A step of a referral: its side, or an admin (either side); a steward reads but takes no step. The step asked
#: for here is the performer's (acknowledged), which the requester's hub may not take.
PERFORMER_STEP = {**REFERRAL_READ, "hub": FORBIDDEN, "steward": FORBIDDEN}
#: The requester's own steps (correction, reopen) that the performer's side may not take.
REQUESTER_STEP = {**REFERRAL_READ, "coordinator": FORBIDDEN, "steward": FORBIDDEN}
#: Sending a referral as St Mary's: its own hub, or an admin (who may send for any organisation).
SEND_REFERRAL = profile(FORBIDDEN, none=UNAUTHORISED, bad_token=UNAUTHORISED, hub=OK, admin=OK)
#: An alert of the food bank's clock: its own callers and those who read every alert (stewards and admins).
ALERT = profile(OK, none=UNAUTHORISED, bad_token=UNAUTHORISED, hub=HIDDEN, auditor=HIDDEN, other_hub=HIDDEN,
                other_coordinator=HIDDEN)

#: Exception governance's figures: those who work the queues (stewards, admins) and oversee them (auditors).
GOVERNANCE = profile(FORBIDDEN, none=UNAUTHORISED, bad_token=UNAUTHORISED, steward=OK, admin=OK, auditor=OK)
#: A partner system's status update in its own labels: a hub of the partner's organisation (St Mary's) only.
PARTNER_HUB = profile(FORBIDDEN, none=UNAUTHORISED, bad_token=UNAUTHORISED, hub=OK)

#: A person: stewards and admins (all), a hub or coordinator given it (here through St Mary's referral to the food
#: bank); another organisation's callers: 404 as if it did not exist; an auditor reads no person.
PERSON_READ = profile(OK, none=UNAUTHORISED, bad_token=UNAUTHORISED, auditor=FORBIDDEN, other_hub=HIDDEN,
                      other_coordinator=HIDDEN)
#: A record: a hub of the organisation that sent it (St Mary's, on its referral), stewards and admins; another
#: organisation's hub: 404 as if it did not exist; coordinators and auditors submit and read no records.
RECORD_READ = {**IDENTITY, "other-hub": HIDDEN}
#: The access log: auditors and admins.
AUDITORS = profile(FORBIDDEN, none=UNAUTHORISED, bad_token=UNAUTHORISED, admin=OK, auditor=OK)
#: FHIR Patient $match: as /v1/match, any hub (its answer is what minimum necessary lets it see).
MATCHERS = profile(OK, none=UNAUTHORISED, bad_token=UNAUTHORISED, coordinator=FORBIDDEN, auditor=FORBIDDEN,
                   other_coordinator=FORBIDDEN)

# Review UI profiles: a session; hubs cannot sign in at all, and an auditor opens only the access log.
UI_PUBLIC = profile(OK)
UI_STEWARDS = profile(SIGN_IN, coordinator=FORBIDDEN, other_coordinator=FORBIDDEN, steward=OK, admin=OK,
                      auditor=FORBIDDEN)
UI_REVIEW_ROLES = profile(SIGN_IN, coordinator=OK, other_coordinator=OK, steward=OK, admin=OK, auditor=FORBIDDEN)
UI_REFERRAL = profile(SIGN_IN, coordinator=OK, other_coordinator=HIDDEN, steward=OK, admin=OK, auditor=FORBIDDEN)
UI_AUDITORS = profile(SIGN_IN, coordinator=FORBIDDEN, other_coordinator=FORBIDDEN, steward=FORBIDDEN, admin=OK,
                      auditor=OK)
#: The performer's step (acknowledged) in the UI: the food bank's coordinator, or an admin; a steward takes none.
UI_PERFORMER_STEP = {**UI_REFERRAL, "steward": FORBIDDEN}
#: The requester's steps in the UI: only an admin here (the world's UI users are of the food bank, the performer).
UI_REQUESTER_STEP = {**UI_REFERRAL, "steward": FORBIDDEN, "coordinator": FORBIDDEN}
#: Alerts in the UI: the coordinators' page (a steward's pages are the queue's).
UI_ALERTS = profile(SIGN_IN, coordinator=OK, other_coordinator=OK, steward=FORBIDDEN, admin=OK, auditor=FORBIDDEN)
#: Exchange operations in the UI (the outbound exception queue, pausing and back-posting partners): admins only.
UI_ADMINS = profile(SIGN_IN, coordinator=FORBIDDEN, other_coordinator=FORBIDDEN, steward=FORBIDDEN, admin=OK,
                    auditor=FORBIDDEN)
UI_SIGN_IN_POST = profile(OK, none=UNAUTHORISED, bad_token=UNAUTHORISED, hub=FORBIDDEN, other_hub=FORBIDDEN)

#: (rule, method) -> expected outcome by caller.
TABLE: dict[tuple[str, str], dict[str, str]] = {
    ("/v1/openapi.json", "GET"): PUBLIC,
    ("/v1/health", "GET"): PUBLIC,
    ("/metrics", "GET"): PUBLIC,
    ("/v1/records", "POST"): IDENTITY,
    ("/v1/match", "POST"): IDENTITY,
    ("/v1/records/<string:source_system>/<record_id:source_record_id>", "GET"): RECORD_READ,
    ("/v1/persons/<person_id:person_id>", "GET"): PERSON_READ,
    ("/v1/persons", "GET"): STEWARDS,
    ("/fhir/Patient/$match", "POST"): MATCHERS,
    ("/v1/audit", "GET"): AUDITORS,
    ("/review/access", "GET"): UI_AUDITORS,
    ("/v1/admin/keys", "GET"): ADMINS,
    ("/v1/admin/keys", "POST"): ADMINS,
    ("/v1/admin/keys/<string:key_id>", "GET"): ADMINS,
    ("/v1/admin/keys/<string:key_id>", "DELETE"): ADMINS,
    ("/v1/admin/keys/<string:key_id>/revoke", "POST"): ADMINS,
    ("/v1/admin/users", "GET"): ADMINS,
    ("/v1/admin/users", "POST"): ADMINS,
    ("/v1/admin/models", "GET"): ADMINS,
    ("/v1/admin/models/<string:version>/activate", "POST"): ADMINS,
    ("/v1/admin/models/train-from-decisions", "POST"): ADMINS,
    ("/v1/admin/export", "GET"): STEWARDS,
    ("/v1/admin/backup", "POST"): ADMINS,
    ("/v1/dedup-runs", "GET"): STEWARDS,
    ("/v1/dedup-runs", "POST"): ADMINS,
    ("/v1/dedup-runs/<string:run_id>", "GET"): STEWARDS,
    ("/v1/partners", "GET"): ADMINS,
    ("/v1/partners", "POST"): ADMINS,
    ("/v1/partners/<string:partner_id>", "GET"): ADMINS,
    ("/v1/partners/<string:partner_id>/crosswalk", "POST"): ADMINS,
    ("/v1/partners/<string:partner_id>/pause", "POST"): ADMINS,
    ("/v1/partners/<string:partner_id>/resume", "POST"): ADMINS,
    ("/v1/partners/<string:partner_id>/back-post", "POST"): ADMINS,
    ("/v1/outbound-exceptions", "GET"): ADMINS,
    ("/v1/outbound-exceptions/<string:pattern_id>", "GET"): ADMINS,
    ("/v1/outbound-exceptions/<string:pattern_id>/back-post", "POST"): ADMINS,
    ("/v1/referrals/<string:referral_id>/manual-reports", "GET"): REFERRAL_READ,
    ("/v1/referrals/<string:referral_id>/manual-reports", "POST"): MANUAL_REPORT,
    ("/v1/partners/<string:partner_id>/status-updates", "POST"): PARTNER_HUB,
    # A partner's system reports its own view: an admin, or a hub of the partner's organisation (St Mary's).
    ("/v1/partners/<string:partner_id>/status-snapshot", "POST"): profile(
        FORBIDDEN, none=UNAUTHORISED, bad_token=UNAUTHORISED, admin=OK, hub=OK),
    # Reconciliation's runs and work queue are staff work, as the inbound queue's.
    ("/v1/partners/<string:partner_id>/reconciliation", "GET"): STEWARDS,
    ("/v1/reconciliation/items", "GET"): STEWARDS,
    ("/v1/reconciliation/items/<string:item_id>", "GET"): STEWARDS,
    ("/v1/reconciliation/items/<string:item_id>/close", "POST"): STEWARDS,
    ("/v1/reconciliation/items/<string:item_id>/reissue", "POST"): STEWARDS,
    ("/v1/review-cases", "GET"): STEWARDS,
    ("/v1/review-cases/<string:case_id>", "GET"): STEWARDS,
    **{(f"/v1/review-cases/<string:case_id>/{action}", "POST"): STEWARDS
       for action in ("claim", "assign", "link", "new-person", "merge", "not-duplicate", "hold", "release",
                      "withdraw", "blocks", "confirm", "reject")},
    ("/v1/records/<string:source_system>/<path:source_record_id>/undo-link", "POST"): STEWARDS,
    ("/v1/persons/merge", "POST"): STEWARDS,
    ("/v1/merges/<string:merge_id>", "GET"): STEWARDS,
    ("/v1/merges/<string:merge_id>/unmerge", "POST"): STEWARDS,
    ("/v1/persons/<string:person_id>/history", "GET"): STEWARDS,
    ("/v1/organisations", "GET"): ANY_CALLER,
    ("/v1/organisations", "POST"): ADMINS,
    ("/v1/organisations/<string:code>", "GET"): ANY_CALLER,
    ("/v1/referrals", "GET"): SCOPED_LIST,
    ("/v1/referrals", "POST"): SEND_REFERRAL,
    ("/v1/referrals/<string:referral_id>", "GET"): REFERRAL_READ,
    ("/v1/referrals/<string:referral_id>/status", "POST"): PERFORMER_STEP,
    ("/v1/referrals/<string:referral_id>/correction", "POST"): REQUESTER_STEP,
    ("/v1/referrals/<string:referral_id>/reopen", "POST"): REQUESTER_STEP,
    ("/v1/alerts", "GET"): SCOPED_LIST,
    ("/v1/alerts/<string:alert_id>/ack", "POST"): ALERT,
    # The inbound exception queue holds raw bodies of every sender: staff (stewards and admins) work it.
    ("/v1/inbound-exceptions", "GET"): STEWARDS,
    ("/v1/inbound-exceptions/<string:exception_id>", "GET"): STEWARDS,
    ("/v1/inbound-exceptions/<string:exception_id>/claim", "POST"): STEWARDS,
    ("/v1/inbound-exceptions/<string:exception_id>/replay", "POST"): STEWARDS,
    ("/v1/inbound-exceptions/<string:exception_id>/return", "POST"): STEWARDS,
    ("/fhir/Task", "GET"): SCOPED_LIST,
    ("/fhir/Task/<string:referral_id>", "GET"): REFERRAL_READ,
    ("/fhir/Task/<string:referral_id>/_history", "GET"): REFERRAL_READ,
    ("/fhir/Task/<string:referral_id>/_history/<string:version_id>", "GET"): REFERRAL_READ,
    ("/fhir/ServiceRequest/<string:referral_id>", "GET"): REFERRAL_READ,
    ("/v1/metrics/referrals", "GET"): SCOPED_LIST,
    ("/v1/metrics/exchange", "GET"): GOVERNANCE,
    ("/v1/metrics/matching", "GET"): GOVERNANCE,
    ("/review/static/<path:filename>", "GET"): UI_PUBLIC,
    ("/review/sign-in", "GET"): UI_PUBLIC,
    ("/review/sign-in", "POST"): UI_SIGN_IN_POST,
    ("/review/sign-out", "POST"): {**UI_REVIEW_ROLES, "auditor": OK},
    ("/review/", "GET"): UI_STEWARDS,
    ("/review/next", "GET"): UI_STEWARDS,
    ("/review/cases/<case_id>", "GET"): UI_STEWARDS,
    ("/review/persons/<person_id>", "GET"): UI_STEWARDS,
    ("/review/audit", "GET"): UI_STEWARDS,
    ("/review/search", "GET"): UI_STEWARDS,
    ("/review/search/compare", "GET"): UI_STEWARDS,
    ("/review/metrics", "GET"): UI_REVIEW_ROLES,
    ("/review/metrics/matching", "GET"): UI_STEWARDS,
    ("/review/reconciliation", "GET"): UI_STEWARDS,
    ("/review/reconciliation/items/<item_id>/<action>", "POST"): UI_STEWARDS,
    ("/review/cases/<case_id>/<action>", "POST"): UI_STEWARDS,
    ("/review/persons/<person_id>/merge", "POST"): UI_STEWARDS,
    ("/review/merges/<merge_id>/unmerge", "POST"): UI_STEWARDS,
    ("/review/compare", "GET"): UI_STEWARDS,
    ("/review/persons/<person_id>/merge-preview", "GET"): UI_STEWARDS,
    ("/review/persons/<person_id>/records/<source_system>/<source_record_id>/undo-link", "POST"): UI_STEWARDS,
    ("/review/referrals", "GET"): UI_REVIEW_ROLES,
    ("/review/referrals/<referral_id>", "GET"): UI_REFERRAL,
    ("/review/alerts", "GET"): UI_ALERTS,
    ("/review/inbound", "GET"): UI_STEWARDS,
    ("/review/inbound/<exception_id>", "GET"): UI_STEWARDS,
    ("/review/inbound/<exception_id>/<action>", "POST"): UI_STEWARDS,
    ("/review/referrals/<referral_id>/status", "POST"): UI_PERFORMER_STEP,
    ("/review/referrals/<referral_id>/correction", "POST"): UI_REQUESTER_STEP,
    ("/review/referrals/<referral_id>/reopen", "POST"): UI_REQUESTER_STEP,
    ("/review/alerts/<alert_id>/ack", "POST"): {**UI_ALERTS, "other-coordinator": HIDDEN},
    ("/review/outbound", "GET"): UI_ADMINS,
    ("/review/outbound/<pattern_id>/back-post", "POST"): UI_ADMINS,
    ("/review/partners/<partner_id>/pause", "POST"): UI_ADMINS,
    ("/review/partners/<partner_id>/resume", "POST"): UI_ADMINS,
    ("/review/partners/<partner_id>/back-post", "POST"): UI_ADMINS,
    ("/review/referrals/<referral_id>/manual-reports", "POST"): UI_PERFORMER_STEP,
    ("/review/dedup-runs", "GET"): UI_STEWARDS,
    ("/review/dedup-runs/<run_id>", "GET"): UI_STEWARDS,
    ("/review/dedup-runs/<run_id>/cases.csv", "GET"): UI_STEWARDS,
}


def _routes(app) -> set[tuple[str, str]]:
    return {(rule.rule, method) for rule in app.url_map.iter_rules()
            for method in rule.methods - {"HEAD", "OPTIONS"}}


@pytest.fixture(scope="module")
def world_app(tmp_path_factory):
    services = services_on(tmp_path_factory.mktemp("matrix"))
    world = build_world(services)
    world.key_id = create_key(services.store, "st-marys", "hub", "test")[0]["key_id"]
    world.patterns = [_outbound_pattern(services)]
    app = create_app(services=services)
    app.config["TESTING"] = True
    yield app, world
    services.close()


def _outbound_pattern(services) -> str:
    """An outbound pattern: a HomeBase referral's first message refused (400) by HomeBase's loopback feed."""
    feed = Partner()
    feed.answer = lambda r: 400
    try:
        services.partners.add({"partner_id": "matrix-outbound", "organisation": "homebase", "name": "feed",
                               "endpoint": feed.url, "format": "webhook", "subscriptions": ["requester"]}, "test")
        services.referrals.submit(referral_body("theodore", "HB-OUT", requester="homebase", person=record(
            "theodore", "homebase-hmis", "HB-OUT")), Caller("matrix-admin", "admin"))
        services.delivery.run_once()
    finally:
        feed.close()
    return services.outbound.page()["patterns"][0]["pattern_id"]


def _fill(rule: str, world) -> str:
    """The rule's path with real ids (the first of each) in place of its parameters; a referral step names a
    referral in a state that step is open from (one for the API, one for the review UI)."""
    # A record and a person the world's hub (St Mary's) was given, by its referrals: theodore's.
    given = rule in ("/v1/records/<string:source_system>/<record_id:source_record_id>",
                     "/v1/persons/<person_id:person_id>")
    source_system, source_record_id = world.records[1 if given else 0]
    step = rule.rsplit("/", 1)[-1]
    referral = world.referrals[0]
    if step in ("status", "correction", "reopen"):
        referral = world.steps["ui" if rule.startswith("/review/") else "api"][step]
    values = {"source_system": source_system, "source_record_id": source_record_id, "person_id": world.persons[1 if given else 0],
              "case_id": world.cases[0], "merge_id": world.merge_id, "referral_id": referral,
              "code": world.organisations[0], "version_id": "1", "alert_id": world.alerts[0], "exception_id": world.inbound[0],
              "action": "claim", "filename": "review.css", "key_id": world.key_id, "partner_id": world.partners[0],
              "pattern_id": world.patterns[0], "item_id": world.reconciliation_items[0],
              "version": DEFAULT_MODEL_VERSION, "run_id": world.dedup_runs[0]}
    if rule.startswith("/review/reconciliation/"):
        values["action"] = "close"  # its actions are close and reissue
    path = rule
    for name, value in values.items():
        for converter in ("string:", "path:", "person_id:", "record_id:", ""):
            path = path.replace(f"<{converter}{name}>", value)
    assert "<" not in path, f"no value for a parameter of {rule}"
    return path


def _body(rule: str, world) -> dict:
    """A body each route reads (well formed: what is checked is who may, not what is sent)."""
    reason = {"reason": "checking who may", "version": 0}
    bodies = {
        "/v1/records": record("marisol", "st-marys-ehr", "MRN-0"),
        "/fhir/Patient/$match": {"resourceType": "Parameters", "parameter": [{"name": "resource", "resource": {
            "resourceType": "Patient", "name": [{"family": "Quintanilla", "given": ["Marisol"]}],
            "birthDate": "1984-03-17", "gender": "female"}}]},
        "/v1/admin/keys": {"organisation": world.organisations[0], "role": "hub"},
        "/v1/admin/users": {"name": "matrix-user", "role": "steward"},
        "/activate": {},
        "/train-from-decisions": {},
        "/revoke": {},
        "/v1/admin/backup": {},
        "/v1/dedup-runs": {},
        "/v1/partners": {**WORLD_PARTNER, "partner_id": "matrix-partner"},
        "/crosswalk": {"rows": [{"state": "accepted", "label": "Scheduled"}]},
        "/v1/match": record("marisol", "st-marys-ehr", "MRN-0"),
        "/assign": {**reason, "owner": "w-steward"},
        "/link": {**reason, "person_id": world.persons[0]},
        "/review-cases/<string:case_id>/merge": {**reason, "survivor_id": world.persons[0],
                                                 "loser_id": world.persons[1]},
        "/hold": {**reason, "follow_up": (date.today() + timedelta(days=7)).isoformat()},
        "/blocks": {**reason, "blocks": []},
        "/undo-link": {"reason": "checking who may"},
        "/v1/persons/merge": {"survivor_id": world.persons[0], "loser_id": world.persons[0], "reason": "checking"},
        "/unmerge": {"reason": "checking who may"},
        "/v1/organisations": dict(ORGANISATIONS[3]),
        "/v1/referrals": referral_body("theodore", "SM-0", person=record("theodore", "st-marys-ehr", "MRN-1")),
        "/status": {"state": "acknowledged"},
        "/reopen": {"reason": "checking who may"},
        "/correction": {"note": "the address"},
        "/replay": {"body": {"state": "acknowledged"}},
        "/return": {"reason": "checking who may"},
        "/manual-reports": {"partner_id": world.partners[0], "told_by": "Matrix", "method": "phone",
                            "state": "submitted", "reported_at": "2026-01-01T00:00:00+00:00", "note": "checking"},
        "/pause": {"reason": "checking who may"},
        "/resume": {},
        "/back-post": {"note": "checking who may"},
        # St Mary's own label for a step of its own (cancelled), on a referral no other row steps.
        "/status-updates": {"referral_id": world.referrals[1], "label": "Withdrawn", "reason": "duplicate"},
        "/status-snapshot": {"rows": [{"referral_id": "RF99999999", "label": "Scheduled"}]},
        "/close": {"cause": "identifier_mismatch"},
    }
    for suffix, body in bodies.items():
        if rule.endswith(suffix):
            return body
    return reason


def _outcome(response) -> str:
    assert response.status_code < 500, f"{response.status_code}: {response.get_data(as_text=True)[:300]}"
    # The review UI sends a caller it does not know to sign in with a 302; a page's own redirects (after
    # signing in or out, after a step) are 303s.
    if response.status_code == 302 and "/review/sign-in" in response.headers.get("Location", ""):
        return SIGN_IN
    if response.status_code in (401, 403, 404):
        return str(response.status_code)
    return OK


@pytest.fixture(scope="module")
def ui_clients(world_app):
    """A test client per caller, signed in to the review UI where the caller's credentials let it."""
    app, world = world_app
    return {caller: _signed_in(app, world, caller) for caller in CALLERS}


def _signed_in(app, world, caller: str):
    """A test client that has signed in as the caller (which fails for those who may not: a hub, an auditor)."""
    client = app.test_client()
    client.get("/review/sign-in")
    token = {"none": None, "bad-token": "not-a-token"}.get(caller, world.tokens.get(caller))
    if token is not None:
        name = world.names.get(caller, "nobody")
        client.post("/review/sign-in", data={"name": name, "token": token, "csrf_token": _csrf(client)})
    return client


def _csrf(client) -> str:
    with client.session_transaction() as session:
        return session.get("csrf", "")


def _call(app, world, ui_clients, rule: str, method: str, caller: str):
    path = _fill(rule, world)
    if rule.startswith("/review/"):
        client = ui_clients[caller]
        if rule == "/review/sign-in" and method == "POST":
            client = app.test_client()
            client.get("/review/sign-in")
            token = {"none": "", "bad-token": "not-a-token"}.get(caller, world.tokens.get(caller))
            return client.post(path, data={"name": world.names.get(caller, ""), "token": token,
                                           "csrf_token": _csrf(client)})
        if rule == "/review/sign-out":
            client = _signed_in(app, world, caller)
        if method == "POST":
            form = {"state": "acknowledged"} if rule.endswith("/status") else {"reason": "checking who may",
                                                                                 "version": "0"}
            return client.post(path, data={"csrf_token": _csrf(client), **form})
        return client.get(path)
    token = {"none": None, "bad-token": "not-a-token"}.get(caller, world.tokens.get(caller))
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    client = app.test_client()
    if method == "POST":
        return client.post(path, json=_body(rule, world), headers=headers)
    return client.open(path, method=method, headers=headers)


def test_every_route_is_in_the_table(world_app):
    app, _ = world_app
    routes = _routes(app)
    assert sorted(routes - set(TABLE)) == [], "classify each new route in TABLE"
    assert sorted(set(TABLE) - routes) == [], "a route in TABLE that the app no longer has"


@pytest.mark.parametrize("rule, method", sorted(TABLE), ids=[f"{m} {r}" for r, m in sorted(TABLE)])
def test_each_caller_gets_what_the_table_says(world_app, ui_clients, rule, method):
    app, world = world_app
    expected = TABLE[(rule, method)]
    # Callers the table refuses go first: an allowed caller's step changes the state (a second one meets a 409),
    # and a refusal must be seen before any state check could answer first.
    order = sorted(CALLERS, key=lambda c: expected[c] == OK)
    got = {caller: _outcome(_call(app, world, ui_clients, rule, method, caller)) for caller in order}
    wrong = {caller: f"expected {TABLE[(rule, method)][caller]}, got {outcome}" for caller, outcome in got.items()
             if outcome != TABLE[(rule, method)][caller]}
    assert not wrong, f"{method} {rule}: {wrong}"
