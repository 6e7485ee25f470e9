"""The checks of ``bench/load.py`` after its kill and restart: nothing acknowledged lost, nothing half-written.

Each returns the problems it found (an empty list when all is well) and, where there
are figures, those too; ``bench/load.py`` fails the run on any problem.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def mpi(db: Path, *args: str) -> list[str]:
    """The ``mpi`` command of this checkout, run by this Python."""
    return [sys.executable, "-c", "from mpi.cli import main; main()", "--db", str(db), *args]


# -- the checks ----------------------------------------------------------------------------------------


def check_acknowledged(base: str, token: str, work) -> list[str]:
    """Every acknowledged record and referral read back from the restarted server (as the admin)."""
    problems = []
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, timeout=60, headers=headers) as http:
        for (system, record_id), _ in sorted(work.ledger["records"].items()):
            r = http.get(f"/v1/records/{system}/{record_id}")
            body = r.json()
            if r.status_code != 200 or not ((body.get("link") or {}).get("person_id") or body.get("review_case_id")):
                problems.append(f"acknowledged record {system}/{record_id}: {r.status_code}, no person nor case")
        for referral_id, states in sorted(work.ledger["referrals"].items()):
            r = http.get(f"/v1/referrals/{referral_id}")
            if r.status_code != 200:
                problems.append(f"acknowledged referral {referral_id}: {r.status_code}")
                continue
            recorded = [h["to_state"] for h in r.json()["history"] if h["kind"] == "status"]
            if recorded[: len(states)] != states:
                problems.append(f"referral {referral_id}: acknowledged {states}, stored {recorded}")
    return problems


def check_persons(db: Path, work, folder: Path) -> tuple[dict, list[str]]:
    """From ``mpi export``: persons per human; the copies of each human's record on one person."""
    out = folder / "export.csv"
    subprocess.run(mpi(db, "export", "--output", str(out)), check=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
                   stdout=subprocess.DEVNULL)
    with open(out, newline="", encoding="utf-8") as f:
        person_of = {(r["source_system"], r["source_record_id"]): r["person_id"] for r in csv.DictReader(f)}
    problems = []
    persons_per_human: dict[int, int] = defaultdict(int)
    for truth, keys in work.ledger["copies"].items():
        persons = {person_of.get(k) for k in keys} - {None, ""}
        persons_per_human[len(persons)] += 1
        if len(persons) > 1:
            problems.append(f"human {truth}: its copies on {len(persons)} persons")
    split = defaultdict(set)
    for key, truth in work.ledger["records"].items():
        if person_of.get(key):
            split[truth].add(person_of[key])
    figures = {"copies_persons_per_human": dict(sorted(persons_per_human.items())),
               "records_persons_per_human": dict(sorted(_histogram(len(p) for p in split.values()).items()))}
    return figures, problems


def _histogram(values) -> dict[int, int]:
    out: dict[int, int] = defaultdict(int)
    for v in values:
        out[v] += 1
    return out


#: Half-written states, each a query that must count nothing.
HALF_WRITTEN = {
    "live persons without records": """SELECT count(*) FROM persons p WHERE p.status = 'ACTIVE'
        AND NOT EXISTS (SELECT 1 FROM links l WHERE l.person_id = p.person_id)""",
    "links to a missing person": """SELECT count(*) FROM links l
        WHERE NOT EXISTS (SELECT 1 FROM persons p WHERE p.person_id = l.person_id)""",
    "links to a missing record": """SELECT count(*) FROM links l WHERE NOT EXISTS (SELECT 1 FROM source_records r
        WHERE r.source_system = l.source_system AND r.source_record_id = l.source_record_id)""",
    "records neither linked nor held": """SELECT count(*) FROM source_records r
        WHERE NOT EXISTS (SELECT 1 FROM links l WHERE l.source_system = r.source_system
                          AND l.source_record_id = r.source_record_id)
          AND NOT EXISTS (SELECT 1 FROM review_cases c WHERE c.source_system = r.source_system
                          AND c.source_record_id = r.source_record_id
                          AND c.state IN ('open', 'in_review', 'on_hold'))""",
    "referrals without their intake event": """SELECT count(*) FROM referrals f WHERE NOT EXISTS
        (SELECT 1 FROM referral_events e WHERE e.referral_id = f.referral_id AND e.kind = 'intake')""",
    "referrals whose record is missing": """SELECT count(*) FROM referrals f WHERE NOT EXISTS (SELECT 1
        FROM source_records r WHERE r.source_system = f.source_system AND r.source_record_id = f.source_record_id)""",
    "referrals of a missing person": """SELECT count(*) FROM referrals f WHERE f.person_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM persons p WHERE p.person_id = f.person_id)""",
    "referral events of a missing referral": """SELECT count(*) FROM referral_events e
        WHERE NOT EXISTS (SELECT 1 FROM referrals f WHERE f.referral_id = e.referral_id)""",
}


def check_half_written(db: Path) -> tuple[dict, list[str]]:
    """Each :data:`HALF_WRITTEN` query on the store (the server stopped), and the store's counts."""
    from mpi.services import Services

    services = Services({"MPI_DB": str(db)})
    try:
        found = {name: services.store.db.one(sql)[0] for name, sql in HALF_WRITTEN.items()}
        counts = services.store.counts()
        counts["referrals"] = services.store.db.one("SELECT count(*) FROM referrals")[0]
    finally:
        services.close()
    return counts, [f"{name}: {n}" for name, n in found.items() if n]


