"""A run's report as HTML: one renderer of the body, two wrappers (a standalone file, the review UI's page).

:func:`render_body` draws the report (:func:`mpi.batch.report.build_report`) as
HTML with inline SVG charts: no script, no external asset, every value escaped.
:func:`render_html` wraps it as one standalone page with its stylesheet inline
(``mpi dedup --report FILE``); the review UI puts the same body in its base
template, where its Content Security Policy allows its own stylesheet only, so
the charts draw with SVG attributes, not CSS. Links to cases, persons and the
cases CSV are given by the caller (:class:`Links`): the UI's, or none in a file.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any

#: The histogram's and the size chart's drawing box (pixels; the SVG scales down with the page).
WIDTH, HEIGHT = 760, 280
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 52, 44
#: The widest a bar is drawn (a chart of few values keeps thin bars).
MAX_BAR = 48
BAR, THRESHOLD, FLOOR = "#234d80", "#b42318", "#98a2b3"

#: The standalone page's stylesheet (the review UI's look, cut to what the report uses).
REPORT_CSS = """
body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
color:#1b2430;background:#f3f5f8;line-height:1.45;font-size:15px}
header.top{background:#17375e;color:#fff;padding:.55rem 1.5rem;font-weight:700}
main{padding:1.25rem 1.5rem 3rem;max-width:1280px;margin:0 auto}
h1{font-size:1.45rem;margin:0 0 .4rem}h2{font-size:1.05rem;margin:0 0 .6rem}
.card{background:#fff;border:1px solid #d9dee5;border-radius:8px;padding:1rem 1.1rem;margin-bottom:1rem}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{text-align:left;padding:.4rem .6rem;border-bottom:1px solid #e6e9ee;font-size:.9rem;vertical-align:top}
thead th{background:#f5f7fa;font-size:.78rem;text-transform:uppercase;letter-spacing:.04em;color:#475467}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.88em}.muted{color:#5b6675}
dl.run{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:0}dl.run dt{font-weight:600}
dl.run dd{margin:0}svg.report-chart{width:100%;max-width:760px;height:auto;display:block}
"""


@dataclass(frozen=True)
class Links:
    """Where the page links: a case's page, a person's page, the cases CSV (None: no link)."""

    case: Callable[[str], str] | None = None
    person: Callable[[str], str] | None = None
    cases_csv: str | None = None


def render_html(run: Mapping[str, Any], report: Mapping[str, Any], links: Links | None = None) -> str:
    """One standalone HTML page of a run's report: inline CSS and SVG, no script, nothing fetched."""
    title = f"Dedup run {run.get('run_id') or ''}".strip()
    return ("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{_e(title)} · closedloop-mpi</title>\n<style>{REPORT_CSS}</style>\n</head>\n<body>\n"
            "<header class=\"top\">closedloop-mpi dedup report</header>\n<main>\n"
            f"{render_body(run, report, links or Links())}</main>\n</body>\n</html>\n")


def render_body(run: Mapping[str, Any], report: Mapping[str, Any], links: Links) -> str:
    """The report's sections, for a page of its own or inside the review UI's base template."""
    t = report["thresholds"]
    parts = [_header(run, report),
             _section("Match weights", _histogram_svg(report["histogram"], t)
                      + f"<p class=\"muted\">{_e(_histogram_caption(report))}</p>"),
             _section("Cluster sizes", _sizes_svg(report["cluster_sizes"]) + _sizes_table(report["cluster_sizes"])),
             _section("Largest clusters", _largest_table(report["largest_clusters"], report.get("store_run"))),
             _section("Pairs nearest the thresholds", _nearest_tables(report, links)),
             _section("By source system", _sources_table(report["by_source"])),
             _section("Cases opened", _cases_table(report, links))]
    if report.get("splits"):
        parts.append(_section("Persons the run would split", _splits_table(report["splits"], links)))
    return "\n".join(parts) + "\n"


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def _when(value: Any) -> str | None:
    """A time as ISO text to the second (a stored time, or text already)."""
    return value.isoformat(timespec="seconds") if isinstance(value, datetime) else value


def _n(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else _e(value)


def _w(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _section(title: str, inner: str) -> str:
    return f"<section class=\"card\">\n<h2>{_e(title)}</h2>\n{inner}\n</section>"


def _table(head: Sequence[tuple[str, bool]], rows: Sequence[Sequence[str]], empty: str) -> str:
    """A table; ``head`` is (label, numeric) per column; cells arrive escaped."""
    if not rows:
        return f"<p class=\"muted\">{_e(empty)}</p>"
    num = ' class="num"'
    th = "".join(f"<th scope=\"col\"{num if n else ''}>{_e(h)}</th>" for h, n in head)
    body = "\n".join("<tr>" + "".join(f"<td{num if head[i][1] else ''}>{cell}</td>"
                                      for i, cell in enumerate(row)) + "</tr>" for row in rows)
    return f"<table>\n<thead><tr>{th}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def _header(run: Mapping[str, Any], report: Mapping[str, Any]) -> str:
    t, totals = report["thresholds"], report["totals"]
    facts = [("Run", run.get("run_id")), ("Model version", run.get("model_version")),
             ("Source", run.get("source")), ("Engine", run.get("engine")), ("Started", _when(run.get("started_at"))),
             ("Ended", _when(run.get("ended_at") or run.get("finished_at"))), ("Outcome", run.get("outcome")),
             ("Thresholds", f"lower {_w(t['lower'])}, upper {_w(t['upper'])} (pairs kept from {_w(t['floor'])})")]
    rows = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts if v is not None)
    more = {k: v for k, v in (run.get("counts") or {}).items() if k not in totals and isinstance(v, int)}
    counts = _table([("Count", False), ("Value", True)],
                    [[_e(k.replace("_", " ")), _n(v)] for k, v in {**totals, **more}.items()], "No counts.")
    return (f"<h1>Dedup run {_e(run.get('run_id'))}</h1>\n<section class=\"card\">\n<dl class=\"run\">{rows}</dl>\n"
            f"</section>\n{_section('Totals', counts)}")


def _ticks(top: int) -> list[int]:
    """Powers of ten up to ``top`` (the log scale's grid)."""
    return [10 ** k for k in range(int(math.log10(top)) + 1)] if top >= 1 else []


def _bars(values: Sequence[int], labels: Sequence[tuple[float, str]], title: str, desc: str,
          markers: Sequence[tuple[float, str, str]], x_label: str) -> str:
    """Bars on a log scale (count + 1), one per value; ``labels`` (x in bar widths, text) under the x axis;
    ``markers`` (x in bar widths, label, colour) drawn as labelled vertical lines."""
    n = max(len(values), 1)
    span_x, span_y = WIDTH - RIGHT - LEFT, HEIGHT - BOTTOM - TOP
    bar = min(span_x / n, MAX_BAR)
    top = max(values, default=0)
    scale = math.log10(top + 1) or 1.0

    def y_of(count: float) -> float:
        return round(HEIGHT - BOTTOM - span_y * math.log10(count + 1) / scale, 2)

    out = [(f"<svg class=\"report-chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" width=\"{WIDTH}\" "
            f"height=\"{HEIGHT}\" font-family=\"system-ui, sans-serif\" font-size=\"11\">"),
           f"<title>{_e(title)}</title>", f"<desc>{_e(desc)}</desc>"]
    for tick in _ticks(top):
        y = y_of(tick)
        out.append(f"<line x1=\"{LEFT}\" y1=\"{y}\" x2=\"{WIDTH - RIGHT}\" y2=\"{y}\" stroke=\"#e6e9ee\"/>"
                   f"<text x=\"{LEFT - 6}\" y=\"{y + 4}\" text-anchor=\"end\" fill=\"#5b6675\">{tick:,}</text>")
    for i, count in enumerate(values):
        if count:
            y = y_of(count)
            out.append(f"<rect x=\"{round(LEFT + i * bar, 2)}\" y=\"{y}\" width=\"{max(round(bar - 1, 2), 0.5)}\" "
                       f"height=\"{round(HEIGHT - BOTTOM - y, 2)}\" fill=\"{BAR}\"><title>{count:,}</title></rect>")
    base = HEIGHT - BOTTOM
    out.append(f"<line x1=\"{LEFT}\" y1=\"{base}\" x2=\"{WIDTH - RIGHT}\" y2=\"{base}\" stroke=\"#475467\"/>")
    for i, text in labels:
        x = round(LEFT + i * bar, 2)
        out.append(f"<line x1=\"{x}\" y1=\"{base}\" x2=\"{x}\" y2=\"{base + 4}\" stroke=\"#475467\"/>"
                   f"<text x=\"{x}\" y=\"{base + 16}\" text-anchor=\"middle\" fill=\"#5b6675\">{_e(text)}</text>")
    out.append(f"<text x=\"{(LEFT + WIDTH - RIGHT) / 2}\" y=\"{HEIGHT - 6}\" text-anchor=\"middle\" "
               f"fill=\"#1b2430\">{_e(x_label)}</text>")
    for row, (at, label, colour) in enumerate(markers):
        x = round(LEFT + at * bar, 2)
        out.append(f"<line class=\"threshold\" x1=\"{x}\" y1=\"{TOP - 4}\" x2=\"{x}\" y2=\"{base}\" stroke=\"{colour}\" "
                   f"stroke-width=\"2\" stroke-dasharray=\"5 3\"/><text x=\"{x + 4}\" y=\"{12 + 13 * row}\" "
                   f"fill=\"{colour}\" font-weight=\"600\">{_e(label)}</text>")
    out.append("</svg>")
    return "\n".join(out)


def _histogram_svg(histogram: Mapping[str, Any], t: Mapping[str, float]) -> str:
    start, width, counts = histogram["start"], histogram["width"], histogram["counts"]
    end = start + len(counts) * width
    bits = next((b for b in (1, 2, 5, 10, 20, 50) if (end - start) / b <= 12), 100)
    first = math.ceil(start / bits) * bits
    labels = [((v - start) / width, f"{v:g}") for v in range(first, math.floor(end) + 1, bits)]
    markers = [((t["lower"] - start) / width, f"lower {_w(t['lower'])}", THRESHOLD),
               ((t["upper"] - start) / width, f"upper {_w(t['upper'])}", THRESHOLD),
               ((t["floor"] - start) / width, f"floor {_w(t['floor'])}", FLOOR)]
    desc = (f"{sum(counts):,} pairs by match weight in bins of {width:g} bit from {start:g}; "
            f"lower threshold {_w(t['lower'])}, upper threshold {_w(t['upper'])}. Log scale.")
    return _bars(counts, labels, "Pairs by match weight", desc, markers, "match weight (bits); pairs on a log scale")


def _histogram_caption(report: Mapping[str, Any]) -> str:
    h, totals = report["histogram"], report["totals"]
    return (f"{sum(h['counts']):,} pairs scored at or above the floor, in bins of {h['width']:g} bit; "
            f"{totals['pairs_above_lower']:,} at or above the lower threshold, "
            f"{totals['pairs_above_upper']:,} at or above the upper. The y axis is logarithmic.")


def _sizes_svg(sizes: Sequence[Mapping[str, int]]) -> str:
    counts = [s["clusters"] for s in sizes]
    step = max(1, math.ceil(len(counts) / 12))
    labels = [(i + 0.5, str(s["size"])) for i, s in enumerate(sizes) if i % step == 0]
    desc = "; ".join(f"{s['clusters']:,} of size {s['size']}" for s in sizes[:20])
    return _bars(counts, labels, "Clusters by size", f"Clusters by size: {desc}.", [], "cluster size (records)")


def _sizes_table(sizes: Sequence[Mapping[str, int]]) -> str:
    return _table([("Size", True), ("Clusters", True), ("Records", True)],
                  [[_n(s["size"]), _n(s["clusters"]), _n(s["size"] * s["clusters"])] for s in sizes], "No clusters.")


def _largest_table(largest: Sequence[Mapping[str, Any]], store_run: bool) -> str:
    head = [("Cluster", False), ("Size", True), ("Source systems", False), ("Records (first 20)", False)]
    if store_run:
        head.insert(2, ("Persons", True))
    rows = []
    for c in largest:
        systems = ", ".join(f"{_e(s)} ({n:,})" for s, n in c["source_systems"].items())
        row = [_e(c["cluster_id"]), _n(c["size"]), systems,
               "<span class=\"mono\">" + "<br>".join(_e(r) for r in c["records"]) + "</span>"]
        if store_run:
            row.insert(2, _n(c["persons"]))
        rows.append(row)
    return _table(head, rows, "No clusters.")


def _link(url: Callable[[str], str] | None, value: str | None) -> str:
    if value is None:
        return ""
    return f"<a href=\"{_e(url(value))}\">{_e(value)}</a>" if url else f"<span class=\"mono\">{_e(value)}</span>"


def _nearest_tables(report: Mapping[str, Any], links: Links) -> str:
    store_run = report.get("store_run")
    head = [("Weight", True), ("Probability", True), ("Record", False), ("Record", False)]
    if store_run:
        head += [("Person", False), ("Person", False)]
    out = []
    for name in ("lower", "upper"):
        at = report["thresholds"][name]
        for side, words in (("above", "at or just above"), ("below", "just below")):
            rows = []
            for p in report["nearest"][name][side]:
                row = [_w(p["match_weight"]), f"{p['match_probability']:.4f}",
                       f"<span class=\"mono\">{_e(p['record_l'])}</span>",
                       f"<span class=\"mono\">{_e(p['record_r'])}</span>"]
                if store_run:
                    row += [_link(links.person, p["person_l"]), _link(links.person, p["person_r"])]
                rows.append(row)
            out.append(f"<h3>{_e(f'The {name} threshold ({at:g}): pairs {words} it')}</h3>\n"
                       + _table(head, rows, "No pair."))
    return "\n".join(out)


def _sources_table(sources: Sequence[Mapping[str, Any]]) -> str:
    return _table([("Source system", False), ("Records", True), ("In clusters of 2+", True),
                   ("Pairs within (≥ lower)", True), ("Pairs with other systems (≥ lower)", True)],
                  [[_e(s["source_system"]), _n(s["records"]), _n(s["records_in_clusters"]), _n(s["pairs_within"]),
                    _n(s["pairs_across"])] for s in sources], "No records.")


def _cases_table(report: Mapping[str, Any], links: Links) -> str:
    totals, cases = report["totals"], report.get("cases", [])
    rows = [[_link(links.case, c["case_id"]), _e(c["merge_id"]), _link(links.person, c["person_a"]),
             _link(links.person, c["person_b"]), _w(c["match_weight"]),
             f"<span class=\"mono\">{_e(c['record_a'])}</span>", f"<span class=\"mono\">{_e(c['record_b'])}</span>"]
            for c in cases]
    shown = len(cases)
    whole = totals["cases_opened"] + totals["auto_merged"]
    note = (f"<p>{totals['cases_opened']:,} cases opened, {totals['auto_merged']:,} auto-merges"
            + (f"; the first {shown:,} shown" if shown < whole else "") + ".")
    if links.cases_csv:
        note += f" <a href=\"{_e(links.cases_csv)}\">Cases as CSV</a>."
    note += "</p>"
    return note + "\n" + _table([("Case", False), ("Merge", False), ("Person A", False), ("Person B", False),
                                 ("Weight", True), ("Record A", False), ("Record B", False)], rows,
                                "The run opened no case.")


def _splits_table(splits: Sequence[Mapping[str, Any]], links: Links) -> str:
    return _table([("Person", False), ("Records", True), ("Parts", True)],
                  [[_link(links.person, s["person_id"]), _n(s["records"]), _n(s["parts"])] for s in splits], "None.")
