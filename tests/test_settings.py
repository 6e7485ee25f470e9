"""Settings are declared once, documented in docs/settings.md, and resolved override > environment > default."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mpi import settings
from mpi.settings import PROJECT_ROOT, SETTINGS

SETTINGS_DOC = (PROJECT_ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
ROW = re.compile(r"^\| `(?P<name>[A-Z][A-Z0-9_]+)` \| (?P<default>.+?) \| (?P<help>.+) \|$", re.MULTILINE)


def _table() -> dict[str, dict[str, str]]:
    """Rows of the table in the "Settings" section of docs/settings.md."""
    section = SETTINGS_DOC.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    return {m["name"]: m.groupdict() for m in ROW.finditer(section)}


def _shown_default(default: str) -> str:
    """How docs/settings.md shows a default: paths inside the project relative to it (a folder ending in /)."""
    if not default:
        return "(empty)"
    path = Path(default)
    if path.is_absolute() and path.is_relative_to(PROJECT_ROOT):
        return f"`{path.relative_to(PROJECT_ROOT).as_posix()}{'/' if path.is_dir() else ''}` in the project"
    return f"`{default}`"


@pytest.mark.parametrize("setting", SETTINGS, ids=[s.name for s in SETTINGS])
def test_every_setting_is_in_the_readme_table_with_its_default_and_help(setting):
    row = _table().get(setting.name)

    assert row is not None, f"{setting.name} is missing from the settings table in docs/settings.md"
    assert row["default"] == _shown_default(setting.default)
    assert row["help"] == setting.help


def test_readme_documents_no_setting_that_does_not_exist():
    assert set(_table()) == {s.name for s in SETTINGS}


def test_override_beats_environment_beats_default(monkeypatch):
    monkeypatch.delenv("MPI_MAX_BLOCK_SIZE", raising=False)
    assert settings.get("MPI_MAX_BLOCK_SIZE") == next(s.default for s in SETTINGS if s.name == "MPI_MAX_BLOCK_SIZE")

    monkeypatch.setenv("MPI_MAX_BLOCK_SIZE", "25")
    assert settings.get("MPI_MAX_BLOCK_SIZE") == "25"
    assert settings.get("MPI_MAX_BLOCK_SIZE", {"MPI_MAX_BLOCK_SIZE": 9}) == "9"
    assert settings.get("MPI_MAX_BLOCK_SIZE", {"MPI_MAX_BLOCK_SIZE": None}) == "25"
    assert set(settings.resolve_all()) == {s.name for s in SETTINGS}


def test_the_app_reads_its_settings_from_the_config(config, services):
    from api import create_app

    app = create_app(services=services)

    assert app.config["MPI"]["MPI_DB"] == config["MPI_DB"]
    assert services.matching.max_block_size == int(settings.get("MPI_MAX_BLOCK_SIZE"))
