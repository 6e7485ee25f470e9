"""The candidate index's base: every record at one store state, as columns, kept in a folder beside the store.

An index of Python objects (an object per record, dict postings) cost 13 GB and
149 s to build at a million persons. The base holds the same facts as flat
arrays: record keys and the blocking keys as sorted fixed-width byte strings
(:mod:`mpi.identity.sorted_keys`), each record's normalised form as the JSON array of
its values (its field names are its shape's, one of the few the base lists) in
one buffer with offsets, a person's records side by side (read in one go), the
link and case columns, postings and persons as CSR (an offsets array into an
array of record rows; rows are numbered in key order, so a person's rows in
ascending order are its records in key order).
It is read from the store with no Python object per row (``RecordTable.index_columns``),
saved as ``.npy`` files with a manifest, and opened with ``np.load(mmap_mode="r")``: a start maps it.
The arrays every query reads (``_EVERY_QUERY``, 0.66 GB at a million persons) are paged in at opening, in one
``madvise`` (0.04-0.18 s there); left to fault in, the first 450 queries paid 4,500 faults of about 20 us each.
The others (link columns, each record's keys) become resident as read. The forms, two thirds of the bytes, are
not mapped but read with ``os.pread``, a person's records in one read: mapped, a few hundred queries made most
of 1.6 GB of them resident at a million persons (the kernel maps up to 64 KB around a fault); read, they stay
in the page cache, shared and given back under pressure.

The base never changes once made; :class:`mpi.identity.index.CandidateIndex`
lays the records changed since over it. The manifest names the store state it
was made at (the store's state token, ``Database.state_token``) and the rules
(normalisation, blocking) its forms and keys follow: a base whose state is no
longer the store's is never opened (:func:`open_current`).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
from datetime import UTC, datetime, timedelta
from math import isnan
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mpi.identity.sorted_keys import SortedKeys

logger = logging.getLogger(__name__)

#: Bumped when the files' layout changes: a base of another format is made again.
FORMAT = 3
_decode = json.JSONDecoder().decode  # (of text: json.loads of bytes first guesses their encoding)
_SEP = "\x1f"  # between source system and record id in a stored key (below every printable character)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ARRAYS = ("keys", "norm_shape", "norm_slot", "norm_off", "norm_blob", "received", "updated", "person", "decision",
           "link_source", "score", "probability", "case_rows", "case_ids", "block_keys", "post_off", "post_rows", "rec_key_off", "rec_keys",
           "person_ids", "person_off", "person_rows")
#: The mapped arrays a query reads: paged in at :meth:`Snapshot.open` (see the module's docstring).
_EVERY_QUERY = ("keys", "block_keys", "post_off", "post_rows", "person", "person_ids", "person_off", "person_rows",
                "norm_shape", "norm_slot", "norm_off")
#: ``madvise`` advice that maps a range's pages now (Linux 5.14; Python's mmap module does not name it).
_MADV_POPULATE_READ = 22

Key = tuple[str, str]


class Snapshot:
    """Every record of one store state as columns (read-only; arrays may be memory-mapped files)."""

    def __init__(self, arrays: dict[str, np.ndarray], vocab: dict[str, list], value_counts: dict[str, dict],
                 stamp: dict[str, Any], forms: _FormFile | None = None):
        #: Whether the arrays are pages of saved files (:meth:`open`) rather than memory of this process.
        self.mapped = any(isinstance(array, np.memmap) for array in arrays.values())
        #: Plain arrays over the mapped files (``np.memmap`` pays a Python call on every index taken).
        self.a = arrays = {name: np.asarray(array) for name, array in arrays.items()}
        #: The decision and link source codes' values (index 0 is None).
        self.decisions, self.link_sources = vocab["decision"], vocab["link_source"]
        #: The forms' shapes (their field names, in order); ``norm_shape`` holds each record's.
        self.shapes = [tuple(shape) for shape in vocab["shapes"]]
        #: Column -> value -> records showing it (``mpi.matching.frequencies.ValueCounts``).
        self.value_counts = value_counts
        #: The store state and rules it was made at (``mpi.identity.upkeep._stamp``).
        self.stamp = stamp
        self.size = len(arrays["keys"])
        a = arrays
        self._keys, self._block_keys, self._person_ids = a["keys"], a["block_keys"], a["person_ids"]
        self._find_key, self._find_block, self._find_person = (
            SortedKeys(self._keys), SortedKeys(self._block_keys), SortedKeys(self._person_ids))
        self.person, self.post_off, self.post_rows = a["person"], a["post_off"], a["post_rows"]
        self.person_off, self.person_rows = a["person_off"], a["person_rows"]
        self.norm_off = a["norm_off"]
        #: The forms' buffer: a file read with ``os.pread`` (:meth:`open`), or an array in memory (a base just built).
        self._forms: _FormFile | np.ndarray = forms if forms is not None else a["norm_blob"]
        #: Row -> its open case (few records are held: a dict, read on every entry made).
        self._cases = dict(zip(a["case_rows"].tolist(), (c.decode() for c in a["case_ids"].tolist())))

    @classmethod
    def empty(cls) -> Snapshot:
        return cls.from_columns({"records": None, "postings": None, "value_counts": []}, {})

    # -- lookups -----------------------------------------------------------------------------------

    def row_of(self, key: Key) -> int | None:
        """The row of a record key, or None."""
        return self._find_key.find((key[0] + _SEP + key[1]).encode())

    def key_of(self, row: int) -> Key:
        source_system, _, record_id = self._keys[row].decode().partition(_SEP)
        return source_system, record_id

    def block_code(self, block_key: str) -> int | None:
        return self._find_block.find(block_key.encode())

    def block_codes(self, block_keys: list[str]) -> list[int]:
        """The code of each blocking key (-1 if the base holds no record under it)."""
        return self._find_block.find_many([k.encode() for k in block_keys])

    def posted_rows(self, code: int) -> np.ndarray:
        return self.post_rows[self.post_off[code]:self.post_off[code + 1]]

    def person_code(self, person_id: str) -> int | None:
        return self._find_person.find(person_id.encode())

    def person_id(self, code: int) -> str:
        return self._person_ids[code].decode()

    def rows_of_person(self, code: int) -> np.ndarray:
        return self.person_rows[self.person_off[code]:self.person_off[code + 1]]

    def person_sizes(self) -> np.ndarray:
        return np.diff(self.person_off).astype(np.int32)

    def case_id(self, row: int) -> str | None:
        return self._cases.get(row)

    def held(self) -> list[tuple[int, str]]:
        """(row, case id) of every record with an open case and no link."""
        rows, ids = self.a["case_rows"], self.a["case_ids"]
        unlinked = self.person[rows] < 0 if rows.size else np.zeros(0, dtype=bool)
        return [(int(r), ids[i].decode()) for i, r in zip(np.flatnonzero(unlinked).tolist(), rows[unlinked].tolist())]

    def block_keys_of(self, row: int) -> tuple[str, ...]:
        """The blocking keys of one row's record."""
        a, block_keys = self.a, self._block_keys
        return tuple(block_keys[c].decode() for c in a["rec_keys"][a["rec_key_off"][row]:a["rec_key_off"][row + 1]])

    def forms(self, rows: np.ndarray) -> list[tuple[tuple[str, ...], list]]:
        """(shape, values) of each row's normalised form: what the scorer reads of a candidate record."""
        a, forms = self.a, self._forms
        read = forms.read if type(forms) is _FormFile else lambda start, end: forms[start:end].tobytes()
        slots = a["norm_slot"][rows]
        starts, ends = self.norm_off[slots].tolist(), self.norm_off[slots + 1].tolist()
        # A person's forms lie together in the buffer: one read for each run of them (a system call per person).
        cut = (np.flatnonzero(slots[1:] != slots[:-1] + 1) + 1).tolist()
        spans = []
        for first, end in zip([0, *cut], [*cut, len(slots)]) if len(slots) else ():
            at = starts[first]
            run = read(at, ends[end - 1])
            spans += [run[starts[i] - at:ends[i] - at] for i in range(first, end)]
        # All of them decoded as one JSON array: one call of the decoder, not one a record.
        values = _decode((b"[" + b",".join(spans) + b"]").decode()) if spans else []
        shapes = self.shapes
        return [(shapes[shape], v) for shape, v in zip(a["norm_shape"][rows].tolist(), values)]

    def link(self, row: int) -> tuple | None:
        """(person id, decision, link source, score, probability) of one row's link, or None."""
        person = int(self.person[row])
        if person < 0:
            return None
        a = self.a
        score, probability = float(a["score"][row]), float(a["probability"][row])
        return (self._person_ids[person].decode(), self.decisions[a["decision"][row]],
                self.link_sources[a["link_source"][row]], None if isnan(score) else score,
                None if isnan(probability) else probability)

    def records(self, rows: np.ndarray) -> list[tuple]:
        """(key, shape, values as a list, row, link or None, case id) of each row."""
        return [(self.key_of(row), shape, values, row, self.link(row), self._cases.get(row))
                for row, (shape, values) in zip(rows.tolist(), self.forms(rows))]

    def times(self, row: int) -> tuple[datetime, datetime]:
        """(received, updated) of one row."""
        return (_EPOCH + timedelta(microseconds=int(self.a["received"][row])),
                _EPOCH + timedelta(microseconds=int(self.a["updated"][row])))

    # -- making, saving, opening -------------------------------------------------------------------

    @classmethod
    def from_columns(cls, columns: dict[str, Any], stamp: dict[str, Any]) -> Snapshot:
        """Build from ``RecordTable.index_columns`` (Arrow tables), in numpy (no Python object per record row)."""
        records, a = columns["records"], {}
        n = 0 if records is None else records.num_rows
        if n:
            keys = _fixed(records.column("key"))
            renumber = None
            if n > 1 and not bool(np.all(keys[1:] > keys[:-1])):  # (DuckDB's order is byte order: a guard)
                order = np.argsort(keys, kind="stable")
                records, keys = records.take(pa.array(order)), keys[order]
                renumber = np.empty(n, dtype=np.int32)
                renumber[order] = np.arange(n, dtype=np.int32)
            a["keys"] = keys
            coded = records.column("norm_shape").combine_chunks().dictionary_encode()
            a["norm_shape"] = coded.indices.to_numpy().astype(np.int32)
            shapes = [json.loads(shape) for shape in coded.dictionary.to_pylist()]
            a["received"] = records.column("received").to_numpy().astype(np.int64)
            a["updated"] = records.column("updated").to_numpy().astype(np.int64)
            linked = records.column("person_id").is_valid().to_numpy(zero_copy_only=False)
            person_ids = _fixed(records.column("person_id").drop_null())
            a["person_ids"], codes = np.unique(person_ids, return_inverse=True)
            person = np.full(n, -1, dtype=np.int32)
            person[linked] = codes
            a["person"] = person
            vocab = {"shapes": shapes}
            for name in ("decision", "link_source"):
                coded = records.column(name).combine_chunks().dictionary_encode()
                values = coded.dictionary.to_pylist()
                vocab[name] = [None, *sorted(values)]  # (in a fixed order, whatever order the rows came in)
                recode = np.array([0, *(vocab[name].index(v) for v in values)], dtype=np.int8)
                a[name] = recode[coded.indices.fill_null(-1).to_numpy(zero_copy_only=False) + 1]
            for name in ("score", "probability"):
                a[name] = records.column(name).to_numpy(zero_copy_only=False).astype(np.float64)  # None -> NaN
            cases = records.column("case_id")
            has_case = cases.is_valid().to_numpy(zero_copy_only=False)
            a["case_rows"] = np.flatnonzero(has_case).astype(np.int32)
            a["case_ids"] = _fixed(cases.drop_null())
            linked_rows = np.flatnonzero(linked).astype(np.int32)
            by_person = np.argsort(person[linked_rows], kind="stable")  # rows stay ascending within a person
            a["person_rows"] = linked_rows[by_person]
            a["person_off"] = _offsets(np.bincount(person[linked_rows], minlength=len(a["person_ids"])))
            # The forms in the order of persons (the records of none after), so a person's are read at once.
            order = np.concatenate([a["person_rows"], np.flatnonzero(~linked).astype(np.int32)])
            a["norm_off"], a["norm_blob"] = _blob(records.column("norm_values").take(pa.array(order)))
            a["norm_slot"] = np.empty(n, dtype=np.int32)
            a["norm_slot"][order] = np.arange(n, dtype=np.int32)
            # Blocking keys coded by Arrow's hash table, the codes renumbered in the keys' byte order.
            coded = columns["postings"].column("block_key").combine_chunks().dictionary_encode()
            ordered = coded.dictionary.cast("binary")
            by_bytes = pc.sort_indices(ordered).to_numpy()
            rank = np.empty(len(by_bytes), dtype=np.int32)
            rank[by_bytes] = np.arange(len(by_bytes), dtype=np.int32)
            block_keys = _fixed(ordered.take(pa.array(by_bytes)))
            if len(block_keys) > 1 and not bool(np.all(block_keys[1:] > block_keys[:-1])):
                raise ValueError("blocking keys are not unique and in byte order")
            a["block_keys"] = block_keys
            post_codes = rank[coded.indices.to_numpy()]
            post_rows = columns["postings"].column("row").to_numpy().astype(np.int32)
            if renumber is not None:
                post_rows = renumber[post_rows]
            by_code = np.lexsort((post_rows, post_codes))
            a["post_rows"] = post_rows[by_code]
            a["post_off"] = _offsets(np.bincount(post_codes, minlength=len(block_keys)))
            by_row = np.lexsort((post_codes, post_rows))
            a["rec_keys"] = post_codes[by_row]
            a["rec_key_off"] = _offsets(np.bincount(post_rows, minlength=n))
        else:
            vocab = {"decision": [None], "link_source": [None], "shapes": []}
            for name, dtype in (("keys", "S1"), ("norm_shape", np.int32), ("norm_slot", np.int32),
                                ("norm_blob", np.uint8), ("received", np.int64),
                                ("updated", np.int64), ("person", np.int32), ("decision", np.int8),
                                ("link_source", np.int8), ("score", np.float64), ("probability", np.float64),
                                ("case_rows", np.int32), ("case_ids", "S1"), ("block_keys", "S1"),
                                ("post_rows", np.int32), ("rec_keys", np.int32), ("person_ids", "S1"),
                                ("person_rows", np.int32)):
                a[name] = np.zeros(0, dtype=dtype)
            for name in ("norm_off", "post_off", "rec_key_off", "person_off"):
                a[name] = np.zeros(1, dtype=np.int64)
        value_counts: dict[str, dict] = {}
        for column, value, count in columns["value_counts"]:
            value_counts.setdefault(column, {})[json.loads(value)] = count
        return cls(a, vocab, value_counts, stamp)

    def save(self, folder: Path) -> None:
        """Write the base into ``folder`` (replaced whole: written beside it, then renamed into place)."""
        folder = Path(folder)
        tmp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for name in _ARRAYS:
            if name == "norm_blob" and type(self._forms) is _FormFile:
                shutil.copyfile(self._forms.path, tmp / f"{name}.npy")
            else:
                np.save(tmp / f"{name}.npy", np.ascontiguousarray(self.a[name]), allow_pickle=False)
        value_counts = {c: list(counts.items()) for c, counts in self.value_counts.items()}
        (tmp / "value_counts.json").write_text(json.dumps(value_counts), encoding="utf-8")
        manifest = {"format": FORMAT, "stamp": self.stamp, "records": self.size,
                    "vocab": {"decision": self.decisions, "link_source": self.link_sources,
                              "shapes": [list(shape) for shape in self.shapes]}}
        (tmp / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")  # last: a folder without it is not one
        old = folder.with_name(f"{folder.name}.old-{os.getpid()}")
        if folder.exists():
            folder.rename(old)
        tmp.rename(folder)
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def open(cls, folder: Path) -> Snapshot:
        """Map a saved base (its arrays are paged in as they are read)."""
        folder = Path(folder)
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        if manifest.get("format") != FORMAT:
            raise ValueError(f"index snapshot format {manifest.get('format')}, not {FORMAT}")
        arrays = {name: np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False) for name in _ARRAYS}
        for name in _EVERY_QUERY:
            _page_in(arrays[name])
        forms = _FormFile(folder / "norm_blob.npy", arrays["norm_blob"].offset)
        arrays["norm_blob"] = np.zeros(0, dtype=np.uint8)  # (the mapping is dropped: the forms are read, never mapped)
        counts = json.loads((folder / "value_counts.json").read_text(encoding="utf-8"))
        value_counts = {c: {(tuple(v) if isinstance(v, list) else v): n for v, n in pairs}
                        for c, pairs in counts.items()}
        return cls(arrays, manifest["vocab"], value_counts, manifest["stamp"], forms)


class _FormFile:
    """The saved forms' buffer, read a span at a time with ``os.pread`` (one system call, no mapping)."""

    def __init__(self, path: Path, data_offset: int):
        self.path = path
        self._file = open(path, "rb", buffering=0)  # noqa: SIM115 (held as long as the base; closed with it)
        self._fd, self._at = self._file.fileno(), data_offset

    def read(self, start: int, end: int) -> bytes:
        return os.pread(self._fd, end - start, self._at + start)


def _page_in(array: np.ndarray) -> None:
    """Map every page of a mapped array now, in one system call, rather than one fault a page as it is first read.

    Linux only (elsewhere, and on a kernel before 5.14, the pages fault in as they are read, as before).
    """
    mapping = getattr(array, "_mmap", None)  # numpy.memmap's mapping
    if mapping is None or not sys.platform.startswith("linux"):
        return
    try:
        mapping.madvise(_MADV_POPULATE_READ)
    except OSError as error:
        logger.debug("index base pages not mapped ahead (%s): they fault in as read", error.strerror)


def folder_of(db_path: str) -> Path | None:
    """Where the base of the store at ``db_path`` is kept (None for a store in memory, or in a database server,
    whose instances each build their own at start: the store changes under them)."""
    return None if db_path == ":memory:" or "://" in db_path else Path(db_path + ".index")


def read_stamp(folder: Path) -> dict | None:
    """The stamp a saved base was made at, or None if there is none (or it cannot be read)."""
    try:
        manifest = json.loads((Path(folder) / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest.get("stamp") if manifest.get("format") == FORMAT else None


def open_current(folder: Path | None, stamp: dict[str, Any]) -> Snapshot | None:
    """The saved base if it was made at exactly ``stamp`` (the store's state and rules now), else None."""
    if folder is None or stamp.get("state") is None or read_stamp(folder) != stamp:
        return None
    try:
        return Snapshot.open(folder)
    except (OSError, ValueError, KeyError) as e:
        logger.warning("candidate index snapshot at %s unreadable (%s): built again", folder, type(e).__name__)
        return None


def _fixed(column: Any) -> np.ndarray:
    """A string column as a fixed-width byte-string array (what numpy binary-searches), copied a block at a time
    from Arrow's buffers (no Python object per value)."""
    offsets, data = _blob(column)
    n = len(offsets) - 1
    if not n:
        return np.zeros(0, dtype="S1")
    lengths = np.diff(offsets)
    width = max(int(lengths.max()), 1)
    out = np.zeros((n, width), dtype=np.uint8)
    flat = out.reshape(-1)
    step = max(1, 4_000_000 // width)
    for start in range(0, n, step):
        end = min(n, start + step)
        length = lengths[start:end]
        begin = np.repeat(offsets[start:end], length)
        within = np.arange(len(begin), dtype=np.int64) - np.repeat(np.cumsum(length) - length, length)
        flat[np.repeat(np.arange(start, end, dtype=np.int64) * width, length) + within] = data[begin + within]
    return out.view(f"S{width}").reshape(n)


def _blob(column: Any) -> tuple[np.ndarray, np.ndarray]:
    """A string column as (offsets, one buffer of its bytes), without a Python object per value."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    array = array.cast(pa.large_binary())
    if array.null_count:
        array = array.drop_null()
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)[array.offset:array.offset + len(array) + 1]
    data = np.frombuffer(array.buffers()[2], dtype=np.uint8)
    return offsets - offsets[0], data[offsets[0]:offsets[-1]]  # (a view of Arrow's buffer: no second copy)


def _offsets(counts: np.ndarray) -> np.ndarray:
    out = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=out[1:])
    return out
