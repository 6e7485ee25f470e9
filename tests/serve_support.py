"""A real ``mpi serve`` in its own process over a test's store: a free loopback port, the server started and awaited
until it answers, and waiting on what it does (tests that kill or stop it, as a service manager or a crash would)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(config: dict, port: int) -> subprocess.Popen:
    env = {**os.environ, "MPI_DB": config["MPI_DB"], "MPI_MODELS_DIR": config["MPI_MODELS_DIR"],
           "MPI_SWEEP_SECONDS": "0", "MPI_DELIVERY_SECONDS": "0.2", "MPI_DELIVERY_CONCURRENCY": "4",
           "MPI_DELIVERY_BACKOFF_SECONDS": "0.2"}
    proc = subprocess.Popen([sys.executable, "-c", "from mpi.cli import main; main()", "serve", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, "mpi serve exited"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    pytest.fail("mpi serve did not become healthy")


def wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)
