"""The steward review pages (server-rendered), calling the same ``mpi`` services as the API.

This first slice shows the review queue: open cases by priority and age, with
record keys, candidate person ids and scores only (no demographics, so no sign-in
is needed yet). Sign-in, the case page and actions arrive with the review workflow.
"""

from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, current_app, render_template

bp = Blueprint("review_ui", __name__, url_prefix="/review", template_folder="templates")


@bp.get("/")
def queue():
    store = current_app.extensions["mpi"].store
    cases = store.list_cases(state="open", limit=200)
    now = datetime.now(timezone.utc)
    for case in cases:
        case["age_hours"] = round((now - case["created_at"]).total_seconds() / 3600, 1)
    counts = store.counts()
    return render_template("queue.html", cases=cases, counts=counts)
