"""``mpi train``, ``mpi calibrate`` and ``mpi model``: model versions, how they are made and which one is active."""

from __future__ import annotations

import sys
from urllib.parse import quote

import click

from mpi.cli.base import actor, main
from mpi.cli.remote import remote
from mpi.records.csvio import count_rows
from mpi.services import Services


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
                                  labels=labels_path, clock=services.clock)
    click.echo(f"model {document['version']} written to {services.registry.path_of(document['version'])}")
    if not no_activate:
        services.models.activate(document["version"], actor())
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
    from mpi.identity.calibrating import calibrate_active_model

    services.ensure_active_model(actor())
    document, result = calibrate_active_model(services.matching, services.registry, labels_path, actor(),
                                              services.clock, precision, max_missed, version, never_link)
    click.echo(f"{result.scored_pairs} blocked pairs of {result.labelled_records} labelled records scored "
               f"({result.true_pairs} true pairs)")
    click.echo(f"upper {result.upper_match_weight}: pairwise precision {result.precision_at_upper:.4f}, "
               f"recall {result.recall_at_upper:.4f}")
    click.echo(f"lower {result.lower_match_weight}: {result.missed_below_lower:.2%} of true pairs below it")
    if result.never_link_highest is not None:
        click.echo(f"highest known non-match the policy would not hold: {result.never_link_highest}")
    click.echo(f"model {document['version']} written to {services.registry.path_of(document['version'])}")
    if not no_activate:
        services.models.activate(document["version"], actor())
        click.echo(f"model {document['version']} is now active")


@main.group()
def model() -> None:
    """List and activate model versions."""


@model.command("list")
@click.pass_obj
def model_list(services: Services) -> None:
    """Model versions in the models folder; the active one is starred."""
    service = remote()
    if service is not None:
        answer = service.call("GET", "/v1/admin/models")
        active, versions, folder = answer["active"], answer["models"], "the service's models folder"
    else:
        active, versions, folder = services.models.version(), services.registry.versions(), services.registry.folder
    if not versions:
        click.echo(f"no models in {folder}")
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
    service = remote()
    if service is not None:
        service.call("POST", f"/v1/admin/models/{quote(version, safe='')}/activate")
    else:
        services.models.activate(version, actor())
    click.echo(f"model {version} is now active")


