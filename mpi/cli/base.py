"""The ``mpi`` command group itself: its global options, the services it builds, and errors as one line.

Every expected failure is a one-line ``click.ClickException``, never a
traceback. The store comes from ``--db`` or ``MPI_DB``.
"""

from __future__ import annotations

import getpass
import logging
import re
import time

import click

from mpi import settings
from mpi.errors import MpiError
from mpi.records.text import CONTROL_RANGE
from mpi.services import Services


def actor() -> str:
    """Who the audit log names for a command: ``cli:`` and the login name."""
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


class OneLineFormatter(logging.Formatter):
    """A log record is one line: control characters in its message (a newline sent in a request path, say)
    are written as ``\\x0a``, so nobody can forge a line of the log by what they send. A traceback after
    the message keeps its lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802  (logging's name)
        return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", super().formatMessage(record))


_CONTROL = re.compile(f"[{CONTROL_RANGE}]")


@click.group(cls=_Errors)
@click.option("--db", envvar="MPI_DB", default=None, help="DuckDB store file [env MPI_DB; default var/mpi.duckdb].")
@click.option("--models-dir", envvar="MPI_MODELS_DIR", default=None, help="Folder of model files [env MPI_MODELS_DIR].")
@click.pass_context
def main(ctx: click.Context, db: str | None, models_dir: str | None) -> None:
    """closedloop-mpi: master person index for referral networks."""
    handler = logging.StreamHandler()
    handler.setFormatter(OneLineFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=settings.get("MPI_LOG_LEVEL"), handlers=[handler])
    ctx.obj = Services({"MPI_DB": db, "MPI_MODELS_DIR": models_dir})
    ctx.call_on_close(ctx.obj.close)


def warm_index(services: Services) -> None:
    """Build the candidate index before the first record, so no request (or progress bar) waits for it."""
    started = time.perf_counter()
    records = len(services.matching.index().entries)
    click.echo(f"candidate index: {records} records loaded in {time.perf_counter() - started:.1f} s", err=True)
