"""schemathesis against the OpenAPI document, through the real app, with every check on.

The app runs on a small real store (:mod:`api_world`): organisations, a user of
each role, persons, review cases, a merge and referrals. Path parameters are
drawn from the real ids some of the time, so operations on an id reach the code
behind the 404. Calls are made as the admin (the role that may call everything
but the referral steps of a side), then again as a hub for the operations a hub
works (its organisation's referrals).

What counts as accepting a schema-valid request (``positive_data_acceptance``):
2xx; 404 (an id, or a code named in the body, that does not exist: the spec
cannot list the store's ids); 409 (the resource is in a state that does not
allow the step, or changed meanwhile); and 403 where the operation documents it
for a caller's role or organisation (a step of the other side of a referral).
A 422 never does: every rule the server checks is in the spec, except those
OpenAPI 3.0 cannot say, which the spec describes in words and
:func:`positive_data_acceptance` tolerates by name (:data:`UNSAYABLE_RULES`): rules
relative to now (a ``birth_date`` in the future, a ``follow_up`` in the past), rules
comparing two values, codes that must name something the store holds (as a 404
does for a path), a record with nothing usable once normalised, and what the
versioned referral policy and the lifecycle ask of a referral and its steps.

Per-operation counts (cases, failures) are shown in the terminal at the end of
the module (its teardown) and written to ``schemathesis-counts.json`` in pytest's temporary folder.
"""

from __future__ import annotations

import json
from collections import Counter

import hypothesis
import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi import checks as openapi_checks

from api import create_app
from api_world import build_world, known_ids, services_on

# The report adds up the runs of its process (both, as `make test` runs the module; under pytest-xdist the two
# may go to two workers, and each worker reports and checks its own).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("schemathesis")]

#: The rules the server checks that OpenAPI 3.0 cannot express, which the spec says in words: what each 422
#: message a schema-valid request may get for one says. Nothing else a 422 says is tolerated.
UNSAYABLE_RULES = {
    "is in the future": "a birth_date after today (relative to now)",
    "must not be in the past": "a hold's follow_up before today (relative to now)",
    "must not be in the future": "a referral step's event_time after now",
    "must not be before the referral": "a step's event_time before the referral's own times (two values compared)",
    "not enough to match on": "a record with nothing usable once normalised (a phone or ZIP that cannot be read)",
    "nothing usable once normalised": "a search value that normalises to nothing (a placeholder phone, date or "
                                      "SSN, a date in the future)",
    "give at least one of": "a search with no criterion (one of several optional query parameters)",
    "source_system and source_record_id together": "a search by half a record key (two fields compared)",
    "must differ from survivor_id": "a person merged into itself (two fields compared)",
    "only with engine spark": "a dedup run's spark_master with the duckdb engine (two fields compared)",
    "no such organisation": "an organisation code in a body or query that names no organisation (a 404 of a body)",
    "no such partner": "a partner id in a manual report that names no partner (a 404 of a body)",
    "does not perform it": "a service type the performer named does not offer (what the directory holds)",
    "must be after from": "a period that ends before it starts (two fields compared)",
    "in the period: choose a longer interval": "a series of more than 1,100 buckets (a period's length, interval)",
    "required for ": "a lifecycle step's reason, which depends on the state asked for and the referral's own",
    "must be HH:MM-HH:MM with the close after the open": "a day's business hours closing before they open",
    "not a subdivision of that country": "a holiday subdivision that is not one of the country's",
    "must be later than now": "an API key's expiry (relative to now)",
    "not a real date and time": "an expiry of the right shape on a day or at an hour that does not exist",
    "required: a parameter named resource holding the Patient": "$match Parameters without a resource parameter "
                                                                 "(which of an array's items: not in OpenAPI 3.0)",
    "given more than once": "a $match parameter named twice (uniqueness of a property across an array's items)",
    "required with ": "a $match parameter without the value its name needs (a value type chosen by a name)",
    "an SSN must be its 9 digits": "a Patient's SSN identifier (which identifier: chosen by its system)",
    "this state and reason are mapped already": "a crosswalk row's state and reason given twice (uniqueness of two "
                                                "properties across an array's items)",
    "this referral is reported already": "a status snapshot naming one referral twice (uniqueness of a property "
                                         "across an array's items)",
}
#: Statuses that accept a schema-valid request (see the module's docstring).
ACCEPTED = ["2XX", "403", "404", "409"]
MAX_EXAMPLES = 20

CASES: Counter = Counter()
FAILURES: Counter = Counter()


@pytest.fixture(scope="module")
def world_app(tmp_path_factory):
    services = services_on(tmp_path_factory.mktemp("contract"))
    world = build_world(services)
    app = create_app(services=services)
    yield app, world
    services.close()


def _unsayable(response) -> bool:
    """A 422 whose every problem is one of :data:`UNSAYABLE_RULES`, or a minimum data set the policy asks for."""
    if response.status_code != 422:
        return False
    body = response.json()
    if body.get("code") in ("minimum_data_set", "replay_refused"):  # the policy's data set; a replayed body's
        return True  # schema, which follows the kept exception's kind (a referral or a status update)
    if body.get("resourceType") == "OperationOutcome":  # FHIR $match: one issue per field (its FHIR path)
        messages = [i.get("diagnostics", "") for i in body.get("issue", []) if i.get("expression")]
    else:
        messages = [m for ms in body.get("errors", {}).values() for m in ms]
    return bool(messages) and all(any(rule in m for rule in UNSAYABLE_RULES) for m in messages)


def positive_data_acceptance(ctx, response, case):
    """schemathesis' own check, but for a 422 that only names rules the spec can only say in words."""
    if _unsayable(response):
        return None
    return openapi_checks.positive_data_acceptance(ctx, response, case)


def _config(token: str) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict({
        "seed": 20261206,
        "auth": {"openapi": {"bearer": {"bearer": token}}},
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": False},
        "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED}},
    })


def _schema(app, world, role: str):
    schema = schemathesis.openapi.from_wsgi("/v1/openapi.json", app, config=_config(world.tokens[role]))
    ids = known_ids(world)

    @schema.hook
    def flatmap_path_parameters(context, path_parameters):
        """Half the time, a real id for each path parameter the world knows."""
        if not path_parameters:
            return st.just(path_parameters)
        if "source_system" in path_parameters:
            choices = [{"source_system": s, "source_record_id": r} for s, r in ids["record"]]
        else:
            choices = [{name: value for name in path_parameters for value in [v]}
                       for v in set().union(*(ids.get(name, []) for name in path_parameters))]
            choices = [c for c in choices if all(ids.get(n) for n in c)]
        if not choices:
            return st.just(path_parameters)
        return st.one_of(st.just(path_parameters), st.sampled_from(choices))

    return schema


#: The operations a hub works (its records, persons and its organisation's referrals): run again as St Mary's hub,
#: whose answers are scoped to its organisation.
HUB_OPERATIONS = r"^/(v1/(records|match|persons/\{person_id\}$|organisations|referrals|alerts|metrics)|fhir/)"

admin_schema = schemathesis.pytest.from_fixture("as_admin")
hub_schema = schemathesis.pytest.from_fixture("as_hub").include(path_regex=HUB_OPERATIONS)


@pytest.fixture(scope="module")
def as_admin(world_app):
    app, world = world_app
    return _schema(app, world, "admin")


@pytest.fixture(scope="module")
def as_hub(world_app):
    app, world = world_app
    return _schema(app, world, "hub")


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request):
    """schemathesis 4's lazy schema renames the node through ``_nodeid``, which pytest 9 no longer has."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


def _check(case, role: str) -> None:
    label = f"{role}: {case.operation.label}"
    CASES[label] += 1
    try:
        case.call_and_validate(excluded_checks=[openapi_checks.positive_data_acceptance],
                               additional_checks=[positive_data_acceptance])
    except BaseException:  # schemathesis' FailureGroup included
        FAILURES[label] += 1
        raise


@admin_schema.parametrize()
@hypothesis.settings(deadline=None, suppress_health_check=list(hypothesis.HealthCheck))
def test_every_operation_keeps_its_contract_for_an_admin(case):
    _check(case, "admin")


@hub_schema.parametrize()
@hypothesis.settings(deadline=None, suppress_health_check=list(hypothesis.HealthCheck))
def test_a_hubs_operations_keep_their_contract_for_a_hub(case):
    _check(case, "hub")


@pytest.fixture(scope="module", autouse=True)
def report_counts(tmp_path_factory, pytestconfig):
    """After both runs (the module's teardown, whatever order its tests ran in): their counts, shown in the
    terminal (even without ``-s``) and written as JSON to ``schemathesis-counts.json`` in pytest's temporary
    folder; fewer than 2,000 cases in all, or any failure, is an error of the module."""
    yield
    report = {"operations": len({label.split(": ", 1)[1] for label in CASES}), "runs": len(CASES),
              "cases": sum(CASES.values()), "failures": sum(FAILURES.values()),
              "per_operation": {k: {"cases": CASES[k], "failures": FAILURES[k]} for k in sorted(CASES)}}
    path = tmp_path_factory.getbasetemp() / "schemathesis-counts.json"
    path.write_text(json.dumps(report, indent=1))
    with pytestconfig.pluginmanager.getplugin("capturemanager").global_and_fixture_disabled():
        print()
        for label, counts in report["per_operation"].items():
            print(f"schemathesis {label}: {counts['cases']} cases, {counts['failures']} failures")
        print(f"schemathesis: {report['operations']} operations ({report['runs']} runs as admin or hub), "
              f"{report['cases']} cases, {report['failures']} failures; {path}")
    # Each run's own floor: under pytest-xdist the two runs may go to two workers, each with its own counts.
    per_role = Counter(label.split(": ", 1)[0] for label in CASES)
    cases_of = Counter({role: sum(n for label, n in CASES.items() if label.startswith(f"{role}: ")) for role in per_role})
    assert per_role, "no run"
    assert "admin" not in per_role or (per_role["admin"] >= 50 and cases_of["admin"] >= 2000), "every operation"
    assert "hub" not in per_role or per_role["hub"] >= 20, "the hub's operations"
    assert report["failures"] == 0
