"""Shared fixtures: the real app on a temporary DuckDB file, with a copy of the shipped model.

Every test gets its own store file and its own models folder holding a copy of
the shipped default model, so a test may add model versions (to pin the policy
thresholds around a measured weight) without touching ``matching_models/``.
Tests never depend on the model's exact weights: those change as it is tuned.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import count
from pathlib import Path

import pytest
import waitress

from api import create_app
from mpi.auth import add_user
from mpi.matching import blocking
from mpi.matching.model import compile_model
from mpi.records.normalise import normalise_record
from mpi.records.validation import validate_record
from mpi.services import DEFAULT_MODEL_VERSION, Services
from mpi.settings import PROJECT_ROOT
from mpi.store import Store
from mpi.synth.generator import generate_records

SHIPPED_MODELS = PROJECT_ROOT / "matching_models"
#: The PostgreSQL server of the session (``postgres_support.py``), started only by a test that asks for it.
pytest_plugins = ["postgres_support"]

@pytest.fixture(scope="session")
def scorer():
    """The shipped default model's in-process scorer (read-only: shared by every test)."""
    document = json.loads((SHIPPED_MODELS / f"{DEFAULT_MODEL_VERSION}.json").read_text())
    return compile_model(document).scorer


def generated_norms(people: int, seed: int) -> list[dict]:
    """The normalised records of a seeded generated population (its truth column ignored)."""
    return [normalise_record(validate_record(r, strict=False)) for r in generate_records(people, seed=seed)]


def pairs_the_index_would_score(norms: list[dict], per_key: int) -> list[tuple[int, int]]:
    """(i, j) of records sharing a blocking key (the first ``per_key`` under each), plus neighbours in generation
    order, sorted."""
    by_key: dict[str, list[int]] = {}
    for i, n in enumerate(norms):
        for k in blocking.record_keys(n):
            by_key.setdefault(k, []).append(i)
    pairs = {(a, b) for members in by_key.values() for a in members[:per_key] for b in members[:per_key] if a != b}
    pairs |= {(i, i + 1) for i in range(len(norms) - 1)}
    return sorted(pairs)


#: Fictional people; each is one full record of one human.
PEOPLE = {
    "marisol": dict(
        first_name="Marisol", middle_name="Ines", last_name="Quintanilla", suffix="", birth_date="1984-03-17",
        sex="F", ssn_last4="4821", medicaid_id="MC77120934", phone="(404) 555-0143", email="marisol.q@example.org",
        address_line1="1418 Peachtree Street NE", address_line2="Apt 6", city="Atlanta", state="GA",
        postal_code="30309",
    ),
    "theodore": dict(
        first_name="Theodore", middle_name="J", last_name="Wojcik", birth_date="1951-11-02", sex="M",
        ssn_last4="9034", phone="312-555-0199", email="twojcik51@example.net", address_line1="77 W Polk St",
        city="Chicago", state="IL", postal_code="60605",
    ),
    "desmond": dict(
        first_name="Desmond", last_name="Okafor", birth_date="1984-03-17", sex="M", ssn_last4="1177",
        phone="214-555-0121", email="d.okafor@example.com", address_line1="4020 Live Oak St", city="Dallas",
        state="TX", postal_code="75204",
    ),
}


def record(person: str, source_system: str, source_record_id: str, **changes) -> dict:
    """A canonical record of one of :data:`PEOPLE` as a source system sends it."""
    return {"source_system": source_system, "source_record_id": source_record_id, **PEOPLE[person], **changes}


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    """A models folder holding a copy of the shipped default model (whatever its weights today)."""
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(SHIPPED_MODELS / f"{DEFAULT_MODEL_VERSION}.json", folder)
    return folder


#: ``MPI_TEST_STORE=postgresql`` runs every test's services on PostgreSQL (a database of its own per test)
#: instead of a DuckDB file: the whole suite on the second backend, but for a test marked
#: ``duckdb_only(reason=...)``, which is about the DuckDB file itself (it opens it, backs it up) and runs on it.
TEST_STORE = os.environ.get("MPI_TEST_STORE", "duckdb")
STORES = ("duckdb", "postgresql")


def pytest_generate_tests(metafunc):
    """A module marked ``both_stores`` runs each test that has a store (its own, or its module's) once per
    backend."""
    if metafunc.definition.get_closest_marker("both_stores") and not _duckdb_only(metafunc.definition):
        for name in ("store_location", "module_store_location"):
            if name in metafunc.fixturenames:
                metafunc.parametrize(name, STORES, indirect=True)


def _duckdb_only(node) -> bool:
    """Whether a test (or module) is marked ``duckdb_only``; the marker must say why."""
    marker = node.get_closest_marker("duckdb_only")
    if marker is not None and not marker.kwargs.get("reason"):
        raise pytest.UsageError(f"{node.nodeid}: duckdb_only needs a reason=")
    return marker is not None


@pytest.fixture
def store_location(request, tmp_path: Path):
    """Where a test's store lives: a DuckDB file, or a fresh PostgreSQL database of its own (copied from a migrated
    template) in a module marked ``both_stores`` (once each) or under ``MPI_TEST_STORE=postgresql``."""
    if getattr(request, "param", TEST_STORE) != "postgresql" or _duckdb_only(request.node):
        yield str(tmp_path / "mpi.duckdb")
        return
    server = request.getfixturevalue("postgres_server")
    url = server.new_database()
    yield url
    server.drop_database(url)


@pytest.fixture(scope="module")
def module_store_location(request, tmp_path_factory):
    """:func:`store_location` of a store a module builds once for the tests that only read it."""
    if getattr(request, "param", TEST_STORE) != "postgresql" or _duckdb_only(request.node):
        yield str(tmp_path_factory.mktemp("store") / "mpi.duckdb")
        return
    server = request.getfixturevalue("postgres_server")
    url = server.new_database()
    yield url
    server.drop_database(url)


@pytest.fixture
def store(store_location):
    """A new store alone, without services (``store_location``: a DuckDB file, a PostgreSQL database)."""
    store = Store(store_location)
    yield store
    store.close()


@pytest.fixture
def config(store_location: str, models_dir: Path) -> dict:
    return {"MPI_DB": store_location, "MPI_MODELS_DIR": str(models_dir)}


@pytest.fixture
def services(config):
    services = Services(config)
    yield services
    services.close()


@pytest.fixture
def app(services):
    app = create_app(services=services)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app):
    return app.test_client()


#: The organisation the ``hub_token`` fixture's hub acts for (a hub belongs to one).
HUB_ORGANISATION = "test-clinic"


def add_organisation(services: Services, code: str, kind: str = "hospital") -> str:
    """Add an organisation to the directory (once); returns its code."""
    if not services.directory.exists(code):
        services.directory.add({"code": code, "name": code.replace("-", " ").title(), "kind": kind,
                                "service_types": []}, "test")
    return code


def add_hub(services: Services, name: str, organisation: str = HUB_ORGANISATION) -> str:
    """A hub of an organisation (added to the directory if it is not there); returns its token."""
    return add_user(services.store, name, "hub", organisation=add_organisation(services, organisation))


@pytest.fixture
def hub_token(services) -> str:
    """The token of a hub of :data:`HUB_ORGANISATION`."""
    return add_hub(services, "test-hub")


@pytest.fixture
def auth(hub_token) -> dict:
    """Headers of an authenticated hub caller."""
    return {"Authorization": f"Bearer {hub_token}"}


@contextmanager
def serve(app, name: str, threads: int = 8) -> Iterator[str]:
    """The app behind waitress on a free loopback port, in a thread; yields its base URL, and stops it cleanly."""
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=threads, ident=name)
    thread = threading.Thread(target=server.run, name=f"waitress-{name}", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        def close_all() -> None:  # (in the server's loop: closed from here, a socket it polls broke its select)
            for channel in list(server._map.values()):
                channel.close()

        server.trigger.pull_trigger(close_all)  # with nothing left to poll, its loop returns
        thread.join(timeout=5)
        server.task_dispatcher.shutdown()


@pytest.fixture
def live_server(app):
    """The app behind a real waitress server on a free loopback port, run in a thread."""
    with serve(app, "closedloop-mpi-test") as url:
        yield url


_versions = count(1)


def activate_policy_on(services: Services, **policy) -> dict:
    """Activate a copy of the active model with other policy thresholds; returns its policy.

    The copy keeps every weight, so a weight measured under one policy is the same
    under the other: tests set the thresholds around a weight they measured.
    """
    active = services.matching.active_model()
    document = json.loads(services.registry.path_of(active.version).read_text())
    document["version"] = f"{DEFAULT_MODEL_VERSION}-test{next(_versions)}"
    document["policy"] = {**document["policy"], **policy}
    services.registry.save(document)
    services.models.activate(document["version"], "test")
    return document["policy"]


@pytest.fixture
def activate_policy(services):
    """:func:`activate_policy_on` the test's services."""
    return lambda **policy: activate_policy_on(services, **policy)

