"""The line charts of the metrics page (``review_ui/charts.py``, pure geometry) and the page that draws them."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from review_ui import charts
from browser_support import VIEWPORT, browser, chromium, screenshot, serve  # noqa: F401  (fixtures)
from test_referral_metrics import measured  # noqa: F401  (the seven referrals of that module, built once)
from test_review_ui import sign_in

MEASURES = (("a", "Share A"), ("b", "Share B"))


def day(n: int) -> date:
    return date(2026, 11, 2) + timedelta(days=n)


def series(*rows: tuple) -> list[dict]:
    return [{"period_start": day(i), "a": a, "b": b} for i, (a, b) in enumerate(rows)]


# -- geometry ------------------------------------------------------------------------------------------------------


def test_shares_run_from_the_bottom_of_the_plot_at_0_to_its_top_at_100_percent():
    chart = charts.build(series((0.0, 1.0), (0.5, None)), MEASURES, "T", "day", width=640, height=240)

    a, b = chart.lines
    assert [(p.x, p.y) for p in a.points] == [(charts.LEFT, chart.bottom), (chart.right, (chart.top + chart.bottom) / 2)]
    assert [(p.x, p.y) for p in b.points] == [(charts.LEFT, chart.top)]
    assert [label for _, label in chart.y_ticks] == ["0%", "25%", "50%", "75%", "100%"]
    assert chart.bottom == 240 - charts.BOTTOM and chart.right == 640 - charts.RIGHT


def test_a_bucket_without_a_value_breaks_the_line_instead_of_dropping_to_zero():
    chart = charts.build(series((0.5, 0.1), (0.6, 0.2), (None, 0.3), (0.7, 0.4), (0.8, None)), MEASURES, "T", "day")

    a, b = chart.lines
    assert len(a.points) == 4 and len(a.segments) == 2
    assert [len(s.split()) for s in a.segments] == [2, 2]
    assert len(b.points) == 4 and len(b.segments) == 1


def test_a_lone_value_is_a_dot_without_a_line_and_a_single_bucket_sits_in_the_middle():
    chart = charts.build(series((0.25, None)), MEASURES, "T", "week")

    a, b = chart.lines
    assert a.segments == () and len(a.points) == 1
    assert a.points[0].x == (chart.left + chart.right) / 2
    assert b.points == () and not chart.empty
    assert b.summary == "Share B: no value in the period."


def test_an_empty_period_draws_no_line_and_says_so():
    chart = charts.build(series((None, None), (None, None)), MEASURES, "T", "day")

    assert chart.empty
    assert all(line.points == () for line in chart.lines)


def test_at_most_eight_dates_are_written_under_the_axis():
    chart = charts.build([{"period_start": day(i), "a": 0.5, "b": 0.5} for i in range(31)], MEASURES, "T", "day")

    assert 4 <= len(chart.x_ticks) <= charts.MAX_X_LABELS
    assert chart.x_ticks[0][1] == "2 Nov"


def test_the_description_says_each_lines_latest_value_and_range():
    chart = charts.build(series((0.5, 1.0), (0.75, 1.0), (None, 1.0)), MEASURES, "Timeliness", "day")

    assert chart.summary.startswith("Timeliness, 2 Nov 2026 to 4 Nov 2026, by day.")
    assert "Share A: 75 % in the latest day with a value (3 Nov 2026); between 50 % and 75 %." in chart.summary
    assert "Share B: 100 % in the latest day with a value (4 Nov 2026); at 100 % throughout." in chart.summary
    assert chart.lines[0].points[1].tooltip == "Share A, 3 Nov 2026: 75 %"


@pytest.mark.parametrize("interval, label", [("day", "2 Nov"), ("week", "2 Nov"), ("month", "Nov 2026")])
def test_buckets_are_named_by_their_first_day_or_month(interval, label):
    assert charts.bucket_label(date(2026, 11, 2), interval) == label


# -- the metrics page ------------------------------------------------------------------------------------------------


@pytest.fixture
def steward_client(measured):
    client = measured.app.test_client()
    response = sign_in(client, "sam", measured.network.tokens["sam"])
    assert response.status_code == 303
    return client


def figure(html: str, key: str) -> str:
    match = re.search(rf'data-figure="{key}"><dt>[^<]*</dt><dd><span class="v">([^<]*)</span>'
                      rf'(?:<span class="d">([^<]*)</span>)?', html)
    assert match, f"no figure {key}"
    return " / ".join(g for g in match.groups() if g)


def test_the_metrics_page_shows_the_headline_measures_and_two_charts_without_script(steward_client):
    response = steward_client.get("/review/metrics?from=2026-11-23&through=2026-11-23")

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert figure(html, "referrals") == "7"
    assert figure(html, "acknowledged_within_1_business_day") == "57 % / 4 of 7"
    assert figure(html, "acceptance_rate") == "40 % / 2 of 5"
    assert figure(html, "to_acknowledge") == "2.0 h / 90th percentile 8.4 h, business time, n = 5"
    assert figure(html, "overdue") == "2 / 2 acknowledge, 0 triage, 0 first contact"
    assert html.count('<svg class="linechart"') == 2
    assert '<title id="chart-1-title">Timeliness: share of referrals received</title>' in html
    assert "Acknowledged within 1 business day: 57 % in the latest day with a value (23 Nov 2026)" in html
    assert "<script" not in html
    assert "Referrals received 23 Nov 2026 through 23 Nov 2026 (UTC)" in html
    assert '<td>client-declined</td><td>client</td><td class="num">1</td>' in html
    assert 'aria-current="page">Metrics</a>' in html


def test_the_metrics_page_filters_by_performer_and_chooses_weeks_for_a_long_period(steward_client):
    html = steward_client.get("/review/metrics?from=2026-09-01&through=2026-11-30&performer=homebase"
                              ).get_data(as_text=True)

    assert figure(html, "referrals") == "1"
    assert "The measures by week, as a table" in html  # 91 days: weekly buckets
    assert '<option value="homebase" selected>' in html
    assert 'value="2026-09-01"' in html


def test_the_metrics_page_names_bad_filters_with_a_422(steward_client):
    response = steward_client.get("/review/metrics?from=soon&through=2026-11-01&urgency=whenever")

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'role="alert"' in html
    assert "<strong>from</strong>" in html and "<strong>urgency</strong>" in html
    assert "linechart" not in html


def test_the_metrics_page_needs_a_signed_in_steward(measured):
    response = measured.app.test_client().get("/review/metrics")

    assert response.status_code == 302
    assert "/review/sign-in" in response.headers["Location"]


def test_an_admin_of_no_organisation_sees_every_referral_on_the_page(measured):
    client = measured.app.test_client()
    sign_in(client, "root", measured.network.tokens["root"])

    html = client.get("/review/metrics?from=2026-11-23&through=2026-11-24").get_data(as_text=True)
    assert figure(html, "referrals") == "7"


def test_a_coordinator_sees_the_measures_of_its_own_organisation(measured):
    client = measured.app.test_client()
    assert sign_in(client, "cora", measured.network.tokens["cora"]).status_code == 303

    response = client.get("/review/metrics?from=2026-11-23&through=2026-11-24")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert figure(html, "referrals") == "6"  # foodbank's: not F, which homebase performs
    assert 'aria-current="page">Metrics</a>' in html


@pytest.mark.slow
def test_the_metrics_page_draws_in_a_browser_without_a_console_error(measured, browser):
    """Chromium under the page's Content Security Policy: no script, no inline style, both charts drawn."""
    with serve(measured.app, "metrics-browser") as base:
        context = browser.new_context(base_url=base, viewport=VIEWPORT)
        try:
            page = context.new_page()
            console, failed = [], []
            page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
            page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
            page.goto("/review/sign-in")
            page.get_by_label("User name").fill("sam")
            page.get_by_label("Token").fill(measured.network.tokens["sam"])
            page.get_by_role("button", name="Sign in").click()
            page.goto("/review/metrics?from=2026-11-16&through=2026-11-25")

            drawn = page.locator("svg.linechart")
            assert drawn.count() == 2
            for i in range(2):
                box = drawn.nth(i).bounding_box()
                assert box and box["width"] > 300 and box["height"] > 100
            assert page.get_by_role("img", name="Timeliness: share of referrals received").is_visible()
            screenshot(page, "metrics")
            assert failed == []  # every resource the page asks for is served
            # Chromium's own request for /favicon.ico (not a page resource; the site serves none) logs a 404; a
            # script or an inline style the Content Security Policy refused would log an error of another kind.
            assert [m for m in console if "status of 404" not in m] == []
        finally:
            context.close()
