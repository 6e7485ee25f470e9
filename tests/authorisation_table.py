"""The authorisation matrix's table: for every route and method of the app, what each kind of caller gets.

``tests/test_authorisation_matrix.py`` calls every route as every caller and compares the outcome with this
table (its docstring says what the callers and outcomes are). To add a route: add a row with one of the
profiles below, or a dict of its own.
"""

from __future__ import annotations

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
