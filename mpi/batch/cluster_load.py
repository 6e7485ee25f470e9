"""Onboarding a bulk file by its clusters: ``mpi load --clusters clusters.csv --input FILE``.

A clusters file (``mpi dedup --input``; :data:`~mpi.batch.bulk_file.CLUSTER_COLUMNS`) says which records
of the file are one human. Each cluster is matched against the index **once**, through its representative
(the member with the most fields, the first on a tie), and the whole cluster follows that one decision
(:meth:`~mpi.identity.matcher.MatchService.submit_cluster`):

- ``MATCH``: every member linked (``AUTO``) to the person the representative matched, with its own weight
  to the cluster;
- ``NO_MATCH``: one new person for the cluster, every member linked to it;
- either way, a member that meets a conflict rule of the policy against any record of that person (a
  son's record clustered with his father's through an undated one) is decided alone instead, as ``mpi
  load`` decides a record: a cluster never carries a record into a person it contradicts;
- ``POSSIBLE_MATCH``: the representative held in review as today, and every member held too, with the
  representative's candidates (one case each: a case holds one record). Linking a member to a guess
  would be worse than holding it, and a member is not more certain than its best-evidenced record; once a
  steward decides the representative, the members score above the upper threshold against its record, so
  re-matching (run after the load) links them to the same person.

A record the clusters file does not name (or names with an empty ``cluster_id``), a cluster of one, and a
member already stored (an update) are decided alone, record by record, as ``mpi load`` decides them.

The load keeps what ``mpi load`` guarantees: batches of :data:`~mpi.identity.loading.LOAD_BATCH` rows per
transaction, progress per row, and resuming. Clusters are taken in the order of their first row, so once a
cluster is committed every row up to its first is committed too: that prefix is the checkpoint. A member
further down that a resumed load sends again is already stored as sent, and changes nothing.
"""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mpi.batch.bulk_file import CLUSTER_COLUMNS
from mpi.errors import MpiError
from mpi.identity.loading import LOAD_BATCH, Loaded, Outcome
from mpi.identity.matcher import MatchService
from mpi.matching.prepare import Prepared
from mpi.records.fields import DEMOGRAPHIC_FIELDS

logger = logging.getLogger(__name__)

Key = tuple[str, str]


class ClustersFileError(MpiError):
    """A clusters file that does not fit its records file: nothing is loaded."""

    status = 400
    code = "bad_clusters_file"


@dataclass(frozen=True)
class Membership:
    """A record's cluster, and its best weight to another member (None alone)."""

    cluster_id: str
    weight: float | None


def read_clusters(path: str | Path, input_keys: Iterable[Key]) -> dict[Key, Membership]:
    """A clusters file, checked whole against the keys of its records file before anything is written.

    Raises:
        ClustersFileError: no such file, a header other than :data:`CLUSTER_COLUMNS`, or a line that names a
            record absent from the input, names a record twice, or has a weight that is not a number.
    """
    p = Path(path)
    if not p.is_file():
        raise ClustersFileError(f"{p}: {'a directory, not a clusters file' if p.is_dir() else 'no such file'}")
    known = set(input_keys)
    clusters: dict[Key, Membership] = {}
    try:
        with p.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = [h.strip() for h in next(reader, [])]
            if header != list(CLUSTER_COLUMNS):
                raise ClustersFileError(f"{p}: the header must be exactly {','.join(CLUSTER_COLUMNS)}",
                                        {"clusters": ["header"]})
            for row in reader:
                clusters.update([_membership(p, reader.line_num, row, known, clusters)])
    except (UnicodeDecodeError, csv.Error) as e:
        raise ClustersFileError(f"{p}: not a readable UTF-8 CSV file ({type(e).__name__})") from None
    return clusters


def _membership(path: Path, line: int, row: list[str], known: set[Key],
                seen: Mapping[Key, Membership]) -> tuple[Key, Membership]:
    def bad(problem: str) -> ClustersFileError:
        return ClustersFileError(f"{path}: line {line}: {problem}", {"clusters": [f"line {line}: {problem}"]})

    if len(row) != len(CLUSTER_COLUMNS):
        raise bad(f"{len(row)} values, expected {len(CLUSTER_COLUMNS)}")
    system, record_id, cluster_id, weight = (v.strip() for v in row)
    key = (system, record_id)
    if key not in known:
        raise bad("names a record that is not in the input file")
    if key in seen:
        raise bad("names a record a line above names already")
    try:
        value = float(weight) if weight else None
    except ValueError:
        raise bad("match_weight_to_cluster is not a number") from None
    if value is not None and not math.isfinite(value):
        raise bad("match_weight_to_cluster is not a number")
    return key, Membership(cluster_id, value)


def richness(prepared: Prepared) -> int:
    """How many of a record's fields it fills (normalised): the representative is the richest member."""
    return sum(1 for f in DEMOGRAPHIC_FIELDS if prepared.norm.get(f) not in (None, ""))


@dataclass
class ClusterLoaded(Loaded):
    """What a load by clusters did, beside a load's decisions and rejected rows."""

    clusters_matched: int = 0
    linked_by_cluster: int = 0
    held_by_cluster: int = 0
    #: Members of a matched cluster that contradict a record of its person, so decided alone.
    decided_alone: int = 0
    persons_created: int = 0
    cases_opened: int = 0
    match_calls: int = 0

    @property
    def match_calls_saved(self) -> int:
        """Records decided by their cluster's one match instead of a match of their own."""
        return self.linked_by_cluster + self.held_by_cluster


def _units(rows: list[Outcome], clusters: Mapping[Key, Membership]) -> list[tuple[int, list[int]]]:
    """The work in order: (first row's index, indexes of its rows), a record alone or a cluster at its first row."""
    units: list[tuple[int, list[int]]] = []
    by_cluster: dict[str, list[int]] = {}
    for i, (_, prepared, _) in enumerate(rows):
        membership = clusters.get(prepared.key) if prepared is not None else None
        if membership is None or not membership.cluster_id:
            units.append((i, [i]))
        elif membership.cluster_id in by_cluster:
            by_cluster[membership.cluster_id].append(i)
        else:
            by_cluster[membership.cluster_id] = [i]
            units.append((i, by_cluster[membership.cluster_id]))
    return units


def load_by_clusters(matching: MatchService, rows: Iterable[Outcome], clusters: Mapping[Key, Membership],
                     actor: str, progress: Callable[[int], Any] | None = None, batch: int = LOAD_BATCH,
                     checkpoint: Callable[[int, bool], Any] | None = None) -> ClusterLoaded:
    """Decide prepared rows cluster by cluster, a store transaction per about ``batch`` rows.

    ``progress(n)`` is told the rows each cluster took, and ``checkpoint(rows, whether they are all)`` the
    prefix of rows committed, inside each batch's transaction (:meth:`~mpi.identity.loading.FileLoad.checkpoint`).
    """
    rows = list(rows)
    units = _units(rows, clusters)
    loaded = ClusterLoaded()
    position = 0
    while position < len(units):
        with matching.store.transaction():
            in_batch = 0
            while position < len(units) and in_batch < batch:
                _, members = units[position]
                position += 1
                _decide(matching, [rows[i] for i in members], clusters, actor, loaded)
                in_batch += len(members)
                if progress is not None:
                    progress(len(members))
            done = position == len(units)
            if checkpoint is not None:
                checkpoint(len(rows) if done else units[position][0], done)
        logger.info("load by clusters: %s of %s units committed", position, len(units))
    if checkpoint is not None and not units:
        with matching.store.transaction():
            checkpoint(0, True)
    return loaded


def _decide(matching: MatchService, rows: list[Outcome], clusters: Mapping[Key, Membership], actor: str,
            loaded: ClusterLoaded) -> None:
    """One unit: a record alone, or a cluster (its stored members alone, its new members by one match)."""
    latest: dict[Key, Prepared] = {}
    for line, prepared, bad_fields in rows:
        if prepared is None:
            loaded.rejected.append((line, bad_fields))
        else:
            latest[prepared.key] = prepared  # the same key twice: the later row is the record
    index = matching.index()
    new = [p for k, p in latest.items() if index.get(k) is None]
    alone = [p for k, p in latest.items() if index.get(k) is not None]
    if len(new) < 2:
        alone, new = alone + new, []
    for prepared in alone:
        _count(loaded, matching.submit_prepared(prepared, actor, with_candidates=False))
    if not new:
        return
    representative = max(new, key=richness)  # the first of the richest: max keeps the first on a tie
    members = [(p, clusters[p.key].weight) for p in new if p is not representative]
    cluster_id = clusters[representative.key].cluster_id
    result = matching.submit_cluster(representative, members, actor, cluster_id)
    _count(loaded, result)
    loaded.clusters_matched += 1
    if result["person_id"] is None:
        loaded.held_by_cluster += len(members)
        loaded.cases_opened += len(result["held"])
        loaded.decisions["POSSIBLE_MATCH"] += len(members)
    else:
        alone = result["decided_alone"]  # members that contradict a record of the person: decided alone
        loaded.linked_by_cluster += len(members) - len(alone)
        loaded.decisions["MATCH"] += len(members) - len(alone)
        loaded.decided_alone += len(alone)
        for outcome in alone.values():
            _count(loaded, outcome)


def _count(loaded: ClusterLoaded, result: Mapping[str, Any]) -> None:
    """Count a record's own decision (one match call, unless it was sent again unchanged)."""
    decision = result["decision"]
    loaded.decisions[decision] += 1
    if result.get("unchanged"):
        return
    loaded.match_calls += 1
    if decision == "NO_MATCH" and result.get("person_id"):
        loaded.persons_created += 1
    if result.get("review_case_id"):
        loaded.cases_opened += 1
