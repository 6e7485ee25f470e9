"""The review UI's pure parts: the waterfall's geometry and the field marks of the comparison."""

from __future__ import annotations

from review_ui import compare, waterfall

EVIDENCE = [
    {"comparison": "prior", "label": "prior odds of a match", "weight": -12.0, "cumulative_weight": -12.0},
    {"comparison": "name_dob", "label": "exact", "weight": 14.5, "tf_adjustment": 1.5, "cumulative_weight": 2.5},
    {"comparison": "last_name", "label": "exact", "weight": 6.0, "cumulative_weight": 8.5},
    {"comparison": "email", "label": "different", "weight": -3.0, "cumulative_weight": 5.5},
    {"comparison": "sex", "label": "one missing", "weight": 0.0, "cumulative_weight": 5.5},
]


def test_waterfall_steps_each_bar_from_the_running_total_before_it_to_the_one_after():
    chart = waterfall.build(EVIDENCE, upper=10.0, lower=3.0)

    assert [b.kind for b in chart.bars] == ["prior", "up", "up", "down", "zero", "total"]
    assert [(b.start, b.end) for b in chart.bars] == [(0.0, -12.0), (-12.0, 2.5), (2.5, 8.5), (8.5, 5.5),
                                                       (5.5, 5.5), (0.0, 5.5)]
    assert chart.total == 5.5
    for before, after in zip(chart.bars[1:-2], chart.bars[2:-1]):
        assert after.kind == "zero" or min(after.x, after.x + after.width) <= before.end_x <= after.x + after.width
    lines = {line.kind: line.x for line in chart.lines}
    assert chart.chart_left <= lines["zero"] < lines["lower"] < lines["upper"] <= chart.chart_right
    assert "for how common the value is" in chart.bars[1].tooltip
    assert chart.bars[3].value_text == "-3.0" and chart.bars[-1].value_text == "5.5"
    assert "Takes weight away: Email" in chart.summary


def test_field_marks_judge_normalised_values():
    inbound = {"first_name": "ROBERT", "first_name_canonical": "ROBERT", "last_name": "SMITH",
               "birth_date": "1980-04-03", "phone": "+14045550143", "phone_last7": "5550143"}
    other = {"first_name": "BOB", "first_name_canonical": "ROBERT", "last_name": "SMYTHE",
             "birth_date": "1980-03-04", "phone": "+16785550143", "phone_last7": "5550143"}

    assert compare.mark("first_name", inbound, other) == "close"
    assert compare.mark("last_name", inbound, other) == "differ"
    assert compare.mark("birth_date", inbound, other) == "close"  # day and month swapped
    assert compare.mark("phone", inbound, other) == "close"
    assert compare.mark("email", inbound, other) == "missing"
    assert compare.mark("first_name", inbound, inbound) == "agree"


def test_threshold_labels_stay_inside_the_chart():
    for upper, lower in ((10.5, 3.8), (39.0, 38.0), (-20.0, -24.0)):
        chart = waterfall.build(EVIDENCE, upper=upper, lower=lower)
        for line in chart.lines:
            if line.kind == "zero":
                continue
            extent = len(line.label) * 7
            left = line.label_x - extent if line.anchor == "end" else line.label_x
            assert 0 <= left and left + extent <= chart.width, (upper, lower, line)


def test_audit_page_counts_and_filters_by_action_prefix(services):

    with services.store.transaction():
        for i in range(7):
            services.store.audit.append("user:a", "case.linked" if i % 2 else "record.created", "thing", f"T{i}", None, {})

    linked = services.store.audit.page(limit=3, action="case.")
    newest = services.store.audit.page(limit=2, actor="user:a")
    older = services.store.audit.page(limit=2, actor="user:a", before=newest["older"])

    assert linked["total"] == 3 and [e["entity_id"] for e in linked["events"]] == ["T5", "T3", "T1"]
    assert linked["older"] is None  # all three on one page
    assert [e["entity_id"] for e in newest["events"]] == ["T6", "T5"] and newest["older"] == newest["events"][-1]["event_id"]
    assert [e["entity_id"] for e in older["events"]] == ["T4", "T3"] and older["total"] == 7
