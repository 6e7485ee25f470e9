"""The referral page's context: one referral as a coordinator (or a steward) reads and works it.

What it shows is decided here, apart from Flask: the person from the golden
view once identity is settled, and "Identity under review" (never a candidate)
while the referral is gated; the gate, with the review case for stewards; the
clocks; redirects; every change with both its times; and the steps. The steps
offered are the core's ``your_steps``; a step the gate refuses is shown apart,
disabled, with why; each step's reasons are the lifecycle's codes for it, as
choices; times are read and shown in the page's zone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from mpi.referral_vocab import ReferralState
from mpi.referrals.lifecycle import OPEN_STATES, REOPEN, STEPS, Side, may, next_states, returned
from review_ui.pages import hours_text
from review_ui.referral_pages import AlertRow, actor_text, due_text
from review_ui.referral_words import (CLOCK_WORDS, DANGER_STEPS, STEP_WORDS, display_name, display_phone,
                                      event_word, party_word, reason_word, state_word)

S = ReferralState
_OPEN = [s.value for s in OPEN_STATES]
#: The sentence beside the steps the identity gate holds back.
GATE_HOLDS = "Start and complete wait until identity is confirmed."


@dataclass(frozen=True)
class PersonCard:
    person_id: str
    name: str
    birth_date: str
    phone: str
    email: str


@dataclass(frozen=True)
class GateView:
    pending: bool
    case_id: str | None
    since: datetime | None
    hours: str
    lifted_at: datetime | None


@dataclass(frozen=True)
class ClockRow:
    clock: str
    name: str
    target_hours: float | None
    due_at: datetime | None
    met_at: datetime | None
    taken_hours: float | None
    status: str
    overdue: bool
    late: bool


@dataclass(frozen=True)
class TimelineRow:
    seq: int
    kind: str
    what: str
    event_time: datetime
    recorded_time: datetime
    actor: str
    party: str
    reason: str
    note: str | None
    detail: str


@dataclass(frozen=True)
class LineageItem:
    referral_id: str
    reference: str
    performer: str
    state_word: str
    current: bool


@dataclass(frozen=True)
class StepForm:
    state: str
    button: str
    hint: str
    reasons: tuple[tuple[str, str], ...]
    reason_required: bool
    note_required: bool
    asks_party: bool
    performers: tuple[tuple[str, str], ...]
    danger: bool

    @property
    def forward(self) -> bool:
        """A step on towards the service (it takes no reason): the page opens the first of these by itself."""
        return not self.reasons and not self.note_required


@dataclass(frozen=True)
class ReferralPage:
    referral: Mapping[str, Any]
    state_word: str
    requester: str
    performer: str
    side: str | None
    person: PersonCard | None
    gate: GateView | None
    facts: tuple[tuple[str, str], ...]
    clocks: tuple[ClockRow, ...]
    lineage: tuple[LineageItem, ...]
    timeline: tuple[TimelineRow, ...]
    steps: tuple[StepForm, ...]
    gated_steps: tuple[str, ...]
    correction: bool
    reopen_to: str | None
    alerts: tuple[AlertRow, ...]
    zone: str
    latest_event_time: str
    can_see_cases: bool
    error: str | None = None
    field_errors: Mapping[str, list[str]] = field(default_factory=dict)
    form: Mapping[str, str] = field(default_factory=dict)

    @property
    def acts(self) -> bool:
        """Whether the caller takes any step here (a steward reads referrals but takes none)."""
        return self.side is not None


def person_card(person: Mapping[str, Any] | None) -> PersonCard | None:
    """The person as a coordinator needs them: name, birth date and how to reach them (from the golden view)."""
    if not person:
        return None
    golden = person.get("golden") or {}
    return PersonCard(person_id=person["person_id"],
                      name=display_name(golden.get("first_name"), golden.get("last_name")) or person["person_id"],
                      birth_date=golden.get("birth_date") or "", phone=display_phone(golden.get("phone")),
                      email=golden.get("email") or "")


def gate_view(referral: Mapping[str, Any]) -> GateView | None:
    if not referral.get("review_case_id"):
        return None
    lifted = [e["event_time"] for e in referral.get("history") or [] if e.get("kind") == "lift"]
    return GateView(pending=bool(referral.get("gate")), case_id=referral["review_case_id"],
                    since=referral.get("gated_since"), hours=hours_text((referral.get("gated_seconds") or 0) / 3600),
                    lifted_at=lifted[-1] if lifted else None)


def request_facts(referral: Mapping[str, Any], org_name: Callable[[str], str]) -> tuple[tuple[str, str], ...]:
    """The request as sent: what, how urgent, why, who to call back, consent, risks and where."""
    contact = referral.get("requester_contact") or {}
    address = referral.get("service_address") or {}
    facts = [
        ("Service", referral["service_type"]),
        ("Urgency", referral["urgency"]),
        ("Reason", "withheld: no consent to share (ask the requester)" if "reason" in (referral.get("withheld") or ())
         else referral.get("reason") or "—"),
        ("Requester", f"{org_name(referral['requester'])} (their id {referral['requester_referral_id']})"),
        ("Requester contact", " · ".join(v for v in (contact.get("name"), contact.get("phone"), contact.get("email"))
                                         if v) or "—"),
        ("Performer", org_name(referral["performer"])),
        ("Consent to share", referral.get("consent") or "not stated"),
        ("Risk flags", ", ".join(referral.get("risk_flags") or []) or "none"),
        ("Service address", ", ".join(v for v in (address.get("address_line1"), address.get("address_line2"),
                                                   address.get("city"), address.get("state"),
                                                   address.get("postal_code")) if v) or "—"),
    ]
    return tuple(facts)


def clock_rows(referral: Mapping[str, Any], now: datetime) -> tuple[ClockRow, ...]:
    is_open = referral["state"] in _OPEN
    rows = []
    for clock, view in (referral.get("clocks") or {}).items():
        met, due, overdue = view.get("met_at"), view.get("due_at"), bool(view.get("overdue"))
        late = view.get("within_target") is False
        if met is not None:
            status = "met late" if late else "met within target"
        elif overdue:
            status = due_text(due, now, True)
        elif clock == "expiry":
            status = f"expires {due_text(due, now, False)}" if due and referral["state"] == S.SUBMITTED else "—"
        elif not is_open:
            status = "stopped: closed"
        elif due is None:
            status = "paused"
        else:
            status = f"due {due_text(due, now, False)}"
        rows.append(ClockRow(clock=clock, name=CLOCK_WORDS.get(clock, clock),
                             target_hours=view.get("target_business_hours"), due_at=due, met_at=met,
                             taken_hours=view.get("business_hours_taken"), status=status, overdue=overdue,
                             late=late))
    return tuple(rows)


def _detail(event: Mapping[str, Any], org_name: Callable[[str], str]) -> str:
    detail = event.get("detail") or {}
    if not isinstance(detail, Mapping):
        return ""
    if detail.get("successor_id"):
        return f"to {org_name(detail['performer'])} as {detail['successor_id']}" if detail.get("performer") else ""
    if detail.get("corrected"):
        return "changed: " + ", ".join(str(f).replace("_", " ") for f in detail["corrected"])
    if event.get("kind") in ("gate", "lift") and detail.get("review_case_id"):
        return f"review case {detail['review_case_id']}"
    return ""


def timeline(referral: Mapping[str, Any], org_name: Callable[[str], str]) -> tuple[TimelineRow, ...]:
    """Every change, oldest first, with when it happened and when it was recorded (they differ when back-dated)."""
    rows = []
    for e in sorted(referral.get("history") or [], key=lambda e: e["seq"]):
        actor = e.get("actor")
        rows.append(TimelineRow(
            seq=e["seq"], kind=e.get("kind") or "", what=event_word(e), event_time=e["event_time"],
            recorded_time=e["recorded_time"], actor=actor_text(actor), party=party_word(e.get("party")),
            reason=reason_word(e.get("reason")), note=e.get("note"), detail=_detail(e, org_name)))
    return tuple(rows)


def step_form(state: str, performers: Iterable[tuple[str, str]]) -> StepForm:
    step = STEPS[S(state)]
    button, hint = STEP_WORDS[step.state]
    return StepForm(state=state, button=button, hint=hint,
                    reasons=tuple((r.value, reason_word(r.value)) for r in step.reasons),
                    reason_required=step.reason_required, note_required=step.note_required,
                    asks_party=bool(step.reasons), danger=step.state in DANGER_STEPS,
                    performers=tuple(performers) if step.state is S.REDIRECTED else ())


def held_by_gate(referral: Mapping[str, Any], side: Side | None) -> tuple[str, ...]:
    """The steps this side could take next but for the identity gate (shown disabled, with why)."""
    if side is None or not referral.get("gate"):
        return ()
    return tuple(STEP_WORDS[s][0] for s in next_states(referral["state"], referral.get("state_reason"))
                 if STEPS[s].refused_while_gated and may(side, STEPS[s].by))


def referral_page(referral: Mapping[str, Any], now: datetime, *, side: Side | None, person: Mapping[str, Any] | None,
                  org_name: Callable[[str], str], redirect_to: Iterable[tuple[str, str]], alerts: Iterable[AlertRow],
                  zone: str, can_see_cases: bool, **extra: Any) -> ReferralPage:
    state = referral["state"]
    redirect_to = tuple(redirect_to)
    reopen = S(state) in REOPEN and side is not None and may(side, REOPEN[S(state)])
    lineage = referral.get("lineage") or []
    return ReferralPage(
        referral=referral, state_word=state_word(state, referral.get("state_reason")),
        requester=org_name(referral["requester"]), performer=org_name(referral["performer"]),
        side=None if side is None else side.value,
        person=None if referral.get("gate") else person_card(person), gate=gate_view(referral),
        facts=request_facts(referral, org_name), clocks=clock_rows(referral, now),
        lineage=tuple(LineageItem(item["referral_id"], item["reference"], org_name(item["performer"]),
                                  state_word(item["state"]), item["referral_id"] == referral["referral_id"])
                      for item in lineage) if len(lineage) > 1 else (),
        timeline=timeline(referral, org_name),
        steps=tuple(step_form(s, redirect_to) for s in referral.get("your_steps") or []),
        gated_steps=held_by_gate(referral, side),
        correction=(returned(state, referral.get("state_reason"))
                    and side in (Side.REQUESTER, Side.EITHER)),
        reopen_to=state_word(referral.get("resume_state") or S.SUBMITTED.value) if reopen else None,
        alerts=tuple(alerts), zone=zone,
        latest_event_time=now.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M"),
        can_see_cases=can_see_cases, **extra)
