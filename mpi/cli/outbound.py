"""``mpi partners pause|resume|back-post --partner P``: the outbound exception queue's partner operations.

Pausing stops sending to a partner (its messages keep queueing; each affected
referral shows the partner's view stale since its first undelivered change);
resuming lets its queued messages flow; a back-post, after the fix, sends every
message it holds again in event order (each with its original event time),
closes its open outbound patterns with the note and resumes it. With ``--url``
each goes through the running service (``/v1/partners/{id}/...``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import click

from mpi.cli.base import actor, when
from mpi.cli.partners import partners
from mpi.cli.remote import remote
from mpi.services import Services


def _echo(state: dict[str, Any]) -> None:
    since = f", stale since {when(state['stale_since'])}" if state["stale_since"] else ""
    click.echo(f"partner {state['partner_id']}: {state['status']}; {state['undelivered']} messages undelivered "
               f"for {state['stale_referrals']} referrals{since}; open patterns: "
               f"{', '.join(state['open_patterns']) or 'none'}")


def _remote_or(path: str, body: dict[str, Any], local) -> dict[str, Any]:
    service = remote()
    return service.call("POST", path, json=body) if service is not None else local()


@partners.command("pause")
@click.option("--partner", "partner_id", required=True, help="The partner's id.")
@click.option("--reason", required=True, help="Why it is paused (audited).")
@click.pass_obj
def partners_pause(services: Services, partner_id: str, reason: str) -> None:
    """Stop sending to a partner: its messages keep queueing until it is resumed."""
    _echo(_remote_or(f"/v1/partners/{quote(partner_id, safe='')}/pause", {"reason": reason},
                     lambda: services.outbound.pause(partner_id, reason, actor())))


@partners.command("resume")
@click.option("--partner", "partner_id", required=True, help="The partner's id.")
@click.pass_obj
def partners_resume(services: Services, partner_id: str) -> None:
    """Send to a paused partner again: its queued messages flow, in order."""
    _echo(_remote_or(f"/v1/partners/{quote(partner_id, safe='')}/resume", {},
                     lambda: services.outbound.resume(partner_id, actor())))


@partners.command("back-post")
@click.option("--partner", "partner_id", required=True, help="The partner's id.")
@click.option("--note", required=True, help="What was fixed (closes the partner's open outbound patterns).")
@click.pass_obj
def partners_back_post(services: Services, partner_id: str, note: str) -> None:
    """After the fix: send every message the partner holds again, in event order, and resume it."""
    state = _remote_or(f"/v1/partners/{quote(partner_id, safe='')}/back-post", {"note": note},
                       lambda: services.outbound.back_post_partner(partner_id, note, actor()))
    done = state["back_post"]
    click.echo(f"back-post {done['back_post_id']}: {done['messages']} messages queued again; patterns closed: "
               f"{', '.join(done['patterns_closed']) or 'none'}")
    _echo(state)
