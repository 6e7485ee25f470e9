"""``mpi --url URL --token T ...``: the administrative commands through a real running service on loopback.

The server (waitress in this process, ``live_server``) holds the store file, as
``mpi serve`` does: the commands reach it over HTTP and never open the store
(``--db`` names a folder that does not exist, which opening would refuse). A
second process shows the lock itself: a local command gets one line saying
how to do it instead, and the same command with ``--url`` works.
"""

from __future__ import annotations

import csv
import http.server
import os
import socket
import subprocess
import sys
import threading

import duckdb
import httpx
import pytest
from click.testing import CliRunner

from cli_runner import assert_one_line_error
from conftest import add_hub, record
from mpi.auth import add_user
from mpi.cli import main
from mpi.identity.export import EXPORT_COLUMNS
from mpi.services import DEFAULT_MODEL_VERSION
from mpi.settings import PROJECT_ROOT

FOODBANK = {"code": "foodbank", "name": "Metro Food Bank", "kind": "cbo", "service_types": ["food"]}


@pytest.fixture
def admin_token(services) -> str:
    services.directory.add(FOODBANK, "test")
    return add_user(services.store, "root", "admin")


@pytest.fixture
def remote(live_server, admin_token, tmp_path):
    """Run ``mpi --url <live server> --token <admin> ARGS`` (``--token`` another's with ``token=``)."""
    unopenable = str(tmp_path / "no-such-folder" / "x.duckdb")

    def run(*args: str, ok: bool = True, token: str | None = None, url: str | None = None):
        result = CliRunner().invoke(main, ["--db", unopenable, "--url", url or live_server,
                                           "--token", token or admin_token, *args])
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return run


def get(url: str, token: str, path: str) -> httpx.Response:
    return httpx.get(url + path, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def test_keys_are_created_listed_and_revoked_through_the_service(remote, live_server):
    created = remote("keys", "create", "--org", "foodbank", "--role", "hub", "--expires", "2099-01-01")
    lines = dict(line.split(":", 1) for line in created.stdout.splitlines())
    key_id, secret = lines["key id"].strip(), lines["key"].strip()
    assert lines["expires"].strip() == "2099-01-01 00:00 UTC"
    assert get(live_server, secret, "/v1/organisations").status_code == 200

    listed = remote("keys", "list").stdout.splitlines()
    assert listed[1].split()[:3] == [key_id, "foodbank", "hub"] and listed[1].split()[-1] == "active"

    revoked = remote("keys", "revoke", key_id)
    assert f"key {key_id} revoked at " in revoked.stdout and "by user:root" in revoked.stdout
    refused = get(live_server, secret, "/v1/organisations")
    assert refused.status_code == 401 and "was revoked" in refused.json()["message"]
    assert remote("keys", "list").stdout.splitlines()[1].split()[-1] == "revoked"


def test_users_are_added_and_listed_through_the_service(remote, live_server):
    token = remote("users", "add", "cora", "--role", "coordinator", "--org", "foodbank").stdout.strip()

    assert get(live_server, token, "/v1/organisations").status_code == 200
    listed = remote("users", "list").stdout.splitlines()
    assert "cora\tcoordinator\tfoodbank" in listed and "root\tadmin\t-" in listed


def test_organisations_are_added_and_listed_through_the_service(remote):
    added = remote("orgs", "add", "shelter", "--name", "Harbor Shelter", "--kind", "cbo", "--service-type", "housing",
                   "--hours", "24/7")

    assert added.stdout.startswith("shelter: Harbor Shelter (cbo), performs housing")
    assert [line.split("\t")[0] for line in remote("orgs", "list").stdout.splitlines()] == ["foodbank", "shelter"]


def _three_records(services, live_server: str) -> None:
    """Three records (MRN0-MRN2) sent to the running service by a hub."""
    hub = add_hub(services, "hub")
    for i in range(3):
        httpx.post(live_server + "/v1/records", json=record("theodore", "st-marys-ehr", f"MRN{i}"),
                   headers={"Authorization": f"Bearer {hub}"}, timeout=30).raise_for_status()


def test_the_export_is_streamed_from_the_service_to_the_file(remote, live_server, services, admin_token, tmp_path):
    _three_records(services, live_server)
    out = tmp_path / "export.csv"

    result = remote("export", "--output", str(out))

    assert result.stdout.strip() == f"exported 3 records to {out}"
    with out.open(newline="") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == EXPORT_COLUMNS and [r[1] for r in rows[1:]] == ["MRN0", "MRN1", "MRN2"]
    assert out.read_bytes() == get(live_server, admin_token, "/v1/admin/export").content
    assert not (tmp_path / "export.csv.part").exists()


@pytest.mark.duckdb_only(reason="a backup is a copy of the DuckDB store file (a PostgreSQL store's refusal: test_backup.py)")
def test_a_backup_is_taken_through_the_service_and_restores_its_records(remote, live_server, services, config,
                                                                        tmp_path):
    _three_records(services, live_server)
    out = tmp_path / "held-backup.duckdb"

    result = remote("backup", "--output", str(out))

    assert result.stdout.startswith(f"backed up the store of {live_server} to {out} (")
    assert not (tmp_path / "held-backup.duckdb.part").exists()
    restored = tmp_path / "restored.duckdb"
    runner = CliRunner().invoke(main, ["--db", str(restored), "--models-dir", config["MPI_MODELS_DIR"], "restore",
                                       "--input", str(out)])
    assert runner.exit_code == 0, runner.output
    with duckdb.connect(str(restored), read_only=True) as con:
        keys = [r[0] for r in con.execute("SELECT source_record_id FROM source_records ORDER BY 1").fetchall()]
    assert keys == ["MRN0", "MRN1", "MRN2"]


def test_model_versions_are_listed_and_activated_through_the_service(remote, services, activate_policy):
    activate_policy(upper_match_weight=13.0)
    copy = services.models.version()

    listed = remote("model", "list").stdout.splitlines()
    assert any(line.startswith(f"* {copy} ") for line in listed)
    assert any(line.startswith(f"  {DEFAULT_MODEL_VERSION} ") for line in listed)

    assert remote("model", "activate", DEFAULT_MODEL_VERSION).stdout.strip() == \
        f"model {DEFAULT_MODEL_VERSION} is now active"
    assert services.models.version() == DEFAULT_MODEL_VERSION


# ------------------------------------------------------------------------------------------ errors, one line

def test_the_services_refusals_are_one_line_naming_status_and_fields(remote, services):
    hub = add_hub(services, "hub")

    assert_one_line_error(remote("keys", "list", token=hub, ok=False),
                          "the service refused it (403 forbidden): this needs the admin role")
    assert_one_line_error(remote("keys", "create", "--org", "nowhere", "--role", "hub", ok=False),
                          "(422 validation_error)", "organisation: no such organisation")
    assert_one_line_error(remote("keys", "revoke", "KZZZZ2222", ok=False), "(404 not_found)")
    assert_one_line_error(remote("model", "activate", "no-such-model", ok=False), "(404 not_found)")
    assert_one_line_error(remote("users", "list", token="not-a-token", ok=False),
                          "(401 unauthorized): a valid bearer token is required")


def test_a_refused_export_leaves_no_file(remote, services, tmp_path):
    hub = add_hub(services, "hub")
    out = tmp_path / "export.csv"

    assert_one_line_error(remote("export", "--output", str(out), token=hub, ok=False), "(403 forbidden)")

    assert list(tmp_path.glob("export.csv*")) == []


def test_a_service_that_is_not_running_is_one_line_saying_connection_refused(remote):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: nothing answers

        result = remote("users", "list", url=f"http://127.0.0.1:{port}", ok=False)

    assert_one_line_error(result, f"cannot reach the service at http://127.0.0.1:{port}: connection refused")


def test_a_url_with_a_wrong_path_is_one_line_404(remote, live_server):
    assert_one_line_error(remote("users", "list", url=live_server + "/api", ok=False), "(404 not_found)")


def test_a_url_that_is_not_the_service_is_one_line(remote):
    class NotTheService(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802  (http.server's name)
            self.send_response(502)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<html>Bad Gateway</html>")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotTheService)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        result = remote("users", "list", url=f"http://127.0.0.1:{server.server_port}", ok=False)
    finally:
        server.shutdown()
        thread.join(timeout=5)

    assert_one_line_error(result, "answered 502 without the API's error shape (is --url the service's address?)")


def test_url_without_token_is_one_line(tmp_path, monkeypatch):
    monkeypatch.delenv("MPI_TOKEN", raising=False)
    result = CliRunner().invoke(main, ["--db", str(tmp_path / "x.duckdb"), "--url", "http://127.0.0.1:9", "keys",
                                       "list"])

    assert_one_line_error(result, "--url needs --token (or MPI_TOKEN)")


def test_url_and_token_come_from_the_environment(live_server, admin_token, tmp_path, monkeypatch):
    monkeypatch.setenv("MPI_URL", live_server)
    monkeypatch.setenv("MPI_TOKEN", admin_token)

    result = CliRunner().invoke(main, ["--db", str(tmp_path / "absent" / "x.duckdb"), "users", "list"])

    assert result.exit_code == 0, result.output
    assert "root\tadmin\t-" in result.stdout.splitlines()


# ------------------------------------------------------------------------ a second process, the store held

def _mpi_process(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    env.pop("MPI_URL", None)
    env.pop("MPI_TOKEN", None)
    return subprocess.run([sys.executable, "-c", "from mpi.cli import main; main()", *args], capture_output=True,
                          text=True, env=env, timeout=120)


def _error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len([line for line in lines if line.startswith("Error:")]) == 1 and lines[-1].startswith("Error:")
    return lines[-1]


@pytest.mark.slow  # processes of their own: the lock is per process
def test_with_the_store_held_by_the_server_local_commands_say_how_and_remote_ones_work(
        live_server, admin_token, config, tmp_path):
    db, models = config["MPI_DB"], config["MPI_MODELS_DIR"]
    held = f"the store {db} is held by another process (PID {os.getpid()}), such as a running `mpi serve`: "

    line = _error_line(_mpi_process("--db", db, "--models-dir", models, "users", "add", "bob", "--role", "steward"))
    assert line == f"Error: {held}the service holds the store: run it as mpi --url http://HOST:PORT --token T users add"
    line = _error_line(_mpi_process("--db", db, "--models-dir", models, "keys", "list"))
    assert line.endswith("run it as mpi --url http://HOST:PORT --token T keys list")
    line = _error_line(_mpi_process("--db", db, "--models-dir", models, "init"))
    assert line == f"Error: {held}stop the service first, then run mpi init again"

    remote = ("--db", db, "--models-dir", models, "--url", live_server, "--token", admin_token)
    added = _mpi_process(*remote, "users", "add", "bob", "--role", "steward")
    assert added.returncode == 0, added.stderr
    assert "HTTP Request" not in added.stderr  # no log line per call
    assert get(live_server, added.stdout.strip(), "/v1/organisations").status_code == 200
    out = tmp_path / "held.csv"
    exported = _mpi_process(*remote, "export", "--output", str(out))
    assert exported.returncode == 0, exported.stderr
    assert out.read_text().splitlines()[0] == ",".join(EXPORT_COLUMNS)
    assert _mpi_process(*remote, "model", "list").stdout.startswith(f"* {DEFAULT_MODEL_VERSION} ")
