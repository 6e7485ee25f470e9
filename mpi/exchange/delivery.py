"""The delivery worker: sends the outbox's messages to partners with httpx, retrying with backoff, in order.

A pass (:meth:`DeliveryWorker.run_once`) takes the messages due now, each the
first undelivered message of its referral and partner (so one stream's messages
go one at a time, in event order), marks them ``sent`` in one transaction,
sends them concurrently outside any transaction, and stores every outcome in
one more (with each message that died handed to ``on_dead``, the outbound
exception queue, in that same transaction):

- a 2xx answer: ``acknowledged``;
- a network error, a timeout, 429 or a 5xx: ``failed``, its next attempt
  scheduled ``MPI_DELIVERY_BACKOFF_SECONDS * 2**(attempt-1)`` later (at most
  ``MPI_DELIVERY_MAX_BACKOFF_SECONDS``, a random 50-100% of it so partners coming
  back are not hit by every sender at once; never sooner than a ``Retry-After``),
  until ``MPI_DELIVERY_MAX_ATTEMPTS``: then ``dead``;
- any other answer (a 4xx but 429, a redirect): ``dead`` at once, not retried.

The schedule is stored with the message, so a restart resumes it. A message
still ``sent`` when the worker starts was in flight when the last process
stopped: :meth:`recover` queues it again, and the partner receives it again
under the same idempotency key. Delivery never touches a referral.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from mpi.background import Background
from mpi.clock import Clock
from mpi.exchange import messages
from mpi.exchange.vocab import DeliveryStatus as D, PartnerFormat, PartnerStatus
from mpi.referrals.fhir import instant
from mpi.store import Store

logger = logging.getLogger(__name__)

_SENDABLE = (D.QUEUED.value, D.FAILED.value)
#: What the worker tells of the messages that died in a pass: ``[(message, outcome), ...]``.
DeadHook = Callable[[list[tuple[dict[str, Any], dict[str, Any]]]], None]


@dataclass(frozen=True)
class DeliveryPolicy:
    """How the worker sends and retries (``MPI_DELIVERY_*``)."""

    timeout: float = 10.0
    max_attempts: int = 8
    backoff: float = 5.0
    max_backoff: float = 3600.0
    concurrency: int = 8
    batch: int = 500

    @classmethod
    def from_config(cls, config: Mapping[str, str]) -> DeliveryPolicy:
        return cls(timeout=float(config["MPI_DELIVERY_TIMEOUT_SECONDS"]),
                   max_attempts=max(1, int(config["MPI_DELIVERY_MAX_ATTEMPTS"])),
                   backoff=float(config["MPI_DELIVERY_BACKOFF_SECONDS"]),
                   max_backoff=float(config["MPI_DELIVERY_MAX_BACKOFF_SECONDS"]),
                   concurrency=max(1, int(config["MPI_DELIVERY_CONCURRENCY"])))

    def wait(self, attempt: int, rng: random.Random, retry_after: float | None = None) -> float:
        """Seconds before the next attempt after failed attempt number ``attempt`` (from 1)."""
        full = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
        return min(self.max_backoff, max(full * rng.uniform(0.5, 1.0), retry_after or 0.0))


@dataclass(frozen=True)
class Attempt:
    """What one send came to: the HTTP status (None: no answer), the error code, and a ``Retry-After``."""

    http_status: int | None
    error_code: str | None
    retry_after: float | None = None

    @property
    def delivered(self) -> bool:
        return self.http_status is not None and 200 <= self.http_status < 300

    @property
    def retryable(self) -> bool:
        return self.http_status is None or self.http_status == 429 or self.http_status >= 500


class DeliveryWorker:
    """Delivers the outbox over one store (``services.delivery``; ``mpi deliver``; a thread of ``mpi serve``)."""

    def __init__(self, store: Store, policy: DeliveryPolicy, clock: Clock, rng: random.Random | None = None,
                 transport: httpx.BaseTransport | None = None, on_dead: DeadHook | None = None):
        self.store = store
        #: Told of each message that died, ``(message, outcome)``, inside the transaction recording it (the
        #: outbound exception queue groups them into patterns).
        self.on_dead = on_dead
        self.policy = policy
        self.clock = clock
        self.rng = rng or random.Random()
        self._client = httpx.Client(timeout=policy.timeout, transport=transport, follow_redirects=False,
                                    limits=httpx.Limits(max_connections=policy.concurrency,
                                                        max_keepalive_connections=policy.concurrency))
        self._pool = ThreadPoolExecutor(policy.concurrency, thread_name_prefix="delivery")
        self._run_lock = threading.Lock()

    def recover(self) -> int:
        """Queue again every message left ``sent`` by a process that stopped mid-send; how many."""
        with self.store.transaction():
            n = self.store.outbox.requeue_status(D.SENT.value, D.QUEUED.value, self.clock.now())
        if n:
            logger.info("delivery: %s messages in flight when the last worker stopped are queued again", n)
        return n

    def due(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The messages a pass would send now (oldest first, one per referral and partner)."""
        return self.store.outbox.due(self.clock.now(), limit or self.policy.batch, D.ACKNOWLEDGED.value, _SENDABLE,
                                     PartnerStatus.ACTIVE.value)

    def run_once(self) -> dict[str, int]:
        """One pass over the messages due now; counts by the status each one reached."""
        with self._run_lock:
            batch = self.due()
            if not batch:
                return {}
            transmitted = self.clock.now()
            with self.store.transaction():
                self.store.outbox.mark([m["message_id"] for m in batch], D.SENT.value, transmitted)
            partners = {p: self._partner(p) for p in {m["partner_id"] for m in batch}}
            attempts = list(self._pool.map(lambda m: self._send(m, partners[m["partner_id"]], transmitted), batch))
            now = self.clock.now()
            outcomes = [(m["message_id"], self._outcome(m, a, transmitted, now)) for m, a in zip(batch, attempts)]
            try:
                with self.store.transaction():
                    self.store.outbox.record(outcomes)
                    dead = [(m, o) for m, (_, o) in zip(batch, outcomes) if o["status"] == D.DEAD]
                    if dead and self.on_dead is not None:
                        self.on_dead(dead)
            except Exception:
                # Not left `sent` until a restart: due again now, sent again under the same keys.
                with self.store.transaction():
                    self.store.outbox.mark([m["message_id"] for m in batch], D.QUEUED.value, transmitted)
                raise
            counts: dict[str, int] = {}
            for (message_id, o), m, a in zip(outcomes, batch, attempts):
                counts[o["status"]] = counts.get(o["status"], 0) + 1
                if o["status"] != D.ACKNOWLEDGED:
                    logger.warning("delivery: message %s of referral %s to partner %s: %s (attempt %s), now %s",
                                   message_id, m["referral_id"], m["partner_id"], a.error_code, o["attempts"],
                                   o["status"])
            return counts

    def next_due(self) -> datetime | None:
        """When the earliest scheduled attempt falls (None: nothing to send)."""
        return self.store.outbox.next_due(D.ACKNOWLEDGED.value, _SENDABLE, PartnerStatus.ACTIVE.value)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._client.close()

    # -- one message ----------------------------------------------------------------------------------

    def _partner(self, partner_id: str) -> dict[str, Any]:
        partner = self.store.partners.get(partner_id) or {}
        return {**partner, "secret": self.store.partners.signing_secret(partner_id) or ""}

    def _send(self, message: Mapping[str, Any], partner: Mapping[str, Any], transmitted: datetime) -> Attempt:
        sent = messages.body(message["payload"], transmitted)
        headers = {"Content-Type": "application/json", messages.IDEMPOTENCY_HEADER: message["idempotency_key"],
                   messages.EVENT_TIME_HEADER: instant(message["event_time"]),
                   messages.TRANSMISSION_TIME_HEADER: instant(transmitted),
                   messages.SIGNATURE_HEADER: messages.signature(partner["secret"], sent,
                                                                 int(transmitted.timestamp()))}
        endpoint = partner["endpoint"]
        try:
            if partner["format"] == PartnerFormat.FHIR_TASK:
                headers["Content-Type"] = "application/fhir+json"
                response = self._client.put(f"{endpoint.rstrip('/')}/Task/{message['referral_id']}", content=sent,
                                            headers=headers)
            else:
                response = self._client.post(endpoint, content=sent, headers=headers)
        except httpx.TimeoutException:
            return Attempt(None, "timeout")
        except httpx.HTTPError as e:
            return Attempt(None, "network_error" if not isinstance(e, httpx.ConnectError) else "connect_error")
        status = response.status_code
        return Attempt(status, None if 200 <= status < 300 else f"http_{status}", _retry_after(response))

    def _outcome(self, message: Mapping[str, Any], attempt: Attempt, transmitted: datetime,
                 now: datetime) -> dict[str, Any]:
        tries = message["attempts"] + 1
        outcome = {"attempts": tries, "sent_at": transmitted, "acknowledged_at": None, "dead_at": None,
                   "error_code": attempt.error_code, "http_status": attempt.http_status,
                   "next_attempt_at": message["next_attempt_at"]}
        if attempt.delivered:
            return {**outcome, "status": D.ACKNOWLEDGED.value, "acknowledged_at": now}
        if attempt.retryable and tries < self.policy.max_attempts:
            wait = self.policy.wait(tries, self.rng, attempt.retry_after)
            return {**outcome, "status": D.FAILED.value, "next_attempt_at": now + timedelta(seconds=wait)}
        return {**outcome, "status": D.DEAD.value, "dead_at": now}


def _retry_after(response: httpx.Response) -> float | None:
    """A ``Retry-After`` of seconds on a 429 or 503 (a date form is ignored: the backoff stands)."""
    value = response.headers.get("Retry-After")
    if response.status_code not in (429, 503) or not value or not value.strip().isdigit():
        return None
    return float(value.strip())


def in_background(worker: DeliveryWorker, wake: threading.Event, interval: float) -> Background:
    """The worker as a thread of the serving process: at once when messages are written, when a retry falls
    due, and every ``interval`` seconds at most (queueing again first what a stopped process left in flight)."""
    worker.recover()

    def due_in() -> float | None:
        due = worker.next_due()
        return None if due is None else (due - worker.clock.now()).total_seconds()

    return Background("delivery", lambda: bool(worker.run_once()), interval, wake=wake, wait=due_in, at_start=True)
