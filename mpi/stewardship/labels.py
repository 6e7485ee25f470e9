"""Steward decisions as labelled record pairs: what ``mpi train --from-decisions`` learns from. Read-only.

Every steward decision says of some pair of records that they are one human or
two. The decisions are read from the audit log (each names its case, merge or
record and the persons involved by id) and turned into pairs of stored records,
each pair scored by the active model when a person has several records:

- ``linked`` (a case resolved by linking its record): the held record and the
  best-scoring record of the person the steward chose = **same**;
- ``new_person`` (a case resolved as a new person): the held record and the
  best-scoring record of each candidate person the case compared = **different**;
- ``not_duplicate`` on a held record: the record and the best-scoring record of
  each person the steward said it is not = **different**; on a
  ``POSSIBLE_DUPLICATE`` case: the best pair between the two persons = **different**;
- ``merged`` (a case settled by a merge, or a steward's merge outside a case): the
  best pair between the records the merge moved and the survivor's own records =
  **same** (a batch run's own merge, its reason ``dedup run ...``, is the machine's
  and no label);
- ``unmerged`` (a merge undone: the machine or a steward joined them wrongly):
  that same pair = **different**;
- ``link_undone`` (a steward's link taken back): the record and the best-scoring
  record of the person it had been linked to = **different**.

Case resolutions map to a kind through :data:`CASE_ACTIONS` (a resolution of a
new kind, such as a spot-check's ``confirmed``, is one more row there); every
case-resolving event says ``"state": "resolved"`` in its detail (a case closed by a link made outside it,
``case.resolved``, says no state and counts as ``linked``). Persons are
followed through merges to the live person they stand for now. The case's
candidates are read as it holds them; the record of a candidate that a case
compared is not stored with it, so the pair is the person's best record now
(the one the matcher would compare today). When one pair is labelled twice (a
merge later undone, a link later undone), the later decision stands. A
decision whose records or persons are gone is skipped.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mpi.identity.index import CandidateIndex
from mpi.matching.scoring import Scorer
from mpi.store import Store
from mpi.vocab import AuditAction

logger = logging.getLogger(__name__)

Key = tuple[str, str]

#: Case-resolving audit action -> (label kind, same?, which persons the held record is compared with):
#: ``chosen`` the person the case's record was linked to (``person_id``), ``candidates`` every candidate
#: of the case, ``named`` the persons the detail names (``person_ids``), ``merge`` the merge it names.
CASE_ACTIONS: dict[str, tuple[str, bool, str]] = {
    AuditAction.CASE_LINKED.value: ("linked", True, "chosen"),
    AuditAction.CASE_RESOLVED.value: ("linked", True, "chosen"),  # its record linked outside the case
    AuditAction.CASE_NEW_PERSON.value: ("new_person", False, "candidates"),
    AuditAction.CASE_NOT_DUPLICATE.value: ("not_duplicate", False, "named"),
    AuditAction.CASE_MERGED.value: ("merged", True, "merge"),
    # A spot-check confirmed: the auto-linked record and its person are one human. (A rejected one undoes
    # the link, and that ``link.undone`` is the label.)
    AuditAction.CASE_CONFIRMED.value: ("confirmed", True, "chosen"),
}
#: Decisions outside a case: the machine (or a steward) was wrong.
UNMERGED, LINK_UNDONE = "unmerged", "link_undone"
#: How a batch dedup run's own merges begin their reason (``mpi.batch.runs``): the machine's, no label.
BATCH_MERGE_REASON = "dedup run "
KINDS = (*dict.fromkeys(kind for kind, _, _ in CASE_ACTIONS.values()), UNMERGED, LINK_UNDONE)


@dataclass(frozen=True)
class LabelledPair:
    """Two stored records a steward decision says are one human (``same``) or two."""

    left: Key
    right: Key
    same: bool
    kind: str
    #: The decision it comes from: a case id, a merge id, or the audit event of an undone link.
    decision: str
    at: datetime


def collect(store: Store, index: CandidateIndex, scorer: Scorer, until: datetime | None = None) -> list[LabelledPair]:
    """Every steward decision up to ``until`` (default: now) as labelled pairs, oldest decision first, one per pair.

    Runs on the caller's view of the store and index (hold the writer lock, ``store.serialised()``, for a
    consistent one).
    """
    until = until or store.db.now()
    collector = _Collector(store, index, scorer)
    actions = [*CASE_ACTIONS, AuditAction.PERSON_MERGED.value, AuditAction.PERSON_UNMERGED.value,
               AuditAction.LINK_UNDONE.value]
    merges = {e["detail"].get("merge_id"): e["detail"] for e in store.audit.of_actions(
        [AuditAction.PERSON_MERGED.value], until)}
    events = store.audit.of_actions(actions, until)
    collector.note_joins(events)
    latest: dict[frozenset[Key], LabelledPair] = {}
    for event in events:  # oldest first: a later decision on a pair replaces
        for pair in collector.pairs(event, merges):
            latest[frozenset((pair.left, pair.right))] = pair
    pairs = sorted(latest.values(), key=lambda p: (p.at, p.decision, p.left, p.right))
    logger.info("%s labelled pairs from steward decisions", len(pairs))
    return pairs


def counts(pairs: Iterable[LabelledPair]) -> dict[str, Any]:
    """Decisions and pairs by kind, and pairs same / different: what a model's metadata says it learned from."""
    pairs = list(pairs)
    decisions = {(p.kind, p.decision) for p in pairs}
    return {"decisions": len({d for _, d in decisions}),
            "by_kind": dict(sorted(Counter(k for k, _ in decisions).items())),
            "pairs_same": sum(p.same for p in pairs), "pairs_different": sum(not p.same for p in pairs)}


class _Collector:
    """Turns one audit event into its labelled pairs, against the index as it is."""

    def __init__(self, store: Store, index: CandidateIndex, scorer: Scorer):
        self.store, self.index, self.scorer = store, index, scorer
        self._size = len(index.entries)
        #: Record -> when a steward's case decision placed it (it was held, in no person, before then).
        self._joined: dict[Key, datetime] = {}

    def note_joins(self, events: Iterable[Mapping[str, Any]]) -> None:
        """Remember when each held record was placed, so a decision is compared only with the records its
        person held then (a record placed by a later decision was still held in its own case)."""
        for event in events:
            detail = event["detail"] or {}
            if event["action"] in CASE_ACTIONS and detail.get("record"):
                key = self._key(detail["record"])
                if key is not None:
                    self._joined[key] = event["occurred_at"]

    def pairs(self, event: Mapping[str, Any], merges: Mapping[str, Mapping[str, Any]]) -> list[LabelledPair]:
        action, detail, at = event["action"], event["detail"] or {}, event["occurred_at"]
        if action == AuditAction.PERSON_MERGED.value:  # a case's merge is labelled by the case's resolution
            if detail.get("case_id") or (event["reason"] or "").startswith(BATCH_MERGE_REASON):
                return []
            return self._merge_pair(detail, "merged", True, detail.get("merge_id"), at)
        if action == AuditAction.PERSON_UNMERGED.value:
            return self._merge_pair(detail, UNMERGED, False, detail.get("merge_id"), at)
        if action == AuditAction.LINK_UNDONE.value:
            key = self._key(event["entity_id"])
            found = self._best(key, [detail.get("person_id")], at) if key else []
            return [LabelledPair(key, other, False, LINK_UNDONE, f"audit-{event['event_id']}", at) for other in found]
        if detail.get("state", "resolved") != "resolved" or action not in CASE_ACTIONS:
            return []
        kind, same, compared = CASE_ACTIONS[action]
        case_id = event["entity_id"]
        if compared == "merge":
            merge = merges.get(detail.get("merge_id"))
            return self._merge_pair(merge, kind, same, case_id, at) if merge else []
        case = self.store.cases.get(case_id)
        if case is None:
            return []
        if case["source_system"] is None:  # two persons, no record: their best pair
            first, second = (detail.get("person_ids") or [None, None])[:2]
            pair = self._best_between(self._records(first), self._records(second))
            return [LabelledPair(*pair, same, kind, case_id, at)] if pair else []
        key = (case["source_system"], case["source_record_id"])
        if key not in self.index.entries:
            return []
        persons = {"chosen": [detail.get("person_id")], "named": detail.get("person_ids") or [],
                   "candidates": [c["person_id"] for c in case["candidates"]]}[compared]
        return [LabelledPair(key, other, same, kind, case_id, at) for other in self._best(key, persons, at)]

    def _merge_pair(self, merge: Mapping[str, Any] | None, kind: str, same: bool, decision: str | None,
                    at: datetime) -> list[LabelledPair]:
        """The best pair between the records a merge moved and the survivor's other records."""
        if not merge:
            return []
        moved = {k for k in (self._key(e) for e in merge.get("records") or []) if k}
        survivor = [k for k in self._records(merge.get("survivor_id")) if k not in moved]
        pair = self._best_between(sorted(moved), survivor)
        return [LabelledPair(*pair, same, kind, decision or merge.get("merge_id"), at)] if pair else []

    def _best(self, key: Key, person_ids: Sequence[str | None], at: datetime) -> list[Key]:
        """Per person (each once, followed to its live person), its record scoring best against ``key`` among
        those it held at ``at``."""
        out = []
        for person_id in dict.fromkeys(self._live(p) for p in person_ids if p):
            held_then = [k for k in self._records(person_id) if k != key and self._joined.get(k, at) <= at]
            pair = self._best_between([key], held_then)
            if pair and pair[1] not in out:
                out.append(pair[1])
        return out

    def _best_between(self, lefts: Sequence[Key], rights: Sequence[Key]) -> tuple[Key, Key] | None:
        best, found = None, None
        for a in lefts:
            for b in rights:
                if a == b or a not in self.index.entries or b not in self.index.entries:
                    continue
                weight = self.scorer.score(self.index.entries[a].norm, self.index.entries[b].norm,
                                           self._size).match_weight
                if best is None or weight > best:
                    best, found = weight, (a, b)
        return found

    def _records(self, person_id: str | None) -> list[Key]:
        if not person_id:
            return []
        return [key for key, _ in self.index.person_entries(self._live(person_id))]

    def _live(self, person_id: str) -> str:
        return self.store.persons.live_id(person_id)

    def _key(self, entity: str) -> Key | None:
        """The record key an audit entity (``system/record id``) names, if the record is stored."""
        at = entity.find("/")
        while at > 0:
            key = (entity[:at], entity[at + 1:])
            if key in self.index.entries:
                return key
            at = entity.find("/", at + 1)
        return None
