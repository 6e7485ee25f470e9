"""A run's report adds up, stays small, names no one, and draws as one well-formed standalone page.

The report is built from a real engine run over a few hundred generated records
(the numbers must agree with the pairs and clusters Splink gave), and from a
made-up million-pair run for its size (no engine needed to check a bound).
"""

from __future__ import annotations

import csv
import io
import json
import re
from html.parser import HTMLParser

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from mpi.batch import engine
from mpi.batch.report import CASE_COLUMNS, build_report, cases_csv, render_html
from mpi.batch.report_html import Links
from mpi.matching.training import model_row
from mpi.records.validation import validate_record
from mpi.services import DEFAULT_MODEL_VERSION
from mpi.settings import PROJECT_ROOT
from mpi.synth.generator import generate_records

RUN = {"run_id": "DR000001", "model_version": DEFAULT_MODEL_VERSION, "engine": "duckdb",
       "started_at": "2026-12-06T17:00:00+00:00", "finished_at": "2026-12-06T17:00:09+00:00", "outcome": "succeeded"}


@pytest.fixture(scope="module")
def run():
    document = json.loads((PROJECT_ROOT / "matching_models" / f"{DEFAULT_MODEL_VERSION}.json").read_text())
    records = [validate_record(r, strict=False) for r in generate_records(300, seed=21)]
    model = engine.BatchModel.of(document)
    scored = engine.score(pa.Table.from_pylist([{**model_row(r), "unique_id": i} for i, r in enumerate(records)]),
                          model)
    keys = pa.table({"unique_id": pa.array(range(len(records)), pa.int64()),
                     "source_system": [r["source_system"] for r in records],
                     "source_record_id": [r["source_record_id"] for r in records],
                     # a store run: every tenth record held in review (no person)
                     "person_id": [None if i % 10 == 0 else f"P{i:06d}" for i in range(len(records))]})
    cases = [{"case_id": "RC000001", "merge_id": None, "person_a": "P000001", "person_b": "P000002",
              "match_weight": 9.25, "record_a": keys["source_system"][1].as_py() + "/" + keys["source_record_id"][
                  1].as_py(), "record_b": "st-marys-ehr/2"},
             {"case_id": None, "merge_id": "MG000001", "person_a": "P000003", "person_b": "P000004",
              "match_weight": 21.5, "record_a": "st-marys-ehr/3", "record_b": "st-marys-ehr/4"}]
    splits = [{"person_id": "P000005", "records": 3, "parts": 2}]
    report = build_report(scored, keys, model.policy, cases, splits)
    return records, scored, keys, model.policy, report


def _pairs(scored):
    return list(zip(*(scored.pairs.column(c).to_pylist() for c in ("unique_id_l", "unique_id_r", "match_weight")),
                    strict=True))


def test_the_histogram_counts_every_pair_scored_in_bins_from_the_floor(run):
    _, scored, _, _, report = run
    h = report["histogram"]
    assert scored.pairs.num_rows > 500
    assert sum(h["counts"]) == scored.pairs.num_rows == report["totals"]["pairs_scored"]
    assert h["width"] in (0.5, 1.0) and h["start"] <= scored.floor < h["start"] + h["width"]
    weights = [w for _, _, w in _pairs(scored)]
    assert h["start"] + (len(h["counts"]) - 1) * h["width"] <= max(weights) < h["start"] + len(h["counts"]) * h["width"]
    for i in (0, len(h["counts"]) // 2):  # a bin holds exactly the weights between its edges
        low = h["start"] + i * h["width"]
        assert h["counts"][i] == sum(1 for w in weights if low <= w < low + h["width"])


def test_cluster_sizes_sum_to_the_records_and_the_largest_come_first(run):
    _, scored, keys, _, report = run
    sizes = report["cluster_sizes"]
    assert sum(s["size"] * s["clusters"] for s in sizes) == keys.num_rows == report["totals"]["records"]
    assert sum(s["clusters"] for s in sizes) == report["totals"]["clusters"]
    assert report["totals"]["clusters_of_two_or_more"] == sum(s["clusters"] for s in sizes if s["size"] >= 2)
    members: dict[int, list[int]] = {}
    for uid, cid in zip(scored.clusters.column("unique_id").to_pylist(), scored.clusters.column("cluster_id").to_pylist(),
                        strict=True):
        members.setdefault(cid, []).append(uid)
    largest = report["largest_clusters"]
    assert len(largest) == 10 and largest[0]["size"] == max(len(m) for m in members.values())
    assert [c["size"] for c in largest] == sorted((c["size"] for c in largest), reverse=True)
    record_key = dict(zip(keys.column("unique_id").to_pylist(),
                          (f"{s}/{r}" for s, r in zip(keys.column("source_system").to_pylist(),
                                                      keys.column("source_record_id").to_pylist(), strict=True)),
                          strict=True))
    for c in largest:
        assert c["size"] == len(members[c["cluster_id"]]) == sum(c["source_systems"].values())
        assert c["records"] == [record_key[u] for u in sorted(members[c["cluster_id"]])][:20]


def test_the_nearest_pairs_are_the_nearest_on_each_side_of_each_threshold(run):
    _, scored, _, policy, report = run
    weights = [w for _, _, w in _pairs(scored)]
    for name, at in (("lower", policy.lower_match_weight), ("upper", policy.upper_match_weight)):
        above = sorted(w for w in weights if w >= at)[:10]
        below = sorted((w for w in weights if w < at), reverse=True)[:10]
        assert [p["match_weight"] for p in report["nearest"][name]["above"]] == pytest.approx(above)
        assert [p["match_weight"] for p in report["nearest"][name]["below"]] == pytest.approx(below)
        assert len(above) == 10 and len(below) == 10
    pair = report["nearest"]["upper"]["above"][0]
    assert re.fullmatch(r"[a-z-]+/\S+", pair["record_l"]) and re.fullmatch(r"[a-z-]+/\S+", pair["record_r"])
    assert {"person_l", "person_r"} <= set(pair)


def test_counts_by_source_system_add_up_to_the_totals(run):
    _, scored, keys, policy, report = run
    sources = report["by_source"]
    assert sum(s["records"] for s in sources) == keys.num_rows
    assert sum(s["records_in_clusters"] for s in sources) == report["totals"]["records_in_clusters_of_two_or_more"]
    pairs_lower = report["totals"]["pairs_above_lower"]
    assert pairs_lower == sum(1 for *_, w in _pairs(scored) if w >= policy.lower_match_weight)
    assert sum(s["pairs_within"] for s in sources) + sum(s["pairs_across"] for s in sources) / 2 == pairs_lower
    totals = report["totals"]
    assert (totals["cases_opened"], totals["auto_merged"], totals["splits"]) == (1, 1, 1)
    assert totals["records_held"] == len(range(0, keys.num_rows, 10))
    json.dumps(report)  # JSON-safe as it is


def test_ids_that_are_not_row_numbers_give_the_same_report(run):
    _, scored, keys, policy, report = run

    def spread(column):  # 0, 1, 2 ... -> 1003, 996, 989 ...: neither dense nor in order
        return pc.subtract(1003, pc.multiply(column, 7))

    moved = engine.Scored(
        pairs=scored.pairs.set_column(0, "unique_id_l", spread(scored.pairs.column("unique_id_l")))
                          .set_column(1, "unique_id_r", spread(scored.pairs.column("unique_id_r"))),
        clusters=pa.table({"unique_id": spread(scored.clusters.column("unique_id")),
                           "cluster_id": spread(scored.clusters.column("cluster_id"))}),
        threshold=scored.threshold, floor=scored.floor, seconds=scored.seconds)
    again = build_report(moved, keys.set_column(0, "unique_id", spread(keys.column("unique_id"))), policy,
                         report["cases"], report["splits"])
    assert again["by_source"] == report["by_source"] and again["totals"] == report["totals"]
    assert again["cluster_sizes"] == report["cluster_sizes"] and again["histogram"] == report["histogram"]
    # the same sizes; ties may pick other clusters (by id), but each is one of the run's, whole
    assert [c["size"] for c in again["largest_clusters"]] == [c["size"] for c in report["largest_clusters"]]
    key = {u: f"{s}/{r}" for u, s, r in zip(*(keys.column(c).to_pylist() for c in
                                              ("unique_id", "source_system", "source_record_id")), strict=True)}
    members: dict[int, set[str]] = {}
    for u, c in zip(scored.clusters.column("unique_id").to_pylist(), scored.clusters.column("cluster_id").to_pylist(),
                    strict=True):
        members.setdefault(c, set()).add(key[u])
    assert all(set(c["records"]) in members.values() for c in again["largest_clusters"])
    for name in ("lower", "upper"):
        for side in ("above", "below"):
            assert ([p["match_weight"] for p in again["nearest"][name][side]]
                    == [p["match_weight"] for p in report["nearest"][name][side]])
            assert {frozenset((p["record_l"], p["record_r"])) for p in again["nearest"][name][side]} <= {
                frozenset((p["record_l"], p["record_r"])) for p in _all_pairs(scored, keys)}


def _all_pairs(scored, keys):
    key = {u: f"{s}/{r}" for u, s, r in zip(*(keys.column(c).to_pylist() for c in
                                              ("unique_id", "source_system", "source_record_id")), strict=True)}
    return [{"record_l": key[l], "record_r": key[r]} for l, r, _ in _pairs(scored)]


def _uniform(n: int, low: float, high: float, seed: int) -> pa.Array:
    """Seeded uniform doubles in [low, high)."""
    return pc.add(pc.multiply(pc.random(n, initializer=seed), high - low), low)


def test_a_large_run_gives_a_report_of_bounded_size():
    records, pairs = 1_000_000, 3_000_000
    left = pc.cast(pc.floor(_uniform(pairs, 0, records - 60, 5)), pa.int64())
    right = pc.add(left, pc.cast(pc.floor(_uniform(pairs, 1, 50, 6)), pa.int64()))
    uid = pa.array(range(records), pa.int64())
    # clusters of 4 among the first 40,000 records, one cluster of 5,004 (cluster 0), the rest alone
    cluster = pc.if_else(pc.less(uid, 40_000), pc.divide(uid, 4),
                         pc.if_else(pc.less(uid, 45_000), pa.scalar(0, pa.int64()), uid))
    scored = engine.Scored(
        pairs=pa.table({"unique_id_l": left, "unique_id_r": right, "match_weight": _uniform(pairs, -4.0, 30.0, 7),
                        "match_probability": _uniform(pairs, 0.0, 1.0, 8)}),
        clusters=pa.table({"unique_id": uid, "cluster_id": cluster}), threshold=12.0, floor=-4.0)
    systems = pa.array([f"system-{i}" for i in range(300)]).take(pc.remainder(uid, 300))
    keys = pa.table({"unique_id": uid, "source_system": systems, "source_record_id": pc.cast(uid, pa.string())})
    policy = type("P", (), {"lower_match_weight": 1.0, "upper_match_weight": 12.0})
    cases = [{"case_id": f"RC{i:06d}", "merge_id": None, "person_a": f"P{i}", "person_b": f"P{i + 1}",
              "match_weight": 5.0, "record_a": f"a/{i}", "record_b": f"b/{i}"} for i in range(20_000)]
    splits = [{"person_id": f"P{i}", "records": 3, "parts": 2} for i in range(5_000)]
    report = build_report(scored, keys, policy, cases, splits)
    size = len(json.dumps(report))
    assert size < 300_000, size
    assert sum(report["histogram"]["counts"]) == pairs
    assert report["largest_clusters"][0]["size"] == 5_004 and len(report["largest_clusters"][0]["records"]) == 20
    assert report["totals"]["cases_opened"] == 20_000 and len(report["cases"]) < 20_000
    assert report["totals"]["splits"] == 5_000 and len(report["splits"]) < 5_000


class StrictTags(HTMLParser):
    """Every element closed in order (void elements aside): the page parses as written."""

    VOID = frozenset({"meta", "br", "line", "rect", "link", "input", "img", "hr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.text: list[str] = []
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def _parse(page: str) -> StrictTags:
    parser = StrictTags()
    parser.feed(page)
    parser.close()
    assert parser.errors == [] and parser.stack == []
    return parser


def test_the_page_stands_alone_draws_both_thresholds_and_is_well_formed(run):
    _, _, _, policy, report = run
    page = render_html(RUN, report)
    parsed = _parse(page)
    text = " ".join(parsed.text)
    assert page.startswith("<!doctype html>")
    assert f"lower {policy.lower_match_weight:.2f}" in text and f"upper {policy.upper_match_weight:.2f}" in text
    assert sum(1 for tag, attrs in parsed.tags if tag == "line" and attrs.get("class") == "threshold") == 3
    assert "DR000001" in text and "succeeded" in text and DEFAULT_MODEL_VERSION in text
    # nothing fetched, nothing run
    assert not [t for t, a in parsed.tags if t in ("script", "link", "img", "iframe")]
    assert not re.search(r"(src|href)=\"(https?:)?//", page)
    assert sum(1 for tag, _ in parsed.tags if tag == "svg") == 2
    # a file has no server to link to: case ids are shown, not linked
    assert "RC000001" in text and "/review/cases/" not in page


def test_the_page_names_no_one(run):
    records, _, _, _, report = run
    page = render_html(RUN, report)
    text = " ".join(_parse(page).text)
    assert records[0]["first_name"] and records[0]["first_name"] not in page
    for record in records:
        for field in ("first_name", "last_name"):
            value = record[field]
            if value and len(value) >= 5:
                assert not re.search(rf"\b{re.escape(value)}\b", text), field
        assert not record["birth_date"] or record["birth_date"] not in page
        assert not record.get("phone") or record["phone"] not in page


def test_the_page_escapes_what_it_shows_and_links_where_it_is_served(run):
    _, scored, keys, policy, _ = run
    hostile = keys.set_column(keys.column_names.index("source_record_id"), "source_record_id",
                              pa.array(["<b>x</b>&" + str(i) for i in range(keys.num_rows)]))
    cases = [{"case_id": "RC9", "merge_id": None, "person_a": "P1", "person_b": "P2", "match_weight": 8.0,
              "record_a": "s/<i>", "record_b": "s/2"}]
    report = build_report(scored, hostile, policy, cases, [])
    page = render_html({**RUN, "run_id": "<DR>"}, report, Links(case=lambda c: f"/review/cases/{c}",
                                                               person=lambda p: f"/review/persons/{p}",
                                                               cases_csv="/review/dedup-runs/DR1/cases.csv"))
    _parse(page)
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;&amp;" in page and "&lt;DR&gt;" in page
    assert 'href="/review/cases/RC9"' in page and 'href="/review/persons/P1"' in page
    assert 'href="/review/dedup-runs/DR1/cases.csv"' in page


def test_the_cases_csv_has_the_issue_columns_and_one_line_a_case(run):
    text = cases_csv([{"case_id": "RC1", "merge_id": None, "person_a": "P1", "person_b": "P2", "match_weight": 9.5,
                       "record_a": "a/1", "record_b": "b/2"},
                      {"case_id": None, "merge_id": "MG1", "person_a": "P3", "person_b": "P4", "match_weight": 22.0,
                       "record_a": "a/3", "record_b": "b,4"}])
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == CASE_COLUMNS == ("case_id", "merge_id", "person_a", "person_b", "match_weight",
                                              "record_a", "record_b")
    assert rows[1] == ["RC1", "", "P1", "P2", "9.5", "a/1", "b/2"]
    assert rows[2] == ["", "MG1", "P3", "P4", "22.0", "a/3", "b,4"]
    assert cases_csv([]) == ",".join(CASE_COLUMNS) + "\n"
