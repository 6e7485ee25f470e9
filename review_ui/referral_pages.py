"""The worklist's and the alerts page's contexts as small typed objects, and the time words every referral page uses.

What a coordinator sees is decided here (and in ``referral_detail.py``, the
referral page's context), apart from Flask, so it is tested without a browser:
a gated referral's person reads "Identity under review" and never a candidate;
times are shown in one zone per page, with its abbreviation, so an event time
typed in that zone means what it says.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from mpi.referral_vocab import ReferralState, Urgency
from mpi.referrals.lifecycle import OPEN_STATES, returned
from review_ui.pages import hours_text
from review_ui.referral_words import CLOCK_WORDS, state_word

S = ReferralState
URGENCIES = tuple(u.value for u in Urgency)
STATES = tuple(s.value for s in ReferralState)
_OPEN = [s.value for s in OPEN_STATES]
#: What the worklist shows: coordinators start on what waits on them; stewards and admins on every open referral.
SCOPES = {"waiting": "waiting on us", "open": "open", "all": "all, closed too"}


def local_time(value: datetime | None, zone: str, seconds: bool = False) -> str:
    """A stored (UTC) time in the page's zone, with the zone's abbreviation: ``2026-11-23 10:00 EST``."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")


def due_text(due: datetime | None, now: datetime, overdue: bool) -> str:
    """``in 5 h``, ``due now`` or ``overdue by 3 h``."""
    if due is None:
        return ""
    hours = (due - now).total_seconds() / 3600
    if abs(hours) < 1 / 60:
        return "due now"
    return f"overdue by {hours_text(hours)}" if overdue else f"in {hours_text(hours)}"


def actor_text(actor: str | None) -> str:
    """Who did it: a user's name, or which part of the system (``system:sweep`` reads ``sweep (system)``)."""
    actor = actor or ""
    if actor.startswith("system:"):
        return f"{actor.removeprefix('system:').replace('-', ' ')} (system)"
    return actor.removeprefix("user:")


# ---------------------------------------------------------------------------------------------- worklist

@dataclass(frozen=True)
class WorklistFilters:
    scope: str = "waiting"
    state: str = ""
    urgency: str = ""
    gated: bool = False
    overdue: bool = False

    @classmethod
    def from_args(cls, args: Mapping[str, str], coordinator: bool) -> WorklistFilters:
        def pick(name: str, allowed: Iterable[str]) -> str:
            value = (args.get(name) or "").strip()
            return value if value in allowed else ""
        scopes = SCOPES if coordinator else {k: v for k, v in SCOPES.items() if k != "waiting"}
        return cls(scope=pick("scope", scopes) or ("waiting" if coordinator else "open"),
                   state=pick("state", STATES), urgency=pick("urgency", URGENCIES),
                   gated=args.get("gated") in ("1", "on", "true"), overdue=args.get("overdue") in ("1", "on", "true"))

    def as_kwargs(self, organisation: str | None) -> dict[str, Any]:
        """The filters as ``services.referrals.page`` takes them (the caller's scope is the service's to apply)."""
        kwargs: dict[str, Any] = {"order": "due"}
        if self.scope == "waiting" and organisation:
            kwargs["waiting_on"] = organisation
        if self.state:
            kwargs["state"] = self.state
        elif self.scope != "all":
            kwargs["state"] = _OPEN
        if self.urgency:
            kwargs["urgency"] = self.urgency
        if self.gated:
            kwargs["gated"] = True
        if self.overdue:
            kwargs["overdue"] = True
        return kwargs

    def default_for(self, coordinator: bool) -> bool:
        return self == WorklistFilters(scope="waiting" if coordinator else "open")


@dataclass(frozen=True)
class WorklistRow:
    referral_id: str
    reference: str
    person: str
    identity_pending: bool
    service_type: str
    urgency: str
    state: str
    state_word: str
    clock: str
    due_at: datetime | None
    due: str
    overdue: bool
    requester: str
    performer: str
    #: The person the row names (None while gated): the access log's record of whom the page showed.
    person_id: str | None = None


@dataclass(frozen=True)
class WorklistPage:
    filters: WorklistFilters
    rows: tuple[WorklistRow, ...]
    total: int
    counts: Mapping[str, int]
    offset: int
    limit: int
    zone: str
    coordinator: bool
    organisation: str | None

    @property
    def more(self) -> bool:
        return self.offset + len(self.rows) < self.total

    @property
    def scopes(self) -> dict[str, str]:
        return SCOPES if self.coordinator else {k: v for k, v in SCOPES.items() if k != "waiting"}


def person_text(referral: Mapping[str, Any], name_of: Callable[[str], str | None]) -> tuple[str, bool]:
    """The person as the worklist names them: ("Identity under review", True) while gated, never a candidate."""
    if referral.get("gate"):
        return "Identity under review", True
    if referral.get("person_id"):
        return name_of(referral["person_id"]) or referral["person_id"], False
    return "—", False


def worklist_row(referral: Mapping[str, Any], now: datetime, name_of: Callable[[str], str | None],
                 org_name: Callable[[str], str]) -> WorklistRow:
    person, pending = person_text(referral, name_of)
    overdue = bool(referral.get("overdue"))
    due = due_text(referral.get("next_due_at"), now, overdue)
    if not due:
        if referral["state"] not in _OPEN:
            due = "closed"
        elif returned(referral["state"], referral.get("state_reason")):
            due = "paused: with the requester"
        elif pending:
            due = "paused: identity under review"
        else:
            due = "—"
    return WorklistRow(
        referral_id=referral["referral_id"], reference=referral["reference"], person=person,
        identity_pending=pending, service_type=referral["service_type"], urgency=referral["urgency"],
        state=referral["state"], state_word=state_word(referral["state"], referral.get("state_reason")),
        clock=CLOCK_WORDS.get(referral.get("next_clock") or "", ""), due_at=referral.get("next_due_at"), due=due,
        overdue=overdue, requester=org_name(referral["requester"]), performer=org_name(referral["performer"]),
        person_id=None if pending else referral.get("person_id"))


def worklist_page(result: Mapping[str, Any], counts: Mapping[str, int], filters: WorklistFilters, now: datetime, *,
                  name_of: Callable[[str], str | None], org_name: Callable[[str], str], zone: str,
                  coordinator: bool, organisation: str | None) -> WorklistPage:
    rows = tuple(worklist_row(r, now, name_of, org_name) for r in result["referrals"])
    return WorklistPage(filters=filters, rows=rows, total=result["total"], counts=counts, offset=result["offset"],
                        limit=result["limit"], zone=zone, coordinator=coordinator, organisation=organisation)


# ------------------------------------------------------------------------------------------------ alerts

@dataclass(frozen=True)
class AlertRow:
    alert_id: str
    referral_id: str
    reference: str
    kind: str
    clock: str
    due_at: datetime | None
    due: str
    raised_at: datetime | None
    recipients: tuple[str, ...]
    organisation: str
    acknowledged_at: datetime | None
    acknowledged_by: str | None


@dataclass(frozen=True)
class AlertsPage:
    waiting: tuple[AlertRow, ...]
    waiting_total: int
    acknowledged: tuple[AlertRow, ...]
    offset: int
    limit: int
    referral_id: str | None
    zone: str
    error: str | None = None

    @property
    def more(self) -> bool:
        return self.offset + len(self.waiting) < self.waiting_total

    @property
    def referral_reference(self) -> str | None:
        """The reference of the referral the page is filtered to, read off its alerts (so only one the caller sees)."""
        shown = self.waiting + self.acknowledged
        return shown[0].reference if shown else self.referral_id


def alert_row(alert: Mapping[str, Any], now: datetime, reference_of: Callable[[str], str] = str,
              org_name: Callable[[str], str] = str) -> AlertRow:
    due = alert.get("due_at")
    overdue = due is not None and due < now
    return AlertRow(alert_id=alert["alert_id"], referral_id=alert["referral_id"],
                    reference=reference_of(alert["referral_id"]), kind=alert["kind"],
                    clock=CLOCK_WORDS.get(alert["clock"], alert["clock"]), due_at=due,
                    due=due_text(due, now, overdue) if due else "", raised_at=alert.get("raised_at"),
                    recipients=tuple(alert.get("recipients") or ()), organisation=org_name(alert["organisation"]),
                    acknowledged_at=alert.get("acknowledged_at"),
                    acknowledged_by=(alert.get("acknowledged_by") or "").removeprefix("user:") or None)


def alerts_page(waiting: Mapping[str, Any], acknowledged: Mapping[str, Any], now: datetime, *,
                reference_of: Callable[[str], str], org_name: Callable[[str], str], referral_id: str | None,
                zone: str, **extra: Any) -> AlertsPage:
    def rows(result: Mapping[str, Any]) -> tuple[AlertRow, ...]:
        return tuple(alert_row(a, now, reference_of, org_name) for a in result["alerts"])
    return AlertsPage(waiting=rows(waiting), waiting_total=waiting["total"], acknowledged=rows(acknowledged),
                      offset=waiting["offset"], limit=waiting["limit"], referral_id=referral_id, zone=zone, **extra)
