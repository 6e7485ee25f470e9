"""The dedup runs' pages in the review UI: the list, a run's report, its cases CSV; stewards and admins only.

The index is loaded with every record its own person (thresholds out of reach
while loading), then a real run over it with the shipped policy finds the
duplicates and opens POSSIBLE_DUPLICATE cases, so the report has cases to link.
"""

from __future__ import annotations

import csv
import io
import re
import shutil

import pytest
from conftest import SHIPPED_MODELS, activate_policy_on, add_hub
from test_review_ui import sign_in

from api import create_app
from mpi.auth import add_user
from mpi.batch.report import CASE_COLUMNS
from mpi.services import DEFAULT_MODEL_VERSION, Services
from mpi.synth.generator import generate_records


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dedup-ui")
    (folder / "models").mkdir()
    shutil.copy(SHIPPED_MODELS / f"{DEFAULT_MODEL_VERSION}.json", folder / "models")
    services = Services({"MPI_DB": str(folder / "mpi.duckdb"), "MPI_MODELS_DIR": str(folder / "models")})
    services.ensure_active_model("test")
    yield services
    services.close()


@pytest.fixture(scope="module")
def world(services):
    shipped = services.matching.active_model().policy
    activate_policy_on(services, upper_match_weight=999.0, lower_match_weight=998.0)
    records = [{k: v for k, v in r.items() if k != "truth_person_id"} for r in generate_records(25, seed=3)]
    for r in records:
        assert services.matching.submit(r, "test", strict=False)["decision"] == "NO_MATCH"
    activate_policy_on(services, upper_match_weight=shipped.upper_match_weight,
                       lower_match_weight=shipped.lower_match_weight)
    run = services.dedup.run("test")
    assert run["outcome"] == "completed" and run["counts"]["cases_opened"] >= 3
    tokens = {who: add_user(services.store, who, role) for who, role in
              (("stella", "steward"), ("ada", "admin"), ("audrey", "auditor"))}
    tokens["hubert"] = add_hub(services, "hubert")
    app = create_app(services=services)
    app.config["TESTING"] = True
    return app, run, records, tokens


def _client(world, who):
    app, _, _, tokens = world
    client = app.test_client()
    assert sign_in(client, who, tokens[who]).status_code in (302, 303)
    return client


def test_the_list_shows_each_run_with_its_outcome_and_counts_and_links_to_it(world):
    _, run, _, _ = world
    page = _client(world, "stella").get("/review/dedup-runs")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    row = re.search(rf'<tr data-run="{run["run_id"]}">(.*?)</tr>', text, re.DOTALL).group(1)
    assert f'href="/review/dedup-runs/{run["run_id"]}"' in row
    assert "completed" in row and "duckdb" in row and run["model_version"] in row
    assert f'>{run["counts"]["cases_opened"]}<' in row and f'>{run["counts"]["records"]:,}<' in row
    nav = re.search(r'<nav aria-label="Main">(.*?)</nav>', text, re.DOTALL).group(1)
    assert 'href="/review/dedup-runs" aria-current="page">Dedup runs</a>' in nav


def test_the_report_page_links_every_case_it_lists_and_names_no_one(world):
    _, run, records, _ = world
    page = _client(world, "ada").get(f"/review/dedup-runs/{run['run_id']}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Match weights" in text and "Pairs nearest the thresholds" in text and "By source system" in text
    for finding in run["findings"]:
        assert f'href="/review/cases/{finding["case_id"]}"' in text
        assert f'href="/review/persons/{finding["person_a"]}"' in text
    assert f'href="/review/dedup-runs/{run["run_id"]}/cases.csv"' in text
    assert "<style" not in text and "<script" not in text  # the UI's stylesheet only (its CSP)
    for r in records:
        assert not r["birth_date"] or r["birth_date"] not in text
        assert not r["last_name"] or not re.search(rf">[^<]*\b{re.escape(r['last_name'])}\b", text), "a name"


def test_the_cases_csv_is_every_finding_of_the_run(world):
    _, run, _, _ = world
    response = _client(world, "stella").get(f"/review/dedup-runs/{run['run_id']}/cases.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert f'filename="{run["run_id"]}-cases.csv"' in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert tuple(rows[0]) == CASE_COLUMNS
    assert {r["case_id"] for r in rows} == {f["case_id"] for f in run["findings"]}
    assert len(rows) == run["counts"]["cases_opened"]


def test_a_run_without_a_report_shows_its_outcome(world, services):
    with services.store.transaction():
        run_id = services.store.dedup.start("store", "duckdb", "some-model", "test")
        services.store.dedup.finish(run_id, "failed", {}, error="RuntimeError")
    text = _client(world, "stella").get(f"/review/dedup-runs/{run_id}").get_data(as_text=True)
    assert "failed" in text and "RuntimeError" in text and "has no report" in text
    assert _client(world, "stella").get("/review/dedup-runs/DR999999").status_code == 404


def test_only_stewards_and_admins_open_the_dedup_pages(world):
    app, run, _, tokens = world
    paths = ("/review/dedup-runs", f"/review/dedup-runs/{run['run_id']}",
             f"/review/dedup-runs/{run['run_id']}/cases.csv")
    for who in ("stella", "ada"):
        client = _client(world, who)
        assert [client.get(p).status_code for p in paths] == [200, 200, 200], who
    auditor = _client(world, "audrey")
    assert [auditor.get(p).status_code for p in paths] == [403, 403, 403]
    hub = app.test_client()
    assert sign_in(hub, "hubert", tokens["hubert"]).status_code == 403  # a hub cannot sign in to the UI
    for p in paths:
        response = hub.get(p)
        assert response.status_code in (302, 303) and "/review/sign-in" in response.headers["Location"]
