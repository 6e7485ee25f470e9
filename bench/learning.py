"""Learning from stewards, measured: does `mpi train --from-decisions` raise recall on people it never saw?

1. Generate a population (``mpi.synth.generator``, seeded) and split it by
   person into two halves: every record of a person is in one half. The second
   half is then people no steward decided anything about, so what it measures is
   what the model learned, not what the stewards already settled.
2. Load half 1 (``mpi load``) into a store with the shipped model.
3. Resolve every open review case as a steward who knows the truth would,
   through the review API (HTTP to the app behind waitress on loopback, as a
   steward user): link to the candidate that holds the true person, a new person
   when no candidate does; then merge the persons each of those humans is spread
   over (``POST /v1/persons/merge``), as a steward who searched would.
4. Copy the store: the copy is the run without learning.
5. In the original, ``mpi train --from-decisions`` (its output printed).
6. Load half 2 into both (``mpi load``), export both (``mpi export``), and score
   half 2: auto-link precision and recall over the pairs with at least one
   record of half 2 (links into half 1's persons count: a false one is a false
   link), and the share of half 2's records held for review.

Run: ``.venv/bin/python bench/learning.py [--people 5000] [--seed 11] [--profile varied]``.
"""

from __future__ import annotations

import argparse
import csv
import inspect
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from contextlib import contextmanager
from itertools import combinations
from pathlib import Path

import httpx
import waitress

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from mpi.auth import add_user  # noqa: E402
from mpi.records.fields import TRUTH_FIELD  # noqa: E402
from mpi.services import DEFAULT_MODEL_VERSION, Services  # noqa: E402
from mpi.synth import generator  # noqa: E402

STEWARD = "bench-steward"


def mpi(folder: Path, *args: str) -> str:
    """Run ``mpi`` on the store in ``folder`` with this checkout's code; its output, or exit with its error."""
    cmd = [str(Path(sys.executable).parent / "mpi"), "--db", str(folder / "mpi.duckdb"), "--models-dir",
           str(folder / "models"), *args]
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if done.returncode != 0:
        sys.exit(f"mpi {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return done.stdout.strip()


def generate(path: Path, people: int, seed: int, profile: str | None) -> None:
    if profile is None:
        generator.write_csv(path, people, seed)
    elif "profile" in inspect.signature(generator.write_csv).parameters:
        generator.write_csv(path, people, seed, profile=profile)
    else:
        sys.exit(f"--profile {profile}: this generator has no profiles yet")


def split_by_person(path: Path, first: Path, second: Path, seed: int) -> dict[tuple[str, str], str]:
    """Write the records of a random half of the people to ``first``, the rest to ``second``; returns the truth."""
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    persons = sorted({r[TRUTH_FIELD] for r in rows})
    random.Random(seed).shuffle(persons)
    half = set(persons[: len(persons) // 2])
    for target, keep in ((first, True), (second, False)):
        with target.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(r for r in rows if (r[TRUTH_FIELD] in half) == keep)
    return {(r["source_system"], r["source_record_id"]): r[TRUTH_FIELD] for r in rows}


@contextmanager
def review_api(folder: Path):
    """The app over the store in ``folder`` behind waitress on loopback; yields an HTTP client signed as a steward."""
    from api import create_app

    services = Services({"MPI_DB": str(folder / "mpi.duckdb"), "MPI_MODELS_DIR": str(folder / "models")})
    token = add_user(services.store, STEWARD, "steward")
    server = waitress.create_server(create_app(services=services), host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.effective_port}", timeout=120,
                          headers={"Authorization": f"Bearer {token}"}) as client:
            yield client, services
    finally:
        server.close()
        server.task_dispatcher.shutdown()
        thread.join(timeout=10)
        services.close()


def resolve_from_truth(client: httpx.Client, services: Services, truth: dict[tuple[str, str], str]) -> Counter:
    """Resolve every open case through the review API as a steward who knows the truth would; then merge the
    persons each of those humans is spread over (a steward who searched finds them; the index is read in process
    for that search, the merges go through the API)."""
    done: Counter = Counter()
    humans = set()
    while True:
        queue = client.get("/v1/review-cases", params={"limit": 1000}).raise_for_status().json()["cases"]
        if not queue:
            break
        for item in queue:
            case = client.get(f"/v1/review-cases/{item['case_id']}").raise_for_status().json()
            if case["kind"] != "POSSIBLE_MATCH":
                client.post(f"/v1/review-cases/{case['case_id']}/withdraw",
                            json={"reason": "not in this benchmark", "version": case["version"]}).raise_for_status()
                done["withdrawn"] += 1
                continue
            human = truth[(case["source_system"], case["source_record_id"])]
            humans.add(human)
            chosen = next((c["person_id"] for c in case["candidates"] if c.get("person") and any(
                truth.get((r["source_system"], r["source_record_id"])) == human for r in c["person"]["records"])),
                None)
            body = {"reason": "checked against the source", "version": case["version"]}
            if chosen is not None:
                client.post(f"/v1/review-cases/{case['case_id']}/link",
                            json={**body, "person_id": chosen}).raise_for_status()
                done["linked"] += 1
            else:
                client.post(f"/v1/review-cases/{case['case_id']}/new-person", json=body).raise_for_status()
                done["new_person"] += 1
    index = services.matching.index()
    persons = defaultdict(set)
    for key, entry in index.entries.items():
        if entry.person_id and truth.get(key) in humans:
            persons[truth[key]].add(entry.person_id)
    for human in sorted(persons):
        # A person holding two humans' records (a false link) may have been merged away for the first of them.
        live = {services.store.persons.live_id(p) for p in persons[human]}
        index = services.matching.index()
        survivor, *losers = sorted(live, key=lambda p: (-len(index.persons.get(p, ())), p))
        for loser in losers:
            client.post("/v1/persons/merge", json={"survivor_id": survivor, "loser_id": loser,
                                                   "reason": "one human, found by search"}).raise_for_status()
            done["merged"] += 1
    return done


def set_target(folder: Path, target: float) -> None:
    """Activate the shipped model under a policy with another ``target_precision`` (weights and thresholds kept)."""
    from mpi.matching.model import derive_version

    services = Services({"MPI_DB": str(folder / "mpi.duckdb"), "MPI_MODELS_DIR": str(folder / "models")})
    try:
        version = f"{DEFAULT_MODEL_VERSION}-target{target}"
        document = derive_version(services.registry.document(DEFAULT_MODEL_VERSION), version,
                                  {"target_precision": target}, {"why": "bench/learning.py --target-precision"})
        services.registry.save(document)
        services.models.activate(version, "bench")
    finally:
        services.close()
    print(f"policy: target_precision {target}")


def score_second_half(export: Path, truth: dict[tuple[str, str], str], second: set[tuple[str, str]]) -> dict:
    """Auto-link precision and recall over pairs with a record of the second half; its review share."""
    with export.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    by_person, by_truth, held = defaultdict(list), defaultdict(list), 0
    for r in rows:
        key = (r["source_system"], r["source_record_id"])
        if r["person_id"]:
            by_person[r["person_id"]].append(key)
        if key in second:
            by_truth[truth[key]].append(key)
            held += r["decision"] == "POSSIBLE_MATCH"
    predicted = {p for keys in by_person.values() for p in combinations(sorted(keys), 2) if set(p) & second}
    true = {p for keys in by_truth.values() for p in combinations(sorted(keys), 2)}
    hits = len(predicted & true)
    return {"precision": hits / len(predicted) if predicted else 1.0, "recall": hits / len(true) if true else 1.0,
            "false": len(predicted) - hits, "linked": len(predicted), "true": len(true),
            "review_share": held / len(second)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=11, help="generator seed (the split uses it too)")
    parser.add_argument("--profile", default=None, help="generator profile, e.g. varied (when the generator has it)")
    parser.add_argument("--keep", type=Path, default=None, help="keep the stores and exports in this folder")
    parser.add_argument("--target-precision", type=float, default=None,
                        help="the policy's target_precision to learn for (default: the shipped model's, 0.999)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        tmp = args.keep or Path(scratch)
        shutil.rmtree(tmp / "learned", ignore_errors=True)
        shutil.rmtree(tmp / "unlearned", ignore_errors=True)
        tmp.mkdir(parents=True, exist_ok=True)
        population, first, second = tmp / "population.csv", tmp / "half1.csv", tmp / "half2.csv"
        generate(population, args.people, args.seed, args.profile)
        truth = split_by_person(population, first, second, args.seed)
        with second.open(newline="", encoding="utf-8") as f:
            second_keys = {(r["source_system"], r["source_record_id"]) for r in csv.DictReader(f)}
        print(f"population: {args.people} people, {len(truth)} records (seed {args.seed}, profile "
              f"{args.profile or 'standard'}); half 2: {len(second_keys)} records of people never decided on")

        learned, unlearned = tmp / "learned", tmp / "unlearned"
        (learned / "models").mkdir(parents=True)
        shutil.copy(ROOT / "matching_models" / f"{DEFAULT_MODEL_VERSION}.json", learned / "models")
        mpi(learned, "model", "activate", DEFAULT_MODEL_VERSION)
        t0 = time.perf_counter()
        print(f"half 1: {mpi(learned, 'load', '--input', str(first)).splitlines()[-1]}")
        with review_api(learned) as (client, services):
            resolved = resolve_from_truth(client, services, truth)
        print(f"steward (review API, from the truth): {dict(resolved)} in {time.perf_counter() - t0:.0f} s")
        shutil.copytree(learned, unlearned)

        if args.target_precision is not None:
            set_target(learned, args.target_precision)
        t0 = time.perf_counter()
        print("\nmpi train --from-decisions:")
        print("  " + mpi(learned, "train", "--from-decisions", "--version", "bench-learned").replace("\n", "\n  "))
        print(f"  ({time.perf_counter() - t0:.0f} s)")
        scores = {}
        for name, folder in (("without learning", unlearned), ("with learning", learned)):
            mpi(folder, "load", "--input", str(second))
            mpi(folder, "export", "--output", str(folder / "export.csv"))
            scores[name] = score_second_half(folder / "export.csv", truth, second_keys)
        active = mpi(learned, "model", "list")

    print(f"\nhalf 2 ({len(second_keys)} records), pairs with a record of half 2:")
    print(f"{'':18s} {'precision':>10s} {'recall':>8s} {'false':>6s} {'linked':>7s} {'review share':>13s}")
    for name, s in scores.items():
        print(f"{name:18s} {s['precision']:10.4f} {s['recall']:8.4f} {s['false']:6d} {s['linked']:7d} "
              f"{s['review_share']:13.1%}")
    print("\nmodels (the active one starred):\n" + active)


if __name__ == "__main__":
    main()
