"""A person's history, and who the person was at an instant, from the audit log.

Every change of a link is written with its audit event in the same transaction
(``mpi.identity.writer``, ``mpi.identity.merges``), so the audit log alone says
which records a person id held at any time. The replay reads the actions whose
``AuditAction.replay`` says they move records (``mpi.vocab``):

- ``Replay.LINKS`` (``link.created``, ``link.moved``, ``link.manual``; entity: the record
  ``system/id``): the record now belongs to ``detail.person_id``;
- ``Replay.UNLINKS`` (``link.removed``, ``link.undone``; entity: the record): the record belongs to no one;
- ``Replay.MERGES`` (``person.merged``; entity: the loser): every record in ``detail.records`` now
  belongs to ``detail.survivor_id``, and the loser redirects to it;
- ``Replay.UNMERGES`` (``person.unmerged``; entity: the loser): those records belong to
  ``detail.loser_id`` again, and the redirect is gone.

A new action that moves a record between persons declares its ``replay`` where
it is defined (``tests/test_history.py`` replays a whole store and compares the
result with its links, so one that does not fails there).
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timezone
from typing import Any

from mpi.errors import NotFound, ValidationError
from mpi.store import Store
from mpi.store.columns import loads
from mpi.store.merges import record_key
from mpi.vocab import AuditAction, EntityType, LinkSource, Replay

logger = logging.getLogger(__name__)

#: Actions that give a record to ``detail.person_id``, and the link source each writes.
LINKED = {a.value: a.link_source.value for a in AuditAction if a.replay is Replay.LINKS}
#: Actions that leave a record with no person.
UNLINKED = tuple(a.value for a in AuditAction if a.replay is Replay.UNLINKS)
MERGED = next(a.value for a in AuditAction if a.replay is Replay.MERGES)
UNMERGED = next(a.value for a in AuditAction if a.replay is Replay.UNMERGES)
MERGES = (MERGED, UNMERGED)
#: Most time between a link's ``linked_at`` and its audit event (written together, microseconds apart).
_LINK_TO_EVENT_SECONDS = 60.0


def instant(value: Any, field: str = "as_of") -> datetime:
    """An instant from a date (the end of that day, UTC), a date-time (naive read as UTC) or ISO 8601 text.

    Raises:
        ValidationError: naming ``field`` when the value is neither.
    """
    if isinstance(value, str):
        text = value.strip()
        try:
            value = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        except ValueError:
            value = None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, date):
        return datetime.combine(value, time.max, tzinfo=timezone.utc)
    raise ValidationError(f"{field} is not an ISO 8601 date or date-time",
                          {field: ["an ISO 8601 date (YYYY-MM-DD) or date-time"]})


def _kind(action: str, detail: dict, person_id: str) -> str:
    if action in LINKED:
        return "link" if detail.get("person_id") == person_id else "unlink"
    if action in UNLINKED:
        return "unlink"
    if action == MERGED:
        return "merge"
    if action == UNMERGED:
        return "unmerge"
    family = action.partition(".")[0]  # case.opened -> case
    return family if family in ("case", "person") else "other"


def _split(entity: str) -> dict[str, str]:
    system, _, record_id = entity.partition("/")
    return {"source_system": system, "source_record_id": record_id}


class HistoryService:
    """Reads of what happened to persons, over one store."""

    def __init__(self, store: Store):
        self.store = store
        self.queries = store.audit
        self.merges = store.merges

    def history(self, person_id: str) -> list[dict[str, Any]]:
        """Every event touching a person, newest first, with who, when, why and what led to it.

        Links and unlinks of its records, merges and unmerges it took part in, and
        review cases naming it (opened with it as a candidate, resolved to it). A link
        event carries the score and evidence of the link it made (``link``), read
        from the link itself while it stands, or from a merge's snapshot of it.

        Raises:
            NotFound: an unknown person id (a redirected id has a history of its own).
        """
        self._person(person_id)
        events = self.queries.touching(person_id)
        links = self._known_links(person_id, events)
        entries = [self._entry(person_id, e, links) for e in events]
        logger.debug("history of person %s: %s events", person_id, len(entries))
        return entries

    def as_of(self, person_id: str, when: Any) -> dict[str, Any]:
        """Who a person id was at an instant: the records linked to it then, by replaying the audit log.

        A date means the end of that day (UTC). An id merged away by then is followed
        to the person it redirected to then (``person_id``, ``redirected_from``), as
        ``GET /v1/persons/{id}`` follows redirects today.

        Raises:
            NotFound: an unknown person id.
            ValidationError: ``when`` neither a date nor a date-time (named ``as_of``).
        """
        until = instant(when)
        self._person(person_id)
        merges = self.queries.of_actions(MERGES, until)
        chain = _followed(person_id, merges)
        live = chain[-1]
        entities = set(self.queries.records_linked_to(live, tuple(LINKED), until))
        for e in merges:
            if live in (e["detail"]["survivor_id"], e["detail"]["loser_id"]):
                entities.update(e["detail"]["records"])
        timeline = self.queries.of_records(sorted(entities), (*LINKED, *UNLINKED), until)
        timeline += [e for e in merges if entities.intersection(e["detail"]["records"])]
        timeline.sort(key=lambda e: e["event_id"])
        holder: dict[str, tuple[str, dict] | None] = {}
        for e in timeline:
            action, detail = e["action"], e["detail"] or {}
            if action in LINKED:
                holder[e["entity_id"]] = (detail.get("person_id"), e)
            elif action in UNLINKED:
                holder[e["entity_id"]] = None
            else:
                to = detail["survivor_id"] if action == MERGED else detail["loser_id"]
                for entity in detail["records"]:
                    holder[entity] = (to, e)
        records = [
            {**_split(entity), "since": e["occurred_at"], "by": e["actor"], "action": e["action"],
             "event_id": e["event_id"]}
            for entity, held in sorted(holder.items()) if held is not None and held[0] == live
            for e in [held[1]]
        ]
        return {"requested_id": person_id, "person_id": live, "redirected_from": chain[:-1], "as_of": until,
                "records": records}

    # -- helpers ---------------------------------------------------------------------------

    def _person(self, person_id: str) -> dict[str, Any]:
        row = self.store.persons.get(person_id)
        if row is None:
            raise NotFound(f"person {person_id} not found", {"person_id": ["not found"]})
        return row

    def _known_links(self, person_id: str, events: list[dict]) -> dict[tuple[str, str], list[dict]]:
        """Link rows that may be what a link event made: the records' current links and merges' snapshots."""
        keys = sorted({tuple(_split(e["entity_id"]).values()) for e in events
                       if e["entity_type"] == EntityType.RECORD and e["action"] in LINKED})
        known: dict[tuple[str, str], list[dict]] = {}
        for key, row in self.merges.links_of(keys).items():
            known.setdefault(key, []).append(row)
        wanted = set(keys)
        for merge in self.merges.of_person(person_id):
            for row in merge["snapshot"]["links"]:
                if record_key(row) in wanted:
                    known.setdefault(record_key(row), []).append(row)
        return known

    def _entry(self, person_id: str, event: dict, links: dict) -> dict[str, Any]:
        detail = event["detail"] if isinstance(event["detail"], dict) else {}
        action = event["action"]
        record = _split(event["entity_id"]) if event["entity_type"] == EntityType.RECORD else None
        if record is None and isinstance(detail.get("record"), str):
            record = _split(detail["record"])
        link = None
        if action in LINKED and record is not None:
            link = _link_made(event, detail, LINKED[action],
                              links.get((record["source_system"], record["source_record_id"]), []))
        return {
            "event_id": event["event_id"],
            "at": event["occurred_at"],
            "actor": event["actor"],
            "action": action,
            "kind": _kind(action, detail, person_id),
            "reason": event["reason"],
            "entity_type": event["entity_type"],
            "entity_id": event["entity_id"],
            "record": record,
            "person_id": detail.get("person_id", detail.get("survivor_id")),
            "previous_person_id": detail.get("previous_person_id", detail.get("loser_id")),
            "merge_id": detail.get("merge_id"),
            "case_id": detail.get("case_id", event["entity_id"] if event["entity_type"] == EntityType.REVIEW_CASE else None),
            "match_weight": detail.get("match_weight"),
            "model_version": detail.get("model_version"),
            "link": link,
            "detail": detail,
        }


def _followed(person_id: str, merges: list[dict]) -> list[str]:
    """The ids a person id redirected through at the end of these merge events, ending at the live one."""
    redirects: dict[str, str] = {}
    for e in merges:
        detail = e["detail"]
        if e["action"] == MERGED:
            redirects[detail["loser_id"]] = detail["survivor_id"]
        else:
            redirects.pop(detail["loser_id"], None)
    chain = [person_id]
    while chain[-1] in redirects and redirects[chain[-1]] not in chain:
        chain.append(redirects[chain[-1]])
    return chain


def _link_made(event: dict, detail: dict, link_source: str, rows: list[dict]) -> dict[str, Any] | None:
    """The link row an event wrote, among the candidates: same person, source, score and model, written just before."""
    at = event["occurred_at"]
    best = None
    for row in rows:
        if (row["person_id"], row["link_source"]) != (detail.get("person_id"), link_source):
            continue
        if link_source == LinkSource.AUTO.value and (row["score"], row["model_version"]) != (
                detail.get("match_weight"), detail.get("model_version")):
            continue
        linked_at = datetime.fromisoformat(row["linked_at"])
        if not 0 <= (at - linked_at).total_seconds() <= _LINK_TO_EVENT_SECONDS:
            continue
        if best is None or linked_at > datetime.fromisoformat(best["linked_at"]):
            best = row
    if best is None:
        return None
    return {"link_source": best["link_source"], "decision": best["decision"], "score": best["score"],
            "probability": best["probability"], "evidence": loads(best["evidence"]),
            "model_version": best["model_version"], "linked_at": datetime.fromisoformat(best["linked_at"])}
