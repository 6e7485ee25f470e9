"""``mpi dedup`` on the terminal: its phases one line each (not a TTY), Splink quiet, and ``--report FILE``.

The store holds generated people loaded while a policy that never links was
active, so a run with the shipped policy finds persons to propose as one.
"""

from __future__ import annotations

import csv
import io
import logging
import re

import click
import pytest
from cli_runner import assert_one_line_error, mpi  # noqa: F401  (mpi: a fixture)
from click.testing import CliRunner
from conftest import activate_policy_on
from test_dedup_report import _parse

from mpi.batch.report import CASE_COLUMNS
from mpi.cli.progress_dedup import DedupProgress
from mpi.services import DEFAULT_MODEL_VERSION, Services
from mpi.synth.generator import generate_records

LINE = re.compile(r"\[ *\d+\.\d+s\] (?P<phase>[a-z ]+?)(?:: (?P<count>[\d,]+) (?P<unit>[a-z ]+))?")


@pytest.fixture
def loaded(config) -> dict:
    """The test's store with 20 generated people's records, each its own person."""
    services = Services(config)
    try:
        services.ensure_active_model("test")
        activate_policy_on(services, upper_match_weight=999, lower_match_weight=998)
        for r in generate_records(20, seed=8):
            services.matching.submit({k: v for k, v in r.items() if k != "truth_person_id"}, "test", strict=False)
        services.models.activate(DEFAULT_MODEL_VERSION, "test")
    finally:
        services.close()
    return config


class Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_run_shows_each_phase_on_a_line_of_its_own_with_its_counts_and_splink_stays_quiet(loaded, mpi, tmp_path):
    splink, blocking = logging.getLogger("splink"), logging.getLogger("splink.internals.blocking")
    kept, levels = Kept(), (splink.level, blocking.level)
    splink.addHandler(kept)
    try:
        result = mpi("dedup", "--report", str(tmp_path / "run.html"))
    finally:
        splink.removeHandler(kept)
    assert (splink.level, blocking.level) == levels  # put back as they were
    assert [r.getMessage() for r in kept.records if r.levelno < logging.WARNING] == []
    lines = [line for line in result.stderr.splitlines() if line.startswith("[")]
    assert "\r" not in result.stderr and "Blocking time" not in result.stderr
    parsed = [LINE.fullmatch(line) for line in lines[:-1]]
    assert all(parsed), lines
    phases = [m["phase"] for m in parsed]
    assert phases == ["reading records", "read", "preparing", "scoring pairs", "scored", "clustering", "clustered",
                      "comparing with persons", "writing cases for the persons found to be one"]
    assert re.fullmatch(r"\[ *\d+\.\ds\] completed: [\d,]+ records, [\d,]+ pairs, [\d,]+ clusters, [\d,]+ person pairs",
                        lines[-1]), lines[-1]
    counts = {m["phase"]: (int(m["count"].replace(",", "")), m["unit"]) for m in parsed if m["count"]}
    records = counts["read"][0]
    assert records > 40 and counts["preparing"] == (records, "records")
    assert counts["scored"][1] == "pairs" and counts["scored"][0] > 0 and counts["clustered"][1] == "clusters"
    assert f"{records:,} records" in lines[-1] and "pairs" in lines[-1] and "clusters" in lines[-1]
    assert "POSSIBLE_DUPLICATE cases opened" in result.stdout  # the counts stay on stdout


def test_report_writes_a_standalone_page_and_the_cases_beside_it(loaded, mpi, tmp_path):
    path = tmp_path / "run.html"
    result = mpi("dedup", "--report", str(path))
    run_id = re.search(r"dedup run (DR\d+) completed", result.stdout).group(1)
    page = path.read_text(encoding="utf-8")
    parsed = _parse(page)
    assert page.startswith("<!doctype html>") and "<style>" in page
    assert run_id in " ".join(parsed.text) and 'href="run-cases.csv"' in page
    rows = list(csv.DictReader(io.StringIO((tmp_path / "run-cases.csv").read_text(encoding="utf-8"))))
    opened = int(re.search(r"([\d,]+) POSSIBLE_DUPLICATE cases opened", result.stdout).group(1))
    assert opened > 0 and len(rows) == opened and tuple(rows[0]) == CASE_COLUMNS
    assert all(f">{r['case_id']}<" in page for r in rows)
    assert f"report written to {path}" in result.stderr


def test_a_report_path_that_cannot_be_written_stops_before_the_run(loaded, mpi, tmp_path):
    result = mpi("dedup", "--report", str(tmp_path / "no-such-folder" / "run.html"), ok=False)
    assert_one_line_error(result, "cannot write the report", "no-such-folder")
    assert "no dedup runs yet" in mpi("dedup", "runs").stdout


def test_on_a_terminal_the_phase_is_rewritten_in_place_and_each_result_ends_its_line():
    out, now = io.StringIO(), iter([0.0, 0.5, 1.0, 2.5, 3.0])
    progress = DedupProgress(out, tty=True, clock=lambda: next(now))
    progress("scoring", None)
    progress("scored", 1234)
    progress("clustering", None)
    progress("clustering", None)  # told again (a followed run): nothing new
    progress.done("completed")
    assert out.getvalue() == ("\r\x1b[K[    0.5s] scoring pairs\r\x1b[K[    1.0s] scored: 1,234 pairs\n"
                              "\r\x1b[K[    2.5s] clustering\n[    3.0s] completed: 1,234 pairs\n")


def test_off_a_terminal_each_phase_is_one_line():
    out, now = io.StringIO(), iter([0.0, 0.25, 1.0])
    progress = DedupProgress(out, clock=lambda: next(now))
    assert progress.tty is False
    progress("preparing", 12_000)
    progress("future-phase", None)
    assert out.getvalue() == "[    0.2s] preparing: 12,000 records\n[    1.0s] future-phase\n"


def test_the_cli_runner_is_not_a_terminal():
    # the display's default stream is stderr, and CliRunner's is no TTY: one line per phase
    runner = CliRunner()

    @click.command()
    def show():
        DedupProgress()("reading", None)
    result = runner.invoke(show)
    assert re.fullmatch(r"\[ +\d+\.\ds\] reading records\n", result.stderr)
