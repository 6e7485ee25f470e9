"""The ``mpi`` command group itself: its global options, the services it builds, and errors as one line.

Every expected failure is a one-line ``click.ClickException``, never a
traceback. The store comes from ``--db`` or ``MPI_DB``; with ``--url`` (and
``--token``) the administrative commands go through a running service instead
(``remote.py``), and a command that finds the store held by that service says
in one line how to do it instead.
"""

from __future__ import annotations

import getpass
import logging
import re
import time
from datetime import datetime, timezone

import click

from mpi import settings
from mpi.cli.remote import REMOTE_COMMANDS, connect
from mpi.errors import MpiError, StoreLocked
from mpi.records.text import CONTROL_RANGE
from mpi.services import Services


def actor() -> str:
    """Who the audit log names for a command: ``cli:`` and the login name."""
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no login name in some containers
        return "cli:unknown"


class _Errors(click.Group):
    """Turn the core's errors into one-line CLI errors (its subgroups are of this class too)."""

    group_class = type

    def resolve_command(self, ctx, args):
        # Remember the command's words ("keys create"): the lock message says how to run that command.
        name, command, rest = super().resolve_command(ctx, args)
        if command is not None:
            ctx.meta.setdefault(_COMMAND_KEY, []).append(command.name)
        return name, command, rest

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except StoreLocked as e:
            raise click.ClickException(locked_message(e, " ".join(ctx.meta.get(_COMMAND_KEY, [])))) from None
        except MpiError as e:
            detail = "; ".join(f"{k}: {', '.join(v)}" for k, v in e.errors.items())
            raise click.ClickException(f"{e.message}" + (f" ({detail})" if detail else "")) from None


_COMMAND_KEY = "mpi.command"


def locked_message(error: StoreLocked, command: str) -> str:
    """One line: who holds the store, and how to do ``command`` instead (through the service, or after it stops)."""
    held = (f"the store {error.path} is held by another process{f' (PID {error.pid})' if error.pid else ''}, "
            "such as a running `mpi serve`")
    if command in REMOTE_COMMANDS:
        return f"{held}: the service holds the store: run it as mpi --url http://HOST:PORT --token T {command}"
    return f"{held}: stop the service first, then run mpi {command or 'this'} again"


class OneLineFormatter(logging.Formatter):
    """A log record is one line: control characters in its message (a newline sent in a request path, say)
    are written as ``\\x0a``, so nobody can forge a line of the log by what they send. A traceback after
    the message keeps its lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802  (logging's name)
        return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", super().formatMessage(record))


_CONTROL = re.compile(f"[{CONTROL_RANGE}]")


@click.group(cls=_Errors)
@click.option("--db", envvar="MPI_DB", default=None, help="Store: a DuckDB file, or a postgresql:// URL [env MPI_DB; default var/mpi.duckdb].")
@click.option("--models-dir", envvar="MPI_MODELS_DIR", default=None, help="Folder of model files [env MPI_MODELS_DIR].")
@click.option("--url", envvar="MPI_URL", default=None,
              help="Address of a running service: keys, users, orgs, export and model commands go through its API "
                   "instead of the store [env MPI_URL].")
@click.option("--token", envvar="MPI_TOKEN", default=None,
              help="Bearer token (an admin's token or API key) for --url [env MPI_TOKEN].")
@click.pass_context
def main(ctx: click.Context, db: str | None, models_dir: str | None, url: str | None, token: str | None) -> None:
    """closedloop-mpi: master person index for referral networks."""
    handler = logging.StreamHandler()
    handler.setFormatter(OneLineFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=settings.get("MPI_LOG_LEVEL"), handlers=[handler])
    ctx.obj = Services({"MPI_DB": db, "MPI_MODELS_DIR": models_dir})
    ctx.call_on_close(ctx.obj.close)
    connect(ctx, url, token)


def warm_index(services: Services) -> None:
    """Build the candidate index before the first record, so no request (or progress bar) waits for it."""
    started = time.perf_counter()
    records = len(services.matching.index().entries)
    click.echo(f"candidate index: {records} records loaded in {time.perf_counter() - started:.1f} s", err=True)


def when(value: datetime | str | None) -> str:
    """A time as UTC to the minute (from the store, or ISO text from the API); '' for none."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def echo_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    """Rows under their header, each column as wide as its widest value, two spaces apart."""
    rows = [header, *rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        click.echo("  ".join(value.ljust(width) for value, width in zip(row, widths)).rstrip())
