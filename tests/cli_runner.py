"""The ``mpi`` command run with click's CliRunner on a test's temporary store: shared by the CLI tests."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from mpi.cli import main


@pytest.fixture
def mpi(config):
    """Run ``mpi --db <tmp> --models-dir <tmp copy> ARGS``."""
    runner = CliRunner()

    def run(*args: str, ok: bool = True):
        result = runner.invoke(main, ["--db", config["MPI_DB"], "--models-dir", config["MPI_MODELS_DIR"], *args])
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return run


def assert_one_line_error(result, *fragments: str) -> str:
    """A failed command: exit 1 and one ``Error:`` line, last, with no traceback."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error:")]
    assert errors == [lines[-1]]
    for fragment in fragments:
        assert fragment in errors[0]
    return errors[0]


def rows_of(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


SUMMARY = re.compile(r"loaded (\d+) records: MATCH (\d+), NO_MATCH (\d+), POSSIBLE_MATCH (\d+); rejected (\d+)")
