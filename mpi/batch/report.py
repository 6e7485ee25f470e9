"""What a batch run found, as a bounded JSON-safe summary, and the CSV of the cases it opened.

A run's report is stored with the run (``dedup_runs.report``) and drawn as one
HTML page (:mod:`mpi.batch.report_html`): the served page and the ``--report``
file. It must stay small whatever the population (a few hundred KB at a million
records and millions of pairs), so every part of it is a count, a distribution
or a capped list, and everything heavy is done by ``pyarrow.compute`` and
``group_by`` over whole columns: no Python loop over pairs or records.

The report names records by their key (``source_system/source_record_id``) and
persons by id, never by a value from a record: a page or file written from it
carries no name, birth date or address.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from mpi.batch.engine import Scored
from mpi.batch.report_html import render_html
from mpi.matching.policy import Policy

__all__ = ["CASE_COLUMNS", "build_report", "cases_csv", "render_html"]

#: The columns of the cases CSV, in order (issue 16).
CASE_COLUMNS = ("case_id", "merge_id", "person_a", "person_b", "match_weight", "record_a", "record_b")
#: A histogram spanning at most this many bits gets half-bit bins; a wider one whole bits.
HALF_BIT_SPAN = 40.0
LARGEST_CLUSTERS = 10
MEMBERS_SHOWN = 20
NEAREST = 10
#: Caps on the lists a report carries (the rest is counted in ``totals``).
CASES_KEPT = 200
SPLITS_KEPT = 100
SOURCES_KEPT = 100


def build_report(scored: Scored, records: pa.Table, policy: Policy, cases: Sequence[Mapping[str, Any]],
                 splits: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Summarise a run: thresholds, weights, clusters, the pairs nearest each threshold, sources, totals.

    Args:
        scored: what the engine made of the population (:func:`mpi.batch.engine.score`).
        records: ``unique_id``, ``source_system``, ``source_record_id`` of every record scored, and for a
            store run ``person_id`` (null for a record held in review).
        policy: the policy the run applied (its lower and upper thresholds).
        cases: the cases the run opened and the auto-merges it made (``CASE_COLUMNS``).
        splits: the persons the run would split: ``person_id``, ``records``, ``parts``.

    Returns:
        A JSON-safe dict, bounded in size (see the module's docstring).
    """
    lower, upper = float(policy.lower_match_weight), float(policy.upper_match_weight)
    weights = scored.pairs.column("match_weight")
    keyed = _keys(records)
    positions = _positioner(keyed)
    store_run = "person_id" in records.column_names
    sizes = _cluster_sizes(scored.clusters)
    clusters_of_2 = sizes.filter(pc.greater_equal(sizes.column("size"), 2))
    cases = list(cases)
    totals = {
        "records": records.num_rows,
        "pairs_scored": scored.pairs.num_rows,
        "pairs_above_lower": _count(pc.greater_equal(weights, lower)),
        "pairs_above_upper": _count(pc.greater_equal(weights, upper)),
        "clusters": sizes.num_rows,
        "clusters_of_two_or_more": clusters_of_2.num_rows,
        "records_in_clusters_of_two_or_more": int(pc.sum(clusters_of_2.column("size")).as_py() or 0),
        "cases_opened": sum(1 for c in cases if c.get("case_id")),
        "auto_merged": sum(1 for c in cases if c.get("merge_id")),
        "splits": len(splits),
    }
    if store_run:
        totals["records_held"] = records.column("person_id").null_count
    return {
        "store_run": store_run,
        "thresholds": {"lower": lower, "upper": upper, "floor": float(scored.floor),
                       "clustered_at": float(scored.threshold)},
        "histogram": histogram(weights, float(scored.floor)),
        "cluster_sizes": _size_distribution(sizes),
        "largest_clusters": _largest_clusters(scored.clusters, sizes, keyed, positions),
        "nearest": {name: _nearest(scored.pairs, at, keyed) for name, at in (("lower", lower), ("upper", upper))},
        "by_source": _by_source(scored, keyed, positions, sizes, lower),
        "totals": totals,
        "seconds": {phase: round(float(s), 3) for phase, s in scored.seconds.items()},
        "cases": [_case_row(c) for c in cases[:CASES_KEPT]],
        "splits": [{"person_id": s["person_id"], "records": int(s["records"]), "parts": int(s["parts"])}
                   for s in list(splits)[:SPLITS_KEPT]],
    }


def cases_csv(cases: Sequence[Mapping[str, Any]]) -> str:
    """The cases a run opened (and its auto-merges), one a line: ``CASE_COLUMNS``, empty where there is none."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CASE_COLUMNS)
    for case in cases:
        row = _case_row(case)
        writer.writerow(["" if row[c] is None else row[c] for c in CASE_COLUMNS])
    return out.getvalue()


def histogram(weights: pa.ChunkedArray | pa.Array, floor: float) -> dict[str, Any]:
    """Pairs by match weight from the floor to the highest weight, in bins of half a bit (or a bit when wide).

    Bin ``i`` holds weights in ``[start + i * width, start + (i + 1) * width)``; the last bin also holds
    the highest weight. ``start`` is the floor rounded down to the bin width, so a threshold on a whole or
    half bit is a bin edge.
    """
    top = pc.max(weights).as_py() if len(weights) else None
    top = floor if top is None else max(float(top), floor)
    width = 0.5 if top - floor <= HALF_BIT_SPAN else 1.0
    start = math.floor(floor / width) * width
    bins = max(1, math.ceil((top - start) / width + 1e-9))
    if top >= start + bins * width:  # the highest weight exactly on an edge falls in the last bin
        bins += 1
    counts = [0] * bins
    if len(weights):
        index = pc.cast(pc.floor(pc.divide(pc.subtract(weights, start), width)), pa.int64())
        index = pc.min_element_wise(pc.max_element_wise(index, 0), bins - 1)
        tally = pc.value_counts(index)
        for i, n in zip(tally.field("values").to_pylist(), tally.field("counts").to_pylist(), strict=True):
            counts[i] = n
    return {"start": start, "width": width, "counts": counts}


def _count(mask: pa.ChunkedArray | pa.Array) -> int:
    return int(pc.sum(pc.cast(mask, pa.int64())).as_py() or 0)


def _keys(records: pa.Table) -> pa.Table:
    """``unique_id``, ``record`` (``system/id``), ``source_system`` and ``person_id`` (null when none)."""
    person = (records.column("person_id").cast(pa.string()) if "person_id" in records.column_names
              else pa.nulls(records.num_rows, pa.string()))
    system = records.column("source_system").cast(pa.string())
    return pa.table({"unique_id": records.column("unique_id").cast(pa.int64()),
                     "record": pc.binary_join_element_wise(system, records.column("source_record_id").cast(
                         pa.string()), "/"),
                     "source_system": system, "person_id": person})


def _cluster_sizes(clusters: pa.Table) -> pa.Table:
    """``cluster_id``, ``size``: every cluster's size."""
    grouped = clusters.group_by("cluster_id").aggregate([("unique_id", "count")])
    return pa.table({"cluster_id": grouped.column("cluster_id"), "size": grouped.column("unique_id_count")})


def _size_distribution(sizes: pa.Table) -> list[dict[str, int]]:
    """Size -> clusters of that size, smallest first (sizes times clusters sum to the records)."""
    grouped = sizes.group_by("size").aggregate([("cluster_id", "count")]).sort_by("size")
    return [{"size": s, "clusters": n} for s, n in zip(grouped.column("size").to_pylist(),
                                                      grouped.column("cluster_id_count").to_pylist(), strict=True)]


def _largest_clusters(clusters: pa.Table, sizes: pa.Table, keyed: pa.Table,
                      positions: Callable) -> list[dict[str, Any]]:
    """The largest clusters (ties: the smaller id first), each with its first members' keys and its systems."""
    top = sizes.sort_by([("size", "descending"), ("cluster_id", "ascending")]).slice(0, LARGEST_CLUSTERS)
    ids = top.column("cluster_id")
    members = clusters.filter(pc.is_in(clusters.column("cluster_id"), value_set=ids.combine_chunks()))
    members = members.sort_by([("cluster_id", "ascending"), ("unique_id", "ascending")])
    rows = keyed.take(positions(members.column("unique_id")))
    members = pa.table({"cluster_id": members.column("cluster_id"), **{c: rows.column(c) for c in
                                                                        ("record", "source_system", "person_id")}})
    by_cluster: dict[int, dict[str, Any]] = {}
    for cid, record, system, person in zip(*(members.column(c).to_pylist() for c in
                                             ("cluster_id", "record", "source_system", "person_id")), strict=True):
        entry = by_cluster.setdefault(cid, {"records": [], "systems": {}, "persons": set()})
        if len(entry["records"]) < MEMBERS_SHOWN:
            entry["records"].append(record)
        entry["systems"][system] = entry["systems"].get(system, 0) + 1
        if person is not None:
            entry["persons"].add(person)
    out = []
    for cid, size in zip(ids.to_pylist(), top.column("size").to_pylist(), strict=True):
        entry = by_cluster.get(cid, {"records": [], "systems": {}, "persons": set()})
        out.append({"cluster_id": cid, "size": size, "records": entry["records"],
                    "source_systems": dict(sorted(entry["systems"].items())), "persons": len(entry["persons"])})
    return out


def _nearest(pairs: pa.Table, threshold: float, keyed: pa.Table) -> dict[str, list[dict[str, Any]]]:
    """The pairs just at or above ``threshold`` (lowest first) and just below it (highest first)."""
    weights = pairs.column("match_weight")
    above = pairs.filter(pc.greater_equal(weights, threshold))
    below = pairs.filter(pc.less(weights, threshold))
    order = [("match_weight", "ascending"), ("unique_id_l", "ascending"), ("unique_id_r", "ascending")]
    above = above.take(pc.select_k_unstable(above, NEAREST, order)) if above.num_rows else above
    down = [("match_weight", "descending"), ("unique_id_l", "ascending"), ("unique_id_r", "ascending")]
    below = below.take(pc.select_k_unstable(below, NEAREST, down)) if below.num_rows else below
    return {"above": _pair_rows(above.sort_by(order), keyed), "below": _pair_rows(below.sort_by(down), keyed)}


def _pair_rows(pairs: pa.Table, keyed: pa.Table) -> list[dict[str, Any]]:
    ids = pa.concat_arrays([pairs.column("unique_id_l").combine_chunks(), pairs.column("unique_id_r").combine_chunks()])
    found = keyed.filter(pc.is_in(keyed.column("unique_id"), value_set=ids))
    lookup = {u: (r, p) for u, r, p in zip(*(found.column(c).to_pylist() for c in ("unique_id", "record",
                                                                                    "person_id")), strict=True)}
    rows = []
    for l, r, w, p in zip(*(pairs.column(c).to_pylist() for c in ("unique_id_l", "unique_id_r", "match_weight",
                                                                   "match_probability")), strict=True):
        (record_l, person_l), (record_r, person_r) = lookup.get(l, (None, None)), lookup.get(r, (None, None))
        rows.append({"record_l": record_l, "record_r": record_r, "match_weight": round(w, 6),
                     "match_probability": p, "person_l": person_l, "person_r": person_r})
    return rows


def _by_source(scored: Scored, keyed: pa.Table, positions: Callable, sizes: pa.Table,
               lower: float) -> list[dict[str, Any]]:
    """Per source system: its records, those in clusters of 2+, and its pairs at or above the lower threshold
    with itself (``pairs_within``) and with other systems (``pairs_across``: a pair counts once for each side)."""
    system = keyed.column("source_system").combine_chunks().dictionary_encode()
    counts: dict[str, dict[str, Any]] = {
        s: {"source_system": s, "records": n, "records_in_clusters": 0, "pairs_within": 0, "pairs_across": 0}
        for s, n in _tally(system)}
    multi = sizes.filter(pc.greater_equal(sizes.column("size"), 2)).column("cluster_id").combine_chunks()
    clustered = scored.clusters.filter(pc.is_in(scored.clusters.column("cluster_id"), value_set=multi))
    for s, n in _tally(system.take(positions(clustered.column("unique_id")))):
        counts[s]["records_in_clusters"] = n
    pairs = scored.pairs.filter(pc.greater_equal(scored.pairs.column("match_weight"), lower))
    left = system.take(positions(pairs.column("unique_id_l")))
    right = system.take(positions(pairs.column("unique_id_r")))
    same = pc.equal(left.indices, right.indices)
    for s, n in _tally(left.filter(same)):
        counts[s]["pairs_within"] = n
    across = pc.invert(same)
    for s, n in _tally(pa.chunked_array([left.filter(across), right.filter(across)])):
        counts[s]["pairs_across"] = n
    return sorted(counts.values(), key=lambda c: (-c["records"], c["source_system"]))[:SOURCES_KEPT]


def _positioner(keyed: pa.Table) -> Callable[[pa.ChunkedArray | pa.Array], pa.Array]:
    """Unique ids -> the rows of ``keyed`` holding them: the ids themselves when they are the row numbers (a
    store run's are: 0..n-1 in order), else a hash lookup. Either is a fraction of a join's cost."""
    uid = keyed.column("unique_id").combine_chunks()
    n = len(uid)
    dense = n == 0 or (uid[0].as_py() == 0 and uid[n - 1].as_py() == n - 1
                       and (n == 1 or pc.all(pc.equal(pc.subtract(uid[1:], uid[:-1]), 1)).as_py()))

    def positions(ids: pa.ChunkedArray | pa.Array) -> pa.Array:
        ids = ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids
        return ids if dense else pc.index_in(ids, value_set=uid)
    return positions


def _tally(column: pa.ChunkedArray) -> list[tuple[str, int]]:
    tally = pc.value_counts(column)
    return list(zip(tally.field("values").to_pylist(), tally.field("counts").to_pylist(), strict=True))


def _case_row(case: Mapping[str, Any]) -> dict[str, Any]:
    weight = case.get("match_weight")
    return {"case_id": case.get("case_id"), "merge_id": case.get("merge_id"), "person_a": case.get("person_a"),
            "person_b": case.get("person_b"), "match_weight": None if weight is None else round(float(weight), 6),
            "record_a": case.get("record_a"), "record_b": case.get("record_b")}
