"""A PostgreSQL server for a benchmark run: Debian's packages, a temporary data folder, a free loopback port.

As the tests' server (``tests/postgres_support.py``) but durable as in production (fsync and synchronous
commit on), so a benchmark's commits cost what they would; its data is thrown away when the run ends.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg

#: initdb and postgres refuse to run as root: as root they run as this user.
SERVER_USER = "nobody"
ROLE = "mpi"


@dataclass
class Server:
    port: int

    def url(self, database: str) -> str:
        return f"postgresql://{ROLE}@127.0.0.1:{self.port}/{database}"

    def new_database(self, name: str) -> str:
        """The URL of a new, empty database (the store makes its schema when it first opens)."""
        with psycopg.connect(self.url("postgres"), autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            con.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _run(argv: list[str], as_user: str | None) -> subprocess.CompletedProcess:
    if as_user:
        argv = ["runuser", "-u", as_user, "--", *argv]
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@contextlib.contextmanager
def running_server(log_folder: Path) -> Iterator[Server]:
    """Start a server for the run (its log kept in ``log_folder``) and stop it at the end."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parent.parent.name))
    if not found:
        raise SystemExit("PostgreSQL is not installed: apt-get install -y postgresql")
    binaries = Path(found[-1]).parent
    as_user = SERVER_USER if os.geteuid() == 0 else None
    folder = Path(tempfile.mkdtemp(prefix="mpi-bench-postgres-"))
    if as_user:
        shutil.chown(folder, user=as_user)
    data = folder / "data"
    result = _run([str(binaries / "initdb"), "-D", str(data), "-U", ROLE, "--auth=trust", "-E", "UTF8",
                   "--locale=C"], as_user)
    if result.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise SystemExit(f"initdb failed:\n{result.stdout[-2000:]}")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    options = (f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories='' "
               "-c max_connections=300 -c shared_buffers=256MB")
    result = _run([str(binaries / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-o", options,
                   "-w", "-t", "60", "start"], as_user)
    if result.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise SystemExit(f"PostgreSQL did not start:\n{result.stdout[-2000:]}")
    try:
        yield Server(port)
    finally:
        _run([str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], as_user)
        log_folder.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            shutil.copy(folder / "server.log", log_folder / "postgres.log")
        shutil.rmtree(folder, ignore_errors=True)
