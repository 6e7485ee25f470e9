"""Review cases as production makes them, for the case tests: a record held in a review band the test places.

Imported by ``test_cases.py`` and ``test_case_queue.py`` (fixtures and helpers alike).
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from types import SimpleNamespace

import pytest

from conftest import record

PARTIAL = {"source_system": "foodbank-cbo", "source_record_id": "FB-3", "first_name": "Marisol",
           "last_name": "Quintanilla", "birth_date": "1984-03-17"}
STEWARD = "user:alice"


def today() -> date:
    return datetime.now(timezone.utc).date()


def partial(source_system: str = "foodbank-cbo", source_record_id: str = "FB-3") -> dict:
    return {**PARTIAL, "source_system": source_system, "source_record_id": source_record_id}


def weight_of(services, body) -> float:
    candidates = services.matching.match(body, "test")["candidates"]
    assert candidates, "expected a candidate"
    return candidates[0]["match_weight"]


@pytest.fixture
def band(services, activate_policy):
    """Marisol's person, and a policy whose review band holds a partial record of her."""
    services.ensure_active_model("test")
    person_id = services.matching.submit(record("marisol", "st-marys-ehr", "MRN-1"), "test")["person_id"]
    weight = weight_of(services, PARTIAL)
    activate_policy(lower_match_weight=weight - 3, upper_match_weight=weight + 3)
    return SimpleNamespace(person_id=person_id, weight=weight)


def hold_in_review(services, body) -> str:
    result = services.matching.submit(body, "test")
    assert result["decision"] == "POSSIBLE_MATCH", result["decision"]
    return result["review_case_id"]


@pytest.fixture
def case_id(services, band) -> str:
    return hold_in_review(services, PARTIAL)


def version(services, case_id) -> int:
    return services.cases.get(case_id)["version"]


def ids(cases) -> list[str]:
    return [c["case_id"] for c in cases]
