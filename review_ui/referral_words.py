"""What the referral pages call things: states, steps, reasons, clocks and parties in words a coordinator reads.

The codes are the lifecycle's (``mpi.referrals.lifecycle``) and the vocabulary's
(``mpi.vocab``); a page shows these words and posts the codes. Every code has
its words here, and a test fails when a code is added without them, so a new
reason never shows as a bare code in a select.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from mpi.referral_vocab import Party, ReasonCode, ReferralState

S = ReferralState
R = ReasonCode

#: Each state as a word (the worklist's State column, the page's state pill).
STATE_WORDS = {
    S.SUBMITTED: "Submitted", S.ACKNOWLEDGED: "Acknowledged", S.IN_TRIAGE: "In triage", S.ACCEPTED: "Accepted",
    S.IN_PROGRESS: "In progress", S.COMPLETED: "Completed", S.DECLINED: "Declined", S.REDIRECTED: "Redirected",
    S.CLOSED_NOT_SERVED: "Closed – not served", S.ON_HOLD: "On hold", S.EXPIRED: "Expired",
    S.CANCELLED: "Cancelled", S.ENTERED_IN_ERROR: "Entered in error",
}
#: A referral on hold as information-incomplete is back with its requester: it reads as such, not as "on hold".
RETURNED_WORD = "Returned for information"

#: The button that takes each step, and a line on when to take it.
STEP_WORDS = {
    S.ACKNOWLEDGED: ("Acknowledge", "Tell the requester you have it."),
    S.IN_TRIAGE: ("Start triage", "You are checking eligibility or capacity."),
    S.ACCEPTED: ("Accept", "You will serve; nothing has started yet."),
    S.IN_PROGRESS: ("Start", "First contact made, or the service started."),
    S.COMPLETED: ("Complete", "The service was delivered."),
    S.DECLINED: ("Decline", "You cannot serve this referral: say why."),
    S.REDIRECTED: ("Redirect", "Send it to another organisation that performs the service; the loop stays open."),
    S.CLOSED_NOT_SERVED: ("Close – not served", "Accepted, but the service could not be delivered."),
    S.ON_HOLD: ("Put on hold", "A waitlist, waiting on the client, or back to the requester for missing "
                               "information (information incomplete)."),
    S.EXPIRED: ("Expire", "Only the sweep expires referrals."),
    S.CANCELLED: ("Cancel the referral", "Withdraw the request: it is no longer needed."),
    S.ENTERED_IN_ERROR: ("Withdraw as entered in error", "It should never have existed (wrong person, a test)."),
}
#: Steps that end the loop badly or undo it: their buttons read as a warning.
DANGER_STEPS = frozenset({S.DECLINED, S.CLOSED_NOT_SERVED, S.CANCELLED, S.ENTERED_IN_ERROR})

#: Each coded reason as a select shows it.
REASON_WORDS = {
    R.NO_CAPACITY: "No capacity (no funds or slots)",
    R.NOT_ELIGIBLE: "Not eligible",
    R.OUT_OF_SERVICE_AREA: "Out of the service area",
    R.SERVICE_NOT_OFFERED: "Service not offered here",
    R.INFORMATION_INCOMPLETE: "Information incomplete (back to the requester)",
    R.UNABLE_TO_CONTACT: "Unable to contact the client",
    R.CLIENT_DECLINED: "Client declined",
    R.ALREADY_SERVED: "Already served elsewhere",
    R.DUPLICATE: "Duplicate",
    R.SAFETY_CONCERN: "Safety concern",
    R.REDIRECTED: "Redirected in the network",
    R.EXPIRED_NO_RESPONSE: "Expired: no response",
    R.NEED_RESOLVED: "Need resolved otherwise",
    R.PATIENT_MOVED: "Client moved away",
    R.DECEASED: "Client deceased",
    R.CREATED_IN_ERROR: "Created in error",
    R.IDENTITY_UNRESOLVED: "Identity could not be resolved",
}
#: Who made the call behind a change.
PARTY_WORDS = {Party.PROVIDER: "provider", Party.CLIENT: "client", Party.REQUESTER: "requester",
               Party.SYSTEM: "system"}
#: The parties a person may name in a form (the system party is the sweep's alone).
PARTY_CHOICES = tuple((p.value, PARTY_WORDS[p]) for p in (Party.PROVIDER, Party.CLIENT, Party.REQUESTER))
#: Each time target's name.
CLOCK_WORDS = {"acknowledge": "Acknowledge", "triage": "Triage", "first_contact": "First contact",
               "expiry": "Expiry"}
#: What each kind of history row says happened (status rows say it with their states instead).
KIND_WORDS = {"intake": "Received", "correction": "Corrected by the requester", "reopen": "Reopened",
              "gate": "Identity review began", "lift": "Identity confirmed", "person": "Person changed"}


def state_word(state: str, reason: str | None = None) -> str:
    """The state as a word; a referral returned to its requester reads so."""
    if state == S.ON_HOLD and reason == R.INFORMATION_INCOMPLETE:
        return RETURNED_WORD
    try:
        return STATE_WORDS[S(state)]
    except ValueError:
        return state


def reason_word(code: str | None) -> str:
    if not code:
        return ""
    try:
        return REASON_WORDS[R(code)]
    except ValueError:
        return code


def party_word(code: str | None) -> str:
    if not code:
        return ""
    try:
        return PARTY_WORDS[Party(code)]
    except ValueError:
        return code


def event_word(event: Mapping[str, Any]) -> str:
    """One history row as a line: ``Submitted → Accepted``, ``Identity confirmed``, ``Reopened: back to Accepted``."""
    kind, to_state, from_state = event.get("kind"), event.get("to_state"), event.get("from_state")
    if kind == "status":
        return f"{state_word(from_state) if from_state else '—'} → {state_word(to_state) if to_state else '—'}"
    word = KIND_WORDS.get(kind or "", kind or "")
    if kind in ("correction", "reopen") and to_state:
        return f"{word}: back to {state_word(to_state)}"
    return word


def display_name(*parts: str | None) -> str:
    """Name parts as a person reads them (the golden view holds them upper-cased): ``MARISOL`` → ``Marisol``."""
    text = " ".join(p.strip() for p in parts if p and p.strip())
    return re.sub(r"[^\W\d_]+", lambda m: m.group(0).capitalize(), text.lower())


def display_phone(phone: str | None) -> str:
    """An E.164 number of the North American plan as it is dialled there: ``(404) 555-0143``."""
    match = re.fullmatch(r"\+1(\d{3})(\d{3})(\d{4})", phone or "")
    return f"({match[1]}) {match[2]}-{match[3]}" if match else (phone or "")
