"""How long the loop measures take over a million referrals: ``GET /v1/metrics/referrals`` and ``GET /metrics``.

Builds (once, cached under ``bench/out/``) a store of ``--referrals`` synthetic
referrals received over the year before the bench's fixed "now", with a status
history each (three to five rows: intake, then the steps to its state), in a few
set-based ``INSERT ... SELECT`` statements over ``range()``: the measures read
only stored columns, so the rows need not come through intake (which would take
hours at this size). Shares of states, gates, met clocks and overdue referrals
are spread by a hash of the row number, so every measure has work to do.

Then times, through the real app (Flask test client, a steward's token): the
measures over all referrals (the whole year), over the default 30 days, the
whole year with a weekly series, and as CSV; and a Prometheus scrape. Prints
the median and slowest of ``--runs`` runs after a warm-up, and the median CPU
time (the figure to read when other work shares the machine).

Run: ``.venv/bin/python bench/referral_metrics.py`` (``--help`` for sizes). Target: <= 500 ms over 1M.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api import create_app  # noqa: E402
from mpi.auth import add_user  # noqa: E402
from mpi.clock import FixedClock  # noqa: E402
from mpi.services import Services  # noqa: E402
from mpi.store.columns import REFERRAL_EVENTS, REFERRALS, select  # noqa: E402

#: The bench's "now": a Monday afternoon (UTC); referrals arrive over the 365 days before it.
NOW = datetime(2026, 11, 30, 18, 0, tzinfo=timezone.utc)
WEEKDAYS = {"timezone": "America/New_York", "hours": {d: "09:00-17:00" for d in ("mon", "tue", "wed", "thu", "fri")},
            "holidays": {"country": "US", "subdivision": "GA"}}
ORGANISATIONS = (
    {"code": "st-marys", "name": "St Mary's Hospital", "kind": "hospital", "service_types": [], "calendar": WEEKDAYS},
    {"code": "bluepath", "name": "BluePath Health Plan", "kind": "mco", "service_types": ["care-management"],
     "calendar": WEEKDAYS},
    {"code": "foodbank", "name": "Metro Food Bank", "kind": "cbo", "service_types": ["food", "home-meals"],
     "calendar": WEEKDAYS},
    {"code": "homebase", "name": "HomeBase Housing", "kind": "cbo", "service_types": ["housing", "food"],
     "calendar": WEEKDAYS},
)

# The state each row ends in, by a hash of its number (per mille), and the steps it took to get there.
PATHS = (
    (300, "completed", ["acknowledged", "accepted", "in_progress", "completed"]),
    (420, "in_progress", ["acknowledged", "accepted", "in_progress"]),
    (520, "accepted", ["acknowledged", "in_triage", "accepted"]),
    (620, "declined", ["acknowledged", "declined"]),
    (660, "redirected", ["acknowledged", "redirected"]),
    (720, "closed_not_served", ["acknowledged", "accepted", "closed_not_served"]),
    (780, "cancelled", ["cancelled"]),
    (820, "expired", ["expired"]),
    (880, "acknowledged", ["acknowledged"]),
    (920, "in_triage", ["acknowledged", "in_triage"]),
    (950, "on_hold", ["acknowledged", "on_hold"]),
    (1000, "submitted", []),
)
REASONS = {"declined": "no-capacity", "redirected": "redirected", "closed_not_served": "unable-to-contact",
           "cancelled": "need-resolved", "expired": "expired-no-response", "on_hold": "no-capacity"}


def _case(expression: str, pairs: list[tuple[int, str]]) -> str:
    whens = " ".join(f"WHEN {expression} < {bound} THEN {value}" for bound, value in pairs)
    return f"CASE {whens} END"


def referrals_sql(n: int) -> str:
    """One INSERT ... SELECT of ``n`` referrals (values spread by hashes of the row number, all constants)."""
    h = "(hash(i) % 1000)"
    state = _case(h, [(bound, f"'{s}'") for bound, s, _ in PATHS])
    reason = _case(h, [(bound, f"'{REASONS[s]}'" if s in REASONS else "NULL") for bound, s, _ in PATHS])
    met = lambda steps_from: _case(h, [(bound, "TRUE" if len(steps) >= steps_from else "FALSE")  # noqa: E731
                                       for bound, _, steps in PATHS])
    contact = _case(h, [(bound, "TRUE" if "in_progress" in steps else "FALSE") for bound, _, steps in PATHS])
    open_state = _case(h, [(bound, "TRUE" if s in ("accepted", "in_progress", "acknowledged", "in_triage",
                                                    "on_hold", "submitted") else "FALSE") for bound, s, _ in PATHS])
    values = {
        "referral_id": "'RF' || lpad(CAST(i + 1 AS VARCHAR), 8, '0')",
        "reference": "'REF-2026-' || lpad(CAST(i + 1 AS VARCHAR), 7, '0')",
        "requester": "CASE i % 2 WHEN 0 THEN 'st-marys' ELSE 'bluepath' END",
        "requester_referral_id": "'B-' || CAST(i AS VARCHAR)",
        "performer": "CASE i % 3 WHEN 0 THEN 'foodbank' WHEN 1 THEN 'homebase' ELSE 'bluepath' END",
        "service_type": "CASE i % 3 WHEN 0 THEN 'food' WHEN 1 THEN 'housing' ELSE 'care-management' END",
        "urgency": "CASE (hash(i + 7) % 10) WHEN 0 THEN 'discharge' WHEN 1 THEN 'urgent' WHEN 2 THEN 'urgent' "
                   "ELSE 'routine' END",
        "reason": "'bench'", "requester_contact": "NULL", "consent": "'granted'", "risk_flags": "'[]'",
        "service_address": "NULL", "source_system": "'bench-ehr'", "source_record_id": "'B-' || CAST(i AS VARCHAR)",
        "person_id": "'MPI' || lpad(CAST(i AS VARCHAR), 8, '0')",
        "state": state, "state_reason": reason, "state_party": "CASE WHEN " + reason + " IS NULL THEN NULL "
                                                              "ELSE 'provider' END",
        "resume_state": "NULL",
        "gate": f"CASE WHEN {open_state} AND hash(i + 3) % 50 = 0 THEN 'identity_pending' END",
        "review_case_id": "NULL",
        "gated_since": f"CASE WHEN {open_state} AND hash(i + 3) % 50 = 0 THEN now_ - INTERVAL 5 HOUR END",
        "gated_seconds": "CASE WHEN hash(i + 3) % 25 = 1 THEN 3600.0 * (hash(i + 5) % 40) ELSE 0 END",
        "predecessor_id": "NULL", "received_at": "received", "recorded_at": "received", "updated_at": "received",
        "closed_at": "NULL", "business_day_s": "28800.0",
        "ack_target_s": "28800.0", "ack_due_at": "received + INTERVAL 1 DAY", "ack_remind_at": "NULL",
        "ack_met_at": f"CASE WHEN {met(1)} THEN received + INTERVAL 3 HOUR END",
        "ack_business_s": f"CASE WHEN {met(1)} THEN 60.0 * (hash(i + 11) % 900) END",
        "triage_target_s": "57600.0", "triage_due_at": "received + INTERVAL 2 DAY", "triage_remind_at": "NULL",
        "triage_met_at": f"CASE WHEN {met(2)} THEN received + INTERVAL 6 HOUR END",
        "triage_business_s": f"CASE WHEN {met(2)} THEN 60.0 * (hash(i + 13) % 1500) END",
        "contact_target_s": "86400.0", "contact_due_at": "received + INTERVAL 5 DAY", "contact_remind_at": "NULL",
        "contact_met_at": f"CASE WHEN {contact} THEN received + INTERVAL 2 DAY END",
        "contact_business_s": f"CASE WHEN {contact} THEN 60.0 * (hash(i + 17) % 2400) END",
        "expiry_target_s": "288000.0", "expiry_due_at": "NULL",
        "next_due_at": f"CASE WHEN {open_state} THEN received + INTERVAL 1 DAY * (1 + hash(i + 19) % 4) END",
        "next_clock": f"CASE WHEN {open_state} THEN CASE hash(i + 19) % 3 WHEN 0 THEN 'acknowledge' "
                      "WHEN 1 THEN 'triage' ELSE 'first_contact' END END",
        "version": "1",
        "stepped_at": "received", "pauses": "'[]'",
    }
    for column, states in (("accepted_at", ("accepted", "in_progress", "completed")), ("declined_at", ("declined",)),
                           ("redirected_at", ("redirected",)), ("completed_at", ("completed",))):
        reached = _case(h, [(bound, "TRUE" if set(states) & set(steps) else "FALSE") for bound, _, steps in PATHS])
        values[column] = f"CASE WHEN {reached} THEN received + INTERVAL 4 HOUR END"
    assert set(values) == set(REFERRALS)
    return (f"INSERT INTO referrals ({select(REFERRALS)}) "
            f"SELECT {', '.join(values[c] for c in REFERRALS)} FROM ("
            "SELECT i, ?::TIMESTAMPTZ AS now_, ?::TIMESTAMPTZ - INTERVAL 1 SECOND * (hash(i + 1) % 31536000) "
            f"AS received FROM range({int(n)}) t(i))")


def events_sql() -> str:
    """The history of every referral: its intake, then one status row per step of its path."""
    path = _case("(hash(CAST(substr(referral_id, 3) AS BIGINT) - 1) % 1000)",
                 [(bound, "[" + ", ".join(f"'{s}'" for s in steps) + "]::VARCHAR[]") for bound, _, steps in PATHS])
    return (f"INSERT INTO referral_events ({select(REFERRAL_EVENTS)}) "
            "SELECT referral_id, 1, 'intake', NULL, 'submitted', received_at, received_at, 'bench', NULL, NULL, NULL, "
            "NULL FROM referrals UNION ALL "
            "SELECT referral_id, 1 + k, 'status', NULL, steps[k], received_at + INTERVAL 1 HOUR * k, received_at, "
            "'bench', 'provider', CASE WHEN k = len(steps) THEN state_reason END, NULL, NULL "
            f"FROM (SELECT referral_id, received_at, state_reason, {path} AS steps FROM referrals) p, "
            "range(1, len(steps) + 1) r(k)")


def build(n: int, folder: Path) -> Services:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"referrals-{n}.duckdb"
    services = Services({"MPI_DB": str(path)}, clock=FixedClock(NOW))
    store = services.store
    if store.db.one("SELECT count(*) FROM referrals")[0] == n:
        print(f"store {path}: {n} referrals (cached)")
        return services
    started = time.perf_counter()
    for org in ORGANISATIONS:
        if not services.directory.exists(org["code"]):
            services.directory.add(org, "bench")
    with store.transaction():
        store.db.execute("DELETE FROM referral_events")
        store.db.execute("DELETE FROM referrals")
        store.db.execute(referrals_sql(n), [NOW, NOW])
        store.db.execute(events_sql())
    events = store.db.one("SELECT count(*) FROM referral_events")[0]
    print(f"store {path}: {n} referrals, {events} history rows in {time.perf_counter() - started:.1f} s")
    return services


def timed(client, url: str, headers: dict, runs: int) -> tuple[float, float, float, int]:
    """Median and slowest wall time, and median CPU time of the process (DuckDB's threads included), in ms.

    CPU time is the figure to read on a busy machine: wall time then counts the other work's turns too.
    """
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    wall, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        response = client.get(url, headers=headers)
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
        assert response.status_code == 200
    return statistics.median(wall), max(wall), statistics.median(cpu), len(response.get_data())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--referrals", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "referral-metrics")
    args = parser.parse_args()
    services = build(args.referrals, args.out)
    token = add_user(services.store, "bench-steward", "steward")
    headers = {"Authorization": f"Bearer {token}"}
    client = create_app(services=services).test_client()
    year = "from=2025-11-30&to=2026-12-01"
    cases = [
        ("all referrals (a year)", f"/v1/metrics/referrals?{year}"),
        ("default period (30 days)", "/v1/metrics/referrals"),
        ("a year, weekly series", f"/v1/metrics/referrals?{year}&interval=week"),
        ("a year, daily series, CSV", f"/v1/metrics/referrals?{year}&interval=day&format=csv"),
        ("a year, one performer", f"/v1/metrics/referrals?{year}&performer=foodbank"),
        ("Prometheus scrape", "/metrics"),
    ]
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'request':32} {'median ms':>10} {'max ms':>8} {'cpu ms':>8} {'bytes':>8}")
    for name, url in cases:
        median, worst, cpu, size = timed(client, url, headers, args.runs)
        print(f"{name:32} {median:10.0f} {worst:8.0f} {cpu:8.0f} {size:8d}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    body = client.get(f"/v1/metrics/referrals?{year}", headers=headers).get_json()
    print(f"referrals counted: {body['referrals']}, acknowledged within 1 business day: "
          f"{body['acknowledged_within_1_business_day']['share']}, overdue: {body['overdue']['count']}")
    services.close()


if __name__ == "__main__":
    main()
