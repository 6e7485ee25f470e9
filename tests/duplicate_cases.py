"""``POSSIBLE_DUPLICATE`` cases as a batch run opens them, for the duplicate-case tests.

Two persons of one human are made through the real decision path: Marisol's
hospital record, then her health plan's record of her (moved house, a new
phone) under a policy whose lower threshold sits just above the weight the pair
measures, so the second record makes a second person. The case is then opened
with ``services.review.open_duplicate`` inside a store transaction, with the
weight and evidence the in-process scorer gives the pair: what a batch run does.
Imported by ``test_duplicate_cases.py``, ``test_api_duplicate_cases.py`` and
``test_duplicate_browser.py``.
"""

from __future__ import annotations

from types import SimpleNamespace

from conftest import activate_policy_on, record

ACTOR = "dedup:test-run"
#: Marisol as her health plan knows her: the same name and birth date, another address and phone.
PLAN_RECORD = record("marisol", "bluepath-mco", "M-77", phone="678-555-0110", email="",
                     address_line1="9 Ponce de Leon Ave", address_line2="", postal_code="30308")
THIRD_RECORD = record("theodore", "foodbank-cbo", "FB-9")


def two_persons_of_one_human(services) -> tuple[str, str]:
    """Two persons of Marisol (the hospital's, then the plan's), each made by submitting a record."""
    services.ensure_active_model("test")
    first = services.matching.submit(record("marisol", "st-marys-ehr", "MRN-1"), "test")["person_id"]
    weight = services.matching.match(PLAN_RECORD, "test")["candidates"][0]["match_weight"]
    activate_policy_on(services, lower_match_weight=weight + 1, upper_match_weight=weight + 20)
    second = services.matching.submit(PLAN_RECORD, "test")
    assert second["decision"] == "NO_MATCH", second["decision"]
    return first, second["person_id"]


def open_duplicate(services, person_a: str, person_b: str) -> str:
    """Open a POSSIBLE_DUPLICATE case for two persons, scored on their first records, as a batch run would."""
    model = services.matching.active_model()
    left, right = (services.store.persons.records_of(p)[0]["norm"] for p in (person_a, person_b))
    scored = model.scorer.score(left, right)
    with services.store.transaction():
        return services.review.open_duplicate(person_a, person_b, scored.match_weight, scored.match_probability,
                                              scored.evidence, model.version, ACTOR, "batch run found one human",
                                              {"run_id": "DR-test"})


def duplicate_case(services) -> SimpleNamespace:
    """Marisol's two persons and the open POSSIBLE_DUPLICATE case between them."""
    a, b = two_persons_of_one_human(services)
    return SimpleNamespace(a=a, b=b, case_id=open_duplicate(services, a, b))
