"""Merge two persons into one, and undo it exactly.

A merge says two person ids are one human: every record of the **loser** moves
to the **survivor** (a steward's word, so the links become ``MANUAL`` and
re-matching never moves them back), and the loser becomes ``REDIRECTED`` to
the survivor (its id is never reused: reads of it follow the redirect). Stewards
get merges wrong too, so before changing anything the merge keeps a snapshot of
every row it touches (both persons' rows, all their links, their records and
blocking keys) in the ``merges`` table. :meth:`MergeService.unmerge` puts those
rows back as they were: the same values, times, evidence, scores and
``link_source``, and the in-memory candidate index likewise, so matching after an
unmerge answers as it did before the merge.

What an unmerge keeps of what happened since the merge (it never silently throws
a later change away):

- a record its source updated since keeps the update (the source's word is newer
  than the merge); it goes back to the loser, and the golden views of both
  persons are then computed afresh from what they hold rather than restored;
- a record that joined the survivor since stays with the survivor (its golden view
  is then computed afresh too);
- a moved record that no longer sits with the survivor (a steward moved it, or it
  was unlinked), or a survivor that has itself been merged away since, make the
  unmerge a :class:`~mpi.errors.Conflict`: undo the later change first.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

from mpi.errors import Conflict, NotFound, ValidationError
from mpi.identity.matcher import MatchService
from mpi.stewardship.priority import ACTIVE_STATES
from mpi.store import Store
from mpi.store.merges import MergeTables, record_key, same_row
from mpi.vocab import Decision, LinkSource, PersonStatus

logger = logging.getLogger(__name__)

#: Audit actions of this module (entity: the loser person; detail: ids only).
MERGED, UNMERGED = "person.merged", "person.unmerged"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _required(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{field} is required", {field: ["required"]})
    return value.strip()


def _entity(key: tuple[str, str]) -> str:
    return "/".join(key)


class MergeService:
    """Merges and unmerges over one store, keeping the matcher's candidate index in step."""

    def __init__(self, store: Store, matching: MatchService):
        self.store = store
        self.matching = matching
        self.tables = MergeTables(store)

    def merge(self, survivor_id: str, loser_id: str, actor: str, reason: str, case_id: str | None = None) -> str:
        """Merge the loser into the survivor; returns the merge id.

        Args:
            survivor_id: the person that stays (must be live: ``ACTIVE``).
            loser_id: the person that goes: its records move to the survivor and its id redirects there.
            actor: who decided (``user:NAME``).
            reason: why (required).
            case_id: the review case this merge resolves, if any (kept with the merge and in the audit
                event; the case itself is the case workflow's to close, in the same transaction).

        Raises:
            ValidationError: a missing reason or id, a person merged into itself, or a person already
                redirected (named by field: ``survivor_id``, ``loser_id``, ``reason``).
            NotFound: an unknown survivor or loser (named by field).
        """
        errors = {f: ["required"] for f, v in (("survivor_id", survivor_id), ("loser_id", loser_id))
                  if not isinstance(v, str) or not v.strip()}
        if errors:
            raise ValidationError(f"{' and '.join(errors)} required", errors)
        reason = _required(reason, "reason")
        actor = _required(actor, "actor")
        if survivor_id == loser_id:
            raise ValidationError(f"person {loser_id} cannot be merged into itself",
                                  {"loser_id": ["must differ from survivor_id"]})
        # Checked under the writer lock but before the transaction: a refusal then rolls nothing
        # back (a rollback makes the matcher rebuild its whole index from the store).
        with self.store.serialised():
            self._live(survivor_id, "survivor_id")
            self._live(loser_id, "loser_id")
            with self.store.transaction():
                index = self.matching.index()
                snapshot = self.tables.snapshot([survivor_id, loser_id])
                moved = [record_key(link) for link in snapshot["links"] if link["person_id"] == loser_id]
                merged_at = _now()
                merge_id = self.tables.next_merge_id()
                self.tables.insert(merge_id, survivor_id, loser_id, snapshot, actor, reason, case_id, merged_at)
                for key in moved:
                    self.store.set_link(*key, survivor_id, Decision.MATCH.value, LinkSource.MANUAL.value, None,
                                        None, [], None)
                    index.link(key, survivor_id, Decision.MATCH.value, LinkSource.MANUAL.value, None, None)
                self.tables.redirect(loser_id, survivor_id, merged_at)
                self.matching.refresh_golden(survivor_id)
                self.matching.refresh_golden(loser_id)
                self.store.audit(actor, MERGED, "person", loser_id, reason, {
                    "merge_id": merge_id, "survivor_id": survivor_id, "loser_id": loser_id,
                    "records": [_entity(k) for k in moved], "case_id": case_id,
                })
        logger.info("merge %s: person %s into %s by %s (%s records moved)", merge_id, loser_id, survivor_id, actor,
                    len(moved))
        return merge_id

    def resolve_case(self, cases: Any, case_id: str, survivor_id: str, loser_id: str, actor: str, reason: str,
                     expected_version: int) -> dict[str, Any]:
        """Settle a review case by merging two persons: the merge and the case's ``merged`` resolution in one
        transaction; returns the case as it now is.

        The case's version and state are checked first, so a stale form is a ``Conflict`` before
        anything is written (a rollback would rebuild the candidate index).
        """
        with self.store.transaction():
            case = cases.get(case_id)
            if case["version"] != expected_version:
                raise Conflict(f"review case {case_id} is at version {case['version']}, not {expected_version}",
                               {"version": ["stale: reload the case"]})
            if case["state"] not in ACTIVE_STATES:
                raise Conflict(f"review case {case_id} is {case['state']}: not possible now", {"state": [case["state"]]})
            merge_id = self.merge(survivor_id, loser_id, actor, reason, case_id=case_id)
            return cases.resolve_merged(case_id, actor, reason, expected_version, merge_id)

    def unmerge(self, merge_id: str, actor: str, reason: str) -> dict[str, Any]:
        """Undo a merge: both persons, their records' links and the index as they were before it.

        Returns the merge (without its snapshot), now with ``undone_at``, ``undone_by`` and ``undo_reason``.

        Raises:
            ValidationError: a missing reason.
            NotFound: an unknown merge id.
            Conflict: the merge was already undone, or what it changed has changed again since
                (see the module's docstring); nothing is written then.
        """
        reason = _required(reason, "reason")
        actor = _required(actor, "actor")
        with self.store.serialised():  # checks first, under the writer lock (see merge)
            merge = self.tables.get(merge_id)
            if merge is None:
                raise NotFound(f"merge {merge_id} not found", {"merge_id": ["not found"]})
            if merge["undone_at"] is not None:
                raise Conflict(f"merge {merge_id} was already undone by {merge['undone_by']}",
                               {"merge_id": ["already undone"]})
            survivor_id, loser_id, snapshot = merge["survivor_id"], merge["loser_id"], merge["snapshot"]
            self._check_undoable(merge_id, survivor_id, loser_id)
            before = {row["person_id"]: row for row in snapshot["persons"]}
            restored = [link for link in snapshot["links"] if link["person_id"] == loser_id]
            moved = [record_key(link) for link in restored]
            current = self.tables.links_of(moved)
            strays = [k for k in moved if k not in current or current[k]["person_id"] != survivor_id]
            if strays:
                raise Conflict(f"merge {merge_id}: {len(strays)} of its records left person {survivor_id} since; "
                               "undo that first", {"records": [_entity(k) for k in strays]})
            with self.store.transaction():
                index = self.matching.index()
                for link in restored:
                    self.tables.put_link(link)
                    index.link(record_key(link), loser_id, link["decision"], link["link_source"], link["score"],
                               link["probability"])
                self.tables.put_person(before[loser_id])
                self.tables.put_person(before[survivor_id])
                recomputed = self._recompute_changed(snapshot, survivor_id, loser_id, index)
                self.tables.mark_undone(merge_id, actor, reason, _now())
                self.store.audit(actor, UNMERGED, "person", loser_id, reason, {
                    "merge_id": merge_id, "survivor_id": survivor_id, "loser_id": loser_id,
                    "records": [_entity(k) for k in moved], "golden_recomputed": recomputed,
                })
                merge = self.tables.get(merge_id, with_snapshot=False)
        logger.info("merge %s undone by %s: person %s restored beside %s (%s records back)", merge_id, actor,
                    loser_id, survivor_id, len(moved))
        return merge

    def get(self, merge_id: str) -> dict[str, Any]:
        """A merge without its snapshot (which holds records as sent), or NotFound."""
        merge = self.tables.get(merge_id, with_snapshot=False)
        if merge is None:
            raise NotFound(f"merge {merge_id} not found", {"merge_id": ["not found"]})
        return merge

    # -- checks ---------------------------------------------------------------------------

    def _live(self, person_id: str, field: str) -> dict[str, Any]:
        row = self.store.get_person_row(person_id)
        if row is None:
            raise NotFound(f"{field}: person {person_id} not found", {field: ["not found"]})
        if row["status"] == PersonStatus.REDIRECTED.value:
            raise ValidationError(f"{field}: person {person_id} was merged into {row['redirect_to']}",
                                  {field: [f"redirected to {row['redirect_to']}: only a live person can be merged"]})
        return row

    def _check_undoable(self, merge_id: str, survivor_id: str, loser_id: str) -> None:
        loser = self.store.get_person_row(loser_id)
        if loser is None or loser["status"] != PersonStatus.REDIRECTED.value or loser["redirect_to"] != survivor_id:
            raise Conflict(f"merge {merge_id}: person {loser_id} no longer redirects to {survivor_id}",
                           {"loser_id": ["changed since the merge"]})
        survivor = self.store.get_person_row(survivor_id)
        if survivor is None or survivor["status"] != PersonStatus.ACTIVE.value:
            later = survivor["redirect_to"] if survivor else None
            raise Conflict(f"merge {merge_id}: person {survivor_id} has since been merged into {later}; "
                           "undo that merge first", {"survivor_id": [f"redirected to {later}"]})

    def _recompute_changed(self, snapshot: dict, survivor_id: str, loser_id: str, index) -> list[str]:
        """Golden views computed afresh where the rows put back no longer describe what a person holds.

        A person row from the snapshot is right as it stands only if the person
        holds the same records as then, none changed since (updated by its source,
        or normalised again under new rules). Returns the persons recomputed.
        """
        then = {record_key(r): r for r in snapshot["records"]}
        held_then = {pid: {record_key(link) for link in snapshot["links"] if link["person_id"] == pid}
                     for pid in (survivor_id, loser_id)}
        recomputed = []
        for person_id in (survivor_id, loser_id):
            keys = set(index.persons.get(person_id, ()))
            now = self.tables.records_of(sorted(keys))
            unchanged = keys == held_then[person_id] and all(
                k in now and same_row(now[k], then[k]) for k in keys)
            if not unchanged:
                self.matching.refresh_golden(person_id)
                recomputed.append(person_id)
        return recomputed
