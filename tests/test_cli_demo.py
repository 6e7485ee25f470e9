"""``mpi generate`` and ``mpi demo``: the seeded population, and the demo index built once and served (a real process)."""

from __future__ import annotations

import csv
import http.cookiejar
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from cli_runner import SUMMARY, mpi, rows_of  # noqa: F401  (mpi: a fixture)
from mpi.auth import authenticate
from mpi.referral_vocab import ReferralState
from mpi.store import Store
from mpi.synth.generator import COLUMNS

# ------------------------------------------------------------------------------------ generate and demo

def test_generate_writes_the_canonical_header_and_a_truth_column(mpi, tmp_path):
    out = tmp_path / "gen.csv"

    result = mpi("generate", "--output", str(out), "--people", "12", "--seed", "3")

    with out.open(newline="") as f:
        assert tuple(next(csv.reader(f))) == COLUMNS
    assert f"wrote {len(rows_of(out))} records for 12 people" in result.output


def test_demo_builds_once_and_reissues_tokens(mpi, config):
    first = mpi("demo", "--no-serve", "--people", "25")
    second = mpi("demo", "--no-serve", "--people", "25")

    assert "building the demo index" in first.output and SUMMARY.search(first.output)
    assert "not reloading" in second.output and "building" not in second.output
    tokens = [dict(re.findall(r"demo (hub|steward|coordinator|admin) token:\s+(\S+)", r.output)) for r in (first, second)]
    sign_in = re.search(r"review UI sign-in: (\S+)/review/sign-in\s+user name: (\S+)\s+token: (\S+)", second.output)
    assert sign_in and sign_in.group(2) == "demo-steward" and sign_in.group(3) == tokens[1]["steward"]
    assert tokens[0]["hub"] != tokens[1]["hub"]
    store = Store(config["MPI_DB"])
    try:
        assert authenticate(store, tokens[1]["hub"]) == {"name": "demo-hub", "role": "hub",
                                                         "organisation": "st-marys"}
        assert authenticate(store, tokens[1]["steward"])["role"] == "steward"
        assert authenticate(store, tokens[1]["admin"])["role"] == "admin"
        assert f"mpi --url http://127.0.0.1:8080 --token {tokens[1]['admin']} users list" in second.output
        assert authenticate(store, tokens[1]["coordinator"])["organisation"] == "metro-foodbank"
        with pytest.raises(Exception):
            authenticate(store, tokens[0]["hub"])  # the old token was replaced
        assert store.counts()["records"] > 25
        states = {r[0] for r in store.db.query("SELECT DISTINCT state FROM referrals")}
        assert states == {s.value for s in ReferralState}, "the demo shows a referral in every state"
        assert store.db.one("SELECT count(*) FROM referrals WHERE gate IS NOT NULL")[0] >= 2
        assert store.db.one("SELECT count(*) FROM alerts WHERE kind = 'escalation'")[0] >= 1
        assert "demo referrals already built" in second.output
        # The exchange shows its work: St Mary's feed paused behind one pattern of refused accepted updates,
        # its snapshot's mismatches, and two kept submissions.
        assert store.partners.get("st-marys-feed")["status"] == "paused"
        patterns = store.db.query("SELECT message_type, error_code FROM outbound_patterns WHERE closed_at IS NULL")
        assert patterns == [("accepted", "http_400")]
        assert store.db.one("SELECT count(*) FROM outbound_messages WHERE status = 'queued'")[0] >= 1
        assert store.db.one("SELECT count(*) FROM reconciliation_items WHERE state = 'open'")[0] == 3
        assert store.db.one("SELECT count(*) FROM inbound_exceptions")[0] == 2
        assert "exchange: St Mary's feed paused" in first.output
    finally:
        store.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _review_queue_signed_in(base: str, name: str, token: str) -> str:
    """Sign in to the review UI as a browser would (cookie, CSRF token) and return the queue page."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    with opener.open(f"{base}/review/sign-in", timeout=5) as response:
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', response.read().decode()).group(1)
    form = urllib.parse.urlencode({"name": name, "token": token, "csrf_token": csrf}).encode()
    with opener.open(f"{base}/review/sign-in", data=form, timeout=5) as response:
        assert response.url == f"{base}/review/"
        return response.read().decode()


@pytest.mark.slow  # a subprocess serving the demo
def test_demo_serves_the_api_and_the_review_ui_with_the_printed_sign_ins(tmp_path, config):
    port = _free_port()
    env = {**os.environ, "MPI_DB": str(tmp_path / "demo.duckdb"), "MPI_MODELS_DIR": config["MPI_MODELS_DIR"]}
    process = subprocess.Popen(
        [sys.executable, "-c", "from mpi.cli import main; main()", "demo", "--people", "20", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
    )
    try:
        token = steward = tried = None
        for line in process.stdout:
            if line.startswith("demo hub token:"):
                token = line.split()[-1]
            if line.startswith("try: curl"):
                tried = line.split()[-1]
            if line.startswith("review UI sign-in:"):
                found = re.search(r"user name: (\S+)\s+token: (\S+)", line)
                steward = found.groups() if found else None
            if line.startswith("serving on"):
                break
        assert token, "demo printed no hub token"
        deadline = time.monotonic() + 20
        while True:
            try:
                request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/records/no/such",
                                                 headers={"Authorization": f"Bearer {token}"})
                urllib.request.urlopen(request, timeout=2)
            except urllib.error.HTTPError as e:
                status = e.code
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert status == 404  # authenticated (not 401), and the record does not exist
        # The person the demo suggests is one the hub may read (minimum necessary hides every other).
        with urllib.request.urlopen(urllib.request.Request(tried, headers={"Authorization": f"Bearer {token}"}),
                                    timeout=5) as response:
            assert response.status == 200 and tried.endswith("/" + json.loads(response.read())["person_id"])
        assert steward and steward[0] == "demo-steward"
        assert "Review queue" in _review_queue_signed_in(f"http://127.0.0.1:{port}", *steward)
    finally:
        process.terminate()
        process.wait(timeout=10)
