"""A real PostgreSQL server for the tests: Debian's packages, a temporary data folder, a free loopback port.

The store runs on PostgreSQL as well as DuckDB (``MPI_DB=postgresql://...``), and
its tests run on both. The server comes from Debian's ``postgresql`` package
(``/usr/lib/postgresql/*/bin``): when it is missing the ``postgres_server``
fixture installs it with ``apt-get install -y postgresql``, as
``browser_support.py`` does Chromium (CI runs as root on Debian). ``initdb`` and
``postgres`` refuse to run as root, so as root they run as ``nobody``, owning the
data folder. One server per test session (per xdist worker), stopped at its end;
each test gets a database of its own, copied from a migrated template (a
``CREATE DATABASE ... TEMPLATE`` takes milliseconds; migrating takes a second).
A server that cannot start fails the session loudly: nothing is skipped.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import count
from pathlib import Path

import psycopg
import pytest

#: The user the server's data belongs to when the tests run as root (initdb refuses root).
SERVER_USER = "nobody"
#: The role the tests connect as (made by initdb, trusted on loopback only).
ROLE = "mpi"
TEMPLATE = "mpi_template"


def _apt_get(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(["apt-get", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parent.parent.name))
    return Path(found[-1]).parent if found else None


def find_binaries() -> Path:
    """The newest installed PostgreSQL's ``bin`` folder, installing Debian's ``postgresql`` when there is none."""
    if (found := _binaries()) is None:
        if shutil.which("apt-get") is None:
            pytest.fail("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb) and there is no apt-get "
                        "to install it with")
        result = _apt_get("install", "-y", "postgresql")
        if result.returncode != 0:  # a fresh image has no package lists yet
            _apt_get("update")
            result = _apt_get("install", "-y", "postgresql")
        found = _binaries()
        assert result.returncode == 0 and found, f"apt-get install postgresql failed:\n{result.stdout[-2000:]}"
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PostgresServer:
    """A running server: its port, and a fresh migrated database per call of :meth:`new_database`."""

    port: int
    _names = count(1)

    def url(self, database: str) -> str:
        return f"postgresql://{ROLE}@127.0.0.1:{self.port}/{database}"

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(self.url("postgres"), autocommit=True)

    def new_database(self) -> str:
        """The URL of a new database holding the store's schema at the latest version (copied from the template)."""
        name = f"mpi_test_{os.getpid()}_{next(self._names)}"
        with self.admin() as con:
            con.execute(f'CREATE DATABASE "{name}" TEMPLATE {TEMPLATE}')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        with self.admin() as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _run(argv: list[str], as_user: str | None) -> subprocess.CompletedProcess:
    if as_user:
        argv = ["runuser", "-u", as_user, "--", *argv]
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session, in a temporary folder on a free loopback port; fails if it cannot."""
    binaries = find_binaries()
    as_user = SERVER_USER if os.geteuid() == 0 else None
    folder = Path(tempfile.mkdtemp(prefix="mpi-postgres-"))
    data = folder / "data"
    if as_user:
        shutil.chown(folder, user=as_user)
    os.chmod(folder, 0o700)
    result = _run([str(binaries / "initdb"), "-D", str(data), "-U", ROLE, "--auth=trust", "-E", "UTF8",
                   "--no-sync", "--locale=C"], as_user)
    if result.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.fail(f"PostgreSQL's initdb failed:\n{result.stdout[-2000:]}")
    port = _free_port()
    # Loopback only, no Unix socket; durability off (a test server's data is thrown away).
    options = (f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories='' -c fsync=off "
               "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300")
    result = _run([str(binaries / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-o", options,
                   "-w", "-t", "30", "start"], as_user)
    if result.returncode != 0:
        log = (folder / "server.log").read_text() if (folder / "server.log").exists() else ""
        shutil.rmtree(folder, ignore_errors=True)
        pytest.fail(f"PostgreSQL did not start:\n{result.stdout[-1000:]}\n{log[-2000:]}")
    server = PostgresServer(port)
    try:
        _make_template(server)
        yield server
    finally:
        _run([str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"], as_user)
        shutil.rmtree(folder, ignore_errors=True)


def _make_template(server: PostgresServer) -> None:
    """Migrate one database to the latest schema, the template every test's database is copied from."""
    from mpi.store import Store

    deadline = time.monotonic() + 10
    while True:
        try:
            with server.admin() as con:
                con.execute(f"CREATE DATABASE {TEMPLATE}")
            break
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    Store(server.url(TEMPLATE)).close()


@pytest.fixture
def shared_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh database on the session's server for one test (a store several served instances share); dropped after."""
    url = postgres_server.new_database()
    yield url
    postgres_server.drop_database(url)
