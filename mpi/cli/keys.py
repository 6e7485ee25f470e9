"""``mpi keys``: API keys of organisations, each with a role, an optional expiry, and revocable.

With ``--url`` each command goes through the running service (``/v1/admin/keys``);
without it, through the store. Either way a key's secret is printed once, when
it is made, and is kept nowhere but as its hash.
"""

from __future__ import annotations

from urllib.parse import quote

import click

from mpi.auth import create_key, keys_with_status, revoke_key
from mpi.cli.base import actor, echo_table, main, when
from mpi.cli.remote import remote
from mpi.services import Services
from mpi.vocab import Role

#: The columns ``mpi keys list`` prints.
LIST_COLUMNS = ("id", "org", "role", "created", "expires", "status")


@main.group()
def keys() -> None:
    """Manage the API keys of organisations."""


@keys.command("create")
@click.option("--org", "organisation", required=True, help="Code of the organisation the key belongs to.")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True, help="The key's role.")
@click.option("--expires", default=None,
              help="When the key stops working: a date (YYYY-MM-DD, its first moment UTC) or a date and time "
                   "(ISO 8601; UTC without an offset) [default: never].")
@click.pass_obj
def keys_create(services: Services, organisation: str, role: str, expires: str | None) -> None:
    """Make a key for ORG with ROLE and print its id and secret (the secret is shown this once)."""
    service = remote()
    if service is not None:
        key = service.call("POST", "/v1/admin/keys", json={"organisation": organisation, "role": role,
                                                             **({"expires": expires} if expires else {})})
        secret = key["key"]
    else:
        key, secret = create_key(services.store, organisation, role, actor(), expires)
    click.echo(f"key id:  {key['key_id']}")
    click.echo(f"key:     {secret}")
    click.echo(f"expires: {when(key['expires_at']) or 'never'}")
    click.echo("(the key is shown this once: keep it now; it is stored only as a hash)", err=True)


@keys.command("list")
@click.pass_obj
def keys_list(services: Services) -> None:
    """Every key: id, organisation, role, created, expires, status (active, expired or revoked); never a secret."""
    service = remote()
    found = service.call("GET", "/v1/admin/keys")["keys"] if service is not None else keys_with_status(services.store)
    if not found:
        click.echo("no API keys (make one with: mpi keys create --org ORG --role ROLE)")
        return
    echo_table(LIST_COLUMNS, [(k["key_id"], k["organisation"], k["role"], when(k["created_at"]),
                              when(k["expires_at"]) or "never", k["status"]) for k in found])


@keys.command("revoke")
@click.argument("key_id")
@click.pass_obj
def keys_revoke(services: Services, key_id: str) -> None:
    """Revoke key KEY_ID: refused from this moment."""
    service = remote()
    if service is not None:
        key = service.call("POST", f"/v1/admin/keys/{quote(key_id, safe='')}/revoke")
    else:
        key = revoke_key(services.store, key_id, actor())
    click.echo(f"key {key['key_id']} revoked at {when(key['revoked_at'])} by {key['revoked_by']}")
