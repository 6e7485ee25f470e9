"""Each page's context as a small typed object, built from what :class:`review_ui.review.Review` reads.

Views stay thin (parse the request, build a page, render); the templates read
only these objects, so what a page shows is decided here and tested without a
browser.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mpi.vocab import CasePriority, CaseState
from review_ui import compare, duplicates, idlinks, waterfall

STATE_WORDS = {
    CaseState.OPEN.value: "Open",
    CaseState.IN_REVIEW.value: "In review",
    CaseState.ON_HOLD.value: "On hold",
    CaseState.RESOLVED.value: "Resolved",
    CaseState.WITHDRAWN.value: "Withdrawn",
}
PRIORITIES = tuple(p.value for p in CasePriority)
#: The queue's kind filter: each kind and how a steward reads it.
KINDS = {"POSSIBLE_MATCH": "record held for review", "POSSIBLE_DUPLICATE": "possible duplicate persons",
         "SPOT_CHECK": "spot-check of an auto-link"}
AGE_FILTERS = (("", "any age"), ("4", "4 h or older"), ("24", "1 day or older"), ("72", "3 days or older"))
#: The queue's age buckets (``queue_counts()["by_age"]``): what a steward reads, and the filter that starts each.
AGE_BUCKETS = {"under_4h": ("under 4 h", ""), "4h_to_24h": ("4–24 h", "4"), "1d_to_3d": ("1–3 days", "24"),
               "over_3d": ("over 3 days", "72")}


def hours_text(hours: float) -> str:
    """A duration a steward reads at a glance: 45 min, 5 h, 3 d 4 h."""
    hours = abs(hours)
    if hours < 1:
        return f"{int(hours * 60)} min"
    if hours < 48:
        return f"{hours:.0f} h"
    days = int(hours // 24)
    rest = int(hours - days * 24)
    return f"{days} d {rest} h" if rest else f"{days} d"


def _hours_until(when: datetime | None, now: datetime) -> float | None:
    return None if when is None else (when - now).total_seconds() / 3600


# ------------------------------------------------------------------------------------------- queue

@dataclass(frozen=True)
class QueueFilters:
    state: str = ""
    priority: str = ""
    owner: str = ""
    source_system: str = ""
    kind: str = ""
    min_age_hours: str = ""
    overdue: bool = False

    @classmethod
    def from_args(cls, args: Mapping[str, str], me: str) -> QueueFilters:
        def pick(name: str, allowed=None) -> str:
            value = (args.get(name) or "").strip()
            return value if allowed is None or value in allowed else ""
        owner = pick("owner")
        return cls(
            state=pick("state", STATE_WORDS), priority=pick("priority", PRIORITIES),
            owner=me if owner == "me" else owner, source_system=pick("source_system"), kind=pick("kind", KINDS),
            min_age_hours=pick("min_age_hours", {v for v, _ in AGE_FILTERS if v}),
            overdue=args.get("overdue") in ("1", "on", "true"),
        )

    def as_kwargs(self) -> dict[str, Any]:
        """The filters as ``queue()`` takes them (unset ones left out)."""
        kwargs: dict[str, Any] = {}
        for name in ("state", "priority", "owner", "source_system", "kind"):
            if getattr(self, name):
                kwargs[name] = getattr(self, name)
        if self.min_age_hours:
            kwargs["min_age_hours"] = float(self.min_age_hours)
        if self.overdue:
            kwargs["overdue"] = True
        return kwargs

    @property
    def active(self) -> bool:
        return bool(self.as_kwargs())


@dataclass(frozen=True)
class QueueRow:
    case_id: str
    priority: str
    state: str
    kind: str
    record: str
    owner: str | None
    age: str
    due: str
    overdue: bool
    top_weight: float | None
    candidates: int
    blocks: tuple[str, ...]
    #: Why the case holds its record (``code``, ``sentence``), as the API says it.
    held_because: Mapping[str, str] | None = None
    top_probability: float | None = None
    #: A hold's follow-up date (``YYYY-MM-DD``), "" when the case is not on hold.
    follow_up: str = ""
    #: The held record's (source system, record id), for its link; None on a duplicate case.
    record_key: tuple[str, str] | None = None

    @property
    def weight_text(self) -> str:
        """The best weight as a steward reads it: ``12.3 bits``."""
        return "" if self.top_weight is None else f"{self.top_weight:.1f} bits"

    @property
    def probability_text(self) -> str:
        """The best candidate's probability as a percentage, never a raw float (``99.2%``, ``> 99.9%``)."""
        return probability_text(self.top_probability)


@dataclass(frozen=True)
class QueuePage:
    filters: QueueFilters
    rows: tuple[QueueRow, ...]
    counts: Mapping[str, Any]
    offset: int
    limit: int
    more: bool
    source_systems: tuple[str, ...]

    @property
    def first_case(self) -> str | None:
        return self.rows[0].case_id if self.rows else None


def probability_text(p: float | None) -> str:
    """A match probability as a steward reads it: a percentage, its extremes bounded rather than rounded to
    certainty (``> 99.9%``, ``< 0.1%``)."""
    if p is None:
        return ""
    if p > 0.999:
        return "> 99.9%"
    if p < 0.001:
        return "< 0.1%"
    return f"{p * 100:.1f}%"


def blocks_text(blocks: Any) -> tuple[str, ...]:
    """What a case blocks, one short line each (``referral R-17 (urgent)``)."""
    lines = []
    for b in blocks or []:
        if isinstance(b, Mapping):
            text = " ".join(str(b[k]) for k in ("kind", "id") if b.get(k))
            lines.append(f"{text} ({b['priority']})" if b.get("priority") else text)
        else:
            lines.append(str(b))
    return tuple(lines)


def queue_row(case: Mapping[str, Any], now: datetime) -> QueueRow:
    due_in = _hours_until(case.get("due_at"), now)
    if due_in is None:
        due = ""
    elif case.get("overdue"):
        due = f"overdue by {hours_text(due_in)}"
    else:
        due = f"in {hours_text(due_in)}"
    candidates = case.get("candidates") or []
    top = candidates[0].get("match_weight") if candidates else case.get("top_weight")
    probability = candidates[0].get("match_probability") if candidates else case.get("top_probability")
    follow_up = (case.get("hold") or {}).get("follow_up")
    record = (duplicates.QUEUE_TEXT if duplicates.is_duplicate(case)
              else f"{case.get('source_system')} / {case.get('source_record_id')}")
    return QueueRow(
        case_id=case["case_id"], priority=case["priority"], state=case["state"], kind=case.get("kind") or "",
        record=record, owner=case.get("owner"),
        age=hours_text(case.get("age_hours") or 0.0), due=due, overdue=bool(case.get("overdue")),
        top_weight=top, candidates=len(candidates) or int(case.get("candidate_count") or 0),
        blocks=blocks_text(case.get("blocks")), top_probability=probability,
        held_because=case.get("held_because"),
        follow_up=str(follow_up) if follow_up else "",
        record_key=None if duplicates.is_duplicate(case) or not case.get("source_system")
        else (case["source_system"], case["source_record_id"]),
    )


def queue_page(cases: list[dict], counts: Mapping[str, Any], filters: QueueFilters, offset: int,
               limit: int, now: datetime) -> QueuePage:
    shown = cases[:limit]
    systems = counts.get("source_systems") or sorted({c["source_system"] for c in shown if c.get("source_system")})
    return QueuePage(filters=filters, rows=tuple(queue_row(c, now) for c in shown), counts=counts, offset=offset,
                     limit=limit, more=len(cases) > limit, source_systems=tuple(systems))


# -------------------------------------------------------------------------------------------- case

@dataclass(frozen=True)
class CandidateView:
    rank: int
    person_id: str
    person_status: str | None
    redirect_to: str | None
    match_weight: float
    match_probability: float | None
    held_by: Any
    conflict: Any
    comparison: compare.Comparison
    chart: waterfall.Waterfall
    evidence: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class CasePage:
    case: Mapping[str, Any]
    record: Mapping[str, Any] | None
    candidates: tuple[CandidateView, ...]
    blocks: tuple[str, ...]
    due: str
    open: bool
    mine: bool
    upper: float | None
    lower: float | None
    error: str | None = None
    field_errors: Mapping[str, list[str]] = field(default_factory=dict)
    form: Mapping[str, str] = field(default_factory=dict)
    #: The two persons of a ``POSSIBLE_DUPLICATE`` case, side by side (None for a record's case).
    pair: duplicates.DuplicatePair | None = None

    @property
    def state_word(self) -> str:
        return STATE_WORDS.get(self.case["state"], self.case["state"])


def _closest_first(inbound: Mapping[str, Any], records: list[dict], matched: Mapping | None) -> list[dict]:
    """The record the evidence was scored on first (if known), else the one agreeing on most fields."""
    norm = inbound.get("norm") or {}

    def key(r: dict):
        is_matched = bool(matched) and (r.get("source_system"), r.get("source_record_id")) == (
            matched.get("source_system"), matched.get("source_record_id"))
        agree = sum(compare.mark(f, norm, r.get("norm") or {}) == "agree" for f, _ in compare.FIELDS)
        return (not is_matched, -agree)

    return sorted(records, key=key)


def case_page(case: Mapping[str, Any], policy, me: str, now: datetime, **extra) -> CasePage:
    record = case.get("record")
    upper = getattr(policy, "upper_match_weight", None)
    lower = getattr(policy, "lower_match_weight", None)
    candidates = []
    for c in case.get("candidates") or []:
        evidence = c.get("evidence") or []
        person = c.get("person") or {}
        records = c.get("records") or person.get("records") or []
        if case.get("kind") == "SPOT_CHECK" and record:  # linked: its own record is not evidence for itself
            records = [r for r in records if (r.get("source_system"), r.get("source_record_id")) != (
                record.get("source_system"), record.get("source_record_id"))]
        records = _closest_first(record or {}, list(records), c.get("matched_record"))
        held = c.get("held_by")
        if held is None and policy is not None and evidence:
            held = policy.hold(evidence)
        conflict = c.get("conflict")
        if conflict is None and policy is not None and evidence:
            conflict = policy.conflict(evidence)
        candidates.append(CandidateView(
            rank=c.get("rank") or len(candidates) + 1, person_id=c["person_id"], person_status=person.get("status"),
            redirect_to=person.get("person_id") if person.get("person_id") not in (None, c["person_id"]) else None,
            match_weight=c.get("match_weight") or 0.0, match_probability=c.get("match_probability"),
            held_by=held, conflict=conflict, comparison=compare.compare(record or {}, records),
            chart=waterfall.build(evidence, upper, lower), evidence=tuple(evidence),
        ))
    due_in = _hours_until(case.get("due_at"), now)
    due = "" if due_in is None else (f"overdue by {hours_text(due_in)}" if case.get("overdue")
                                     else f"due in {hours_text(due_in)}")
    waiting = case["state"] in (CaseState.OPEN.value, CaseState.IN_REVIEW.value, CaseState.ON_HOLD.value)
    pair = duplicates.pair(case, upper, lower) if duplicates.is_duplicate(case) else None
    return CasePage(case=case, record=record, candidates=tuple(candidates), blocks=blocks_text(case.get("blocks")),
                    due=due, open=waiting, mine=case.get("owner") == me, upper=upper, lower=lower, pair=pair,
                    **extra)


# ------------------------------------------------------------------------------------------ person

@dataclass(frozen=True)
class HistoryItem:
    when: Any
    actor: str
    action: str
    entity: str
    reason: str | None
    score: float | None
    detail: Mapping[str, Any]
    merge_id: str | None
    #: The ids the event's detail names (a case, a merge, a record, another person), each shown as a link.
    refs: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class PersonPage:
    person: Mapping[str, Any]
    golden: tuple[tuple[str, str], ...]
    records: tuple[Mapping[str, Any], ...]
    history: tuple[HistoryItem, ...]
    merges: tuple[HistoryItem, ...]  # merges into this person that may be undone
    error: str | None = None
    field_errors: Mapping[str, list[str]] = field(default_factory=dict)
    form: Mapping[str, str] = field(default_factory=dict)


def history_item(event: Mapping[str, Any]) -> HistoryItem:
    detail = event.get("detail") or {}
    if not isinstance(detail, Mapping):
        detail = {"detail": detail}
    score = next((v for v in (event.get("match_weight"), event.get("score"), detail.get("match_weight"))
                  if v is not None), None)
    entity = event.get("entity_id") or event.get("record") or ""
    return HistoryItem(
        when=event.get("occurred_at") or event.get("at"), actor=event.get("actor") or "",
        action=event.get("action") or event.get("kind") or "", entity=str(entity), reason=event.get("reason"),
        score=score, detail=detail, merge_id=event.get("merge_id") or detail.get("merge_id"),
        refs=_refs(detail, str(entity)),
    )


#: Detail keys that hold a record's key (``system/id``) rather than an id with a prefix.
_RECORD_KEYS = ("record", "records", "record_key")


def _refs(detail: Mapping[str, Any], entity: str) -> tuple[tuple[str, str], ...]:
    """The ids an event's detail names, other than its own entity, each once, in the detail's order."""
    refs: dict[str, str] = {}
    for key, value in detail.items():
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, str) and v != entity and (idlinks.is_id(v) or (key in _RECORD_KEYS and "/" in v)):
                refs.setdefault(v, key.replace("_", " "))
    return tuple((key, v) for v, key in refs.items())


def person_page(person: Mapping[str, Any], history: list[dict], **extra) -> PersonPage:
    golden = person.get("golden") or {}
    shown = tuple((label, str(golden[f])) for f, label in compare.FIELDS if golden.get(f) not in (None, ""))
    items = tuple(history_item(e) for e in history)
    undone = {i.merge_id for i in items if i.merge_id and "unmerge" in i.action}
    merges = tuple(i for i in items if i.merge_id and "merge" in i.action and "unmerge" not in i.action
                   and i.merge_id not in undone)
    return PersonPage(person=person, golden=shown, records=tuple(person.get("records") or ()), history=items,
                      merges=merges, **extra)
