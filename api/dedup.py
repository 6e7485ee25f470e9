"""``/v1/dedup-runs``: batch dedup runs over the store, started in the service and listed (admins start them).

The serving process owns the store, so a run while it serves happens inside it:
``POST`` records the run and answers 202 at once, and the run goes on in a
background thread through the service's one writer; ``GET`` a run to follow it
(``progress`` while it runs: phase, count, seconds). ``mpi --url URL dedup`` does
exactly that. One run at a time: a second ``POST`` while one runs is a 409.
"""

from __future__ import annotations

import logging
import threading

import marshmallow as ma
from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import actor, require_role
from mpi.batch.runs import ENGINES
from mpi.vocab import Role

logger = logging.getLogger(__name__)

blp = Blueprint("dedup", __name__, url_prefix="/v1",
                description="Batch dedup runs: Splink over the whole index, POSSIBLE_DUPLICATE cases for stewards")


@blp.before_request
def _who_may() -> None:
    """Before a body is read: stewards and admins read runs, only an admin starts one (else 401 or 403)."""
    if request.method == "POST":
        require_role(Role.ADMIN)
    else:
        require_role(Role.STEWARD, Role.ADMIN)


_OUTCOMES = "running, completed, failed, or interrupted (its process stopped)"


class DedupRunRequestSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    engine = ma.fields.String(load_default="duckdb", validate=ma.validate.OneOf(ENGINES), metadata={
        "description": "duckdb (embedded, the default) or spark (needs the `spark` extra)"})
    spark_master = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Regexp(
        r"^(local(\[(\*|[1-9][0-9]*)\])?|(spark|k8s|yarn)://\S{1,200}|yarn)$"), metadata={
        "description": "a Spark master URL (spark://HOST:7077, local[*], ...); only with engine spark"})

    @ma.validates_schema
    def _master_needs_spark(self, data, **kwargs):
        if data.get("spark_master") and data.get("engine") != "spark":
            raise ma.ValidationError("only with engine spark", "spark_master")


class DedupRunQuerySchema(ma.Schema):
    report = ma.fields.Boolean(load_default=False, metadata={
        "description": "also return the run's report (histogram, clusters, nearest pairs, counts by source, cases): "
                       "what `mpi --url URL dedup --report FILE` draws"})


class ProgressSchema(ma.Schema):
    phase = ma.fields.String(metadata={"description": "reading, preparing, scoring, clustering, comparing, writing"})
    count = ma.fields.Integer(allow_none=True, metadata={"description": "records read, pairs scored, clusters..."})
    elapsed_s = ma.fields.Float()


class FindingSchema(ma.Schema):
    person_a = ma.fields.String()
    person_b = ma.fields.String()
    match_weight = ma.fields.Float(metadata={"description": "the best pair of records between the two persons"})
    record_a = ma.fields.String(metadata={"description": "source_system/source_record_id of person_a's side"})
    record_b = ma.fields.String()
    case_id = ma.fields.String(allow_none=True, metadata={"description": "the POSSIBLE_DUPLICATE case opened"})
    merge_id = ma.fields.String(allow_none=True, metadata={"description": "the merge, where the policy auto-merges"})
    run_id = ma.fields.String()


class DedupRunSchema(ma.Schema):
    run_id = ma.fields.String()
    source = ma.fields.String(metadata={"description": "store"})
    engine = ma.fields.String()
    model_version = ma.fields.String()
    actor = ma.fields.String()
    started_at = ma.fields.DateTime()
    ended_at = ma.fields.DateTime(allow_none=True)
    outcome = ma.fields.String(metadata={"description": _OUTCOMES})
    counts = ma.fields.Dict(keys=ma.fields.String(), metadata={
        "description": "records, pairs_scored, clusters, cases_opened, auto_merged, splits, seconds by phase..."})
    error = ma.fields.String(allow_none=True, metadata={"description": "the kind of error a failed run met"})
    progress = ma.fields.Nested(ProgressSchema, metadata={"description": "while it runs"})


class DedupRunDetailSchema(DedupRunSchema):
    findings = ma.fields.List(ma.fields.Nested(FindingSchema))
    report = ma.fields.Dict(keys=ma.fields.String(), allow_none=True, metadata={
        "description": "with `report=true`: the run's report (null while it runs, or for a failed run)"})


class DedupRunListSchema(ma.Schema):
    runs = ma.fields.List(ma.fields.Nested(DedupRunSchema))


def _runs():
    return current_app.extensions["mpi"].dedup


def _in_background(runs, run_id: str, who: str, engine: str, spark_master: str | None) -> None:
    try:
        runs.run(who, engine, spark_master, run_id=run_id)
    except Exception:  # recorded as the run's outcome (failed) by the run itself; kept out of the thread's stderr
        logger.warning("dedup run %s did not complete", run_id)


@blp.route("/dedup-runs")
class DedupRuns(MethodView):
    @blp.response(200, DedupRunListSchema)
    @blp.alt_response(401, schema="Error", description="no known caller")
    @blp.alt_response(403, schema="Error", description="the caller is not a steward or admin")
    def get(self):
        """Dedup runs, newest first: id, model version, engine, start, end, outcome and counts."""
        return {"runs": _runs().runs()}

    @blp.arguments(DedupRunRequestSchema, required=False)
    @blp.response(202, DedupRunSchema)
    @blp.alt_response(401, schema="Error", description="no known caller")
    @blp.alt_response(403, schema="Error", description="the caller is not an admin")
    @blp.alt_response(409, schema="Error", description="a run is in progress")
    @blp.alt_response(503, schema="Error", description="the spark engine was asked for and pyspark is not installed")
    def post(self, body):
        """Start a dedup run over the whole store (admin); it runs in the service: follow it by its id."""
        runs, who = _runs(), actor()
        run_id = runs.start(who, body["engine"])
        threading.Thread(target=_in_background, args=(runs, run_id, who, body["engine"], body["spark_master"]),
                         name=f"dedup-{run_id}", daemon=True).start()
        logger.info("dedup run %s started by %s on %s", run_id, who, body["engine"])
        return runs.get(run_id)


@blp.route("/dedup-runs/<string:run_id>")
class DedupRun(MethodView):
    @blp.arguments(DedupRunQuerySchema, location="query")
    @blp.response(200, DedupRunDetailSchema)
    @blp.alt_response(401, schema="Error", description="no known caller")
    @blp.alt_response(403, schema="Error", description="the caller is not a steward or admin")
    @blp.alt_response(404, schema="Error", description="no such run")
    def get(self, args, run_id):
        """One run with what it found: the cases it opened (and merges, where the policy allows them)."""
        return _runs().get(run_id, with_report=args["report"])

