"""``mpi partners``: partner systems of the exchange, their subscriptions and versioned status crosswalks.

With ``--url`` each command goes through the running service (``/v1/partners``);
without it, through the store. A partner's signing secret is printed once, when
it is added; the service keeps it (to sign messages) but never shows it again.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from urllib.parse import quote

import click

from mpi.cli.base import actor, echo_table, main, when
from mpi.cli.remote import remote
from mpi.errors import ValidationError
from mpi.exchange.crosswalk import rows_from_csv
from mpi.exchange.vocab import PartnerFormat, Subscription
from mpi.services import Services

#: The columns ``mpi partners list`` prints.
LIST_COLUMNS = ("id", "org", "format", "subscriptions", "status", "crosswalk", "endpoint")


@main.group()
def partners() -> None:
    """Manage the partner systems status feedback is sent to, and their crosswalks."""


@partners.command("add")
@click.argument("partner_id")
@click.option("--org", "organisation", required=True, help="Code of the organisation the partner's system belongs to.")
@click.option("--name", required=True, help="The partner system's name.")
@click.option("--endpoint", required=True, help="Where messages are sent: an http:// or https:// URL.")
@click.option("--format", "fmt", type=click.Choice([f.value for f in PartnerFormat]), required=True,
              help="fhir-task (a FHIR R4 Task PUT) or webhook (a signed JSON event).")
@click.option("--subscribe", "subscriptions", type=click.Choice([s.value for s in Subscription]), multiple=True,
              required=True, help="What it receives (repeatable): requester, performer, member.")
@click.pass_obj
def partners_add(services: Services, partner_id: str, organisation: str, name: str, endpoint: str, fmt: str,
                 subscriptions: tuple[str, ...]) -> None:
    """Add partner PARTNER_ID and print its signing secret (shown this once)."""
    body = {"partner_id": partner_id, "organisation": organisation, "name": name, "endpoint": endpoint,
            "format": fmt, "subscriptions": list(dict.fromkeys(subscriptions))}
    service = remote()
    if service is not None:
        partner = service.call("POST", "/v1/partners", json=body)
        secret = partner["signing_secret"]
    else:
        partner, secret = services.partners.add(body, actor())
    click.echo(f"partner:        {partner['partner_id']} ({partner['organisation']}, {partner['format']}, "
               f"{', '.join(partner['subscriptions'])})")
    click.echo(f"signing secret: {secret}")
    click.echo("(the signing secret is shown this once: give it to the partner now to check signatures)", err=True)


@partners.command("list")
@click.pass_obj
def partners_list(services: Services) -> None:
    """Every partner: id, organisation, format, subscriptions, status, latest crosswalk version, endpoint."""
    service = remote()
    found = service.call("GET", "/v1/partners")["partners"] if service is not None else services.partners.all()
    if not found:
        click.echo("no partners (add one with: mpi partners add ID --org ORG --name N --endpoint URL "
                   "--format F --subscribe S)")
        return
    echo_table(LIST_COLUMNS, [(p["partner_id"], p["organisation"], p["format"], ",".join(p["subscriptions"]),
                               p["status"], f"v{p['latest_crosswalk']}" if p["latest_crosswalk"] else "none",
                               p["endpoint"]) for p in found])


@partners.command("show")
@click.argument("partner_id")
@click.pass_obj
def partners_show(services: Services, partner_id: str) -> None:
    """One partner and its crosswalk versions, each row marked LOSSY where its label is shared by another state."""
    service = remote()
    partner = (service.call("GET", f"/v1/partners/{quote(partner_id, safe='')}") if service is not None
               else services.partners.get(partner_id))
    click.echo(f"partner:       {partner['partner_id']}  {partner['name']}")
    click.echo(f"organisation:  {partner['organisation']}")
    click.echo(f"endpoint:      {partner['endpoint']} ({partner['format']})")
    click.echo(f"subscriptions: {', '.join(partner['subscriptions'])}")
    click.echo(f"status:        {partner['status']} (added {when(partner['created_at'])} by {partner['created_by']})")
    if not partner["crosswalks"]:
        click.echo(f"crosswalk:     none (add one with: mpi partners crosswalk --partner {partner['partner_id']} "
                   "--input FILE)")
    for version in partner["crosswalks"]:
        click.echo(f"crosswalk v{version['version_id']}: in force from {_day(version['effective_from'])} "
                   f"({len(version['rows'])} rows, {version['lossy_rows']} lossy)")
        keys = [row["state"] + (f"/{row['reason']}" if row["reason"] else "") for row in version["rows"]]
        width = max(map(len, keys), default=0)
        for key, row in zip(keys, version["rows"]):
            click.echo(f"  {key:<{width}} -> {row['label']}" + ("  LOSSY" if row["lossy"] else ""))


@partners.command("crosswalk")
@click.option("--partner", "partner_id", required=True, help="The partner's id.")
@click.option("--input", "input_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="A CSV with the header state,reason,label (reason blank: any reason).")
@click.option("--effective", default=None, help="The date it is in force from, YYYY-MM-DD (UTC) [default: today].")
@click.pass_obj
def partners_crosswalk(services: Services, partner_id: str, input_path: Path, effective: str | None) -> None:
    """Add a new crosswalk version to a partner from a CSV; earlier versions stay in force before its date."""
    try:
        text = input_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise click.ClickException(f"cannot read {input_path}: {type(e).__name__}") from None
    service = remote()
    if service is not None:
        rows = rows_from_csv(text)
        if effective is not None:
            _check_date(effective)
        version = service.call("POST", f"/v1/partners/{quote(partner_id, safe='')}/crosswalk",
                               json={"effective_from": effective, "rows": rows})
    else:
        version = services.partners.add_crosswalk_csv(partner_id, text, effective, actor())
    click.echo(f"crosswalk v{version['version_id']} of {partner_id}: {len(version['rows'])} rows, "
               f"{version['lossy_rows']} lossy, in force from {_day(version['effective_from'])}")
    for row in version["rows"]:
        if row["lossy"]:
            click.echo(f"  lossy: line {row['line']} {row['state']} -> {row['label']} (label shared with another state)")


def _check_date(value: str) -> None:
    try:
        date.fromisoformat(value)
    except ValueError:
        raise ValidationError("invalid --effective", {"effective_from": ["a date, YYYY-MM-DD"]}) from None


def _day(value: date | str) -> str:
    return value if isinstance(value, str) else value.isoformat()
