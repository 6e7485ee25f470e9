"""``mpi dedup``: batch dedup runs (issue 16), over the store or over a partner's bulk file."""

from __future__ import annotations

import sys

import click

from mpi.cli.base import main
from mpi.errors import StoreLocked
from mpi.services import Services


@main.group(invoke_without_command=True)
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
def dedup(ctx: click.Context, input_path: str | None, output_path: str | None, workers: int | None,
          model_version: str | None) -> None:
    """Find duplicates in a batch: over a partner's bulk file with --input FILE --output clusters.csv."""
    if ctx.invoked_subcommand is not None:
        return
    if input_path is not None:
        dedup_bulk_file(ctx.obj, input_path, output_path, workers, model_version)
        return
    raise click.UsageError("give --input FILE --output clusters.csv", ctx)


# -- a bulk file: mpi dedup --input FILE --output clusters.csv (options --input, --output, --workers, --model) --


def dedup_bulk_file(services: Services, input_path: str, output_path: str | None, workers: int | None,
                    model_version: str | None) -> None:
    """Cluster a bulk file's records with the batch engine and write the clusters CSV; print the counts.

    Only the model registry is opened (and the store file's active model read without holding it), so this
    runs beside a serving process and needs no store at all.
    """
    from mpi.batch.bulk_file import count_records, dedup_file, default_workers
    from mpi.batch.engine import BatchModel

    if output_path is None:
        raise click.UsageError("--input needs --output clusters.csv")
    try:
        version = services.file_model_version(model_version)
    except StoreLocked as e:
        raise click.ClickException(f"{e.message}, so its active model cannot be read: name one with --model "
                                   "VERSION (`mpi model list` through the service shows the active one)") from None
    model = BatchModel.of(services.registry.document(version))
    total = count_records(input_path)
    workers = default_workers() if workers is None else workers
    click.echo(f"deduplicating {input_path}: {total} rows, model {version}, {workers} worker(s)", err=True)

    def phase(name: str, count: int | None) -> None:
        click.echo(f"  {name}" + ("" if count is None else f": {count}"), err=True)

    with click.progressbar(length=total, label="normalising", file=sys.stderr) as bar:
        result = dedup_file(input_path, output_path, model, workers, normalised_progress=bar.update, progress=phase)
    for line, fields in result.rejected:
        click.echo(f"skipped row {line}: invalid {', '.join(fields)}", err=True)
    if result.skipped > len(result.rejected):
        click.echo(f"... and {result.skipped - len(result.rejected)} more skipped rows", err=True)
    s = result.seconds
    click.echo(f"records read {result.records_read}, skipped (invalid) {result.skipped}, "
               f"duplicate keys (later row kept) {result.duplicate_keys}")
    click.echo(f"scored pairs {result.scored_pairs}, clusters {result.clusters}, clusters of 2+ "
               f"{result.clusters_of_two_or_more}, largest cluster {result.largest_cluster}, "
               f"records in clusters of 2+ {result.records_in_clusters}")
    click.echo(f"wall time {s['total']:.1f} s (normalise {s['normalise']:.1f}, score {s['score']:.1f}, "
               f"write {s['write']:.1f}; {result.records_read / max(s['total'], 1e-9):.0f} records/s)")
    click.echo(f"clusters written to {output_path}")
