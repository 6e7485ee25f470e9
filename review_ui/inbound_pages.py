"""The inbound exception pages' contexts as small typed objects: the queue, one exception, the exchange overview.

The queue and an exception come from ``services.inbound`` (what ``/v1/inbound-exceptions``
answers); the overview from ``services.governance`` (what ``/v1/metrics/exchange``
answers). Times are UTC; ages and targets are words (``3 h``, ``overdue by 2 d 1 h``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

#: The queue's state filter: "" shows those still to work (open and in progress).
STATE_CHOICES = (("", "to work (open, in progress)"), ("open", "open"), ("in_progress", "in progress"),
                 ("resolved", "resolved"), ("returned", "returned"))
SEVERITY_CHOICES = ("high", "medium", "low")


def duration(seconds: float | None) -> str:
    """``45 min``, ``5 h``, ``2 d 4 h``; empty for None."""
    if seconds is None:
        return ""
    minutes = int(abs(seconds) // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h"
    return f"{hours // 24} d {hours % 24} h" if hours % 24 else f"{hours // 24} d"


def target_text(due: datetime, now: datetime, open_: bool) -> str:
    if not open_:
        return ""
    left = (due - now).total_seconds()
    return f"overdue by {duration(-left)}" if left < 0 else f"in {duration(left)}"


@dataclass(frozen=True)
class ExceptionRow:
    exception_id: str
    kind: str
    referral_id: str | None
    sender: str
    sender_organisation: str | None
    received_at: datetime
    age: str
    severity: str
    owner: str
    due_at: datetime
    target: str
    overdue: bool
    shows: str
    state: str
    remedy: str
    error_code: str
    reasons: tuple[tuple[str, tuple[str, ...]], ...]
    escalated: bool


def exception_row(item: Mapping[str, Any], now: datetime, escalated: Iterable[str] = ()) -> ExceptionRow:
    open_ = item["state"] in ("open", "in_progress")
    return ExceptionRow(
        exception_id=item["exception_id"], kind=item["kind"], referral_id=item.get("referral_id"),
        sender=item["sender"], sender_organisation=item.get("sender_organisation"),
        received_at=item["received_at"], age=duration(item["age_s"]), severity=item["severity"],
        owner=item["owner"], due_at=item["due_at"], target=target_text(item["due_at"], now, open_),
        overdue=bool(item["overdue"]), shows=item["shows"], state=item["state"], remedy=item["remedy"],
        error_code=item["error_code"],
        reasons=tuple((field, tuple(messages)) for field, messages in sorted((item.get("reasons") or {}).items())),
        escalated=item["exception_id"] in set(escalated))


@dataclass(frozen=True)
class QueueFigures:
    """One queue's line of the exchange overview."""

    queue: str
    owners: str
    volume: int
    open: int
    overdue: int
    oldest: str
    median_age: str
    within_target: str
    recovery_median: str
    recovery_p90: str
    top_recurrence: str


def queue_figures(figures: Mapping[str, Any], queue: str | None = None) -> QueueFigures:
    within = figures["resolved_within_target"]
    share = within["share"]
    recurrence = figures["recurrence"][:1]
    return QueueFigures(
        queue=queue or figures.get("queue", "all"), owners=", ".join(figures.get("owners") or []),
        volume=figures["volume"], open=figures["open"], overdue=figures["overdue"],
        oldest=duration(figures["queue_age"]["oldest_s"]), median_age=duration(figures["queue_age"]["median_s"]),
        within_target=(f"{share:.0%} ({within['count']} of {within['of']})" if share is not None else "–"),
        recovery_median=duration(figures["time_to_recovery"]["median_s"]) or "–",
        recovery_p90=duration(figures["time_to_recovery"]["p90_s"]) or "–",
        top_recurrence=(f"{recurrence[0]['source']} · {recurrence[0]['message_type']} × {recurrence[0]['count']}"
                        if recurrence else "–"))


@dataclass(frozen=True)
class Overview:
    start: datetime
    end: datetime
    queues: tuple[QueueFigures, ...]
    total: QueueFigures
    tiers: tuple[tuple[str, str], ...]


def overview(metrics: Mapping[str, Any]) -> Overview:
    return Overview(start=metrics["from"], end=metrics["to"],
                    queues=tuple(queue_figures(q) for q in metrics["queues"]),
                    total=queue_figures(metrics["all"], "all queues"),
                    tiers=tuple((t["severity"], t["meaning"]) for t in metrics["severity_tiers"]))


@dataclass(frozen=True)
class InboundQueuePage:
    rows: tuple[ExceptionRow, ...]
    total: int
    state: str
    severity: str
    overview: Overview
    state_choices: tuple[tuple[str, str], ...] = STATE_CHOICES
    severity_choices: tuple[str, ...] = SEVERITY_CHOICES


@dataclass(frozen=True)
class InboundItemPage:
    row: ExceptionRow
    raw_body: str
    raw_body_bytes: int
    content_type: str | None
    replay_body: str
    replay_referral_id: str
    return_reason: str
    workable: bool
    claimed_by: str | None
    closed_by: str | None
    closed_at: datetime | None
    produced_referral_id: str | None
    returned_because: str | None
    error: str | None = None
    error_fields: tuple[tuple[str, tuple[str, ...]], ...] = ()


def pretty(raw: str) -> str:
    """The raw body indented when it is JSON (what the replay form starts from), else as it came."""
    try:
        return json.dumps(json.loads(raw), indent=2, ensure_ascii=False)
    except ValueError:
        return raw


def item_page(item: Mapping[str, Any], now: datetime, escalated: Iterable[str] = (), *, error: str | None = None,
              error_fields: Mapping[str, list[str]] | None = None, replay_body: str | None = None,
              replay_referral_id: str | None = None, return_reason: str = "") -> InboundItemPage:
    return InboundItemPage(
        row=exception_row(item, now, escalated), raw_body=item["raw_body"], raw_body_bytes=item["raw_body_bytes"],
        content_type=item.get("content_type"),
        replay_body=replay_body if replay_body is not None else pretty(item["raw_body"]),
        replay_referral_id=replay_referral_id if replay_referral_id is not None else (item.get("referral_id") or ""),
        return_reason=return_reason, workable=item["state"] in ("open", "in_progress"),
        claimed_by=item.get("claimed_by"), closed_by=item.get("closed_by"), closed_at=item.get("closed_at"),
        produced_referral_id=item.get("produced_referral_id"), returned_because=item.get("return_reason"),
        error=error, error_fields=tuple(sorted((k, tuple(v)) for k, v in (error_fields or {}).items())))
