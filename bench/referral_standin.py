"""A stand-in of the few store calls the product's referral code makes, for ``bench/referral_life.py``.

``ReferralWriter`` and ``ReferralSteps`` run over :class:`Store` as they would over
the real one; it keeps the rows (pauses live on the row), their history and the audit
events in memory, for the bulk builder to insert in order with DuckDB in the end.
"""

from __future__ import annotations

import contextlib
import copy
import json

from referral_directory import BY_CODE, ORGANISATIONS


class Referrals:
    """What ``ReferralWriter`` and ``ReferralSteps`` ask of ``store.referrals``, kept in memory."""

    def __init__(self, clock):
        from mpi.store.referrals import CHANGEABLE

        self.clock = clock
        self.changeable = CHANGEABLE
        self.rows: dict[str, dict] = {}
        self.history: dict[str, list[tuple]] = {}
        self.successor: tuple[str, int] | None = None

    def insert(self, referral: dict) -> None:
        from mpi.store.columns import REFERRALS

        self.rows[referral["referral_id"]] = {c: copy.deepcopy(referral.get(c)) for c in REFERRALS}

    def get(self, referral_id: str) -> dict | None:
        row = self.rows.get(referral_id)
        return copy.deepcopy(row) if row else None

    def update(self, referral: dict, **changes) -> int:
        assert not set(changes) - self.changeable, set(changes) - self.changeable
        row = self.rows[referral["referral_id"]]
        assert row["version"] == referral["version"]
        row.update(copy.deepcopy(changes))
        row["version"] += 1
        return row["version"]

    def add_event(self, referral_id, seq, kind, from_state, to_state, event_time, actor, party=None, reason=None,
                  note=None, detail=None) -> dict:
        from mpi.store.columns import REFERRAL_EVENTS

        row = (referral_id, seq, kind, from_state, to_state, event_time, self.clock.now(), actor, party, reason, note,
               None if detail is None else json.dumps(detail))
        self.history.setdefault(referral_id, []).append(row)
        return {**dict(zip(REFERRAL_EVENTS, row)), "detail": detail}

    def next_id(self) -> tuple[str, int]:
        assert self.successor is not None, "a redirect the plan did not number"
        taken, self.successor = self.successor, None
        return taken

    def successors(self, referral_id: str) -> list[str]:
        return []


class Audit:
    """The audit events ``store.audit.append`` is given, kept in memory."""

    def __init__(self, clock):
        self.clock = clock
        self.rows: list[tuple] = []

    def append(self, actor, action, entity_type, entity_id, reason, detail) -> None:
        self.rows.append((self.clock.now(), actor, str(action), str(entity_type), entity_id, reason,
                          json.dumps(detail)))


class Store:
    """The store the product's referral code is given: its referrals and audit, and transactions that do nothing."""

    def __init__(self, clock):
        self.referrals = Referrals(clock)
        self.audit = Audit(clock)

    def transaction(self):
        return contextlib.nullcontext()

    serialised = transaction


class Events:
    """An event bus nobody listens to (the builder has no gate or exchange to tell)."""

    def publish(self, event) -> None:
        pass

    def wanted(self, kind) -> bool:
        return False


class Directory:
    """The network's organisations and their calendars (``bench/referral_directory.py``)."""

    def __init__(self):
        from mpi.directory.calendar import BusinessCalendar

        self.calendars = {o["code"]: BusinessCalendar.from_spec(o["calendar"]) for o in ORGANISATIONS}

    def exists(self, code: str) -> bool:
        return code in BY_CODE

    def get(self, code: str) -> dict:
        return BY_CODE[code]

    def calendar(self, code: str):
        return self.calendars[code]


class NoGate:
    """The identity gate, which the simulated steps never reach."""

    def reconcile(self, referral_id: str):
        raise AssertionError("the bench never redirects or reopens a gated referral")
