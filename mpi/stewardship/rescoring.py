"""Cases that stay true: open cases re-scored when identity changes the persons they name.

A case shows the persons its record was scored against when it opened. A merge,
an unmerge or a link elsewhere changes those persons (a merged-away person no
longer stands for anyone; a person gains or loses records), so the cases that
name them would offer a steward stale choices. Identity is below stewardship and
cannot tell it directly: this hears identity's events after they commit
(``mpi.identity.events``, subscribed in ``mpi.services``) and, for every open
case (open, in review or on hold) naming a person the change touched, scores the
case's record afresh against the index as it now is. Its candidates and
``held_because`` are replaced and its version bumped (a steward's form read
before gets the usual 409), audited as ``case.rescored`` with the old and new
candidates and weights. A case on hold stays on hold. The case the change
itself resolves is left alone.

A ``POSSIBLE_DUPLICATE`` case holds no record: one whose two persons were merged
elsewhere is withdrawn, and one whose person was merged into a third follows the
survivor.

Which persons open cases name is kept in memory (read once, grown as cases open
and are re-scored): a link, which a load makes per record, costs a set lookup
unless it touches a case. Over a store several instances share, a case another
instance opened or re-scored is heard of through the change log of records
(``mpi.identity.sync``, :meth:`CaseRescorer.named_elsewhere`): its record is
logged as changed, so within a second every instance knows the persons it names.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from mpi.events import EventBus
from mpi.identity.events import (
    HeldRecordsScored,
    PersonsMerged,
    PersonsUnmerged,
    RecordLinked,
    RecordUnlinked,
)
from mpi.identity.matcher import MatchService, returned
from mpi.matching.decisions import Candidate, HeldBecause, decide, held_because
from mpi.stewardship.events import CaseOpened, CaseWithdrawn
from mpi.store import Store
from mpi.vocab import (
    ACTIVE_CASE_STATES,
    AuditAction,
    CaseState,
    Decision,
    EntityType,
    HeldCode,
)

logger = logging.getLogger(__name__)

ACTOR = "system:rescore"
_ACTIVE = [s.value for s in ACTIVE_CASE_STATES]
#: Reasons a record was put back in review whatever it scores: kept (with fresh numbers) when re-scored. A
#: cluster member held with its representative keeps its reason too, and is re-scored as its representative.
_RETURNED = (HeldCode.RETURNED_BY_STEWARD.value, HeldCode.UNMERGED.value)

Key = tuple[str, str]


@dataclass(frozen=True)
class _Rescored:
    """What re-scoring one case writes: its fresh candidates (as shown) and reason, and the old and new weights."""

    case: dict
    key: Key
    shown: list[dict]
    because: HeldBecause
    old: list[tuple[str, float]]
    new: list[tuple[str, float]]


def subscribe(events: EventBus, rescorer: Callable[[], CaseRescorer]) -> None:
    """Have open cases re-scored after identity's merges, unmerges and links commit (made on first event)."""
    events.subscribe(PersonsMerged, lambda e: rescorer().merged(e))
    events.subscribe(PersonsUnmerged, lambda e: rescorer().unmerged(e))
    events.subscribe(RecordLinked, lambda e: rescorer().linked(e))
    events.subscribe(RecordUnlinked, lambda e: rescorer().unlinked(e))
    events.subscribe(CaseOpened, lambda e: rescorer().opened(e))
    events.subscribe(HeldRecordsScored, lambda e: rescorer().scored(e))


class CaseRescorer:
    """Re-scores the open cases a change of identity touched, over one store."""

    def __init__(self, store: Store, matching: MatchService, events: EventBus):
        self.store = store
        self.matching = matching
        self.events = events
        #: Person ids some open case names (a superset: closing a case leaves its ids), or None till read.
        self._named: set[str] | None = None
        #: Inside :meth:`deferred`: the persons links and unlinks touched and the cases opened, re-scored at its
        #: end instead of one by one (None outside a window).
        self._deferred: tuple[set[str], set[str]] | None = None
        #: Inside :meth:`deferred`: what the last re-match found for the held records it scored, if nothing has
        #: changed since (any change heard clears it); the sweep at the window's end takes these candidates.
        self._found: HeldRecordsScored | None = None

    # -- what identity says ----------------------------------------------------------------------------

    def merged(self, event: PersonsMerged) -> None:
        """A merge: duplicate cases of the pair withdrawn or following the survivor; record cases re-scored."""
        self._found = None
        why = f"merge {event.merge_id} ({event.loser_id} into {event.survivor_id})"
        with self.store.transaction():
            for case_id in self._touching([event.survivor_id, event.loser_id], skip_case=event.case_id):
                case = self.store.cases.get(case_id)
                if case["kind"] == Decision.POSSIBLE_DUPLICATE.value:
                    self._follow(case, event, why)
                else:
                    self.rescore(case, why)

    def unmerged(self, event: PersonsUnmerged) -> None:
        """An unmerge: record cases naming either person re-scored (the loser is a candidate again)."""
        self._found = None
        why = f"unmerge of merge {event.merge_id} ({event.loser_id} split from {event.survivor_id})"
        self._rescore_naming([event.survivor_id, event.loser_id], why, skip_record=None)

    def linked(self, event: RecordLinked) -> None:
        """A record joined a person (and left another): cases naming either re-scored, but not the record's own."""
        persons = [p for p in (event.person_id, event.previous_person_id) if p]
        self._found = None
        if self._deferred is not None:
            self._deferred[0].update(persons)
            return
        why = f"record {'/'.join(event.record)} linked to {event.person_id}"
        self._rescore_naming(persons, why, skip_record=event.record)

    def unlinked(self, event: RecordUnlinked) -> None:
        """A record left a person: cases naming that person re-scored, but not the record's own."""
        self._found = None
        if self._deferred is not None:
            self._deferred[0].add(event.person_id)
            return
        why = f"record {'/'.join(event.record)} unlinked from {event.person_id}"
        self._rescore_naming([event.person_id], why, skip_record=event.record)

    def opened(self, event: CaseOpened) -> None:
        """A case opened: the persons it names may be touched later."""
        self._found = None
        if self._named is not None:
            self._named.update(event.candidates)
        if self._deferred is not None:
            self._deferred[1].add(event.case_id)

    def scored(self, event: HeldRecordsScored) -> None:
        """A re-match scored held records and linked none: inside :meth:`deferred`, their candidates are kept for
        the sweep at its end (the same records scored against the same index, so not scored again)."""
        if self._deferred is not None:
            self._found = event

    @contextmanager
    def deferred(self, why: str, whole: bool = False) -> Iterator[dict[str, int]]:
        """Links and unlinks inside re-score nothing one by one; the cases they touched are re-scored once at the end.

        A bulk load links thousands of records into persons open cases name, and re-scoring those cases
        at each link (a case read and scored afresh, several times over as its persons grow) took half of
        ``mpi load``'s time. At the end, each open case that names a person a link or unlink inside touched,
        or that opened inside, is re-scored once against the index as the window left it (a case opened
        early in a load also meets the persons created after it). Every other case is as true as before:
        nothing it names changed. ``whole`` re-scores every open case instead (:meth:`rescore_open`): a
        resumed load, whose killed run may have missed events. The dict yielded is filled with the counts.
        Merges and unmerges inside are still heard at once. If the body raises, nothing is swept: the
        load's resumption (``mpi load`` again) sweeps whole. A re-match inside whose last pass linked nothing
        tells what it found for each held record it scored (``HeldRecordsScored``); if nothing changed after
        it, the sweep takes those candidates instead of scoring the same records against the same index again.
        """
        counts: dict[str, int] = {}
        touched, opened = self._deferred = (set(), set())
        try:
            yield counts
            self._deferred = None
            counts.update(self.rescore_open(why) if whole else self._rescore_touched(touched, opened, why))
        finally:
            self._deferred = self._found = None

    def _rescore_touched(self, persons: set[str], opened: set[str], why: str) -> dict[str, int]:
        """Re-score, in one transaction, the open record cases naming any of ``persons`` or among ``opened``."""
        with self.store.transaction():
            chosen = set(opened)
            if persons and self._names_any(persons):
                chosen.update(self.store.cases.active_naming(sorted(persons), _ACTIVE))
            changed = self._rescore_cases(sorted(chosen), why)
        logger.info("re-scored %s of %s touched cases after %s", changed, len(chosen), why)
        return {"cases": len(chosen), "rescored": changed}

    def rescore_open(self, why: str) -> dict[str, int]:
        """Re-score every open case holding an unlinked record, in one transaction (after a load).

        Events are heard after their transaction commits, so a process killed between a commit and
        their delivery (a load killed mid-way) misses them; a load ends with this sweep, so a resumed
        load ends with its cases as an uninterrupted one does. A case already true is not written.
        """
        with self.store.transaction():
            held = [entry.case_id for entry in self.matching.index().entries.values()
                    if entry.case_id and entry.person_id is None]
            changed = self._rescore_cases(held, why)
        logger.info("re-scored %s of %s held records' cases after %s", changed, len(held), why)
        return {"cases": len(held), "rescored": changed}

    def _rescore_cases(self, case_ids: list[str], why: str) -> int:
        """Re-score those of the cases still open that hold a record (read in three queries, written in a few
        statements); how many changed."""
        cases = self.store.cases.get_many(case_ids)
        fresh = []
        for case_id in case_ids:
            case = cases.get(case_id)
            if case and case["state"] in _ACTIVE and case["kind"] == Decision.POSSIBLE_MATCH.value:
                rescored = self._rescored(case, why)
                if rescored is not None:
                    fresh.append(rescored)
        self._write(fresh, why)
        return len(fresh)

    # -- re-scoring --------------------------------------------------------------------------------------

    def rescore(self, case: dict, why: str) -> bool:
        """Score a held record's case afresh and replace its candidates and reason (in the caller's transaction).

        Nothing is written when the fresh candidates, weights and reason are those the case has (a re-score
        that changes nothing must not give a steward's form a 409). Returns whether the case changed.
        """
        rescored = self._rescored(case, why)
        if rescored is not None:
            self._write([rescored], why)
        return rescored is not None

    def _rescored(self, case: dict, why: str) -> _Rescored | None:
        """A held record's case scored afresh against the index, or None if it is as true as before (no writes).

        Scoring reads only the index, which re-scoring does not change: the cases of a sweep are all scored
        first and written together (:meth:`_write`), as they would be one by one.
        """
        key = (case["source_system"], case["source_record_id"])
        entry = self.matching.index().get(key)
        if entry is None or entry.person_id is not None or entry.case_id != case["case_id"]:
            return None  # the record is linked or held by another case: that case is the one to keep true
        model = self.matching.active_model()
        reason = case.get("reason") or {}
        scored, norm = key, entry.norm
        representative = (reason.get("detail") or {}).get("representative")
        if reason.get("code") == HeldCode.HELD_WITH_CLUSTER.value and representative:
            # A cluster member is held with its representative's candidates (``submit_cluster``): it keeps them.
            scored = tuple(representative.split("/", 1))
            norm = getattr(self.matching.index().get(scored), "norm", None) or norm
        candidates = self._found_for(scored, model.version)
        if candidates is None:
            candidates = self.matching.find_candidates(norm, model, exclude=scored)
        shown = [c.as_dict(model.policy) for c in candidates[: model.policy.max_candidates]]
        because = self._because(case, candidates, model.policy, why)
        old = [(c["person_id"], round(c["match_weight"], 6)) for c in case["candidates"]]
        new = [(c["person_id"], c["match_weight"]) for c in shown]
        if old == new and reason.get("code") == because.code.value:
            return None
        return _Rescored(case, key, shown, because, old, new)

    def _found_for(self, key: Key, model_version: str) -> list[Candidate] | None:
        """The candidates the last re-match found for a held record (scored as this would), if still true."""
        found = self._found
        if found is None or found.model_version != model_version:
            return None
        return found.candidates.get(key)

    def _write(self, rescored: list[_Rescored], why: str) -> None:
        """Replace the re-scored cases' candidates and reasons and bump their versions (a stale form gets a 409),
        a few statements however many cases; each audited ``case.rescored``, in order."""
        if not rescored:
            return
        cases = self.store.cases
        cases.replace_candidates_of({r.case["case_id"]: r.shown for r in rescored})
        cases.reasons.replace_many({r.case["case_id"]: (r.because.code.value, r.because.sentence, r.because.detail)
                                    for r in rescored})
        cases.touch({r.case["case_id"]: r.case["version"] for r in rescored})
        for r in rescored:
            self.store.audit.append(
                ACTOR, AuditAction.CASE_RESCORED, EntityType.REVIEW_CASE, r.case["case_id"],
                f"re-scored after {why}: {r.because.sentence}", {
                    "record": "/".join(r.key), "after": why, "held_because": r.because.code.value,
                    "old_candidates": [{"person_id": p, "match_weight": w} for p, w in r.old],
                    "new_candidates": [{"person_id": p, "match_weight": w} for p, w in r.new]})
            if self._named is not None:
                self._named.update(p for p, _ in r.new)
            logger.info("case %s re-scored after %s: %s candidates, %s", r.case["case_id"], why, len(r.new),
                        r.because.code.value)
        if self.store.shared:  # the other instances learn of the cases' new candidates from the change log
            keys = [r.key for r in rescored]
            self.store.db.before_commit(lambda: self.store.changes.note(keys))

    def _because(self, case: dict, candidates: list[Candidate], policy, why: str) -> HeldBecause:
        """Why the re-scored case holds its record: a steward's return stays one; else the fresh decision's."""
        reason = case.get("reason") or {}
        if reason.get("code") in _RETURNED and (reason.get("detail") or {}).get("why"):
            return returned(HeldCode(reason["code"]), reason["detail"]["why"], candidates)
        if reason.get("code") == HeldCode.HELD_WITH_CLUSTER.value:
            return HeldBecause(HeldCode.HELD_WITH_CLUSTER, reason["sentence"], reason.get("detail") or {})
        fresh = held_because(candidates, policy)
        if fresh is not None:
            return fresh
        decision = decide(candidates, policy)
        best = (f"the best person {candidates[0].person_id} now weighs {candidates[0].match_weight:.2f}"
                if candidates else "no person is a candidate now")
        return HeldBecause(HeldCode.RESCORED, f"Re-scored after {why}: {best}, which the policy alone would "
                                              f"decide {decision.value}; it stays in review for a steward.",
                           {"decision": decision.value, "after": why})

    def _follow(self, case: dict, event: PersonsMerged, why: str) -> None:
        """A duplicate case after a merge elsewhere: withdrawn if its two persons are now one, else renamed."""
        persons = [c["person_id"] for c in case["candidates"]]
        if event.loser_id not in persons:
            return  # its survivor gained records; the pair's best weight stands
        followed = [event.survivor_id if p == event.loser_id else p for p in persons]
        if len(set(followed)) < 2:
            self.store.cases.close(case["case_id"], CaseState.WITHDRAWN.value, None)
            self.store.audit.append(ACTOR, AuditAction.CASE_WITHDRAWN, EntityType.REVIEW_CASE, case["case_id"],
                                    f"its two persons were merged elsewhere ({why})",
                                    {"merge_id": event.merge_id, "candidates": persons})
            self.events.publish(CaseWithdrawn(case["case_id"], None))
            return
        renamed = [{**c, "person_id": p} for c, p in zip(case["candidates"], followed)]
        weight = renamed[0]["match_weight"]
        sentence = (f"Possible duplicate: persons {followed[0]} and {followed[1]} may be one human, their best pair "
                    f"of records weighing {weight:.2f} ({event.loser_id} was merged into {event.survivor_id} by "
                    f"merge {event.merge_id}).")
        self.store.cases.replace_candidates(case["case_id"], renamed)
        self.store.cases.reasons.replace(case["case_id"], HeldCode.POSSIBLE_DUPLICATE.value, sentence,
                                         {"person_ids": followed, "match_weight": round(weight, 2)})
        self._changed(case, f"follows the survivor after {why}", {
            "after": why, "held_because": HeldCode.POSSIBLE_DUPLICATE.value,
            "old_candidates": [{"person_id": p, "match_weight": c["match_weight"]}
                               for p, c in zip(persons, case["candidates"])],
            "new_candidates": [{"person_id": p, "match_weight": c["match_weight"]}
                               for p, c in zip(followed, case["candidates"])]})
        if self._named is not None:
            self._named.add(event.survivor_id)

    def _changed(self, case: dict, reason: str, detail: dict) -> None:
        self.store.cases.update(case["case_id"], case["version"])  # the version bump: stale forms get a 409
        self.store.audit.append(ACTOR, AuditAction.CASE_RESCORED, EntityType.REVIEW_CASE, case["case_id"], reason,
                                detail)

    # -- which cases ---------------------------------------------------------------------------------------

    def _rescore_naming(self, persons: list[str], why: str, skip_record: Key | None) -> None:
        if not self._names_any(persons):
            return
        with self.store.transaction():
            for case_id in self._touching(persons):
                case = self.store.cases.get(case_id)
                if case["kind"] != Decision.POSSIBLE_MATCH.value:
                    continue
                if skip_record is not None and (case["source_system"], case["source_record_id"]) == skip_record:
                    continue
                self.rescore(case, why)

    def _touching(self, persons: list[str], skip_case: str | None = None) -> list[str]:
        if not self._names_any(persons):
            return []
        return [c for c in self.store.cases.active_naming(persons, _ACTIVE) if c != skip_case]

    def named_elsewhere(self, case_ids: set[str]) -> None:
        """Another instance opened or re-scored these cases: the persons they name are among those watched."""
        if self._named is not None:
            self._named.update(self.store.cases.persons_named_in(case_ids, _ACTIVE))

    def _names_any(self, persons: Iterable[str]) -> bool:
        if self._named is None:
            self._named = set(self.store.cases.persons_named(_ACTIVE))
        return any(p in self._named for p in persons)
