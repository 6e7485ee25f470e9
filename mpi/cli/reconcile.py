"""``mpi reconcile``: compare what a partner's system shows (a status snapshot file) with what it was sent.

The file is CSV (a header naming ``label`` and ``referral_id`` or ``reference``,
``as_of`` optional) or JSON (a list of rows, or ``{"rows": [...]}``), told apart
by its extension or, failing that, its first character. It is checked whole
before anything is kept. With ``--url`` it goes through the running service
(``POST /v1/partners/{id}/status-snapshot``, as JSON); without, through the store.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import click

from mpi.cli.base import actor, main
from mpi.cli.remote import remote
from mpi.errors import ValidationError
from mpi.exchange import snapshot
from mpi.services import Services


def read_rows(path: Path) -> tuple[list[dict], str]:
    """A snapshot file's rows, checked, and its format (``csv`` or ``json``).

    Raises:
        click.ClickException: the file cannot be read. ValidationError: bad rows, each named.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise click.ClickException(f"cannot read {path}: {type(e).__name__}") from None
    suffix = path.suffix.lower()
    as_json = suffix == ".json" or (suffix != ".csv" and snapshot.looks_like_json(text))
    if not as_json:
        return snapshot.rows_from_csv(text), "csv"
    try:
        data = json.loads(text)
    except ValueError:
        raise ValidationError(f"{path.name} is not JSON", {"_body": ["not JSON"]}) from None
    return snapshot.rows_from_json(data, bare_list=True), "json"


@main.command()
@click.option("--partner", "partner_id", required=True, help="The partner whose system the snapshot is of.")
@click.option("--input", "input_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The snapshot: CSV (referral_id or reference, label, as_of) or JSON (a list of rows).")
@click.pass_obj
def reconcile(services: Services, partner_id: str, input_path: Path) -> None:
    """Reconcile a partner's status snapshot: what matched, what lags, what opened a work item."""
    rows, fmt = read_rows(input_path)
    service = remote()
    if service is not None:
        body = {"rows": [{k: (v.isoformat() if k == "as_of" else v) for k, v in r.items()
                          if k in snapshot.COLUMNS and v is not None} for r in rows]}
        run = service.call("POST", f"/v1/partners/{quote(partner_id, safe='')}/status-snapshot", json=body)
    else:
        run = services.reconciliation.receive(partner_id, rows, fmt, actor())
        patterns = services.reconciliation.patterns(partner_id)
    click.echo(f"run {run['run_id']} of {partner_id}: {run['compared']} compared, {run['matched']} matched, "
               f"{run['lagging']} lagging, {run['mismatched']} mismatched")
    click.echo(f"work items: {run['opened']} opened, {run['seen_again']} seen again, {run['cleared']} cleared")
    for reason, n in run["lags"].items():
        click.echo(f"  lag {reason}: {n}")
    for kind, n in run["kinds"].items():
        click.echo(f"  mismatch {kind}: {n}")
    if service is None:
        for p in patterns[:10]:
            click.echo(f"  pattern: {p['items']} x {p['kind']} {p['our_state'] or '-'}: should show "
                       f"{p['expected_label'] or '-'!r}, shows {p['reported_label']!r}")
