"""The referral pages (GET): the worklist, one referral, and alerts, for coordinators (and stewards and admins).

A coordinator works its organisation's referrals here with the same services
the API's ``/v1/referrals`` and ``/v1/alerts`` call, as the same caller (name,
role, organisation), so the core decides what it sees and may do: another
organisation's referral is not found, and the steps offered are the core's
``your_steps``. A person is named from the golden view only once identity is
settled; while a referral is gated it reads "Identity under review". Stewards
read referrals (to look up what a case blocks) but take no step; only they and
admins get the link to the review case. Times are shown in the viewer's
organisation's zone (the performer's for stewards and admins on a referral, UTC
on lists), and logs carry ids only.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app, g, render_template, request

from mpi.errors import Forbidden, MpiError, NotFound
from mpi.exchange.outbound_vocab import ManualMethod
from mpi.referrals.access import side_of
from mpi.vocab import Role
from review_ui import referral_detail
from review_ui import referral_pages as rp
from review_ui.blueprint import bp
from review_ui.referral_words import PARTY_CHOICES, display_name, state_word
from review_ui.signin import caller, open_to

logger = logging.getLogger(__name__)

WORKLIST_PAGE = 50
ALERT_PAGE = 50
#: Acknowledged alerts shown below the waiting ones.
RECENT_ACKNOWLEDGED = 20
#: Who reads referrals here: coordinators work them, stewards look up what a case blocks, admins see everything.
READERS = (Role.COORDINATOR, Role.STEWARD, Role.ADMIN)
#: Alerts are an organisation's to-do list: its coordinators', and admins'.
ALERT_READERS = (Role.COORDINATOR, Role.ADMIN)

bp.add_app_template_filter(rp.local_time, "local")


def services():
    return current_app.extensions["mpi"]


def zone_of(performer: str | None = None) -> str:
    """The zone a page shows times in (and reads typed times in): the viewer's organisation's, else the performer's."""
    org = g.steward.get("organisation") or performer
    if org:
        try:
            return services().directory.calendar(org).timezone
        except MpiError:
            pass
    return "UTC"


class Names:
    """Persons' and organisations' names for one page, each looked up once."""

    def __init__(self, svc, who):
        self.svc = svc
        self.who = who
        self._people: dict[str, str | None] = {}
        self._orgs: dict[str, str] = {}
        self._refs: dict[str, str] = {}

    def person(self, person_id: str) -> str | None:
        """A settled person's first and last name from the golden view (never asked while a referral is gated),
        as far as the viewer may see the person (minimum necessary: ``services.trust``)."""
        if person_id not in self._people:
            try:
                golden = self.svc.trust.person(person_id, self.who).get("golden") or {}
            except NotFound:
                golden = {}
            self._people[person_id] = display_name(golden.get("first_name"), golden.get("last_name")) or None
        return self._people[person_id]

    def reference(self, referral_id: str) -> str:
        """A referral's reference, for an alert the caller may see (so the referral is the caller's too)."""
        if referral_id not in self._refs:
            row = self.svc.store.referrals.get(referral_id)
            self._refs[referral_id] = row["reference"] if row else referral_id
        return self._refs[referral_id]

    def org(self, code: str) -> str:
        if code not in self._orgs:
            try:
                self._orgs[code] = self.svc.directory.get(code)["name"]
            except NotFound:
                self._orgs[code] = code
        return self._orgs[code]


@bp.get("/referrals")
@open_to(*READERS)
def worklist():
    """Referrals waiting on the coordinator's organisation (every open one for stewards), due first; filters, pages."""
    svc, who = services(), caller()
    coordinator = who.role == Role.COORDINATOR
    filters = rp.WorklistFilters.from_args(request.args, coordinator)
    offset = max(request.args.get("offset", 0, type=int), 0)
    result = svc.referrals.page(who, **filters.as_kwargs(who.organisation), limit=WORKLIST_PAGE, offset=offset)
    scope = rp.WorklistFilters(scope=filters.scope).as_kwargs(who.organisation)
    counts = {"all": svc.referrals.page(who, **scope, limit=1)["total"],
              "overdue": svc.referrals.page(who, **scope, overdue=True, limit=1)["total"],
              "gated": svc.referrals.page(who, **scope, gated=True, limit=1)["total"]}
    names = Names(svc, who)
    page = rp.worklist_page(result, counts, filters, svc.clock.now(), name_of=names.person, org_name=names.org,
                            zone=zone_of(), coordinator=coordinator, organisation=who.organisation)
    org_name = names.org(who.organisation) if who.organisation else None
    return render_template("worklist.html", page=page, org_name=org_name, states=rp.STATES, urgencies=rp.URGENCIES,
                           state_word=state_word)


def render_referral(referral_id: str, status: int = 200, **extra: Any):
    """The referral page (also after a refused step, with the error and the core's status)."""
    svc, who = services(), caller()
    referral = svc.referrals.get(referral_id, who)
    try:
        side = side_of(referral, who)
    except Forbidden:
        side = None
    person = None
    if referral["person_id"] and not referral["gate"]:
        try:
            person = svc.trust.person(referral["person_id"], who)
        except NotFound:
            person = None
    names = Names(svc, who)
    redirect_to = []
    if "redirected" in referral["your_steps"]:
        redirect_to = [(o["code"], o["name"]) for o in svc.directory.all()
                       if referral["service_type"] in o["service_types"] and o["code"] != referral["performer"]]
    now = svc.clock.now()
    alerts = [rp.alert_row(a, now, names.reference, names.org)
              for a in svc.alerts.page(who, referral_id=referral_id, limit=20)["alerts"]]
    page = referral_detail.referral_page(referral, now, side=side, person=person, org_name=names.org,
                                         redirect_to=redirect_to, alerts=alerts, zone=zone_of(referral["performer"]),
                                         can_see_cases=who.role in (Role.STEWARD, Role.ADMIN), **extra)
    logger.debug("referral %s shown to %s", referral_id, who.name)
    may_report = who.role == Role.ADMIN or (who.role == Role.COORDINATOR and who.organisation in (
        referral["requester"], referral["performer"]))
    return render_template("referral.html", page=page, state_word=state_word,
                           gate_holds=referral_detail.GATE_HOLDS, party_choices=PARTY_CHOICES,
                           partner_views=svc.outbound.partner_views(referral, who), may_report=may_report,
                           report_methods=[m.value for m in ManualMethod], report_states=rp.STATES), status


@bp.get("/referrals/<referral_id>")
@open_to(*READERS)
def referral(referral_id: str):
    """One referral: its person, request, clocks, gate, lineage, timeline and the steps the caller may take."""
    return render_referral(referral_id)


def render_alerts(status: int = 200, referral_id: str | None = None, **extra: Any):
    svc, who = services(), caller()
    referral_id = referral_id or (request.args.get("referral_id") or "").strip() or None
    offset = max(request.args.get("offset", 0, type=int), 0)
    waiting = svc.alerts.page(who, acknowledged=False, referral_id=referral_id, limit=ALERT_PAGE, offset=offset)
    done = svc.alerts.page(who, acknowledged=True, referral_id=referral_id, limit=RECENT_ACKNOWLEDGED)
    names = Names(svc, who)
    page = rp.alerts_page(waiting, done, svc.clock.now(), reference_of=names.reference, org_name=names.org,
                          referral_id=referral_id, zone=zone_of(), **extra)
    return render_template("alerts.html", page=page), status


@bp.get("/alerts")
@open_to(*ALERT_READERS)
def alerts():
    """Reminders and escalations of the organisation's time targets, waiting ones first, each to acknowledge."""
    return render_alerts()
