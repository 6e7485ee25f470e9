"""Pages that show everything, their pure parts: wrapped waterfall labels, the comparison's fold, readable queue rows,
history refs and ids as links."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from markupsafe import Markup

from api import create_app
from review_ui import compare, idlinks, pages, waterfall

LONG = "first name a nickname of the other's, birth date exact and surname sounds alike"
EVIDENCE = [
    {"comparison": "prior", "label": "prior odds of a match", "weight": -12.0, "cumulative_weight": -12.0},
    {"comparison": "name_dob", "label": LONG, "weight": 14.5, "cumulative_weight": 2.5},
    {"comparison": "last_name", "label": "exact", "weight": 6.0, "cumulative_weight": 8.5},
]


def test_a_long_waterfall_label_wraps_whole_and_its_row_grows():
    chart = waterfall.build(EVIDENCE, upper=10.0, lower=3.0)
    bar = chart.bars[1]

    assert len(bar.detail) >= 3 and all(len(line) <= waterfall.LABEL_CHARS for line in bar.detail)
    assert " ".join(bar.detail) == LONG
    assert bar.height == waterfall.ROW_HEIGHT + waterfall.LINE_HEIGHT * (len(bar.detail) - 1)
    assert chart.bars[2].y == bar.y + bar.height, "the next row starts below the wrapped label"
    last = chart.bars[-1]
    assert chart.height == last.y + last.height + waterfall.BOTTOM, "every row inside the chart"
    assert waterfall.wrap("x" * 70, 30) == ("x" * 30, "x" * 30, "x" * 10)


def _records(n: int) -> list[dict]:
    return [{"source_system": "s", "source_record_id": f"R{i}",
             "raw": {"first_name": f"N{i}", "phone": "+1 (404) 555 0199"}, "norm": {"first_name": f"N{i}"}}
            for i in range(n)]


def test_a_comparison_past_four_records_folds_the_rest_in_tables_of_four():
    whole = compare.compare({"raw": {"first_name": "N0"}, "norm": {"first_name": "N0"}}, _records(9))

    parts = whole.parts()

    assert [len(p.columns) for p in parts] == [4, 4, 1]
    assert sum((p.columns for p in parts), ()) == whole.columns
    assert all(len(r.others) == len(p.columns) for p in parts for r in p.rows)
    assert parts[2].rows[0].others[0].value == "N8" and parts[0].counts == whole.counts
    assert compare.compare({}, _records(4)).parts()[0].columns == compare.compare({}, _records(4)).columns


def test_a_queue_row_reads_its_weight_probability_and_follow_up():
    now = datetime(2026, 12, 6, 12, tzinfo=timezone.utc)
    case = {"case_id": "RC1", "priority": "routine", "state": "on_hold", "kind": "POSSIBLE_MATCH",
            "source_system": "s", "source_record_id": "r", "due_at": now + timedelta(hours=5), "age_hours": 2,
            "candidates": [{"match_weight": 12.345, "match_probability": 0.99996}],
            "hold": {"follow_up": date(2026, 12, 9), "note": "call"}}

    row = pages.queue_row(case, now)

    assert (row.weight_text, row.probability_text, row.follow_up) == ("12.3 bits", "> 99.9%", "2026-12-09")
    assert pages.probability_text(0.4321) == "43.2%" and pages.probability_text(0.00001) == "< 0.1%"
    assert pages.queue_row({**case, "hold": None}, now).follow_up == ""
    assert row.record_key == ("s", "r")
    assert pages.queue_row({**case, "kind": "POSSIBLE_DUPLICATE"}, now).record_key is None


def test_history_refs_name_the_ids_an_event_detail_holds():
    item = pages.history_item({"action": "case.linked", "entity_id": "RC7", "detail": {
        "person_id": "MPI1", "case_id": "RC7", "merge_id": "MG3", "record": "st-marys/MRN-1", "note": "MPI not an id",
        "person_ids": ["MPI1", "MPI2"]}})

    assert item.refs == (("person id", "MPI1"), ("merge id", "MG3"), ("record", "st-marys/MRN-1"),
                         ("person ids", "MPI2"))


def test_ids_in_a_text_become_links_and_the_rest_stays_escaped(services):
    app = create_app(services=services)
    with app.test_request_context():
        html = idlinks.linked("Case RC00000001 resolved: linked to MPI00000002 (merge MG1) <b>")
        record = idlinks.entity("st-marys/MRN-1")

    assert isinstance(html, Markup)
    assert '<a href="/review/cases/RC00000001">RC00000001</a>' in html
    assert '<a href="/review/persons/MPI00000002">MPI00000002</a>' in html
    assert '<a href="/review/audit?entity_id=MG1">MG1</a>' in html and "&lt;b&gt;" in html
    assert record == '<a href="/review/audit?entity_id=st-marys/MRN-1">st-marys/MRN-1</a>'


def test_not_a_duplicate_confirmation_says_what_deciding_the_record_again_did():
    from review_ui.actions import outcome_text

    assert outcome_text({"decision": "MATCH", "person_id": "MPI7"}) == "decided again: linked to MPI7."
    assert outcome_text({"decision": "NO_MATCH", "person_id": "MPI8"}) == "decided again: new person MPI8."
    assert outcome_text({"decision": "POSSIBLE_MATCH", "person_id": None, "review_case_id": "RC9"}) == (
        "decided again: held for review in case RC9.")
    assert outcome_text(None, "MPI3") == "it stays linked to MPI3." and outcome_text(None) == "it stays as it was."
