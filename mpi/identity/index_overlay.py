"""How the candidate index's overlay holds its entries: compact forms, postings by blocking key, persons' entries.

Plain functions over the overlay's dicts (``mpi.identity.index``): a form's shape
and repeated strings kept as one copy each, a blocking key's postings as its one
entry or a set of entries, and each person's entries as a tuple in key order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mpi.identity.index_entry import SHARED_FIELDS, Entry, Key


def compact(norm: Mapping[str, Any], shapes: dict[tuple[str, ...], tuple[tuple[str, ...], tuple[int, ...]]],
            shared: dict[str, str]) -> tuple[tuple[str, ...], tuple]:
    """A normalised form as (shape, values), its shape (``shapes``) and its shared fields' strings (``shared``)
    the one copy the overlay keeps of each."""
    shape = tuple(norm)
    known = shapes.get(shape)
    if known is None:
        known = shapes[shape] = (shape, tuple(i for i, name in enumerate(shape) if name in SHARED_FIELDS))
    shape, positions = known
    values = list(norm.values())
    share = shared.setdefault
    for i in positions:
        v = values[i]
        if type(v) is str:
            values[i] = share(v, v)
    return shape, tuple(values)


def post(postings: dict[str, Entry | set[Entry]], entry: Entry) -> None:
    """Post an entry under each of its blocking keys."""
    for k in entry.keys:
        current = postings.get(k)
        if current is None:
            postings[k] = entry
        elif type(current) is set:
            current.add(entry)
        elif current is not entry:
            postings[k] = {current, entry}


def unpost(postings: dict[str, Entry | set[Entry]], block_key: str, entry: Entry) -> None:
    """Take an entry off one blocking key's postings."""
    posted = postings.get(block_key)
    if posted is None:
        return
    if type(posted) is set:
        posted.discard(entry)
        if len(posted) == 1:
            postings[block_key] = next(iter(posted))
        elif not posted:
            del postings[block_key]
    elif posted is entry:
        del postings[block_key]


def add_to_person(persons: dict[str, tuple[Entry, ...]], entry: Entry) -> None:
    """Add a linked entry to its person's entries, in key order."""
    members = persons.get(entry.person_id, ())
    if entry not in members:
        persons[entry.person_id] = tuple(sorted((*members, entry), key=by_key))


def unperson(persons: dict[str, tuple[Entry, ...]], person_id: str, key: Key) -> None:
    """Take a record out of a person's entries (the person goes with its last one)."""
    members = persons.get(person_id)
    if members:
        rest = tuple(e for e in members if e.key != key)
        if rest:
            persons[person_id] = rest
        else:
            del persons[person_id]


def by_key(entry: Entry) -> Key:
    return entry.key
