"""The batch dedup runs' pages: the list of runs and each run's report (``/review/dedup-runs``).

Stewards and admins (the review UI's default roles) read them. The report page is
the same body the ``--report`` file carries (:func:`mpi.batch.report_html.render_body`)
inside the UI's base template, linking each case and person to its page here;
``cases.csv`` is every finding of the run (the report keeps only the first few
hundred). The pages show ids and counts, never a value from a record; the access
log records the persons and cases a report page links to (``api/access_log.py``).
"""

from __future__ import annotations

import logging

from flask import Response, current_app, g, render_template, url_for
from markupsafe import Markup

from mpi.batch.report import cases_csv
from mpi.batch.report_html import Links, render_body
from review_ui.blueprint import bp

logger = logging.getLogger(__name__)

RUNS_PAGE = 100


def _dedup():
    return current_app.extensions["mpi"].dedup


@bp.get("/dedup-runs")
def dedup_runs():
    """Every run, newest first: its id, times, engine, model, outcome and counts."""
    return render_template("dedup_runs.html", runs=_dedup().runs(RUNS_PAGE))


@bp.get("/dedup-runs/<run_id>")
def dedup_run(run_id: str):
    """One run's report (a run still going, failed or interrupted has none: its facts only)."""
    run = _dedup().get(run_id, with_report=True)
    report = run.get("report")
    body = None
    if report:
        links = Links(case=lambda c: url_for("review_ui.case", case_id=c),
                      person=lambda p: url_for("review_ui.person", person_id=p),
                      cases_csv=url_for("review_ui.dedup_run_cases", run_id=run_id))
        body = Markup(render_body(run, report, links))  # render_body escapes every value
    logger.debug("dedup run %s shown to %s", run_id, g.steward["name"])
    return render_template("dedup_run.html", run=run, body=body)


@bp.get("/dedup-runs/<run_id>/cases.csv")
def dedup_run_cases(run_id: str):
    """Every case the run opened and every merge it made, as CSV (``mpi.batch.report.CASE_COLUMNS``)."""
    run = _dedup().get(run_id)
    logger.info("dedup run %s cases exported by %s", run_id, g.steward["name"])
    return Response(cases_csv(run["findings"]), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{run_id}-cases.csv"'})
