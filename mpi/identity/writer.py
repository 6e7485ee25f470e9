"""The one writer of identity: every change of a link, a person, a golden view or the candidate index.

Matching, steward review and merges all change who a record belongs to, and
each change has four parts that must never drift apart: the store's rows, the
in-memory candidate index, the audit event, and the golden views of the
persons concerned. :class:`IdentityWriter` is the only code that makes those
changes, so:

- **a steward's word stands**: an ``AUTO`` change (the matcher's) to a record
  whose link a steward made (``MANUAL``) is refused here, in
  :meth:`IdentityWriter._change_link`, the one place every link change passes;
- **the index follows what committed**: before a transaction first changes a
  record's entry, the writer keeps the entry as it was (once per record and
  transaction); if the transaction rolls back, each kept entry is put back, so the
  index is as it was without being rebuilt from the store;
- **the domains above hear of it after commit**: each change publishes its
  event (``mpi.identity.events``) on the bus, delivered once the transaction commits.

Every method runs inside the caller's store transaction (they write the store).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from mpi.errors import Conflict, NotFound
from mpi.events import EventBus
from mpi.identity import upkeep
from mpi.identity.events import PersonCreated, RecordLinked, RecordUnlinked
from mpi.identity.index import CandidateIndex, Entry
from mpi.identity.survivorship import golden_view
from mpi.store import Store
from mpi.vocab import AuditAction, Decision, EntityType, LinkSource

logger = logging.getLogger(__name__)

Key = tuple[str, str]


class Link(NamedTuple):
    """What a link says of its record: the decision behind it and who made it, with the score and evidence."""

    decision: str
    link_source: LinkSource
    weight: float | None = None
    probability: float | None = None
    evidence: Sequence[Mapping[str, Any]] = ()
    model_version: str | None = None


#: Link sources and a decision as stored (their values, read once: the hot path compares them per record).
_AUTO, _MANUAL, _MATCH = LinkSource.AUTO.value, LinkSource.MANUAL.value, Decision.MATCH.value


def _entity(key: Key) -> str:
    return "/".join(key)


def _steward_linked(entry: Entry | None) -> bool:
    """Whether a steward decided this record's link (``MANUAL``): the one test of the rule "a steward's word stands"."""
    return entry is not None and entry.link_source == _MANUAL


class IdentityWriter:
    """Changes links, persons, golden views and the candidate index together, over one store."""

    def __init__(self, store: Store, events: EventBus):
        self.store = store
        self.events = events
        self._index: CandidateIndex | None = None
        #: The open transaction's records as they were before it first changed them (None: not in the index),
        #: and the persons each was kept apart from: what a rollback puts back.
        self._before: dict[Key, tuple | None] = {}
        self._apart_before: dict[Key, frozenset[str]] = {}
        #: Whether the open transaction built the index (a rollback then forgets it).
        self._built_in_transaction = False

    # -- the index -----------------------------------------------------------------------------

    @property
    def index(self) -> CandidateIndex:
        """The in-memory read model of the store, built on first use (``upkeep.build``)."""
        if self._index is None:
            with self.store.transaction():
                self._index = upkeep.build(self.store)
                # Built inside a transaction that may yet roll back what upkeep wrote: forget it then.
                self._journal_opens()
                self._built_in_transaction = True
            logger.info("candidate index built: %s records", len(self._index.entries))
        return self._index

    def catch_up(self, rows: Iterable[tuple]) -> int:
        """Bring the index in step with the store for some records (``index_rows`` of them), as other processes
        sharing the store committed them; returns the entries replaced. Called at the start of a transaction,
        before this one changes anything: what it reads is committed, so a rollback leaves it in place."""
        index, replaced = self.index, 0
        for key, norm, keys, received_at, updated_at, link, case_id in rows:
            entry = index.get(key)
            if entry is not None and entry.updated_at == updated_at and entry.case_id == case_id and link == (
                    (entry.person_id, entry.decision, entry.link_source, entry.score, entry.probability)
                    if entry.person_id else None):
                continue
            if entry is not None:
                index.remove(key)
            entry = index.put(key, norm, keys, received_at, updated_at)
            if link:
                index.link(key, *link)
            entry.case_id = case_id
            replaced += 1
        return replaced

    def entry(self, key: Key) -> Entry:
        """The index's entry of a stored record, or NotFound."""
        entry = self.index.get(key)
        if entry is None:
            raise NotFound(f"record {_entity(key)} not found")
        return entry

    def save_index(self) -> str | None:
        """Save the index beside the store for the next start to map (if this process built an index).

        At the end of a load and when the service stops: the changes beside the
        saved base while they are few, else a new base. Returns what it wrote
        ("base", "changes") or None (nothing to save).
        """
        if self._index is None:
            return None
        with self.store.db.serialised():  # (the index is read whole: no change may begin meanwhile)
            return upkeep.save(self.store, self._index)

    def protected(self, key: Key) -> bool:
        """Whether a steward decided the record's link (``MANUAL``): the machine never changes it."""
        return _steward_linked(self.index.get(key))

    # -- records and persons ----------------------------------------------------------------------

    def put_record(self, key: Key, record: Mapping[str, Any], norm: Mapping[str, Any], keys: Sequence[str],
                   actor: str, model_version: str) -> Entry | None:
        """Store a record (new, or an update of the same key) and index it; returns its entry before, if any.

        Its link and open case stay as they were: deciding it again is the caller's.
        """
        index = self.index
        old = index.get(key)
        received_at = old.received_at if old else None
        updated_at = self.store.records.put(*key, record, norm, keys, received_at)
        self._keep(key, old)
        index.put(key, norm, keys, received_at or updated_at, updated_at)
        action = AuditAction.RECORD_UPDATED if old else AuditAction.RECORD_CREATED
        self.store.audit.append(actor, action, EntityType.RECORD, "/".join(key), None, {"model_version": model_version})
        return old

    def create_person(self, actor: str, reason: str | None, detail: Mapping[str, Any],
                      record: Key | None = None) -> str:
        """A new person (its golden view follows from the records linked to it)."""
        person_id = self.store.persons.create({})
        self.store.audit.append(actor, AuditAction.PERSON_CREATED, EntityType.PERSON, person_id, reason, dict(detail))
        self.events.publish(PersonCreated(person_id, record))
        return person_id

    def refresh_golden(self, person_id: str) -> None:
        """Recompute a person's golden view from the records the index links to it."""
        members = self.index.person_entries(person_id)
        self.store.persons.set_golden(
            person_id, golden_view([{"norm": e.norm, "updated_at": e.updated_at} for _, e in members]))

    # -- links --------------------------------------------------------------------------------------

    def link(self, key: Key, person_id: str, link: Link, actor: str, reason: str | None, *,
             action: AuditAction | None = None, detail: Mapping[str, Any] | None = None) -> str | None:
        """Link a record to a person, audited, with both persons' golden views refreshed; returns the person it left.

        The audit action is ``link.created`` (or ``link.moved`` when the record
        leaves another person) unless one is given; its detail names the person
        and the previous one, then ``detail``.

        Raises:
            Conflict: an ``AUTO`` link of a record a steward linked.
        """
        source = _MANUAL if link.link_source is LinkSource.MANUAL else _AUTO
        previous = self._change_link(key, link.link_source, (person_id, link.decision, source, link.weight,
                                                             link.probability),
                                     lambda: self.store.persons.set_link(
                                         *key, person_id, link.decision, source, link.weight, link.probability,
                                         list(link.evidence), link.model_version))
        if action is None:
            action = AuditAction.LINK_CREATED if previous in (None, person_id) else AuditAction.LINK_MOVED
        self.store.audit.append(actor, action, EntityType.RECORD, _entity(key), reason,
                                {"person_id": person_id, "previous_person_id": previous, **(detail or {})})
        self.refresh_golden(person_id)
        if previous and previous != person_id:
            self.refresh_golden(previous)
            if link.link_source is LinkSource.AUTO and not self.index.person_entries(previous):
                self._retire(previous, person_id, key, actor)
        self.events.publish(RecordLinked(key, person_id, previous, link.decision, source))
        return previous

    def _retire(self, person_id: str, to: str, key: Key, actor: str) -> None:
        """A person left without records by a move: its id redirects to where its last record went, audited.

        It never answers again as a person with no demographics; reads of it follow the redirect,
        as a merged person's do. Only the matcher's moves retire (an update re-matched to another
        person): a steward's move, or a record taken into review, leaves the person as it is, so
        the steward can link the record back.
        """
        self.store.merges.redirect(person_id, to, self.store.db.now())
        self.store.audit.append(actor, AuditAction.PERSON_RETIRED, EntityType.PERSON, person_id,
                                "its last record moved to another person", {"redirect_to": to, "record": _entity(key)})

    def unlink(self, key: Key, by: LinkSource, actor: str, action: AuditAction, reason: str | None,
               detail: Mapping[str, Any] | None = None) -> str:
        """Take a record from its person (audited; the person's golden view refreshed); returns that person.

        Raises:
            Conflict: the machine (``AUTO``) unlinking a record a steward linked.
        """
        person_id = self._change_link(key, by, None, lambda: self.store.persons.delete_link(*key))
        self.refresh_golden(person_id)
        self.store.audit.append(actor, action, EntityType.RECORD, _entity(key), reason,
                                {"person_id": person_id, **(detail or {})})
        self.events.publish(RecordUnlinked(key, person_id, action.value))
        return person_id

    def move(self, key: Key, person_id: str) -> None:
        """A steward's link of a record to a person, as part of a merge (which audits and refreshes once)."""
        self._change_link(key, LinkSource.MANUAL, (person_id, _MATCH, _MANUAL, None, None),
                          lambda: self.store.persons.set_link(*key, person_id, _MATCH, _MANUAL, None, None, [], None))

    def restore_link(self, row: Mapping[str, Any]) -> None:
        """Put back a link exactly as a merge's snapshot kept it (an unmerge: a steward's decision)."""
        key = (row["source_system"], row["source_record_id"])
        self._change_link(key, LinkSource.MANUAL, (row["person_id"], row["decision"], row["link_source"],
                                                   row["score"], row["probability"]),
                          lambda: self.store.merges.put_link(row))

    def _change_link(self, key: Key, by: LinkSource, link: tuple | None, write: Callable[[], None]) -> str | None:
        """Every link change passes here: the guard, the store's write, the index and its undo.

        ``by`` is who decides (the matcher: ``AUTO``; a steward: ``MANUAL``),
        ``link`` the index's new (person, decision, link source, score,
        probability) or None to unlink. Returns the person the record was linked to.
        """
        entry = self.entry(key)
        if by is LinkSource.AUTO and _steward_linked(entry):
            raise Conflict(f"record {_entity(key)} was linked by a steward: the machine does not change it",
                           {"link_source": ["MANUAL: only a steward changes this link"]})
        previous = entry.person_id
        write()
        self._keep(key, entry)
        index = self._index
        if link is None:
            index.unlink(key)
        else:
            index.link(key, *link)
        return previous

    # -- merges -------------------------------------------------------------------------------------

    def redirect(self, loser_id: str, survivor_id: str, at: datetime) -> None:
        """Make a person the redirect of a survivor (its golden view is refreshed by the caller)."""
        self.store.merges.redirect(loser_id, survivor_id, at)

    def restore_person(self, row: Mapping[str, Any]) -> None:
        """Put back a person's row exactly as a merge's snapshot kept it."""
        self.store.merges.put_person(row)

    # -- what the index keeps of review -----------------------------------------------------------

    def hold(self, key: Key, case_id: str) -> None:
        """Note the record's open review case."""
        self._set_case(key, self.entry(key), case_id)

    def release(self, key: Key, case_id: str | None = None) -> None:
        """Forget the record's open case (only if it is ``case_id``, when one is given)."""
        entry = self.index.get(key)
        if entry is not None and entry.case_id and (case_id is None or entry.case_id == case_id):
            self._set_case(key, entry, None)

    def keep_apart(self, key: Key, person_id: str, case_id: str | None, actor: str, reason: str) -> None:
        """A steward's word that a record is not a person: stored, and matching never offers the pair again."""
        self.store.cases.add_not_duplicate(*key, person_id, case_id, actor, reason)
        index = self.index
        if key not in self._apart_before:
            self._journal_opens()
            self._apart_before[key] = index.kept_apart(key)
        index.keep_apart(key, person_id)

    def _set_case(self, key: Key, entry: Entry, case_id: str | None) -> None:
        self._keep(key, entry)
        self._index.set_case(key, case_id)  # (``entry`` may be a copy made from the index's base: not changed)

    # -- what a rollback puts back -------------------------------------------------------------------

    def _keep(self, key: Key, entry: Entry | None) -> None:
        """Keep a record's entry (the one in the index now, or None) as it is, unless the transaction already did."""
        before = self._before
        if key in before:
            return
        if not before:
            self._journal_opens()
        before[key] = None if entry is None else (
            entry, entry.person_id, entry.decision, entry.link_source, entry.score, entry.probability, entry.case_id)

    def _journal_opens(self) -> None:
        """On the transaction's first change, have the store tell us how it ends."""
        if not (self._before or self._apart_before or self._built_in_transaction):
            self.store.db.after_rollback(self._roll_back)
            self.store.db.after_commit(self._forget_journal)
            if self.store.shared:  # the other instances over the store read what changed (``mpi.identity.sync``)
                self.store.db.before_commit(self._log_changes)

    def _log_changes(self) -> None:
        self.store.changes.note([*self._before, *self._apart_before])

    def _roll_back(self) -> None:
        """Put back every kept entry and pair; an index built in the transaction is forgotten instead."""
        before, apart, built = self._before, self._apart_before, self._built_in_transaction
        self._forget_journal()
        if built or self._index is None:
            self._index = None
            return
        index = self._index
        try:
            for key, kept in before.items():
                if index.get(key) is not None:
                    index.remove(key)
                if kept is not None:
                    entry = kept[0]
                    (entry.person_id, entry.decision, entry.link_source, entry.score, entry.probability,
                     entry.case_id) = kept[1:]
                    index.reinstate(entry)
            for key, persons in apart.items():
                index.set_apart(key, persons)
        except Exception as e:  # noqa: BLE001  (the last resort: an index that may disagree is dropped)
            logger.error("undoing the candidate index failed (%s): it is built again from the store", type(e).__name__)
            self._index = None

    def _forget_journal(self) -> None:
        self._before, self._apart_before, self._built_in_transaction = {}, {}, False
