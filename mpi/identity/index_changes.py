"""The candidate index's changes since its base, saved beside it so a load's end or a stop need not read the store.

Saving a whole new base reads every record from the store: at a million
persons that is most of a minute (65-70 s on 2 cores), and a load of a few
thousand records would spend more time on it than on matching, a service
more time stopping than a service manager waits for it (Docker's 10 s) before
its kill, and the next start would read the store again. What a load or a
service's run changed is the
index's overlay (``mpi.identity.index``): the records it put, linked or held,
and the base rows it removed. Those are written as one small file
(``changes.json``) stamped with the store state they bring the base to; a
start that finds the base's state one step behind and this file at the
store's present state maps the base and replays the changes through the
index's own methods (:func:`replay`), arriving where an index built from the
store would. Only a process that built its index from that very base writes
it, holding the writer lock, so the overlay is exactly what committed since.

Each save writes every change since the base (those of the runs before too),
until they outgrow a share of the base (:data:`MAX_SHARE`): that save writes a
whole new base instead (``upkeep.save``), so changes never pile up across runs.
A start replays them at about 40,000 entries a second (30,046 in 0.7 s at a
million persons), so 5% of a million persons' records cost it about 3 s.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mpi.identity.index import CandidateIndex

FILE = "changes.json"
#: Changes are saved beside the base while they hold at most this share of its records (else a new base).
MAX_SHARE = 0.05
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def worth_saving(index: CandidateIndex) -> bool:
    """Whether the index's changes are small beside its base (the base then stays, with the changes beside it)."""
    return index.base.mapped and len(index.changed()[0]) <= MAX_SHARE * max(index.base.size, 1)


def save(folder: Path, index: CandidateIndex, stamp: dict[str, Any]) -> None:
    """Write the index's changes since its base (at ``folder``), as bringing the base to ``stamp``."""
    entries, removed = index.changed()
    body = {"base": index.base.stamp, "stamp": stamp, "removed": [list(key) for key in removed],
            "entries": [[list(e.key), e.norm, list(e.keys), _us(e.received_at), _us(e.updated_at),
                         [e.person_id, e.decision, e.link_source, e.score, e.probability] if e.person_id else None,
                         e.case_id] for e in entries]}
    tmp = Path(folder) / f"{FILE}.tmp-{os.getpid()}"
    tmp.write_text(json.dumps(body), encoding="utf-8")
    os.replace(tmp, Path(folder) / FILE)


def read(folder: Path | None, base_stamp: dict[str, Any] | None, stamp: dict[str, Any]) -> dict | None:
    """The saved changes if they bring the saved base (made at ``base_stamp``) to ``stamp`` exactly, else None."""
    if folder is None or base_stamp is None or stamp.get("state") is None:
        return None
    try:
        body = json.loads((Path(folder) / FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return body if body.get("base") == base_stamp and body.get("stamp") == stamp else None


def replay(index: CandidateIndex, changes: dict) -> None:
    """Make the saved changes in an index over their base, through its own methods."""
    for key in changes["removed"]:
        index.remove(tuple(key))
    for key, norm, keys, received, updated, link, case_id in changes["entries"]:
        key = tuple(key)
        index.put(key, norm, keys, _at(received), _at(updated))
        if link:
            index.link(key, *link)
        elif index.get(key).person_id:
            index.unlink(key)
        index.set_case(key, case_id)


def _us(at: datetime | None) -> int | None:
    return None if at is None else (at - _EPOCH) // timedelta(microseconds=1)


def _at(us: int | None) -> datetime | None:
    return None if us is None else _EPOCH + timedelta(microseconds=us)
