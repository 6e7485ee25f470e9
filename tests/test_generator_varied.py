"""The generator's profiles: "standard" unchanged to the byte, "varied" harder, and its hard cases."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections import Counter, defaultdict
from itertools import combinations
from random import Random

import pytest
from click.testing import CliRunner

from mpi.cli import main
from mpi.records.fields import TRUTH_FIELD
from mpi.synth.generator import (
    COLUMNS,
    HARD_CASES_HEADER,
    METROS,
    _generate,
    generate_records,
    write_csv,
    write_population,
)
from mpi.synth.hard_cases import FALSE_KINDS, NOTES, TRUE_KINDS, fold
from mpi.synth.varied_population import VariedPopulation

STANDARD_SYSTEMS = {"st-marys-ehr", "county-general-ehr", "bluepath-mco", "fqhc-eastside",
                    "foodbank-cbo", "housing-first-cbo"}
NEW_SYSTEMS = {"rxcare-pharmacy", "helpline-211", "schoolhealth-clinic", "county-jail-health",
               "shelter-hmis", "sunstate-mco"}
PLACEHOLDERS = {"0000", "9999", "1234", "00000000", "000000000", "999999999"}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _near_miss(x: str, y: str) -> bool:
    if not x or not y or x == y or len(x) != len(y) or {x, y} & PLACEHOLDERS:
        return False
    diff = [i for i in range(len(x)) if x[i] != y[i]]
    return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1
                              and sorted(x[diff[0]:diff[1] + 1]) == sorted(y[diff[0]:diff[1] + 1]))


@pytest.fixture(scope="module")
def varied(tmp_path_factory):
    """2,000 varied people: the files write_population wrote, and who each person truly is."""
    folder = tmp_path_factory.mktemp("varied")
    counts = write_population(folder, 2000, seed=11, profile="varied")
    people = {}

    def observe(household, per_person):
        for person in household:
            people[person.pid] = person

    for _ in _generate(2000, 11, "varied", None, observe):
        pass
    with open(folder / "records.csv", newline="", encoding="utf-8") as fh:
        records = list(csv.DictReader(fh))
    with open(folder / "hard_cases.csv", newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        header, hard = tuple(reader.fieldnames), list(reader)
    return {"folder": folder, "counts": counts, "people": people, "records": records,
            "by_key": {(r["source_system"], r["source_record_id"]): r for r in records},
            "header": header, "hard": hard}


def _pair(varied, row):
    by_key = varied["by_key"]
    return (by_key[row["source_system_l"], row["source_record_id_l"]],
            by_key[row["source_system_r"], row["source_record_id_r"]])


# --- standard: exactly as before ----------------------------------------------------------------

def test_standard_profile_is_byte_for_byte_what_it_was(tmp_path):
    """Digests taken before profiles existed: the demo, fixtures and tests depend on them."""
    records = list(generate_records(200, seed=3))
    assert _sha(json.dumps(records).encode()) == (
        "c36dd7bf0ad487faa5ffedcf667f174a206d0d716c0990b7947fc7da5b9ac66d")
    assert records == list(generate_records(200, seed=3, profile="standard"))
    write_csv(tmp_path / "s.csv", 200, seed=3)
    assert _sha((tmp_path / "s.csv").read_bytes()) == (
        "ab8ed6a89f49a1bf1a0b5aa41f5689bb7742f1aa0bb80b973b25b75e022ce26e")


def test_standard_hard_cases_leave_its_records_unchanged(tmp_path):
    write_csv(tmp_path / "a.csv", 300, seed=4)
    write_csv(tmp_path / "b.csv", 300, seed=4, hard_cases=tmp_path / "h.csv")
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    with open(tmp_path / "h.csv", newline="", encoding="utf-8") as fh:
        kinds = {row["kind"] for row in csv.DictReader(fh)}
    assert {"twins", "household_same_surname", "moved", "nickname"} <= kinds


# --- varied: deterministic, and its settings ----------------------------------------------------

def test_varied_same_seed_same_records_and_differs_from_standard():
    first = list(generate_records(300, seed=5, profile="varied"))
    assert first == list(generate_records(300, seed=5, profile="varied"))
    assert first != list(generate_records(300, seed=6, profile="varied"))
    assert first != list(generate_records(300, seed=5))
    assert all(tuple(rec) == COLUMNS for rec in first)


def test_write_population_is_byte_identical_for_a_seed(tmp_path):
    write_population(tmp_path / "a", 250, seed=9, profile="varied", metros=("Detroit",))
    write_population(tmp_path / "b", 250, seed=9, profile="varied", metros=("Detroit",))
    for name in ("records.csv", "hard_cases.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_metros_pick_where_people_live():
    states = Counter(r["state"] for r in generate_records(600, seed=2, profile="varied",
                                                          metros=("Phoenix", "Miami")))
    assert set(states) - {""} == {"AZ", "FL"}
    everywhere = Counter(r["state"] for r in generate_records(2000, seed=2, profile="varied"))
    assert {"TX", "IL", "CA", "GA", "AZ", "FL", "MI"} <= set(everywhere)
    assert len(METROS) == 7


@pytest.mark.parametrize("profile, metros, fragment", [
    ("varied", ("Phoenix", "Gotham"), "unknown: Gotham"),
    ("standard", ("Houston",), "setting of the varied profile"),
    ("varied", (), "setting of the varied profile"),
])
def test_bad_metros_are_refused_before_anything_is_written(tmp_path, profile, metros, fragment):
    with pytest.raises(ValueError, match=fragment):
        write_csv(tmp_path / "x.csv", 10, profile=profile, metros=metros)
    assert not (tmp_path / "x.csv").exists()


def test_unknown_profile_and_setting_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown profile"):
        list(generate_records(5, profile="hard"))
    with pytest.raises(ValueError, match="unknown generator settings: colour"):
        write_population(tmp_path, 5, seed=1, colour="red")


# --- varied: source systems and their habits ----------------------------------------------------

def test_every_new_source_system_appears_with_its_habits(varied):
    systems = Counter(r["source_system"] for r in varied["records"])
    assert set(systems) == STANDARD_SYSTEMS | NEW_SYSTEMS
    id_formats = {"rxcare-pharmacy": r"RX\d{9}", "helpline-211": r"211-20\d\d-\d{6}",
                  "schoolhealth-clinic": r"SBC\d{6}", "county-jail-health": r"BK20\d\d\d{6}",
                  "shelter-hmis": r"HMIS-\d{7}", "sunstate-mco": r"SSM\d{10}"}
    people = varied["people"]
    for rec in varied["records"]:
        system = rec["source_system"]
        if system in id_formats:
            assert re.fullmatch(id_formats[system], rec["source_record_id"]), rec["source_record_id"]
        if system == "rxcare-pharmacy":
            assert not rec["middle_name"] and not rec["suffix"] and not rec["ssn_last4"]
        elif system == "schoolhealth-clinic":
            assert not rec["ssn_last4"]
            assert 2007 <= people[rec[TRUTH_FIELD]].dob.year <= 2021
        elif system == "county-jail-health":
            assert not rec["email"] and people[rec[TRUTH_FIELD]].adult
        elif system in ("sunstate-mco", "bluepath-mco"):
            assert rec["medicaid_id"]
            state = people[rec[TRUTH_FIELD]].home.metro["state"]
            assert state in (("AZ", "FL", "MI") if system == "sunstate-mco" else ("TX", "IL", "CA", "GA"))
        elif system == "helpline-211":
            assert not rec["medicaid_id"]


def test_every_varied_record_passes_the_record_contract(varied):
    from mpi.errors import ValidationError
    from mpi.records.validation import validate_record

    invalid = []
    more = generate_records(3000, seed=21, profile="varied", metros=("Phoenix", "Detroit"))
    for rec in [*varied["records"], *more]:
        try:
            validate_record(rec, strict=False)
        except ValidationError as e:
            invalid.append((rec["source_record_id"], sorted(e.errors)))
    assert invalid == []


# --- varied: the harder cases are really there --------------------------------------------------

def test_identifier_typos_and_placeholders_at_plausible_rates(varied):
    by_person = defaultdict(list)
    for rec in varied["records"]:
        by_person[rec[TRUTH_FIELD]].append(rec)
    ssn_pairs = ssn_typos = medicaid_typos = 0
    for recs in by_person.values():
        for a, b in combinations(recs, 2):
            if a["ssn_last4"] and b["ssn_last4"] and not {a["ssn_last4"], b["ssn_last4"]} & PLACEHOLDERS:
                ssn_pairs += 1
                ssn_typos += _near_miss(a["ssn_last4"], b["ssn_last4"])
            medicaid_typos += _near_miss(a["medicaid_id"], b["medicaid_id"])
    assert .02 < ssn_typos / ssn_pairs < .2, (ssn_typos, ssn_pairs)
    assert medicaid_typos >= 5
    values = Counter(r["ssn_last4"] for r in varied["records"])
    assert values["0000"] and values["9999"] and values["1234"]
    assert any(r["medicaid_id"] in PLACEHOLDERS for r in varied["records"])


def test_family_members_share_a_cell_and_an_email(varied):
    people = varied["people"]
    owners = defaultdict(set)
    for rec in varied["records"]:
        if rec["email"]:
            owners[rec["email"].lower()].add(rec[TRUTH_FIELD])
    in_family = [pids for pids in owners.values()
                 if len(pids) > 1 and len({id(people[p].home) for p in pids}) == 1]
    assert len(in_family) >= 50
    cells = Counter(p.cell for p in people.values() if p.cell and p.adult)
    assert sum(n > 1 for n in cells.values()) >= 30  # spouses sharing one cell


def test_jr_sr_records_without_birth_dates(varied):
    people = varied["people"]
    jr_sr = [r for r in varied["records"] if people[r[TRUTH_FIELD]].namesake is not None]
    missing = sum(not r["birth_date"] for r in jr_sr)
    assert .05 < missing / len(jr_sr) < .5


def test_twins_who_differ_only_in_first_name_spelling_or_middle_name(varied):
    rows = [r for r in varied["hard"] if r["kind"] == "twins"]
    people = varied["people"]
    pairs = [tuple(people[rec[TRUTH_FIELD]] for rec in _pair(varied, row)) for row in rows]
    only_first = [(a, b) for a, b in pairs if a.first != b.first and a.middle == b.middle]
    assert len(only_first) >= 5


def test_some_twins_share_a_first_name_and_differ_by_middle_name_only():
    # Rare by design (SAME_FIRST_TWINS of same-sex twins): counted over the twins of 20,000 people.
    twins = [p for household in VariedPopulation(Random(5), 20_000).households() for p in household if p.twin]
    by_home = defaultdict(list)
    for p in twins:
        by_home[id(p.home), p.dob].append(p)
    pairs = [pair for pair in by_home.values() if len(pair) == 2]
    only_middle = [(a, b) for a, b in pairs if a.first == b.first and a.middle != b.middle]
    same_sex = [(a, b) for a, b in pairs if a.sex == b.sex]
    assert 2 <= len(only_middle) <= 2 * VariedPopulation.SAME_FIRST_TWINS * len(same_sex)


def test_hard_cases_file_has_the_people_dev_header_and_no_personal_data(varied):
    assert varied["header"] == HARD_CASES_HEADER == (
        "kind", "should_match", "source_system_l", "source_record_id_l", "source_system_r",
        "source_record_id_r", "note")
    assert {row["note"] for row in varied["hard"]} <= set(NOTES.values())
    assert {row["should_match"] for row in varied["hard"] if row["kind"] in FALSE_KINDS} == {"false"}
    assert {row["should_match"] for row in varied["hard"] if row["kind"] in TRUE_KINDS} == {"true"}


def test_every_hard_kind_appears(varied):
    kinds = Counter(row["kind"] for row in varied["hard"])
    assert set(kinds) == set(FALSE_KINDS) | set(TRUE_KINDS)
    assert varied["counts"]["hard_cases"] == {k: kinds[k] for k in FALSE_KINDS + TRUE_KINDS}


def test_false_pairs_are_two_people_of_their_kind(varied):
    people = varied["people"]
    for row in varied["hard"]:
        if row["kind"] not in FALSE_KINDS:
            continue
        left, right = _pair(varied, row)
        a, b = people[left[TRUTH_FIELD]], people[right[TRUTH_FIELD]]
        same_name = fold(a.first) == fold(b.first) and fold(a.last) == fold(b.last)
        kind = row["kind"]
        assert a.pid != b.pid
        if kind == "twins":
            assert a.dob == b.dob and a.last == b.last and a.home is b.home
        elif kind == "jr_sr":
            assert a.namesake is b and same_name and a.home is b.home
        elif kind == "parent_child_same_name":
            assert same_name and a.home is b.home and abs(a.dob.year - b.dob.year) >= 15
        elif kind == "same_name_same_dob":
            assert same_name and a.dob == b.dob
        elif kind == "same_name_neighbours":
            assert same_name and a.home is not b.home
            assert a.home.address.zip5 == b.home.address.zip5
        else:
            assert a.home is b.home and fold(a.last) == fold(b.last)


def test_false_kinds_list_every_pair_of_people_once(varied):
    people = varied["people"]
    listed = Counter()
    for row in varied["hard"]:
        if row["kind"] in FALSE_KINDS:
            left, right = _pair(varied, row)
            listed[frozenset((left[TRUTH_FIELD], right[TRUTH_FIELD]))] += 1
    assert max(listed.values()) == 1
    groups = defaultdict(list)
    for p in people.values():
        groups[fold(p.first), fold(p.last), p.dob].append(p.pid)
        groups[fold(p.first), fold(p.last), p.home.address.zip5].append(p.pid)
        groups["household", id(p.home), fold(p.last)].append(p.pid)
        if p.twin:
            groups["twins", id(p.home), p.dob].append(p.pid)
    expected = {frozenset(pair) for pids in groups.values() for pair in combinations(pids, 2)}
    assert expected and expected <= set(listed)


def test_true_pairs_are_one_person_showing_the_variation(varied):
    for row in varied["hard"]:
        if row["kind"] not in TRUE_KINDS:
            continue
        a, b = _pair(varied, row)
        assert a[TRUTH_FIELD] == b[TRUTH_FIELD] and a is not b
        kind = row["kind"]
        if kind == "identifier_typo":
            assert (_near_miss(a["ssn_last4"], b["ssn_last4"])
                    or _near_miss(a["medicaid_id"], b["medicaid_id"]))
        elif kind in ("transliterated", "hyphenated_surname", "married_name_change"):
            assert (a["first_name"].upper(), a["last_name"].upper()) != (
                b["first_name"].upper(), b["last_name"].upper())
        elif kind == "moved":
            assert fold(a["address_line1"]) != fold(b["address_line1"])
        elif kind in ("nickname", "name_order_swap"):
            assert fold(a["first_name"]) != fold(b["first_name"])


def test_moves_often_bring_a_new_phone(varied):
    def digits(phone):
        return re.sub(r"\D", "", phone)[-7:]

    moved = [_pair(varied, row) for row in varied["hard"] if row["kind"] == "moved"]
    with_phones = [(a, b) for a, b in moved if a["phone"] and b["phone"]]
    new_phone = sum(digits(a["phone"]) != digits(b["phone"]) for a, b in with_phones)
    assert len(moved) >= 100 and new_phone / len(with_phones) > .3


def test_transliterations_of_several_traditions(varied):
    names = {fold(rec[f]) for row in varied["hard"] if row["kind"] == "transliterated"
             for rec in _pair(varied, row) for f in ("first_name", "last_name")}
    assert names & {"MOHAMMED", "MUHAMMAD", "MOHAMED", "MOHAMMAD", "YUSUF", "YOUSSEF", "AHMAD",
                    "FATIMAH", "LAILA", "LEILA", "MARYAM"}
    assert names & {"ALEKSANDR", "ALEXANDER", "DMITRY", "SERGEY", "NATALYA", "TATYANA", "ELENA"}
    assert names & {"PAK", "BAK", "CHOE", "YI", "CHAN", "NGUYEN", "TRAN"}


def test_population_counts(varied):
    counts = varied["counts"]
    assert counts["people"] == 2000 == len(varied["people"])
    assert counts["records"] == len(varied["records"])
    sizes = counts["records_per_person"]
    assert sum(sizes.values()) == 2000
    assert sum(k * n for k, n in sizes.items()) == counts["records"]
    assert set(sizes) <= set(range(1, 7))


def test_cli_generate_varied_with_hard_cases(tmp_path):
    out, hard = tmp_path / "r.csv", tmp_path / "h.csv"
    result = CliRunner().invoke(main, ["generate", "--output", str(out), "--people", "150",
                                       "--seed", "4", "--profile", "varied", "--metros",
                                       "Miami, Atlanta", "--hard-cases", str(hard)])
    assert result.exit_code == 0, result.output
    write_population(tmp_path / "same", 150, seed=4, profile="varied", metros=("Miami", "Atlanta"))
    assert out.read_bytes() == (tmp_path / "same" / "records.csv").read_bytes()
    assert hard.read_bytes() == (tmp_path / "same" / "hard_cases.csv").read_bytes()


def test_cli_generate_refuses_a_bad_metro_in_one_line(tmp_path):
    result = CliRunner().invoke(main, ["generate", "--output", str(tmp_path / "r.csv"),
                                       "--profile", "varied", "--metros", "Atlantis"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "unknown: Atlantis" in result.output
    assert not (tmp_path / "r.csv").exists()


@pytest.mark.slow  # two Python subprocesses
def test_varied_output_and_hard_cases_do_not_depend_on_hash_seed(tmp_path):
    """Randomness comes only from the seed, never from set or dict iteration order."""
    import os
    import subprocess
    import sys

    script = ("import sys; from mpi.synth.generator import write_population; "
              "write_population(sys.argv[1], 600, seed=4, profile='varied')")
    outputs = []
    for hash_seed in ("0", "4242"):
        folder = tmp_path / hash_seed
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        subprocess.run([sys.executable, "-c", script, str(folder)], env=env, check=True,
                       cwd=os.path.dirname(os.path.dirname(__file__)))
        outputs.append([(folder / n).read_bytes() for n in ("records.csv", "hard_cases.csv")])
    assert outputs[0] == outputs[1] and outputs[0][1].count(b"\n") > 100
