"""Spot-checks of auto-links: a random sample of the matcher's links sent to stewards, for a live precision figure.

No anchor of this project measures precision on live data: the matcher's
``MATCH`` links (``AUTO``) are never looked at again unless something goes wrong.
With ``MPI_SPOT_CHECK_ONE_IN`` = N (0: off), 1 in N of them opens a
``SPOT_CHECK`` review case (routine priority). The record **stays linked** while
it waits: the case does not hold the record (the index keeps no case for it), so
it gates no referral and undoes nothing.

Which links are drawn: every link the matcher makes as ``MATCH`` / ``AUTO``
(``POST /v1/records``, a re-match, ``mpi load`` and its clusters alike) when the
record *joins* a person (a new link, or a move to another person; an update that
keeps the record where it was is not a new auto-link). A link is drawn when the
HMAC-SHA256 of the record's key (``source_system/source_record_id``), keyed with
a random salt kept in the store (``meta`` key :data:`SALT_KEY`, made on first
use), is 0 modulo N. So the draw is reproducible (a re-run, a re-sent record, a
restart draw the same records), independent of anything the matcher looked at
(unbiased for precision), and not predictable from outside (nobody can send
records that avoid it). A record with a spot-check case still waiting is not
drawn again.

The case is opened by a handler **enlisted** on identity's ``RecordLinked``
(``mpi.services``), inside the link's own transaction: the link and its
spot-check commit or roll back together.

A steward settles it (reason and version as every case action, audited):

- :meth:`SpotChecks.confirm`: the link is right: resolved ``confirmed``; the link
  stays as the matcher made it (``AUTO``);
- :meth:`SpotChecks.reject`: the wrong person: the link is undone (``link.undone``,
  as a steward's undo), the record is kept apart from that person for good and
  put back in review with fresh candidates (a ``POSSIBLE_MATCH`` case,
  ``returned_by_steward``; a referral waiting on the record is gated on it);
  the spot-check resolves ``rejected``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable

from mpi.errors import Conflict
from mpi.events import EventBus
from mpi.identity.events import RecordLinked
from mpi.identity.matcher import MatchService
from mpi.identity.writer import IdentityWriter
from mpi.stewardship.acting import acting, change
from mpi.stewardship.events import CaseOpened, CaseResolved
from mpi.stewardship.priority import CaseTargets, priority_for
from mpi.stewardship.queue import CaseQueue
from mpi.store import Store
from mpi.vocab import (
    ACTIVE_CASE_STATES,
    AuditAction,
    CaseKind,
    CaseResolution,
    CaseState,
    Decision,
    EntityType,
    HeldCode,
    LinkSource,
)

logger = logging.getLogger(__name__)

#: The store's ``meta`` key of the salt the draw is keyed with.
SALT_KEY = "spot_check_salt"
ACTOR = "system:spot-check"
_KIND = CaseKind.SPOT_CHECK.value
_ACTIVE = [s.value for s in ACTIVE_CASE_STATES]

Key = tuple[str, str]


def drawn(salt: str, key: Key, one_in: int) -> bool:
    """Whether a record's auto-link is in the sample: HMAC-SHA256(salt, ``system/id``) is 0 modulo ``one_in``.

    ``one_in`` 0 or less draws nothing; 1 draws every link.
    """
    if one_in <= 0:
        return False
    mac = hmac.new(salt.encode(), "/".join(key).encode(), hashlib.sha256).digest()
    return int.from_bytes(mac[:8], "big") % one_in == 0


def refuse(case: dict, action: str) -> None:
    """A spot-check is answered by confirm or reject only: any other decision on it is a ``Conflict`` naming ``kind``.

    (Linking, a new person, not-duplicate or a merge would settle the record without saying whether the
    sampled auto-link was right, which is all the sample is for.)
    """
    if case.get("kind") == _KIND:
        raise Conflict(f"review case {case['case_id']} is a {_KIND} case: {action} is not possible; confirm the "
                       "auto-link or reject it (wrong person)", {"kind": [f"{_KIND}: confirm or reject only"]})


def enlist(events: EventBus, spot_checks: Callable[[], SpotChecks], one_in: int) -> None:
    """Draw spot-checks inside each auto-link's transaction (nothing is enlisted when ``one_in`` is 0: no cost)."""
    if one_in > 0:
        events.enlist(RecordLinked, lambda e: spot_checks().linked(e))


class SpotChecks:
    """Drawing spot-checks of auto-links and the steward's two answers, over one store."""

    def __init__(self, store: Store, writer: IdentityWriter, matching: MatchService, reads: CaseQueue,
                 targets: CaseTargets, events: EventBus, one_in: int):
        self.store = store
        self.writer = writer
        self.matching = matching
        self.reads = reads
        self.targets = targets
        self.events = events
        self.one_in = one_in
        self._salt: str | None = None

    # -- drawing ------------------------------------------------------------------------------------

    def salt(self) -> str:
        """The store's salt for the draw, made (random, 128 bits) and kept on first use.

        Once read from the store it is kept here (it never changes), so an auto-link does not read the store
        for it; one just made is not, as the transaction that wrote it may yet roll back.
        """
        if self._salt is not None:
            return self._salt
        salt = self.store.meta.get(SALT_KEY)
        if salt is None:
            salt = secrets.token_hex(16)
            self.store.meta.set(SALT_KEY, salt)
        else:
            self._salt = salt
        return salt

    def linked(self, event: RecordLinked) -> str | None:
        """An auto-link that joins a person, if drawn and not waiting on a spot-check already: its case id."""
        if (event.link_source != LinkSource.AUTO.value or event.decision != Decision.MATCH.value
                or event.previous_person_id == event.person_id or not drawn(self.salt(), event.record, self.one_in)):
            return None
        if self.store.cases.active_of_record(*event.record, _KIND, _ACTIVE):
            return None
        return self.open(event.record, event.person_id, ACTOR)

    def open(self, key: Key, person_id: str, actor: str) -> str:
        """Open a ``SPOT_CHECK`` case of a record's auto-link to ``person_id`` (in the caller's transaction).

        Its one candidate is the person, with the link's weight, probability and evidence; it blocks
        nothing (routine) and does not hold the record.
        """
        entry = self.writer.entry(key)
        model = self.matching.active_model()
        priority = priority_for([])
        weight = entry.score if entry.score is not None else 0.0
        candidate = {"person_id": person_id, "match_weight": weight,
                     "match_probability": entry.probability if entry.probability is not None else 0.0,
                     "evidence": self.store.persons.link_evidence(*key)}
        sentence = (f"Spot-check: 1 in {self.one_in} auto-links is drawn for a steward; record {'/'.join(key)} was "
                    f"linked to {person_id} by the matcher (weight {weight:.2f}). It stays linked while you check: "
                    "confirm the link, or say it is the wrong person.")
        case_id = self.store.cases.open(
            _KIND, *key, priority.value, [], model.version, [candidate], target=self.targets.target(priority),
            held_because={"code": HeldCode.SPOT_CHECK.value, "sentence": sentence,
                          "detail": {"person_id": person_id, "match_weight": round(weight, 2),
                                     "one_in": self.one_in}})
        self.store.audit.append(actor, AuditAction.CASE_OPENED, EntityType.REVIEW_CASE, case_id, sentence,
                                {"kind": _KIND, "record": "/".join(key), "candidates": [person_id],
                                 "priority": priority.value, "held_because": HeldCode.SPOT_CHECK.value,
                                 "one_in": self.one_in})
        self.events.publish(CaseOpened(case_id, key, priority.value, (person_id,)))
        logger.debug("spot-check %s opened for an auto-link to %s", case_id, person_id)
        return case_id

    # -- the steward's answers ------------------------------------------------------------------------

    def confirm(self, case_id: str, actor: str, reason: str, expected_version: int) -> dict:
        """The auto-link is right: the case resolves ``confirmed`` and the link stays as it is (``AUTO``).

        Raises:
            Conflict: not a spot-check, stale version, closed, or the record is no longer linked to the person.
        """
        with acting(self.reads, case_id, reason, expected_version, ACTIVE_CASE_STATES) as case:
            _, person_id = self._still_linked(case)
            with self.store.transaction():
                self._close(case, actor, AuditAction.CASE_CONFIRMED, reason, CaseResolution.CONFIRMED,
                            {"person_id": person_id}, person_id)
        logger.info("spot-check %s confirmed by %s", case_id, actor)
        return self.reads.get(case_id)

    def reject(self, case_id: str, actor: str, reason: str, expected_version: int) -> dict:
        """The wrong person: the link is undone, the pair kept apart, the record back in review; ``rejected``.

        The answer is the case, with ``previous_person_id`` and the ``review_case`` now holding the record.

        Raises:
            Conflict: not a spot-check, stale version, closed, or the record is no longer linked to the person.
        """
        with acting(self.reads, case_id, reason, expected_version, ACTIVE_CASE_STATES) as case:
            key, person_id = self._still_linked(case)
            with self.store.transaction():
                self._close(case, actor, AuditAction.CASE_REJECTED, reason, CaseResolution.REJECTED,
                            {"person_id": person_id}, None)
                self.writer.unlink(key, LinkSource.MANUAL, actor, AuditAction.LINK_UNDONE, reason.strip(),
                                   {"link_source": LinkSource.AUTO.value, "case_id": case_id})
                self.writer.keep_apart(key, person_id, case_id, actor, reason.strip())
                held = self.matching.open_review(*key, actor, f"spot-check {case_id} found its auto-link wrong")
        logger.info("spot-check %s rejected by %s; record back in review as %s", case_id, actor, held)
        return {**self.reads.get(case_id), "previous_person_id": person_id, "review_case": self.reads.get(held)}

    # -- plumbing ----------------------------------------------------------------------------------------

    def _still_linked(self, case: dict) -> tuple[Key, str]:
        """The case's record and the live person it is linked to, which must be the person it sampled."""
        if case["kind"] != _KIND:
            raise Conflict(f"review case {case['case_id']} is not a spot-check", {"kind": [f"must be {_KIND}"]})
        key = (case["source_system"], case["source_record_id"])
        sampled = case["candidates"][0]["person_id"]
        live = self.store.persons.live_id(sampled)
        entry = self.writer.index.get(key)
        if entry is None or entry.person_id != live:
            raise Conflict(f"record {'/'.join(key)} is no longer linked to {live}: withdraw this spot-check",
                           {"record": [f"no longer linked to {live}"]})
        return key, live

    def _close(self, case: dict, actor: str, action: AuditAction, reason: str, resolution: CaseResolution,
               detail: dict, person_id: str | None) -> None:
        change(self.store, case, actor, action, reason, {"kind": _KIND, **detail, "resolution": resolution.value},
               state=CaseState.RESOLVED.value, resolution=resolution.value)
        key = (case["source_system"], case["source_record_id"])
        self.events.publish(CaseResolved(case["case_id"], key, resolution.value, person_id))
