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

The table is :mod:`authorisation_table`; to add a route, add its row there.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from api_world import WORLD_PARTNER, build_world, services_on
from authorisation_table import CALLERS, OK, SIGN_IN, TABLE
from conftest import record
from exchange_world import Partner
from referral_network import ORGANISATIONS, referral_body

from api import create_app
from mpi.auth import Caller, create_key
from mpi.services import DEFAULT_MODEL_VERSION


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
