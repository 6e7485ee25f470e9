"""``mpi load``, ``mpi rematch`` and ``mpi export``: records in bulk, through the same decision path as the API."""

from __future__ import annotations

import csv
import sys
import time
from collections import Counter
from contextlib import nullcontext
from pathlib import Path

import click

from mpi.cli.base import actor, main, warm_index
from mpi.cli.remote import remote
from mpi.identity.export import export_csv
from mpi.identity.loading import FileLoad, PreparedRows
from mpi.identity.loading import load as load_rows
from mpi.records.recordfiles import read_header, read_records
from mpi.services import Services


@main.command()
@click.option("--input", "input_path", required=True, type=click.Path(),
              help="CSV (or Parquet: *.parquet) of source records.")
@click.option("--no-rematch", is_flag=True,
              help="Leave records held in review as decided on arrival (see `mpi rematch`).")
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="Processes that validate and normalise rows ahead of matching "
                   "[default: 1 where there is a second core, else 0: all in this process].")
@click.option("--restart", is_flag=True,
              help="Send the file from its first row, even if an earlier load of it committed rows "
                   "(by default a load of the same file resumes after its last committed row).")
@click.option("--clusters", "clusters_path", default=None, type=click.Path(),
              help="A clusters CSV of the file (`mpi dedup --input`): match each cluster against the index once "
                   "and decide its records together.")
@click.pass_obj
def load(services: Services, input_path: str, no_rematch: bool, workers: int | None, restart: bool,
         clusters_path: str | None) -> None:
    """Send every record of a CSV or Parquet file through the decision path of the API, then re-match held records.

    The rows committed are recorded with each batch, so a load of the same file (by size and SHA-256)
    that was killed part-way resumes after its last committed row; one that finished sends nothing again.
    """
    who = actor()
    # The header first: a file that cannot load stops here, before any worker or progress bar starts.
    unknown = read_header(input_path)
    if unknown:
        click.echo(f"ignoring column(s) no record has: {', '.join(unknown)}", err=True)
    clusters = None
    if clusters_path is not None:  # checked whole against the input before anything is written
        from mpi.batch.cluster_load import read_clusters  # (imports the batch engine)

        clusters = read_clusters(clusters_path, ((raw["source_system"], raw["source_record_id"])
                                                 for _, raw in read_records(input_path)))
    services.ensure_active_model(who)
    source = FileLoad(services.store.loads, input_path, who, restart=restart)  # (reads only: where an earlier stopped)
    total = source.rows_total
    # Links re-score no open case one by one: the load's end re-scores once each case it touched or opened,
    # against the index as the load left it (CaseRescorer.deferred); a resumed load every open case (the killed
    # run may have missed some re-scoring).
    at_each_link = no_rematch or source.finished  # as the API re-scores (a finished file sends nothing)
    with nullcontext() if at_each_link else services.rescorer.deferred("mpi load", whole=source.resumed) as rescored:
        # The worker starts, and imports the normalisers, while this process maps the index: it had the first
        # batch wait 0.44 s for its first rows at 1M persons when it started after.
        with PreparedRows(source.rows(), workers) as prepared_rows:
            # Before the load writes its progress row: the index's saved base is current only until the first write.
            warm_index(services)
            source.begin()
            if source.finished:
                click.echo(f"already loaded {input_path}: all {total} rows (--restart sends them again)")
            elif source.resumed:
                click.echo(f"resuming {input_path} after row {source.skip} of {total}")
            decisions = _match_rows(services, source, prepared_rows, clusters, who)
        # After a resume too: the run that was killed may have been killed while re-matching.
        if not no_rematch and (decisions["POSSIBLE_MATCH"] or source.resumed):
            _echo_rematch(services.matching.rematch_open_cases(who))
    if rescored is not None:
        click.echo(f"re-scored open cases: {rescored['rescored']} of {rescored['cases']} changed")
    counts = services.store.counts()
    click.echo(f"index: {counts['persons']} persons, {counts['records']} records, {counts['open_cases']} open review cases")
    started = time.perf_counter()
    saved = services.writer.save_index()  # the next load or start maps it instead of reading every record
    if saved:
        click.echo(f"candidate index {saved} saved in {time.perf_counter() - started:.1f} s", err=True)


def _match_rows(services: Services, source: FileLoad, prepared_rows: PreparedRows, clusters, who: str
                ) -> Counter[str]:
    """Every row of the file through the decision path (by clusters if given), with a progress bar and a summary."""
    started = time.perf_counter()
    length = max(source.rows_total - source.skip, 0)
    with click.progressbar(length=length, label="matching", file=sys.stderr) as bar:
        checkpoint = None if source.finished else source.checkpoint
        if clusters is None:
            loaded = load_rows(services.matching, prepared_rows, who, progress=bar.update, checkpoint=checkpoint)
        else:
            from mpi.batch.cluster_load import load_by_clusters

            loaded = load_by_clusters(services.matching, prepared_rows, clusters, who,
                                      progress=bar.update, checkpoint=checkpoint)
    rejected = [f"line {line}: " + ("nothing to match on" if list(fields) == ["_schema"]
                                    else f"invalid {', '.join(fields)}") for line, fields in loaded.rejected]
    for message in rejected[:20]:
        click.echo(f"rejected {message}", err=True)
    if len(rejected) > 20:
        click.echo(f"... and {len(rejected) - 20} more rejected lines", err=True)
    elapsed = time.perf_counter() - started
    decisions = loaded.decisions
    summary = ", ".join(f"{d} {decisions[d]}" for d in ("MATCH", "NO_MATCH", "POSSIBLE_MATCH"))
    click.echo(f"loaded {sum(decisions.values())} records: {summary}; rejected {len(rejected)}")
    click.echo(f"matched in {elapsed:.1f} s ({sum(decisions.values()) / max(elapsed, 1e-9):.0f} records/s)")
    if clusters is not None:
        click.echo(f"by clusters: {loaded.clusters_matched} clusters matched, {loaded.linked_by_cluster} records "
                   f"linked and {loaded.held_by_cluster} held by their cluster, {loaded.persons_created} persons "
                   f"created, {loaded.cases_opened} cases opened, {loaded.decided_alone} members decided alone "
                   "(they contradict a record of their cluster's person)")
        click.echo(f"match calls: {loaded.match_calls} ({loaded.match_calls + loaded.match_calls_saved} record by "
                   f"record: {loaded.match_calls_saved} saved)")
    return decisions


def _echo_rematch(result: dict[str, int]) -> None:
    click.echo(f"re-matched held records: {result['linked']} linked in {result['passes']} pass(es)")


@main.command()
@click.pass_obj
def rematch(services: Services) -> None:
    """Decide again the records held in review that no steward has taken up; link those now unambiguous."""
    services.ensure_active_model(actor())
    _echo_rematch(services.matching.rematch_open_cases(actor()))


@main.command()
@click.option("--output", "output_path", required=True, type=click.Path(), help="CSV file to write.")
@click.pass_obj
def export(services: Services, output_path: str) -> None:
    """One row per source record: its person, decision, link source, score and open case."""
    out = Path(output_path)
    if out.parent and not out.parent.exists():
        raise click.ClickException(f"{out.parent}: no such directory")
    service = remote()
    if service is not None:
        service.download("/v1/admin/export", out)
    else:
        tmp = out.with_name(out.name + ".tmp")
        with tmp.open("w", newline="") as f:
            for text in export_csv(services.store):
                f.write(text)
        tmp.replace(out)
    with out.open(newline="") as f:
        n = sum(1 for _ in csv.reader(f)) - 1
    click.echo(f"exported {n} records to {out}")


