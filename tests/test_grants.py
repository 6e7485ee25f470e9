"""The ``person_grants`` reads a match's answer makes (``GrantTable.match_answer``) and the grant writes, read by
their indexed columns: the same answers as a scan of the table gave, on a DuckDB file and on PostgreSQL.

The rule itself (who reads what) is tested through the API in ``test_minimum_necessary.py``.
"""

from __future__ import annotations

import pytest

from conftest import add_organisation, record
from mpi.auth import Caller
from mpi.vocab import GrantKind

#: Every test here runs on a DuckDB file and on a PostgreSQL database (``conftest.store_location``).
pytestmark = pytest.mark.both_stores


def grants(services) -> list[tuple]:
    return services.store.db.query("SELECT organisation, how, person_id, source_system, source_record_id "
                                   "FROM person_grants ORDER BY organisation, how, source_record_id")


@pytest.fixture
def hubs(services) -> dict[str, Caller]:
    services.ensure_active_model("test")
    for code in ("st-marys", "bluepath"):
        add_organisation(services, code)
    return {code: Caller(f"hub-{code}", "hub", code) for code in ("st-marys", "bluepath")}


def test_a_match_answer_names_the_organisations_own_records_only_by_system_and_id(services, hubs):
    mine = services.trust.submit(record("marisol", "st-marys-ehr", "R-1"), hubs["st-marys"])
    services.trust.submit(record("marisol", "bluepath-mco", "R-1"), hubs["bluepath"])  # the same id, another system
    services.trust.submit(record("theodore", "bluepath-mco", "R-2"), hubs["bluepath"])
    keys = {("st-marys-ehr", "R-1"), ("bluepath-mco", "R-1"), ("bluepath-mco", "R-2"), ("st-marys-ehr", "R-2")}

    own, granted = services.store.grants.match_answer("st-marys", keys, mine["person_id"])

    assert own == {("st-marys-ehr", "R-1")} and granted is False  # a record grant is not a match grant
    assert services.store.grants.own_records("bluepath", keys) == {("bluepath-mco", "R-1"), ("bluepath-mco", "R-2")}
    assert services.store.grants.match_answer("nobody", keys, mine["person_id"]) == (set(), False)
    assert services.store.grants.match_answer("st-marys", set(), None) == (set(), False)


def test_a_certain_match_is_granted_once_and_the_next_answer_knows_it(services, hubs):
    stored = services.trust.submit(record("marisol", "st-marys-ehr", "MRN-1"), hubs["st-marys"])
    query = record("marisol", "bluepath-mco", "BP-1")

    first = services.trust.match(query, hubs["bluepath"])
    second = services.trust.match(query, hubs["bluepath"])

    assert first["decision"] == second["decision"] == "MATCH"
    assert first["candidates"][0]["matched_record"] is None  # St Mary's record, not BluePath's
    assert services.store.grants.match_answer("bluepath", set(), stored["person_id"]) == (set(), True)
    assert services.store.grants.match_answer("st-marys", set(), stored["person_id"]) == (set(), False)
    assert grants(services) == [("bluepath", "match", stored["person_id"], None, None),
                                ("st-marys", "record", stored["person_id"], "st-marys-ehr", "MRN-1")]


def test_a_grant_buffered_again_or_stored_already_is_written_once(services, hubs):
    table = services.store.grants
    with services.store.transaction():
        table.add("st-marys", GrantKind.MATCH, "P-1", absent=True)
        table.add("st-marys", GrantKind.RECORD, "P-1", ("st-marys-ehr", "MRN-1"))
    with services.store.transaction():  # a second writer that had read it absent too, and a third
        table.add("st-marys", GrantKind.MATCH, "P-1", absent=True)
        table.add("st-marys", GrantKind.RECORD, "P-1", ("st-marys-ehr", "MRN-1"))
        table.add("bluepath", GrantKind.MATCH, "P-1", absent=True)
    table.add("st-marys", GrantKind.MATCH, "P-1")  # read as there: no transaction at all
    table.add("st-marys", GrantKind.RECORD, None, ("st-marys-ehr", "MRN-9"))  # a record held with no person

    assert grants(services) == [("bluepath", "match", "P-1", None, None),
                                ("st-marys", "match", "P-1", None, None),
                                ("st-marys", "record", "P-1", "st-marys-ehr", "MRN-1"),
                                ("st-marys", "record", None, "st-marys-ehr", "MRN-9")]


def test_many_grants_buffered_in_one_transaction_are_each_written_once(services, hubs):
    table = services.store.grants
    for _ in range(2):  # the second time every one is stored already
        with services.store.transaction():
            for i in range(40):  # more than a few: the Arrow path of the flush
                table.add("st-marys", GrantKind.MATCH, f"P-{i}", absent=True)
    assert len(grants(services)) == 40


def test_own_records_of_a_person_of_many_records_are_read_in_parts(services, hubs):
    table = services.store.grants
    mine = {("st-marys-ehr", f"MRN-{i}") for i in range(0, 1100, 3)}
    with services.store.transaction():
        for key in mine:
            table.add("st-marys", GrantKind.RECORD, "P-1", key)
    keys = {("st-marys-ehr", f"MRN-{i}") for i in range(1100)} | {("bluepath-mco", "MRN-0")}

    assert table.own_records("st-marys", keys) == mine
    assert table.match_answer("st-marys", keys, "P-1") == (mine, False)


# -- the filter in front of the read (``grant_filter.py``) -------------------------------------------------------


def answers(services, organisations, keys, persons) -> dict:
    """Every organisation's answer for every key alone, all keys at once, and each person."""
    grants = services.store.grants
    return {(org, key, person): grants.match_answer(org, [key] if key else keys, person)
            for org in organisations for key in [None, *keys] for person in [None, *persons]}


def referral_row(requester: str, key: tuple[str, str], at) -> dict:
    """A referral's row as the store keeps it, naming the record ``key`` (what a grant read asks of it)."""
    return {"referral_id": "RF-T1", "reference": "T1", "requester": requester, "requester_referral_id": "T1",
            "performer": "bluepath", "service_type": "food", "urgency": "routine", "risk_flags": [],
            "source_system": key[0], "source_record_id": key[1], "state": "sent", "gated_seconds": 0.0,
            "received_at": at, "recorded_at": at, "updated_at": at, "business_day_s": 0.0, "version": 1,
            "stepped_at": at, "pauses": []}


@pytest.mark.duckdb_only(reason="the filter answers over a store one process writes; over a shared one (PostgreSQL) "
                                "every answer reads the store, as the tests above show on both")
def test_a_match_answer_is_the_same_through_the_filter_as_read_from_the_store(services, hubs, monkeypatch):
    a = services.trust.submit(record("marisol", "st-marys-ehr", "R-1"), hubs["st-marys"])
    services.trust.submit(record("marisol", "bluepath-mco", "R-1"), hubs["bluepath"])
    services.trust.match(record("marisol", "bluepath-mco", "Q-1"), hubs["bluepath"])  # a match grant
    services.store.grants.match_answer("st-marys", [("st-marys-ehr", "R-1")], None)  # the filter read from the store
    b = services.trust.submit(record("theodore", "bluepath-mco", "R-2"), hubs["bluepath"])  # noted since
    with services.store.transaction():  # a referral gives its requester the record it names
        services.store.referrals.insert(referral_row("st-marys", ("bluepath-mco", "R-2"), services.store.db.now()))
    with pytest.raises(RuntimeError), services.store.transaction():  # noted, then rolled back: no row
        services.store.grants.add("st-marys", GrantKind.RECORD, a["person_id"], ("bluepath-mco", "R-9"))
        raise RuntimeError("crash")
    with pytest.raises(RuntimeError), services.store.transaction():  # a match grant rolled back: no row
        services.store.grants.add("st-marys", GrantKind.MATCH, b["person_id"])
        raise RuntimeError("crash")
    # A record whose id is spelt as a person id: a record grant of it is no match grant of that person.
    services.trust.submit(record("marisol", "st-marys-ehr", b["person_id"]), hubs["st-marys"])
    keys = [("st-marys-ehr", "R-1"), ("bluepath-mco", "R-1"), ("bluepath-mco", "R-2"), ("bluepath-mco", "R-9"),
            ("st-marys-ehr", b["person_id"])]
    organisations, persons = ["st-marys", "bluepath", "nobody"], [a["person_id"], b["person_id"]]

    through = answers(services, organisations, keys, persons)
    monkeypatch.setattr(type(services.store.grants.present), "active", property(lambda self: False))
    read = answers(services, organisations, keys, persons)

    assert through == read
    assert read[("st-marys", None, None)][0] == {("st-marys-ehr", "R-1"), ("bluepath-mco", "R-2"),
                                                 ("st-marys-ehr", b["person_id"])}
    assert read[("bluepath", None, a["person_id"])][1] is True
    assert read[("st-marys", None, b["person_id"])][1] is False


@pytest.mark.duckdb_only(reason="the filter answers over a store one process writes (see above)")
def test_an_answer_with_nothing_of_the_organisations_reads_nothing(services, hubs):
    a = services.trust.submit(record("marisol", "st-marys-ehr", "R-1"), hubs["st-marys"])
    services.trust.match(record("marisol", "bluepath-mco", "Q-1"), hubs["bluepath"])
    reads = []
    query = services.store.db.query
    services.store.db.query = lambda sql, *args, **kwargs: reads.append(sql) or query(sql, *args, **kwargs)
    try:
        assert services.store.grants.match_answer("bluepath", [("st-marys-ehr", "R-1")], None) == (set(), False)
        assert reads == []  # not its record, and no person asked: no read
        assert services.store.grants.match_answer("bluepath", [("st-marys-ehr", "R-1")], a["person_id"]) \
            == (set(), True)
        assert reads == []  # a person a certain match gave it: the filter knows (its grant committed)
        assert services.store.grants.match_answer("bluepath", [("st-marys-ehr", "R-1")], "P-NONE") == (set(), False)
        assert reads == []
    finally:
        del services.store.db.query


@pytest.mark.duckdb_only(reason="the filter answers over a store one process writes (see above)")
def test_pairs_noted_since_the_read_are_folded_into_it_and_still_found(services, hubs, monkeypatch):
    from mpi.store import grant_filter

    monkeypatch.setattr(grant_filter, "FOLD_AT", 3)
    present = services.store.grants.present
    present.warm()
    for i in range(7):
        services.trust.submit(record("marisol", "st-marys-ehr", f"F-{i}"), hubs["st-marys"])

    assert present.maybe("st-marys", [f"F-{i}" for i in range(8)]) == [f"F-{i}" for i in range(7)]
    assert len(present._since) < 3 and present._read.size >= 6  # folded twice
    assert present.maybe("bluepath", [f"F-{i}" for i in range(7)]) == []


def test_a_shared_store_notes_no_pairs_it_would_never_fold(services, hubs):
    services.trust.submit(record("marisol", "st-marys-ehr", "N-1"), hubs["st-marys"])

    assert bool(services.store.grants.present._since) is not services.store.shared  # (DuckDB: noted, to be asked)
