"""The ``mpi`` command: thin click commands over the core services.

Commands parse options, call services and echo results. Every expected failure
is a one-line ``click.ClickException``, never a traceback; long work shows a
progress bar. The store comes from ``--db`` or ``MPI_DB``.
"""

from __future__ import annotations

import csv
import getpass
import logging
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import click

from mpi import settings
from mpi.auth import Role, add_user
from mpi.errors import MpiError
from mpi.identity.loading import Outcome, PreparedRows
from mpi.records.csvio import count_rows, read_records
from mpi.services import Services

logger = logging.getLogger(__name__)

EXPORT_COLUMNS = (
    "source_system", "source_record_id", "person_id", "decision", "link_source", "score", "review_case_id",
)
#: Records `mpi load` writes per transaction. Each flush and commit costs DuckDB
#: tens of milliseconds at a million persons whatever its size: 1,000 per batch
#: loaded 279-378 records/s there against 242-262 with 200 (the same 2,992
#: records, one run); one transaction of all 2,992 was slower again (209 against 240).
LOAD_BATCH = 1000


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no login name in some containers
        return "cli:unknown"


class _Errors(click.Group):
    """Turn the core's errors into one-line CLI errors."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except MpiError as e:
            detail = "; ".join(f"{k}: {', '.join(v)}" for k, v in e.errors.items())
            raise click.ClickException(f"{e.message}" + (f" ({detail})" if detail else "")) from None


@click.group(cls=_Errors)
@click.option("--db", envvar="MPI_DB", default=None, help="DuckDB store file [env MPI_DB; default var/mpi.duckdb].")
@click.option("--models-dir", envvar="MPI_MODELS_DIR", default=None, help="Folder of model files [env MPI_MODELS_DIR].")
@click.pass_context
def main(ctx: click.Context, db: str | None, models_dir: str | None) -> None:
    """closedloop-mpi: master person index for referral networks."""
    logging.basicConfig(level=settings.get("MPI_LOG_LEVEL"), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ctx.obj = Services({"MPI_DB": db, "MPI_MODELS_DIR": models_dir})
    ctx.call_on_close(ctx.obj.close)


def _warm_index(services: Services) -> None:
    """Build the candidate index before the first record, so no request (or progress bar) waits for it."""
    started = time.perf_counter()
    records = len(services.matching.index().entries)
    click.echo(f"candidate index: {records} records loaded in {time.perf_counter() - started:.1f} s", err=True)


@main.command()
@click.pass_obj
def init(services: Services) -> None:
    """Create (or migrate) the store and activate the default model if none is active."""
    version = services.store.schema_version()
    active = services.ensure_active_model(_actor())
    click.echo(f"store {services.config['MPI_DB']} at schema version {version}; active model: {active or 'none'}")


@main.command()
@click.option("--input", "input_path", required=True, type=click.Path(), help="CSV of source records.")
@click.option("--version", default=None, help="Model version name [default: <file stem>-<UTC time>].")
@click.option("--seed", default=42, show_default=True, help="Seed for u sampling (repeatable training).")
@click.option("--no-activate", is_flag=True, help="Write the model file but keep the active model.")
@click.option("--labels", "labels_path", default=None, type=click.Path(),
              help="CSV of labelled pairs (source_system_l, source_record_id_l, source_system_r, "
                   "source_record_id_r[, is_match]): m from its true pairs instead of EM.")
@click.pass_obj
def train(services: Services, input_path: str, version: str | None, seed: int, no_activate: bool,
          labels_path: str | None) -> None:
    """Train a model (u by random sampling; m by EM, or from --labels) and activate it."""
    from mpi.matching.training import train_from_csv  # imports Splink: only when training

    total = count_rows(input_path)
    with click.progressbar(length=total, label="normalising", file=sys.stderr) as bar:
        document = train_from_csv(input_path, services.registry, version, seed, progress=bar.update,
                                  labels=labels_path)
    click.echo(f"model {document['version']} written to {services.registry.path_of(document['version'])}")
    if not no_activate:
        services.matching.activate(document["version"], _actor())
        click.echo(f"model {document['version']} is now active")


@main.command()
@click.option("--labels", "labels_path", required=True, type=click.Path(),
              help="CSV of labelled pairs of records in the store (as for train --labels).")
@click.option("--precision", default=0.998, show_default=True, help="Target auto-link (pairwise) precision.")
@click.option("--max-missed", default=0.02, show_default=True,
              help="Most true pairs (share) allowed below the lower threshold.")
@click.option("--never-link", "never_link", default=None, type=click.Path(),
              help="CSV of pairs known not to be one person (is_match or should_match false): the upper "
                   "threshold stays above every one of them the policy would not hold.")
@click.option("--version", default=None, help="Version of the calibrated model [default: <active>-cal<UTC time>].")
@click.option("--no-activate", is_flag=True, help="Write the calibrated model but keep the active one.")
@click.pass_obj
def calibrate(services: Services, labels_path: str, precision: float, max_missed: float, never_link: str | None,
              version: str | None, no_activate: bool) -> None:
    """Choose the two thresholds for a target precision from labelled pairs; write them as a new model version."""
    from mpi.matching.calibration import calibrate_active_model

    services.ensure_active_model(_actor())
    document, result = calibrate_active_model(services.matching, labels_path, _actor(), precision, max_missed,
                                              version, never_link)
    click.echo(f"{result.scored_pairs} blocked pairs of {result.labelled_records} labelled records scored "
               f"({result.true_pairs} true pairs)")
    click.echo(f"upper {result.upper_match_weight}: pairwise precision {result.precision_at_upper:.4f}, "
               f"recall {result.recall_at_upper:.4f}")
    click.echo(f"lower {result.lower_match_weight}: {result.missed_below_lower:.2%} of true pairs below it")
    if result.never_link_highest is not None:
        click.echo(f"highest known non-match the policy would not hold: {result.never_link_highest}")
    click.echo(f"model {document['version']} written to {services.registry.path_of(document['version'])}")
    if not no_activate:
        services.matching.activate(document["version"], _actor())
        click.echo(f"model {document['version']} is now active")


@main.group()
def model() -> None:
    """List and activate model versions."""


@model.command("list")
@click.pass_obj
def model_list(services: Services) -> None:
    """Model versions in the models folder; the active one is starred."""
    from mpi.matching.model import ACTIVE_MODEL_KEY

    active = services.store.get_meta(ACTIVE_MODEL_KEY)
    versions = services.registry.versions()
    if not versions:
        click.echo(f"no models in {services.registry.folder}")
    for v in versions:
        mark = "*" if v["version"] == active else " "
        trained = v.get("trained_on") or {}
        click.echo(f"{mark} {v['version']}  created {v['created_at']}  splink {v['splink_version']}  "
                   f"trained on {trained.get('file')} ({trained.get('records')} records)  "
                   f"thresholds {v['policy']['lower_match_weight']}/{v['policy']['upper_match_weight']}")


@model.command("activate")
@click.argument("version")
@click.pass_obj
def model_activate(services: Services, version: str) -> None:
    """Make VERSION the store's active model."""
    services.matching.activate(version, _actor())
    click.echo(f"model {version} is now active")


@main.command()
@click.option("--input", "input_path", required=True, type=click.Path(), help="CSV of source records.")
@click.option("--no-rematch", is_flag=True,
              help="Leave records held in review as decided on arrival (see `mpi rematch`).")
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="Processes that validate and normalise rows ahead of matching "
                   "[default: 1 where there is a second core, else 0: all in this process].")
@click.pass_obj
def load(services: Services, input_path: str, no_rematch: bool, workers: int | None) -> None:
    """Send every record of a CSV through the same decision path as the API, then re-match held records."""
    services.ensure_active_model(_actor())
    actor = _actor()
    decisions: Counter[str] = Counter()
    rejected: list[str] = []
    total = count_rows(input_path)
    # Entered before the index is built, so the first rows are prepared when matching begins.
    with PreparedRows(read_records(input_path), workers) as prepared_rows:
        _warm_index(services)
        started = time.perf_counter()
        _load_rows(services, actor, iter(prepared_rows), total, decisions, rejected)
    for message in rejected[:20]:
        click.echo(f"rejected {message}", err=True)
    if len(rejected) > 20:
        click.echo(f"... and {len(rejected) - 20} more rejected lines", err=True)
    elapsed = time.perf_counter() - started
    summary = ", ".join(f"{d} {decisions[d]}" for d in ("MATCH", "NO_MATCH", "POSSIBLE_MATCH"))
    click.echo(f"loaded {sum(decisions.values())} records: {summary}; rejected {len(rejected)}")
    click.echo(f"matched in {elapsed:.1f} s ({total / max(elapsed, 1e-9):.0f} records/s)")
    if not no_rematch and decisions["POSSIBLE_MATCH"]:
        _echo_rematch(services.matching.rematch_open_cases(actor))
    counts = services.store.counts()
    click.echo(f"index: {counts['persons']} persons, {counts['records']} records, {counts['open_cases']} open review cases")


def _load_rows(services: Services, actor: str, rows: Iterator[Outcome], total: int, decisions: Counter[str],
               rejected: list[str]) -> None:
    """Match prepared rows, a transaction per ``LOAD_BATCH``, counting decisions and rejected lines."""
    with click.progressbar(length=total, label="matching", file=sys.stderr) as bar:
        batch_done = False
        while not batch_done:
            with services.store.transaction():
                for _ in range(LOAD_BATCH):
                    item = next(rows, None)
                    if item is None:
                        batch_done = True
                        break
                    line, prepared, bad_fields = item
                    if prepared is None:
                        rejected.append(f"line {line}: invalid {', '.join(bad_fields)}")
                    else:
                        result = services.matching.submit_prepared(prepared, actor, with_candidates=False)
                        decisions[result["decision"]] += 1
                    bar.update(1)


def _echo_rematch(result: dict[str, int]) -> None:
    click.echo(f"re-matched held records: {result['linked']} linked in {result['passes']} pass(es)")


@main.command()
@click.pass_obj
def rematch(services: Services) -> None:
    """Decide again the records held in review that no steward has taken up; link those now unambiguous."""
    services.ensure_active_model(_actor())
    _echo_rematch(services.matching.rematch_open_cases(_actor()))


@main.command()
@click.option("--output", "output_path", required=True, type=click.Path(), help="CSV file to write.")
@click.pass_obj
def export(services: Services, output_path: str) -> None:
    """One row per source record: its person, decision, link source, score and open case."""
    out = Path(output_path)
    if out.parent and not out.parent.exists():
        raise click.ClickException(f"{out.parent}: no such directory")
    n = 0
    tmp = out.with_name(out.name + ".tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(EXPORT_COLUMNS)
        for row in services.store.export_rows():
            writer.writerow(["" if v is None else v for v in row])
            n += 1
    tmp.replace(out)
    click.echo(f"exported {n} records to {out}")


@main.group()
def users() -> None:
    """Manage API and review UI users."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.pass_obj
def users_add(services: Services, name: str, role: str) -> None:
    """Create or replace user NAME and print its bearer token (shown once)."""
    with services.store.transaction():
        token = add_user(services.store, name, role)
        services.store.audit(_actor(), "user.added", "user", name, None, {"role": role})
    click.echo(token)


@main.command()
@click.option("--output", "output_path", required=True, type=click.Path(), help="CSV file to write.")
@click.option("--people", default=1000, show_default=True, help="True people to generate.")
@click.option("--seed", default=7, show_default=True)
def generate(output_path: str, people: int, seed: int) -> None:
    """Write a seeded synthetic population with duplicates (and a truth column)."""
    from mpi.synth.generator import write_csv

    n = write_csv(output_path, people, seed)
    click.echo(f"wrote {n} records for {people} people to {output_path}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True)
@click.option("--threads", default=8, show_default=True)
@click.pass_obj
def serve(services: Services, host: str, port: int, threads: int) -> None:
    """Serve the API and the review UI with waitress (a production WSGI server)."""
    import waitress

    from api import create_app

    services.ensure_active_model(_actor())
    app = create_app(services=services)
    _warm_index(services)
    click.echo(f"serving on http://{host}:{port}/ (API under /v1, review UI under /review)")
    waitress.serve(app, host=host, port=port, threads=threads, ident="closedloop-mpi")


@main.command()
@click.option("--people", default=400, show_default=True, help="Synthetic people in the demo index.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True)
@click.option("--no-serve", is_flag=True, help="Build the demo index and exit.")
@click.pass_context
def demo(ctx: click.Context, people: int, host: str, port: int, no_serve: bool) -> None:
    """Build a demo index from the seeded generator (once) and serve it."""
    from mpi.synth.demo import build_demo

    services: Services = ctx.obj
    info = build_demo(services, people, _actor(), echo=click.echo)
    click.echo(f"demo hub token:     {info['hub_token']}")
    click.echo(f"demo steward token: {info['steward_token']}")
    click.echo(f"try: curl -H 'Authorization: Bearer {info['hub_token']}' http://{host}:{port}/v1/persons/MPI00000001")
    click.echo(f"review UI sign-in: http://{host}:{port}/review/sign-in  user name: demo-steward  "
               f"token: {info['steward_token']}")
    if not no_serve:
        ctx.invoke(serve, host=host, port=port)
