"""The matcher's first-use work at a service's start (``mpi.identity.warming``): stored records matched as a request
would match them, and nothing written."""

from __future__ import annotations

import pytest

from mpi.identity.warming import SAMPLES, warm
from mpi.services import Services
from mpi.synth.generator import small_population

#: Every test here runs on a DuckDB file and on a PostgreSQL database (``conftest.store_location``).
pytestmark = pytest.mark.both_stores


def populate(services) -> None:
    services.ensure_active_model("test")
    for row in small_population(40, seed=3):
        services.matching.submit({k: v for k, v in row.items() if not k.startswith("truth") and v}, "test")


def test_an_empty_index_warms_with_nothing_to_match_and_reads_the_normalisers_tables(services, monkeypatch):
    import mpi.records.names as names

    services.ensure_active_model("test")
    monkeypatch.setattr(names, "_nicknames", None)  # as in a process that has normalised no name yet
    names._canonical_first_name.cache_clear()
    names._first_name_roots.cache_clear()

    assert warm(services.matching) == 0
    assert names._nicknames is not None  # read at the start, not by the first requests


def test_warming_matches_stored_records_and_writes_nothing(config):
    first = Services(config)  # (its own, closed once here: the restart below opens the store again)
    try:
        populate(first)  # (in this process: the records are in the index's overlay, over an empty base)
        token = first.store.db.state_token()
        assert warm(first.matching) == SAMPLES
        assert first.store.db.state_token() == token
    finally:
        first.close()
    restarted = Services(config)  # over a DuckDB file the index's base holds every record: samples spread over it
    try:
        assert restarted.store.shared or restarted.matching.index().base.size > SAMPLES
        token = restarted.store.db.state_token()
        assert warm(restarted.matching) == SAMPLES
        assert restarted.store.db.state_token() == token
    finally:
        restarted.close()
