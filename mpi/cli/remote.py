"""The CLI pointed at a running service: ``mpi --url URL --token T <command>`` (env ``MPI_URL``, ``MPI_TOKEN``).

The serving process holds the store file's lock, so while it runs the
administrative commands (:data:`REMOTE_COMMANDS`) go through its API instead of
opening the store. :class:`Remote` is the one HTTP client for that: JSON calls
(:meth:`Remote.call`) and answers streamed to a file (:meth:`Remote.download`),
with every failure (an answer in the API's error shape, a refused connection, a
timeout) turned into one :class:`RemoteError`, which the CLI prints as one line.
A new remote command (``mpi backup`` through ``POST /v1/admin/backup``, say)
calls these two and adds its name to :data:`REMOTE_COMMANDS`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import httpx

from mpi import __version__
from mpi.errors import MpiError

#: Commands that go through the service when ``--url`` is given (and that the lock message sends there).
REMOTE_COMMANDS = frozenset({
    "keys create", "keys list", "keys revoke", "users add", "users list", "orgs add", "orgs list", "export",
    "model list", "model activate", "backup", "partners add", "partners list", "partners show",
    "partners crosswalk", "partners pause", "partners resume", "partners back-post", "reconcile", "dedup",
    "dedup runs", "train",
})
#: Where a command's client is kept for the command (``click.Context.meta`` is shared down the chain).
_META_KEY = "mpi.remote"


class RemoteError(MpiError):
    """The service refused a call or could not be reached; the message is the CLI's one line."""

    status = 502
    code = "remote_error"


class Remote:
    """A client of one running service, authenticated by a bearer token (a user's token or an API key).

    Args:
        url: the service's address, e.g. ``http://127.0.0.1:8080``.
        token: the bearer token sent with every call.
        timeout: seconds to wait for the service to connect, answer, or send the next piece of a stream.
    """

    def __init__(self, url: str, token: str, timeout: float = 60.0):
        self.url = url.rstrip("/")
        self.timeout = timeout
        try:
            self._client = httpx.Client(base_url=self.url, timeout=timeout, headers={
                "Authorization": f"Bearer {token}", "User-Agent": f"closedloop-mpi-cli/{__version__}"})
        except (httpx.InvalidURL, ValueError, TypeError):
            raise RemoteError(f"--url {url!r} is not an http:// or https:// address") from None

    def call(self, method: str, path: str, *, json: Any = None, params: dict | None = None) -> Any:
        """Make one call and return its JSON answer (None for an empty one).

        Raises:
            RemoteError: the service answered an error (its message and fields), or could not be reached.
        """
        with self._transport():
            response = self._client.request(method, path, json=json, params=params)
        self._check(response)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise RemoteError(f"the service at {self.url} answered {path} with something that is not JSON "
                              "(is --url the service's address?)") from None

    def download(self, path: str, output: str | Path, *, method: str = "GET", json: Any = None,
                 params: dict | None = None) -> int:
        """Stream an answer's body into ``output``; returns the bytes written.

        The body goes to ``<output>.part`` first and is renamed when complete, so a refused or
        broken transfer leaves no half-written file under the name asked for.

        Raises:
            RemoteError: as :meth:`call`, or the output's folder does not exist.
        """
        output = Path(output)
        if not output.parent.is_dir():
            raise RemoteError(f"{output.parent}: no such directory")
        part = output.with_name(output.name + ".part")
        written = 0
        try:
            with self._transport(), self._client.stream(method, path, json=json, params=params) as response:
                if not response.is_success:
                    response.read()
                    self._check(response)
                with part.open("wb") as f:
                    for chunk in response.iter_bytes():
                        f.write(chunk)
                        written += len(chunk)
            part.replace(output)
        finally:
            part.unlink(missing_ok=True)
        return written

    def close(self) -> None:
        self._client.close()

    @contextlib.contextmanager
    def _transport(self) -> Iterator[None]:
        """Failures to reach the service, as one line each."""
        try:
            yield
        except httpx.ConnectError as e:
            reason = "connection refused" if "refused" in str(e).lower() else _one_line(e)
            raise RemoteError(f"cannot reach the service at {self.url}: {reason} (is it running? see mpi serve)") from None
        except httpx.TimeoutException:
            raise RemoteError(f"the service at {self.url} did not answer within {self.timeout:g} s") from None
        except httpx.UnsupportedProtocol:
            raise RemoteError(f"--url {self.url!r} is not an http:// or https:// address") from None
        except httpx.HTTPError as e:
            raise RemoteError(f"talking to the service at {self.url} failed: {_one_line(e)}") from None

    def _check(self, response: httpx.Response) -> None:
        """Nothing for a success; else the API's error shape (code, message, errors per field) as a RemoteError."""
        if response.is_success:
            return
        try:
            body = response.json()
            message, code = body["message"], body["code"]
            errors = {str(k): [str(m) for m in v] for k, v in (body.get("errors") or {}).items()}
        except (ValueError, KeyError, TypeError, AttributeError):
            raise RemoteError(f"the service at {self.url} answered {response.status_code} without the API's error "
                              "shape (is --url the service's address?)") from None
        raise RemoteError(f"the service refused it ({response.status_code} {code}): {message}", errors)


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def connect(ctx: click.Context, url: str | None, token: str | None) -> None:
    """Keep a client of the service for this command when ``--url`` is given (``--token`` must be too)."""
    if not url:
        return
    if not token:
        raise click.ClickException("--url needs --token (or MPI_TOKEN): an admin's token or API key")
    # httpx logs every request at INFO: the command's output is its answer, not a line per call.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    remote = Remote(url, token)
    ctx.meta[_META_KEY] = remote
    ctx.call_on_close(remote.close)


def remote() -> Remote | None:
    """The running service this command goes through, or None: work on the store directly."""
    return click.get_current_context().meta.get(_META_KEY)
