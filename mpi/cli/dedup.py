"""``mpi dedup``: a batch dedup run over the store (``mpi dedup runs`` lists them).

Without ``--url`` the run opens the store itself (the service must not be
running: it holds the file); with ``--url`` the running service does it
(``POST /v1/dedup-runs``) and this command follows it until it ends, showing its
phases (``progress_dedup.py``). Either way the run is recorded in the store.
``--report FILE`` writes the run's report as one standalone HTML page, and its
cases as CSV beside it (``mpi.batch.report``; through the service, from
``GET /v1/dedup-runs/{id}?report=true``). With ``--input FILE --output
clusters.csv`` it deduplicates a partner's bulk file instead, without the store
(the block at the end of this module).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click

from mpi.batch.report import cases_csv, render_html
from mpi.batch.report_html import Links
from mpi.batch.runs import ENGINES
from mpi.cli.base import actor, echo_table, main, when
from mpi.cli.progress_dedup import DedupProgress
from mpi.cli.remote import Remote, remote
from mpi.errors import StoreLocked
from mpi.services import Services

#: Seconds between two looks at a run the service is doing.
POLL_S = 1.0


@main.group(invoke_without_command=True)
@click.option("--engine", type=click.Choice(ENGINES), default="duckdb", show_default=True,
              help="Where Splink runs: embedded DuckDB, or Spark (`pip install 'closedloop-mpi[spark]'`).")
@click.option("--spark-master", metavar="URL", default=None,
              help="A Spark master (spark://HOST:7077; default local[*]); only with --engine spark.")
@click.option("--report", "report_path", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write the run's report to FILE (one standalone HTML page) and its cases beside it "
                                 "(FILE's name with -cases.csv).")
@click.option("--input", "input_path", default=None, type=click.Path(),
              help="A partner's bulk file (CSV or Parquet of canonical records) to deduplicate without the store.")
@click.option("--output", "output_path", default=None, type=click.Path(),
              help="With --input: the clusters CSV to write (source_system, source_record_id, cluster_id, "
                   "match_weight_to_cluster).")
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="With --input: processes that validate and normalise records [default: one per CPU; 0: none].")
@click.option("--model", "model_version", default=None,
              help="With --input: the model version to score with [default: the store's active model, else the "
                   "shipped default].")
@click.pass_context
def dedup(ctx: click.Context, engine: str, spark_master: str | None, report_path: Path | None,
          input_path: str | None, output_path: str | None, workers: int | None, model_version: str | None) -> None:
    """Find the duplicates the real-time path could not see: POSSIBLE_DUPLICATE cases for stewards.

    With --input FILE --output clusters.csv: cluster a partner's bulk file instead, without the store.
    """
    if ctx.invoked_subcommand is not None:
        return
    if input_path is not None:
        if engine != "duckdb" or spark_master or report_path:
            raise click.UsageError("--input runs on DuckDB and writes clusters: --engine spark and --report are "
                                   "for the run over the store")
        dedup_bulk_file(ctx.obj, input_path, output_path, workers, model_version)
        return
    if output_path or workers is not None or model_version:
        raise click.UsageError("--output, --workers and --model go with --input FILE")
    if spark_master and engine != "spark":
        raise click.UsageError("--spark-master needs --engine spark")
    service = remote()
    if report_path is not None:
        _check_writable(report_path)
    if service is not None:
        run = _through(service, engine, spark_master)
        if report_path is not None:
            _write_report(service.call("GET", f"/v1/dedup-runs/{run['run_id']}", params={"report": "true"}),
                          report_path)
    else:
        services: Services = ctx.obj
        with DedupProgress() as progress:
            run = services.dedup.run(actor(), engine, spark_master, progress=progress)
            progress.done(run["outcome"])
        if report_path is not None:
            _write_report(services.dedup.get(run["run_id"], with_report=True), report_path)
    _echo_run(run)


def cases_path(report_path: Path) -> Path:
    """Where ``--report FILE`` writes the cases CSV: beside FILE, named after it (``run.html``: ``run-cases.csv``)."""
    return report_path.with_name(f"{report_path.stem}-cases.csv")


def _check_writable(path: Path) -> None:
    """Refuse a report path that cannot be written before the run starts, not after it has run."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise click.ClickException(f"cannot write the report to {path}: no folder {folder}")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise click.ClickException(f"cannot write the report to {path}: not writable")


def _write_report(run: dict, path: Path) -> None:
    report = run.get("report")
    if not report:
        raise click.ClickException(f"dedup run {run['run_id']} has no report ({run['outcome']})")
    csv_path = cases_path(path)
    try:
        csv_path.write_text(cases_csv(run["findings"]), encoding="utf-8")
        path.write_text(render_html(run, report, Links(cases_csv=csv_path.name)), encoding="utf-8")
    except OSError as e:
        raise click.ClickException(f"cannot write the report to {path}: {e.strerror}") from e
    click.echo(f"report written to {path} (cases: {csv_path})", err=True)


def _through(service: Remote, engine: str, spark_master: str | None) -> dict:
    """Start the run in the service and follow it until it ends."""
    body = {"engine": engine, **({"spark_master": spark_master} if spark_master else {})}
    run = service.call("POST", "/v1/dedup-runs", json=body)
    click.echo(f"dedup run {run['run_id']} started in the service", err=True)
    with DedupProgress() as echo:
        while run["outcome"] == "running":
            time.sleep(POLL_S)
            run = service.call("GET", f"/v1/dedup-runs/{run['run_id']}")
            if run.get("progress"):
                echo(run["progress"]["phase"], run["progress"].get("count"))
        echo.done(run["outcome"])
    if run["outcome"] != "completed":
        raise click.ClickException(f"dedup run {run['run_id']} {run['outcome']}: {run.get('error') or 'stopped'}")
    return run


def _echo_run(run: dict) -> None:
    counts = run["counts"]
    click.echo(f"dedup run {run['run_id']} {run['outcome']} ({run['engine']}, model {run['model_version']})")
    click.echo(f"  {counts['records']:,} records, {counts['pairs_scored']:,} pairs scored, "
               f"{counts['clusters']:,} clusters ({counts['clusters_of_two_or_more']:,} of two or more)")
    click.echo(f"  persons found to be one: {counts['person_pairs_found']:,} pairs; "
               f"{counts['cases_opened']:,} POSSIBLE_DUPLICATE cases opened, {counts['auto_merged']:,} merged, "
               f"{counts['already_proposed']:,} already proposed, {counts['kept_apart']:,} kept apart by stewards")
    click.echo(f"  persons the run would split (reported, not split): {counts['splits']:,}")
    seconds = counts.get("seconds") or {}
    if seconds:
        click.echo("  seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in seconds.items()))


@dedup.command("runs")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.pass_obj
def runs(services: Services, limit: int) -> None:
    """List dedup runs, newest first."""
    service = remote()
    listed = service.call("GET", "/v1/dedup-runs")["runs"][:limit] if service is not None \
        else services.dedup.runs(limit)
    if not listed:
        click.echo("no dedup runs yet")
        return
    echo_table(("run", "started", "ended", "engine", "model", "outcome", "records", "cases", "merged", "splits"), [
        (r["run_id"], when(r["started_at"]), when(r["ended_at"]), r["engine"], r["model_version"], r["outcome"],
         *(str(r["counts"].get(k, "")) for k in ("records", "cases_opened", "auto_merged", "splits")))
        for r in listed])


# -- a bulk file: mpi dedup --input FILE --output clusters.csv (options --input, --output, --workers, --model) --


def dedup_bulk_file(services: Services, input_path: str, output_path: str | None, workers: int | None,
                    model_version: str | None) -> None:
    """Cluster a bulk file's records with the batch engine and write the clusters CSV; print the counts.

    Only the model registry is opened (and the store file's active model read without holding it), so this
    runs beside a serving process and needs no store at all.
    """
    from mpi.batch.bulk_file import DedupFile, check_output, cluster_file, count_records, default_workers, read_file
    from mpi.batch.engine import BatchModel

    if output_path is None:
        raise click.UsageError("--input needs --output clusters.csv")
    try:
        version = services.file_model_version(model_version)
    except StoreLocked as e:
        raise click.ClickException(f"{e.message}, so its active model cannot be read: name one with --model "
                                   "VERSION (`mpi model list` through the service shows the active one)") from None
    model = BatchModel.of(services.registry.document(version))
    check_output(output_path)
    total = count_records(input_path)
    workers = default_workers() if workers is None else workers
    click.echo(f"deduplicating {input_path}: {total:,} rows, model {version}, {workers} worker(s)", err=True)
    result = DedupFile()
    with click.progressbar(length=total, label="normalising", file=sys.stderr) as bar:
        keys, rows = read_file(input_path, result, workers, bar.update)
    for line, fields in result.rejected:
        click.echo(f"skipped row {line}: invalid {', '.join(fields)}", err=True)
    if result.skipped > len(result.rejected):
        click.echo(f"... and {result.skipped - len(result.rejected)} more skipped rows", err=True)
    with DedupProgress() as progress:
        cluster_file(keys, rows, output_path, model, result, progress)
        progress.done("written")
    s = result.seconds
    click.echo(f"records read {result.records_read}, skipped (invalid) {result.skipped}, "
               f"duplicate keys (later row kept) {result.duplicate_keys}")
    click.echo(f"scored pairs {result.scored_pairs}, clusters {result.clusters}, clusters of 2+ "
               f"{result.clusters_of_two_or_more}, largest cluster {result.largest_cluster}, "
               f"records in clusters of 2+ {result.records_in_clusters}")
    click.echo(f"wall time {s['total']:.1f} s (normalise {s['normalise']:.1f}, score {s['score']:.1f}, "
               f"write {s['write']:.1f}; {result.records_read / max(s['total'], 1e-9):.0f} records/s)")
    click.echo(f"clusters written to {output_path}")
