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
@click.option("--input", "input_path", default=None, type=click.Path(), help="CSV of source records.")
@click.option("--from-decisions", "from_decisions", is_flag=True,
              help="Learn from steward decisions instead of a CSV: m from their labelled pairs, the upper threshold "
                   "recalibrated for the policy's target_precision, activated only if at least as precise on the "
                   "held-out decisions.")
@click.option("--version", default=None, help="Model version name [default: <file stem>-<UTC time>; with "
                                              "--from-decisions <base model>-learned<UTC time>].")
@click.option("--seed", default=42, show_default=True,
              help="Seed for u sampling, or for the held-out split of --from-decisions (repeatable training).")
@click.option("--no-activate", is_flag=True, help="Write the model file but keep the active model.")
@click.option("--held-out", "held_out", default=0.25, show_default=True, type=float,
              help="With --from-decisions: the share of decisions held out to judge the new model.")
@click.option("--labels", "labels_path", default=None, type=click.Path(),
              help="CSV of labelled pairs (source_system_l, source_record_id_l, source_system_r, "
                   "source_record_id_r[, is_match]): m from its true pairs instead of EM.")
@click.pass_obj
def train(services: Services, input_path: str | None, from_decisions: bool, version: str | None, seed: int,
          no_activate: bool, held_out: float, labels_path: str | None) -> None:
    """Train a model (u by random sampling; m by EM, or from --labels) and activate it; or, with
    --from-decisions, learn a new version from steward decisions."""
    if from_decisions == (input_path is not None):
        raise click.UsageError("give either --input FILE or --from-decisions")
    if from_decisions:
        _train_from_decisions(services, version, seed, no_activate, held_out)
        return
    if remote() is not None:
        raise click.ClickException("mpi train --input reads a file here: run it where the models folder is, "
                                   "or use --from-decisions through the service")
    from mpi.matching.training import train_from_csv  # imports Splink: only when training

    total = count_rows(input_path)
    with click.progressbar(length=total, label="normalising", file=sys.stderr) as bar:
        document = train_from_csv(input_path, services.registry, version, seed, progress=bar.update,
                                  labels=labels_path, clock=services.clock)
    click.echo(f"model {document['version']} written to {services.registry.path_of(document['version'])}")
    if not no_activate:
        services.models.activate(document["version"], actor())
        click.echo(f"model {document['version']} is now active")


def _train_from_decisions(services: Services, version: str | None, seed: int, no_activate: bool,
                          held_out: float) -> None:
    service = remote()
    if service is not None:
        body = {"activate": not no_activate, "held_out": held_out, "seed": seed,
                **({"version": version} if version else {})}
        result = service.call("POST", "/v1/admin/models/train-from-decisions", json=body)
    else:
        services.ensure_active_model(actor())
        result = services.learning.train(actor(), version, not no_activate, held_out, seed)
    learned = result["learned_from"]
    kinds = ", ".join(f"{k} {n}" for k, n in learned["by_kind"].items())
    click.echo(f"{learned['decisions']} decisions ({kinds}): {learned['pairs_same']} same and "
               f"{learned['pairs_different']} different labelled pairs")
    held = learned["held_out"]
    click.echo(f"held out {held['decisions']} decisions ({held['pairs_same'] + held['pairs_different']} pairs); "
               + ("m kept (the base model's m came from labels)" if learned.get("m_kept") else
                  f"m re-estimated for {', '.join(learned['m_reestimated']) or 'no comparison (too few same pairs)'}"))
    upper = learned["upper_match_weight"]
    relaxed = ", ".join(f"{rule} below {weight:.3f}" for rule, weight in learned["holds_relaxed"].items())
    click.echo(f"upper threshold {upper['before']} -> {upper['after']:.3f} for target precision "
               f"{learned['target_precision']}; holds relaxed: {relaxed or 'none'}")
    new, old = learned["precision_held_out"]["new"], learned["precision_held_out"]["old"]
    click.echo(f"held-out precision: new {new['precision']:.4f} ({new['correct']}/{new['auto_linked']} auto-linked), "
               f"{learned['active_version']} {old['precision']:.4f} ({old['correct']}/{old['auto_linked']}); "
               f"true pairs found: new {new['correct']}, {learned['active_version']} {old['correct']} "
               f"of {new['true_pairs']}")
    click.echo(f"model {result['version']} written")
    if result["activated"]:
        click.echo(f"model {result['version']} is now active")
    elif not learned["passed"]:
        click.echo(f"model {result['version']} not activated: less precise, or finds fewer true pairs, on the "
                   "held-out decisions")
    else:
        click.echo(f"model {result['version']} not activated (--no-activate)")


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
        click.echo(f"{mark} {v['version']}  created {v['created_at']}  splink {v['splink_version']}  "
                   f"{_learned(v)}  "
                   f"thresholds {v['policy']['lower_match_weight']}/{v['policy']['upper_match_weight']}")


def _learned(version: dict) -> str:
    """What a version learned from: steward decisions, or the file it was trained on."""
    learned = version.get("learned_from")
    if learned:
        return (f"learned from {learned['decisions']} decisions ({learned['pairs_same']} same, "
                f"{learned['pairs_different']} different pairs) on {learned['base_version']}")
    trained = version.get("trained_on") or {}
    return f"trained on {trained.get('file')} ({trained.get('records')} records)"


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


