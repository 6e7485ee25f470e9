"""The demo's review queue shows a steward's day: every priority, overdue and fresh, holds, blockers, ambiguity."""

from __future__ import annotations

import shutil
from datetime import date

import pytest

from conftest import SHIPPED_MODELS
from mpi.clock import ReplayClock
from mpi.services import DEFAULT_MODEL_VERSION, Services
from mpi.synth.demo import build_demo
from mpi.synth.review_demo import stage_queue


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo built once (150 people) on a replayed clock, as ``mpi demo`` builds it."""
    folder = tmp_path_factory.mktemp("demo")
    (folder / "models").mkdir()
    shutil.copy(SHIPPED_MODELS / f"{DEFAULT_MODEL_VERSION}.json", folder / "models")
    services = Services({"MPI_DB": str(folder / "demo.duckdb"), "MPI_MODELS_DIR": str(folder / "models")},
                        clock=ReplayClock())
    lines: list[str] = []
    build_demo(services, 150, "cli:test", lines.append)
    yield services, lines
    services.close()


def test_the_demo_queue_has_every_priority_overdue_and_fresh_cases(demo):
    services, _ = demo
    waiting = services.cases.queue(limit=1000)

    assert {c["priority"] for c in waiting} == {"urgent", "high", "routine"}
    for priority in ("urgent", "high", "routine"):
        mine = [c for c in waiting if c["priority"] == priority]
        assert any(c["overdue"] for c in mine), f"an overdue {priority} case"
        assert any(not c["overdue"] for c in mine), f"a fresh {priority} case"


def test_the_demo_queue_has_holds_with_follow_ups_blockers_ambiguity_and_duplicates(demo):
    services, _ = demo
    waiting = services.cases.queue(limit=1000)
    lower = services.matching.active_model().policy.lower_match_weight
    today = services.clock.now().date()

    held = [c for c in waiting if c["state"] == "on_hold"]
    assert len(held) >= 2 and all(date.fromisoformat(str(c["hold"]["follow_up"])) > today for c in held)
    assert all(c["hold"]["note"] for c in held)
    blocking = [c for c in waiting if any(b.get("kind") == "referral" for b in c.get("blocks") or [])]
    assert len(blocking) >= 3
    gated = services.store.db.one("SELECT count(*) FROM referrals WHERE gate = 'identity_pending'")[0]
    assert gated >= 2, "referrals wait on the identity of a held record"
    ambiguous = [c for c in waiting if c["kind"] == "POSSIBLE_MATCH"
                 and sum(x["match_weight"] >= lower for x in c["candidates"]) >= 2]
    assert ambiguous, "a record held between two persons above the lower threshold"
    assert any(c["kind"] == "POSSIBLE_DUPLICATE" for c in waiting)


def test_the_staging_is_audited_and_done_once(demo):
    services, lines = demo
    waiting = services.cases.queue(limit=1000)
    [held] = [c for c in waiting if c["state"] == "on_hold"][:1]
    actions = [e["action"] for e in services.store.audit.events("review_case", held["case_id"], limit=20)]

    assert "case.on_hold" in actions
    assert any(line.startswith("review queue: 2 referrals") for line in lines)
    assert stage_queue(services, "cli:test") == {}
    assert len(services.cases.queue(limit=1000)) == len(waiting)
