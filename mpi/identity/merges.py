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
from typing import Any

from mpi.errors import Conflict, NotFound, ValidationError
from mpi.events import EventBus
from mpi.identity.events import PersonsMerged, PersonsUnmerged
from mpi.identity.writer import IdentityWriter
from mpi.store import Store
from mpi.store.merges import record_key, same_row
from mpi.vocab import AuditAction, EntityType, PersonStatus

logger = logging.getLogger(__name__)

def _required(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{field} is required", {field: ["required"]})
    return value.strip()


def _entity(key: tuple[str, str]) -> str:
    return "/".join(key)


class MergeService:
    """Merges and unmerges over one store; links and persons change through the identity writer."""

    def __init__(self, store: Store, writer: IdentityWriter, events: EventBus):
        self.store = store
        self.writer = writer
        self.events = events
        self.tables = store.merges

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
        # Checked under the writer lock but before the transaction: a refusal then writes nothing.
        with self.store.serialised():
            self._live(survivor_id, "survivor_id")
            self._live(loser_id, "loser_id")
            with self.store.transaction():
                snapshot = self.tables.snapshot([survivor_id, loser_id])
                moved = [record_key(link) for link in snapshot["links"] if link["person_id"] == loser_id]
                merged_at = self.store.db.now()
                merge_id = self.tables.next_merge_id()
                self.tables.insert(merge_id, survivor_id, loser_id, snapshot, actor, reason, case_id, merged_at)
                for key in moved:
                    self.writer.move(key, survivor_id)
                self.writer.redirect(loser_id, survivor_id, merged_at)
                self.writer.refresh_golden(survivor_id)
                self.writer.refresh_golden(loser_id)
                self.store.audit.append(actor, AuditAction.PERSON_MERGED, EntityType.PERSON, loser_id, reason, {
                    "merge_id": merge_id, "survivor_id": survivor_id, "loser_id": loser_id,
                    "records": [_entity(k) for k in moved], "case_id": case_id,
                })
                self.events.publish(PersonsMerged(merge_id, survivor_id, loser_id, tuple(moved), case_id))
        logger.info("merge %s: person %s into %s by %s (%s records moved)", merge_id, loser_id, survivor_id, actor,
                    len(moved))
        return merge_id

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
                for link in restored:
                    self.writer.restore_link(link)
                self.writer.restore_person(before[loser_id])
                self.writer.restore_person(before[survivor_id])
                recomputed = self._recompute_changed(snapshot, survivor_id, loser_id)
                self.tables.mark_undone(merge_id, actor, reason, self.store.db.now())
                self.store.audit.append(actor, AuditAction.PERSON_UNMERGED, EntityType.PERSON, loser_id, reason, {
                    "merge_id": merge_id, "survivor_id": survivor_id, "loser_id": loser_id,
                    "records": [_entity(k) for k in moved], "golden_recomputed": recomputed,
                })
                self.events.publish(PersonsUnmerged(merge_id, survivor_id, loser_id, tuple(moved)))
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
        row = self.store.persons.get(person_id)
        if row is None:
            raise NotFound(f"{field}: person {person_id} not found", {field: ["not found"]})
        if row["status"] == PersonStatus.REDIRECTED.value:
            raise ValidationError(f"{field}: person {person_id} was merged into {row['redirect_to']}",
                                  {field: [f"redirected to {row['redirect_to']}: only a live person can be merged"]})
        return row

    def _check_undoable(self, merge_id: str, survivor_id: str, loser_id: str) -> None:
        loser = self.store.persons.get(loser_id)
        if loser is None or loser["status"] != PersonStatus.REDIRECTED.value or loser["redirect_to"] != survivor_id:
            raise Conflict(f"merge {merge_id}: person {loser_id} no longer redirects to {survivor_id}",
                           {"loser_id": ["changed since the merge"]})
        survivor = self.store.persons.get(survivor_id)
        if survivor is None or survivor["status"] != PersonStatus.ACTIVE.value:
            later = survivor["redirect_to"] if survivor else None
            raise Conflict(f"merge {merge_id}: person {survivor_id} has since been merged into {later}; "
                           "undo that merge first", {"survivor_id": [f"redirected to {later}"]})

    def _recompute_changed(self, snapshot: dict, survivor_id: str, loser_id: str) -> list[str]:
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
            keys = set(self.writer.index.persons.get(person_id, ()))
            now = self.tables.records_of(sorted(keys))
            unchanged = keys == held_then[person_id] and all(
                k in now and same_row(now[k], then[k]) for k in keys)
            if not unchanged:
                self.writer.refresh_golden(person_id)
                recomputed.append(person_id)
        return recomputed
