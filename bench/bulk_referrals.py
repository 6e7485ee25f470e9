"""Large referral stores for ``bench/referrals.py``: a directory of organisations and a million referrals, cached.

A million intakes through the API would take hours, and what the referral
benchmark needs is a store of that size, not a replay of how it filled. This
builder therefore takes the cached person store of ``bench/bulk.py`` (built if
missing), copies it, and writes into the copy:

1. **the directory** (``bench/referral_directory.py``): three hospitals, two health plans
   and eight community organisations with their service types, supervisors and
   business calendars (time zones, opening hours, public holidays), through the
   product's own ``Directory.add``;
2. **open review cases** for the referrals gated on identity at the end: each such
   referral's record is taken from its person (``IdentityWriter.unlink``) and held
   for review with fresh candidates (``MatchService.open_review``) naming the
   referral in its ``blocks``, through the product's services, so the gate waits on
   a real case in the store;
3. **the referrals**, written in bulk: each one's life is simulated in memory
   through the product's own code (``ReferralWriter`` for every row, history row,
   pause, clock column and audit event, ``ReferralSteps`` for every status change,
   correction and redirect, so each step is checked against the lifecycle table),
   over a small stand-in of the store that keeps what they write
   (``bench/referral_life.py``), in two worker processes. The rows are then
   inserted with DuckDB ``INSERT ... SELECT`` from Arrow tables through a
   connection this script opens on the store file itself (``duckdb.connect``: bench
   code may; the product never lets anything but ``mpi/store`` import duckdb),
   before any service opens the file again: staged first, then written in the
   order the service would have written them (referrals by id, history by time,
   alerts and audit events by number), since DuckDB's zone maps prune by that
   order.

The network's clock is set to an *anchor* ``T``: the last weekday 14:00 in
Atlanta before the build (a business day of every calendar), so the store is the
network as it stood then. Referrals arrive over the year before ``T`` (fewer at
weekends and at night) from the organisation owning the record's source system,
for a real stored record and its person, and each follows one path of the
lifecycle with delays drawn in the performer's business hours (acknowledged
within target most of the time; declined, redirected, cancelled, returned for
information and corrected, put on hold for capacity, completed or closed not
served; a few never answered, which expire). A step that would fall after ``T``
has not happened yet, so recent referrals are open, some of them overdue.

The sweep is taken to have run every minute until ``T - gap`` (``--sweep-gap-hours``,
:data:`SWEEP_GAP_HOURS`) and not since, as after an outage: every expiry, reminder
and escalation that fell due before then is in the store (expired referrals with
their history rows and audit events, alerts, some acknowledged, and the sweep's
``alerts.raised`` audit events), and what fell due after is left for the
benchmark's sweep, with the alerts already raised for it to check against.

Simplifications, each a benchmark's and none a product's: a record referred again
is the same stored record (the person's record at that source); gates lifted
before ``T`` are not simulated (only the referrals gated at ``T`` carry a gate,
on a record held for review by unlinking it); successors of redirects are
numbered after every original referral; no referral is reopened.

Stores are cached under ``var/bench/referrals-...-v<BUILD_VERSION>/`` with a
``build.json`` (the anchor, the counts); delete the folder to rebuild.

Run alone: ``.venv/bin/python bench/bulk_referrals.py --people 100000 --referrals 1000000``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import shutil
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bulk  # noqa: E402
from referral_life import ACTOR_SWEEP, OPEN, init_worker, simulate  # noqa: E402
from referral_directory import BY_CODE, ORGANISATIONS, PERFORMERS, SERVICE_MIX, SOURCE_ORG, hub  # noqa: E402

#: Bump when the way referral stores are built changes: cached ones are rebuilt.
BUILD_VERSION = 5
#: Days of referrals before the anchor.
DAYS = 365
#: Hours before the anchor since which the sweep has not run (see the module docstring).
SWEEP_GAP_HOURS = 168
#: Referrals received this many hours before the anchor may still be gated on identity, and this share is.
GATED_WITHIN_HOURS = 72
GATED_SHARE = 0.06
#: Referrals simulated per task sent to a worker process, and rows inserted per DuckDB statement.
CHUNK = 5_000
ACTOR_BUILD = "bench:bulk_referrals"
_ATLANTA = ZoneInfo("America/New_York")


def store_dir(n_people: int, n_referrals: int, seed: int, people_seed: int, gap_hours: float) -> Path:
    """Where the referral store of one size, seed and sweep gap is cached."""
    return bulk.CACHE / (f"referrals-people{n_people}-seed{people_seed}-r{n_referrals}-s{seed}-gap{gap_hours:g}"
                         f"-v{BUILD_VERSION}")


def anchor_before(at: datetime) -> datetime:
    """The last weekday 14:00 in Atlanta at least an hour before ``at`` that is a business day of every calendar."""
    from mpi.directory.calendar import BusinessCalendar

    calendars = [BusinessCalendar.from_spec(o["calendar"]) for o in ORGANISATIONS]
    local = (at - timedelta(hours=1)).astimezone(_ATLANTA)
    day = local.date() if local.hour >= 14 else local.date() - timedelta(days=1)
    while True:
        if day.weekday() < 5 and all(c.is_business_day(day) for c in calendars):
            return datetime(day.year, day.month, day.day, 14, tzinfo=_ATLANTA).astimezone(timezone.utc)
        day -= timedelta(days=1)



# -- the build ------------------------------------------------------------------------------------------


def build(n_people: int, n_referrals: int, seed: int = 11, people_seed: int = 7,
          gap_hours: float = SWEEP_GAP_HOURS, workers: int = 2, echo=print) -> Path:
    """Build (or find cached) the referral store; returns its folder (``store.duckdb``, ``build.json``)."""
    folder = store_dir(n_people, n_referrals, seed, people_seed, gap_hours)
    if (folder / "build.json").exists():
        return folder
    people = bulk.build(n_people, people_seed, workers, echo)
    tmp = folder.with_name(folder.name + ".tmp")
    db = bulk.copy_store(people, tmp)
    started = time.perf_counter()
    anchor = anchor_before(datetime.now(timezone.utc))
    echo(f"building {folder.name}: {n_referrals} referrals over {DAYS} days to {anchor.isoformat()} "
         f"(the sweep last ran {gap_hours:g} h before)")
    _index_as_schema(db)
    records = _records(db, people)
    plans, gated = _plan(records, n_referrals, seed, anchor)
    echo(f"  planned in {time.perf_counter() - started:.0f} s: {len(plans)} referrals received, "
         f"{sum(p[10] is not None for p in plans)} to be redirected, {len(gated)} gated on identity")
    cases = _directory_and_cases(db, gated, anchor, echo)
    plans = [p if p[1] not in cases else (*p[:9], cases[p[1]], *p[10:]) for p in plans]
    counts = _write(db, plans, anchor, gap_hours, workers, echo)
    info = {"people_generated": n_people, "people_seed": people_seed, "referrals": n_referrals, "seed": seed,
            "build_version": BUILD_VERSION, "anchor": anchor.isoformat(), "sweep_gap_hours": gap_hours,
            "sweep_last_ran": (anchor - timedelta(hours=gap_hours)).isoformat(), "gated": len(gated),
            **counts, "people_store": people.name, "total_seconds": round(time.perf_counter() - started, 1)}
    (tmp / "build.json").write_text(json.dumps(info, indent=1) + "\n")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    echo(f"  built in {info['total_seconds']} s: {json.dumps(info)}")
    return folder


def _index_as_schema(db: Path) -> None:
    """The copy's indexes of schema 5 as the code declares them today.

    Schema 5 changed in place while unreleased, so a person store cached before a change
    of its indexes (a composite index made one column, say) keeps the old ones: each
    index that differs is made again, so the store is measured with the product's.
    """
    import re

    import duckdb

    from mpi.store.schema import MIGRATIONS

    declared = {m.group(1): m.group(0) for version, statements in MIGRATIONS if version == 5 for sql in statements
                if (m := re.match(r"CREATE INDEX (\w+) ON .*", sql))}
    con = duckdb.connect(str(db))
    try:
        stored = dict(con.execute("SELECT index_name, sql FROM duckdb_indexes()").fetchall())
        for name, sql in declared.items():
            if " ".join(stored.get(name, "").replace("(", " (").split()).rstrip(";") != " ".join(sql.split()):
                con.execute(f"DROP INDEX IF EXISTS {name}")
                con.execute(sql)
        con.execute("CHECKPOINT")
    finally:
        con.close()


def _records(db: Path, people: Path) -> list[tuple]:
    """Every linked record of the person store: (source system, record id, person id, records of that person)."""
    import duckdb

    from mpi.store.columns import REFERRALS

    con = duckdb.connect(str(db), read_only=True)
    try:
        # Schema 5 (referrals) changed in place while unreleased: a person store cached before a change has
        # version 5 and never migrates to what the code now writes.
        columns = {r[0] for r in con.execute("SELECT column_name FROM duckdb_columns() WHERE table_name = 'referrals'")
                   .fetchall()}
        if set(REFERRALS) - columns:
            sys.exit(f"the cached person store {people} predates today's referrals table (it has no "
                     f"{', '.join(sorted(set(REFERRALS) - columns))}): delete it and run again")
        return con.execute("SELECT source_system, source_record_id, person_id, count(*) OVER (PARTITION BY person_id) "
                           "FROM links ORDER BY source_system, source_record_id").fetchall()
    finally:
        con.close()


def _plan(records: list[tuple], n_referrals: int, seed: int, anchor: datetime) -> tuple[list[tuple], list[tuple]]:
    """Who refers whom, to whom, for what and when; which are gated, and which redirected (numbered last).

    Returns the plans (see :meth:`Simulator.run`) in referral order, and the gated ones as
    (referral id, urgency, received, record key, requester).
    """
    rng = random.Random(seed)
    records = [r for r in records if r[0] in SOURCE_ORG]
    # Records held for review for the gated referrals: each person keeps another record, and no other
    # referral names them.
    window = timedelta(hours=GATED_WITHIN_HOURS)
    expected_gated = int(n_referrals * GATED_SHARE * GATED_WITHIN_HOURS / (24 * DAYS) * 3) + 20
    spare = list({r[2]: r for r in records if r[3] >= 2}.values())  # one record of each such person
    reserved = rng.sample(spare, min(len(spare), expected_gated))
    taken = {(r[0], r[1]) for r in reserved}
    pool = [r for r in records if (r[0], r[1]) not in taken]
    # Arrivals: fewer at weekends, most in the working day.
    start = anchor.astimezone(_ATLANTA).date()
    weights = [0.35 if (start - timedelta(days=k)).weekday() == 6 else 0.45
               if (start - timedelta(days=k)).weekday() == 5 else 1.0 for k in range(DAYS)]
    redirect_share = 0.025
    n_redirect = int(n_referrals * redirect_share * 0.4 / (1 + redirect_share * 0.4))
    n_original = n_referrals - n_redirect
    days = rng.choices(range(DAYS), weights, k=n_original)
    received = []
    for k in days:
        d = start - timedelta(days=k)
        seconds = rng.uniform(8 * 3600, 18 * 3600) if rng.random() < 0.75 else rng.uniform(0, 86400)
        at = (datetime(d.year, d.month, d.day, tzinfo=_ATLANTA) + timedelta(seconds=seconds)).astimezone(timezone.utc)
        received.append(at if at <= anchor else at - timedelta(days=7))
    received.sort()
    services, service_weights = list(SERVICE_MIX), list(SERVICE_MIX.values())
    plans, gated = [], []
    reserve = iter(reserved)
    for i, at in enumerate(received):
        number = i + 1
        referral_id = f"RF{number:08d}"
        is_gated = at >= anchor - window and rng.random() < GATED_SHARE
        record = next(reserve, None) if is_gated else None
        if record is None:
            is_gated = False
            record = rng.choice(pool)
        requester = SOURCE_ORG[record[0]]
        service = rng.choices(services, service_weights)[0]
        performers = [p for p in PERFORMERS[service] if p != requester]
        performer = rng.choice(performers)
        if BY_CODE[requester]["kind"] == "hospital":
            urgency = rng.choices(("discharge", "urgent", "routine"), (0.30, 0.20, 0.50))[0]
        else:
            urgency = rng.choices(("urgent", "routine"), (0.15, 0.85))[0]
        plans.append([number, referral_id, at, requester, performer, service, urgency, (record[0], record[1]),
                      record[2], None, None, rng.randrange(2**31)])
        if is_gated:
            gated.append((referral_id, urgency, at, (record[0], record[1]), requester))
    # Redirects: old enough that the redirect has happened, to a service more than one organisation performs.
    def others(plan):
        return [o for o in PERFORMERS[plan[5]] if o not in (plan[4], plan[3])]

    eligible = [p for p in plans if p[2] <= anchor - timedelta(days=45) and others(p)]
    for k, plan in enumerate(sorted(rng.sample(eligible, n_redirect), key=lambda p: p[0])):
        number = n_original + k + 1
        plan[10] = (f"RF{number:08d}", number, rng.choice(others(plan)))
    return [tuple(p) for p in plans], gated


def _directory_and_cases(db: Path, gated: list[tuple], anchor: datetime, echo) -> dict[str, str]:
    """The organisations, and an open review case for each gated referral's record; returns case ids by referral."""
    from mpi.clock import FixedClock
    from mpi.directory.organisations import FIELDS
    from mpi.referrals.gate import block
    from mpi.services import Services
    from mpi.vocab import AuditAction, LinkSource

    clock = FixedClock(anchor - timedelta(days=DAYS + 2))
    services = Services({"MPI_DB": str(db)}, clock=clock)
    try:
        for org in ORGANISATIONS:
            services.directory.add({k: org[k] for k in FIELDS}, ACTOR_BUILD)
        t0 = time.perf_counter()
        services.matching.index()
        echo(f"  candidate index built in {time.perf_counter() - t0:.0f} s; opening {len(gated)} review cases")
        cases = {}
        for referral_id, urgency, received, key, requester in sorted(gated, key=lambda g: g[2]):
            clock.set(received)
            actor = f"user:{hub(requester)}"
            with services.store.transaction():
                services.writer.unlink(key, LinkSource.AUTO, actor, AuditAction.LINK_REMOVED,
                                       "re-matched into review")
                cases[referral_id] = services.matching.open_review(
                    *key, actor, "score in review band",
                    blocks=[block({"referral_id": referral_id, "urgency": urgency})])
        return cases
    finally:
        services.close()


_STAGED_AUDIT = ("occurred_at", "actor", "action", "entity_type", "entity_id", "reason", "detail")
_STAGED_ALERTS = ("referral_id", "kind", "clock", "organisation", "recipients", "due_at", "raised_at",
                  "acknowledged_at", "acknowledged_by")


def _write(db: Path, plans: list[tuple], anchor: datetime, gap_hours: float, workers: int, echo) -> dict:
    """Simulate the referrals in worker processes and insert what they wrote, in bulk, through DuckDB."""
    import duckdb

    from mpi.store.columns import AUDIT_LOG, REFERRAL_EVENTS, REFERRALS

    con = duckdb.connect(str(db))
    con.execute("SET TimeZone = 'UTC'")
    # Everything is staged first and inserted at the end in the order the service would have written it
    # (referrals by id, history by time, alerts and audit events by number), so the tables lie
    # on disk as a year of single writes leaves them: DuckDB's zone maps prune by that order.
    for table in ("referrals", "referral_events"):
        con.execute(f"CREATE TABLE bench_{table} AS SELECT * FROM {table} LIMIT 0")
    con.execute("CREATE TABLE bench_audit (n BIGINT, occurred_at TIMESTAMPTZ, actor VARCHAR, action VARCHAR, "
                "entity_type VARCHAR, entity_id VARCHAR, reason VARCHAR, detail VARCHAR)")
    con.execute("CREATE TABLE bench_alerts (n BIGINT, referral_id VARCHAR, kind VARCHAR, clock VARCHAR, "
                "organisation VARCHAR, recipients VARCHAR, due_at TIMESTAMPTZ, raised_at TIMESTAMPTZ, "
                "acknowledged_at TIMESTAMPTZ, acknowledged_by VARCHAR)")
    chunks = [plans[i:i + CHUNK] for i in range(0, len(plans), CHUNK)]
    started = time.perf_counter()
    staged = 0
    context = multiprocessing.get_context("fork")
    with context.Pool(workers, initializer=init_worker, initargs=(anchor, gap_hours)) as pool:
        for done, tables in enumerate(pool.imap(simulate, chunks), start=1):
            con.execute("BEGIN TRANSACTION")
            for name, table in tables.items():
                con.register("staged", table)
                if name == "referrals":
                    con.execute(f"INSERT INTO bench_referrals ({', '.join(REFERRALS)}) SELECT * FROM staged")
                elif name == "events":
                    con.execute(f"INSERT INTO bench_referral_events ({', '.join(REFERRAL_EVENTS)}) "
                                "SELECT * FROM staged")
                else:  # numbered in time order once all are in
                    columns = _STAGED_AUDIT if name == "audit" else _STAGED_ALERTS
                    con.execute(f"INSERT INTO bench_{name} SELECT ? + row_number() OVER () AS n, "
                                f"{', '.join(columns)} FROM staged", [staged])
                    staged += table.num_rows
                con.unregister("staged")
            con.execute("COMMIT")
            if done % 20 == 0 or done == len(chunks):
                echo(f"  {min(done * CHUNK, len(plans))} of {len(plans)} referrals simulated and staged "
                     f"({time.perf_counter() - started:.0f} s)")
    t0 = time.perf_counter()
    con.execute("BEGIN TRANSACTION")
    con.execute(f"INSERT INTO referrals ({', '.join(REFERRALS)}) SELECT {', '.join(REFERRALS)} "
                "FROM bench_referrals ORDER BY referral_id")
    con.execute(f"INSERT INTO referral_events ({', '.join(REFERRAL_EVENTS)}) SELECT {', '.join(REFERRAL_EVENTS)} "
                "FROM bench_referral_events ORDER BY recorded_time, referral_id, seq")
    # Alerts numbered as the sweep numbers them: by run, then referral, clock and kind.
    first_alert = con.execute("SELECT coalesce(max(CAST(substr(alert_id, 3) AS BIGINT)), 0) FROM alerts").fetchone()[0]
    con.execute("INSERT INTO alerts SELECT 'AL' || lpad(CAST(? + row_number() OVER (ORDER BY raised_at, referral_id, "
                "clock, kind) AS VARCHAR), 8, '0'), referral_id, kind, clock, organisation, recipients, due_at, "
                "raised_at, acknowledged_at, acknowledged_by FROM bench_alerts ORDER BY raised_at, referral_id, "
                "clock, kind", [first_alert])
    # The sweep's audit event per run that raised alerts, and one per acknowledgement.
    con.execute("INSERT INTO bench_audit SELECT NULL, raised_at, ?, 'alerts.raised', 'alert', "
                "min(alert_id) || '..' || max(alert_id), NULL, json_object('reminders', count_if(kind = 'reminder'), "
                "'escalations', count_if(kind = 'escalation'), 'at', strftime(raised_at, '%Y-%m-%dT%H:%M:%S') "
                "|| '+00:00')::VARCHAR FROM alerts GROUP BY raised_at", [ACTOR_SWEEP])
    con.execute("INSERT INTO bench_audit SELECT NULL, acknowledged_at, acknowledged_by, 'alert.acknowledged', "
                "'alert', alert_id, NULL, json_object('referral_id', referral_id, 'kind', kind, 'clock', clock)"
                "::VARCHAR FROM alerts WHERE acknowledged_at IS NOT NULL")
    first_event = con.execute("SELECT coalesce(max(event_id), 0) FROM audit_log").fetchone()[0]
    con.execute(f"INSERT INTO audit_log ({', '.join(AUDIT_LOG)}) SELECT ? + row_number() OVER (ORDER BY occurred_at, "
                "n NULLS LAST, entity_id), occurred_at, actor, action, entity_type, entity_id, reason, detail "
                "FROM bench_audit ORDER BY occurred_at, n NULLS LAST, entity_id", [first_event])
    for table in ("bench_audit", "bench_alerts", "bench_referrals", "bench_referral_events"):
        con.execute(f"DROP TABLE {table}")
    con.execute("COMMIT")
    con.execute("CHECKPOINT")
    echo(f"  written in order, alerts and audit events numbered, in {time.perf_counter() - t0:.0f} s")
    counts = {
        "referrals_by_state": dict(con.execute("SELECT state, count(*) FROM referrals GROUP BY state "
                                               "ORDER BY count(*) DESC").fetchall()),
        "referrals_stored": con.execute("SELECT count(*) FROM referrals").fetchone()[0],
        "referral_events": con.execute("SELECT count(*) FROM referral_events").fetchone()[0],
        "alerts": con.execute("SELECT count(*) FROM alerts").fetchone()[0],
        "audit_events": con.execute("SELECT count(*) FROM audit_log").fetchone()[0],
        "open": con.execute("SELECT count(*) FROM referrals WHERE list_contains(?, state)",
                            [sorted(OPEN)]).fetchone()[0],
        "open_overdue": con.execute("SELECT count(*) FROM referrals WHERE list_contains(?, state) "
                                    "AND next_due_at < ?", [sorted(OPEN), anchor]).fetchone()[0],
        "submitted_past_expiry": con.execute("SELECT count(*) FROM referrals WHERE state = 'submitted' "
                                             "AND expiry_due_at <= ?", [anchor]).fetchone()[0],
        "simulate_and_write_seconds": round(time.perf_counter() - started, 1),
    }
    con.close()
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--referrals", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=11, help="seed of the referrals")
    parser.add_argument("--people-seed", type=int, default=7, help="seed of the person store (bench/bulk.py)")
    parser.add_argument("--sweep-gap-hours", type=float, default=SWEEP_GAP_HOURS,
                        help="hours before the anchor since which the sweep has not run")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(build(args.people, args.referrals, args.seed, args.people_seed, args.sweep_gap_hours, args.workers))


if __name__ == "__main__":
    main()
