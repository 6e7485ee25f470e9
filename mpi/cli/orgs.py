"""``mpi orgs``: the directory of organisations that request and perform referrals."""

from __future__ import annotations

import click

from mpi.cli.base import actor, main
from mpi.cli.remote import remote
from mpi.directory.calendar import DEFAULT_SPEC, parse_hours
from mpi.directory.organisations import validate_organisation
from mpi.errors import ValidationError
from mpi.referral_vocab import OrganisationKind
from mpi.services import Services


@main.group()
def orgs() -> None:
    """Manage the directory of organisations."""


@orgs.command("add")
@click.argument("code")
@click.option("--name", required=True, help="The organisation's name.")
@click.option("--kind", type=click.Choice([k.value for k in OrganisationKind]), required=True)
@click.option("--service-type", "service_types", multiple=True, help="A service type it performs (repeatable).")
@click.option("--timezone", default=None, help=f"IANA time zone [default {DEFAULT_SPEC['timezone']}].")
@click.option("--hours", default=None, help="Business hours, e.g. 'mon-fri 09:00-17:00; sat 10:00-14:00' or "
                                            "'24/7' [default mon-fri 09:00-17:00].")
@click.option("--holidays", default=None, help="Public holidays: COUNTRY or COUNTRY-SUBDIVISION (US, US-GA), "
                                               "or 'none' [default US].")
@click.option("--supervisor", "supervisors", multiple=True, help="User name escalations go to (repeatable).")
@click.pass_obj
def orgs_add(services: Services, code: str, name: str, kind: str, service_types: tuple[str, ...],
             timezone: str | None, hours: str | None, holidays: str | None, supervisors: tuple[str, ...]) -> None:
    """Add organisation CODE (or replace its entry)."""
    calendar = dict(DEFAULT_SPEC)
    problems: dict[str, list[str]] = {}
    if timezone:
        calendar["timezone"] = timezone
    if hours:
        try:
            calendar["hours"] = parse_hours(hours)
        except ValidationError as e:  # reported with every other problem below
            problems["calendar.hours"] = [m for ms in e.errors.values() for m in ms]
    if holidays:
        if holidays.lower() == "none":
            calendar["holidays"] = None
        else:
            country, _, subdivision = holidays.partition("-")
            calendar["holidays"] = {"country": country, "subdivision": subdivision or None}
    entry = {"code": code, "name": name, "kind": kind, "service_types": list(service_types), "calendar": calendar,
             "supervisors": list(supervisors)}
    try:
        validate_organisation(entry)
    except ValidationError as e:
        problems.update(e.errors)
    if problems:
        raise ValidationError(f"invalid organisation: {', '.join(sorted(problems))}", problems)
    service = remote()
    org = service.call("POST", "/v1/organisations", json=entry) if service is not None \
        else services.directory.add(entry, actor())
    click.echo(f"{org['code']}: {org['name']} ({org['kind']}), performs {', '.join(org['service_types']) or '-'}; "
               f"{org['calendar']['timezone']}")


@orgs.command("list")
@click.pass_obj
def orgs_list(services: Services) -> None:
    """Every organisation: code, kind, service types, time zone, supervisors."""
    service = remote()
    found = service.call("GET", "/v1/organisations")["organisations"] if service is not None \
        else services.directory.all()
    if not found:
        click.echo("no organisations (add one with: mpi orgs add CODE --name NAME --kind KIND)")
        return
    for org in found:
        click.echo(f"{org['code']}\t{org['kind']}\t{','.join(org['service_types']) or '-'}\t"
                   f"{org['calendar']['timezone']}\t{','.join(org['supervisors']) or '-'}\t{org['name']}")
