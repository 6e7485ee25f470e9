"""The house rules of ``mpi/``, read from every module's imports (``ast``): who may import what.

- The core never imports the web layer: no module under ``mpi/`` imports ``flask``,
  ``flask_smorest``, ``api`` or ``review_ui`` (only ``mpi/cli/serve.py``, which serves
  the app, may import ``api``).
- Only ``mpi/store/`` imports ``duckdb`` or ``psycopg``; only ``mpi/matching/splink_adapter.py`` imports ``splink``.
- Domain packages import only downward, in :data:`LAYERS` order (a module may import its
  own layer and the layers before it): the kernel, records, matching, the store,
  the directory of organisations, callers (auth), identity, stewardship, then the domains built on them,
  minimum necessary (trust), the wiring (services), the demo and the CLI. The store imports only the kernel.
- One clock: no module of ``mpi/``, ``api/`` or ``review_ui/`` but ``mpi/clock.py`` asks the
  system for the time (``datetime.now``, ``datetime.utcnow``, ``date.today``, ``time.time``).

Every rule is checked by one function over parsed sources, and the first tests
below show each function finding a planted violation, so a rule that could not
fail would show.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from mpi.settings import PROJECT_ROOT

#: From the bottom up; a module may import modules of its own layer and of layers before it.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("kernel", ("mpi", "mpi.errors", "mpi.vocab", "mpi.referral_vocab", "mpi.clock", "mpi.events", "mpi.settings",
                "mpi.background", "mpi.workers")),
    ("records", ("mpi.records",)),
    ("matching", ("mpi.matching",)),
    ("store", ("mpi.store",)),
    ("directory", ("mpi.directory",)),
    ("auth", ("mpi.auth",)),
    ("identity", ("mpi.identity",)),
    ("stewardship", ("mpi.stewardship",)),
    ("referrals", ("mpi.referrals",)),
    ("exchange", ("mpi.exchange",)),
    ("batch", ("mpi.batch",)),
    ("trust", ("mpi.trust",)),
    ("services", ("mpi.services",)),
    ("synth", ("mpi.synth",)),
    ("cli", ("mpi.cli",)),
)
WEB = ("flask", "flask_smorest", "werkzeug", "api", "review_ui")
#: (module, what it may import that the rules otherwise forbid, why)
EXCEPTIONS = {("mpi.cli.serve", "api"): "`mpi serve` loads the app it serves"}
CLOCK_CALLS = {("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today"),
               ("time", "time")}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources(*folders: str) -> dict[str, str]:
    return {_module_name(p): p.read_text(encoding="utf-8")
            for folder in folders for p in sorted((PROJECT_ROOT / folder).rglob("*.py"))}


def imports(source: str) -> set[str]:
    """Every module a source imports, anywhere in it (in functions and ``TYPE_CHECKING`` blocks too)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            # ``from mpi import settings`` imports the module mpi.settings; below the root, the package
            # named decides the layer (``from mpi.identity import loading`` is identity either way).
            if node.module == "mpi":
                found.update(f"mpi.{alias.name}" for alias in node.names)
            else:
                found.add(node.module)
    return found


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def layer_of(module: str) -> int | None:
    """The position in :data:`LAYERS` of the deepest package holding ``module`` (None: not in ``mpi``)."""
    best, depth = None, -1
    for i, (_, packages) in enumerate(LAYERS):
        for package in packages:
            if _within(module, package) and package.count(".") > depth:
                best, depth = i, package.count(".")
    return best


def layering_violations(sources: dict[str, str]) -> list[str]:
    """Each import that breaks a rule of the module docstring, as ``module imports name: why``."""
    problems = []
    for module, source in sources.items():
        own = layer_of(module)
        for name in sorted(imports(source)):
            top = name.split(".")[0]
            allowed = any(_within(name, target) for (m, target) in EXCEPTIONS if m == module)
            if allowed:
                continue
            if top in WEB:
                problems.append(f"{module} imports {name}: the core never imports the web layer")
            elif top == "duckdb" and not _within(module, "mpi.store"):
                problems.append(f"{module} imports {name}: only mpi/store/ talks to DuckDB")
            elif top == "psycopg" and not _within(module, "mpi.store"):
                problems.append(f"{module} imports {name}: only mpi/store/ talks to PostgreSQL")
            elif top == "splink" and module != "mpi.matching.splink_adapter":
                problems.append(f"{module} imports {name}: only mpi/matching/splink_adapter.py imports Splink")
            elif top == "mpi" and own is not None:
                theirs = layer_of(name)
                if theirs is None:
                    continue
                if theirs > own:
                    problems.append(f"{module} imports {name}: {LAYERS[own][0]} may not import {LAYERS[theirs][0]} "
                                    "(domains import only downward)")
                elif _within(module, "mpi.store") and theirs != 0 and not _within(name, "mpi.store"):
                    problems.append(f"{module} imports {name}: the store imports only the kernel")
    return problems


def clock_violations(sources: dict[str, str]) -> list[str]:
    """Each call that asks the system for the time outside ``mpi/clock.py``."""
    problems = []
    for module, source in sources.items():
        if module == "mpi.clock":
            continue
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                owner = node.func.value
                owner_name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", None)
                if (owner_name, node.func.attr) in CLOCK_CALLS:
                    problems.append(f"{module}:{node.lineno} calls {owner_name}.{node.func.attr}(): "
                                    "business times come from the injected clock (mpi.clock)")
    return problems


# -- the checks can fail ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("module", "source", "expected"), [
    ("mpi.identity.planted", "from mpi.stewardship.cases import CaseService", "identity may not import stewardship"),
    ("mpi.records.planted", "from mpi.store import Store", "records may not import store"),
    ("mpi.store.planted", "from mpi.records.fields import RECORD_FIELDS", "the store imports only the kernel"),
    ("mpi.matching.planted", "def f():\n    import flask", "never imports the web layer"),
    ("mpi.identity.planted", "import duckdb", "only mpi/store/ talks to DuckDB"),
    ("mpi.referrals.planted", "from psycopg import connect", "only mpi/store/ talks to PostgreSQL"),
    ("mpi.matching.training", "from splink import Linker", "only mpi/matching/splink_adapter.py imports Splink"),
    ("mpi.stewardship.planted", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from mpi.services import X",
     "stewardship may not import services"),
])
def test_a_planted_forbidden_import_is_found(module, source, expected):
    problems = layering_violations({module: source})

    assert len(problems) == 1 and expected in problems[0], problems


def test_a_planted_call_to_the_system_clock_is_found():
    source = "import time\nfrom datetime import datetime, date\nx = datetime.now()\ny = date.today()\nz = time.time()\n"

    assert len(clock_violations({"mpi.identity.planted": source})) == 3
    assert clock_violations({"mpi.clock": source}) == []


def test_every_module_of_mpi_sits_in_a_layer():
    assert [m for m in _sources("mpi") if layer_of(m) is None] == []


# -- the house as it stands ----------------------------------------------------------------------------------


def test_no_module_of_mpi_imports_against_the_layers():
    assert layering_violations(_sources("mpi")) == []


def test_no_module_asks_the_system_for_the_time_but_the_clock():
    assert clock_violations(_sources("mpi", "api", "review_ui")) == []


def test_commands_and_the_service_start_without_importing_splink_or_the_postgresql_driver(tmp_path):
    """Only training and batch runs use Splink, and only a PostgreSQL store psycopg and sqlglot; importing them cost
    every command, service start and spawned worker about 0.6 s: each is imported where it is used."""
    import subprocess
    import sys

    check = ("import sys, mpi.cli, mpi.services, api; from mpi.store import Store; Store(sys.argv[1]).close();"
             " print(sorted(m for m in ('splink', 'psycopg', 'sqlglot') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", check, str(tmp_path / "store.duckdb")],
                            capture_output=True, text=True, cwd=PROJECT_ROOT, check=True).stdout.strip()
    assert loaded == "[]"
