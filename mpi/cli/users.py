"""``mpi users``: API and review UI users, each of one organisation."""

from __future__ import annotations

import click

from mpi.auth import add_user
from mpi.cli.base import actor, main
from mpi.cli.remote import remote
from mpi.services import Services
from mpi.vocab import AuditAction, EntityType, Role


@main.group()
def users() -> None:
    """Manage API and review UI users."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--org", "organisation", default=None,
              help="Code of the organisation the user belongs to (required for a hub or a coordinator).")
@click.pass_obj
def users_add(services: Services, name: str, role: str, organisation: str | None) -> None:
    """Create or replace user NAME and print its bearer token (shown once)."""
    service = remote()
    if service is not None:
        body = {"name": name, "role": role, **({"organisation": organisation} if organisation else {})}
        click.echo(service.call("POST", "/v1/admin/users", json=body)["token"])
        return
    with services.store.transaction():
        token = add_user(services.store, name, role, organisation=organisation)
        services.store.audit.append(actor(), AuditAction.USER_ADDED, EntityType.USER, name, None,
                                    {"role": role, "organisation": organisation})
    click.echo(token)


@users.command("list")
@click.pass_obj
def users_list(services: Services) -> None:
    """Every user: name, role, organisation (never a token)."""
    service = remote()
    found = service.call("GET", "/v1/admin/users")["users"] if service is not None else services.store.users.all()
    if not found:
        click.echo("no users (add one with: mpi users add NAME --role ROLE)")
    for user in found:
        click.echo(f"{user['name']}\t{user['role']}\t{user['organisation'] or '-'}")
