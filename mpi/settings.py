"""Settings, declared once: name, default and help.

Each setting is read from the app config or CLI override first, then the
environment, then its default. ``tests/test_settings.py`` fails when one is
missing from the README, so the documentation cannot drift from the code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Setting:
    """One tunable, with the text the README shows for it."""

    name: str
    default: str
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("MPI_DB", "var/mpi.duckdb",
            "Where the store is: a DuckDB file's path (created on first use; its folder must exist, but for the default's `var/`), or a `postgresql://` URL of an existing PostgreSQL database (a password from `PGPASSWORD` or `~/.pgpass`, not the URL)."),
    Setting(
        "MPI_MODELS_DIR",
        str(PROJECT_ROOT / "matching_models"),
        "Folder of versioned model files (`<version>.json`) that `mpi model` lists and activates.",
    ),
    Setting(
        "MPI_MAX_BLOCK_SIZE",
        "400",
        "Most records one blocking key may fetch; a commoner value (a shelter address, a clinic "
        "phone) is skipped so it cannot blow up the candidate set.",
    ),
    Setting(
        "MPI_CHECKPOINT_THRESHOLD",
        "256MB",
        "Write-ahead log size at which DuckDB folds it into the store file. A checkpoint of a store "
        "of a million persons takes seconds, so DuckDB's 16MB default stalls writes every few batches.",
    ),
    Setting(
        "MPI_DUCKDB_MEMORY_LIMIT",
        "",
        "Most memory DuckDB may hold for a store file (a size such as 2GB; empty: DuckDB's own default, 80% of "
        "the machine's). At a million persons a service that takes records holds about 2 GB in DuckDB (the "
        "tables' and their indexes' pages it read or wrote), beside its own; a limit makes DuckDB give pages back "
        "and read them again (1,200 records submitted one at a time: 46/s with 2GB, 60/s without). Building the candidate "
        "index from the store (a start with no saved base) needs about 1 GB of it at 1M.",
    ),
    Setting(
        "MPI_ACCESS_LOG_FLUSH_MS",
        "100",
        "Milliseconds between writes of the buffered access events (one INSERT each time): a request pays "
        "microseconds for its event, and a crash loses at most this interval of events. 0 writes each request's "
        "event before its answer leaves instead (a commit per request, 1-2 ms or more; a read whose event cannot "
        "be written is then refused with a 503).",
    ),
    Setting("MPI_LOG_LEVEL", "INFO", "Python logging level for the service and the CLI."),
    Setting(
        "MPI_MAX_BODY_BYTES",
        "1048576",
        "Largest request body the API reads, in bytes (a record or a referral is a few kilobytes); a larger "
        "one answers 413 unread.",
    ),
    Setting(
        "MPI_PUBLIC_URL",
        "",
        "Address users reach the service at, e.g. `https://mpi.example.org` (empty: not said). `https://` means "
        "TLS (typically ended at a proxy in front of `mpi serve`): the review UI's session cookie is then `Secure`.",
    ),
    Setting(
        "MPI_SECRET_KEY",
        "",
        "Key that signs the review UI's session cookies; a random one per process when empty.",
    ),
    Setting(
        "MPI_CASE_TARGET_URGENT_HOURS",
        "4",
        "Hours an `urgent` review case (one blocking a time-critical referral) may stay open before it is overdue.",
    ),
    Setting(
        "MPI_CASE_TARGET_HIGH_HOURS",
        "24",
        "Hours a `high` review case (one blocking a referral) may stay open before it is overdue.",
    ),
    Setting(
        "MPI_CASE_TARGET_ROUTINE_HOURS",
        "72",
        "Hours a `routine` review case (blocking nothing) may stay open before it is overdue.",
    ),
    Setting(
        "MPI_SPOT_CHECK_ONE_IN",
        "0",
        "Spot-checks of auto-links: 1 in this many records the matcher links (`MATCH`, `AUTO`, `mpi load` too) "
        "opens a `SPOT_CHECK` review case for a steward to confirm, drawn by a keyed hash of the record's key, so "
        "a record is drawn or not for good; the link stays while it waits. 0 (the default, and the demo's) opens "
        "none; 500 is the recommended production rate (`GET /v1/metrics/matching` estimates precision from them).",
    ),
    Setting(
        "MPI_INBOUND_OWNER",
        "integration-desk",
        "The team that owns the inbound exception queue (referrals and status updates kept after failing validation).",
    ),
    Setting(
        "MPI_INBOUND_TARGET_HIGH_HOURS",
        "4",
        "Hours a `high` inbound exception (a discharge referral) may wait before it is past its target.",
    ),
    Setting(
        "MPI_INBOUND_TARGET_MEDIUM_HOURS",
        "24",
        "Hours a `medium` inbound exception (an urgent referral, a status update, an unreadable body) may wait.",
    ),
    Setting(
        "MPI_INBOUND_TARGET_LOW_HOURS",
        "72",
        "Hours a `low` inbound exception (a routine referral, a closing status update) may wait.",
    ),
    Setting(
        "MPI_REFERRAL_POLICY",
        str(PROJECT_ROOT / "mpi" / "referrals" / "policy.json"),
        "JSON file of the network's referral policy: the minimum data set per service type and urgency, the "
        "time targets per urgency (and service type) in business hours, and when reminders go out.",
    ),
    Setting(
        "MPI_SWEEP_SECONDS",
        "60",
        "Seconds between two runs of the referral sweep (reminders, escalations, expiry) inside `mpi serve`; "
        "0 runs none (run `mpi sweep` instead).",
    ),
    Setting(
        "MPI_INDEX_SYNC_SECONDS",
        "1",
        "On a PostgreSQL store shared by several `mpi serve` instances: seconds between two reads of the change log "
        "of records, bringing the records other instances changed into this instance's candidate index, and of the "
        "cache generations, dropping what this instance cached that others changed (a revoked API key is refused "
        "everywhere within this and a run).",
    ),
    Setting(
        "MPI_TRAIN_FROM_DECISIONS_HOURS",
        "0",
        "Hours between two runs of `mpi train --from-decisions` inside `mpi serve` (a new model version learned from "
        "steward decisions, activated only if at least as precise on the held-out decisions); 0 runs none.",
    ),
    Setting(
        "MPI_DELIVERY_SECONDS",
        "1",
        "Seconds the delivery worker inside `mpi serve` waits when no message is due before it looks again "
        "(a status change wakes it at once); 0 runs no worker (run `mpi deliver` instead).",
    ),
    Setting("MPI_DELIVERY_TIMEOUT_SECONDS", "10", "Seconds a partner has to answer one message before the attempt "
            "counts as a timeout (retried)."),
    Setting("MPI_DELIVERY_MAX_ATTEMPTS", "8", "Attempts of one message (a network error, a timeout, 429 or 5xx is "
            "retried) before it is `dead` and lands in the outbound exception queue."),
    Setting("MPI_DELIVERY_BACKOFF_SECONDS", "5", "Wait before the first retry; each next retry waits twice as long "
            "(with jitter: a random 50-100% of it), at most `MPI_DELIVERY_MAX_BACKOFF_SECONDS`."),
    Setting("MPI_DELIVERY_MAX_BACKOFF_SECONDS", "3600", "Longest wait between two attempts of one message."),
    Setting("MPI_OUTBOUND_OWNER", "integration-desk", "The team that owns the outbound exception queue (patterns of "
            "status updates partners could not be sent)."),
    Setting("MPI_OUTBOUND_TARGET_HIGH_HOURS", "4", "Hours a `high` outbound pattern (a discharge referral, or a "
            "declined, redirected, closed-not-served, expired or returned-for-information state) may stay open."),
    Setting("MPI_OUTBOUND_TARGET_MEDIUM_HOURS", "24", "Hours a `medium` outbound pattern (accepted, in progress, "
            "completed, cancelled, entered in error) may stay open."),
    Setting("MPI_OUTBOUND_TARGET_LOW_HOURS", "72", "Hours a `low` outbound pattern (submitted, acknowledged, in "
            "triage, on hold: receipt news the next update supersedes) may stay open."),
    Setting("MPI_DELIVERY_CONCURRENCY", "8", "Messages the worker sends at once (each to a different referral "
            "and partner: one stream's messages go one at a time, in order)."),
    Setting("MPI_RECONCILE_SECONDS", "900", "Seconds between two scheduled reconciliation runs inside `mpi serve` "
            "(each partner's latest status snapshot compared again: lags that cleared clear, lags past the grace "
            "period become mismatches); 0 runs none."),
    Setting("MPI_RECONCILE_GRACE_MINUTES", "60", "Minutes after a referral's last real action during which a "
            "partner's differing label is a lag, not a mismatch."),
    Setting("MPI_RECONCILE_OWNER", "integration-desk", "The team that owns the reconciliation work queue."),
    Setting("MPI_RECONCILE_TARGET_HIGH_HOURS", "8", "Hours a `high` reconciliation work item (an open discharge or "
            "urgent referral shown wrongly) may stay open before it is past its target."),
    Setting("MPI_RECONCILE_TARGET_MEDIUM_HOURS", "48", "Hours a `medium` reconciliation work item (another open "
            "referral, a redirected one, an unknown id or label) may stay open."),
    Setting("MPI_RECONCILE_TARGET_LOW_HOURS", "120", "Hours a `low` reconciliation work item (a closed referral "
            "shown wrongly) may stay open."),
)

_BY_NAME = {s.name: s for s in SETTINGS}


def get(name: str, overrides: dict | None = None) -> str:
    """Return a setting's value: override, then environment, then default."""
    setting = _BY_NAME[name]
    if overrides and overrides.get(name) not in (None, ""):
        return str(overrides[name])
    return os.environ.get(name) or setting.default


def default(name: str) -> str:
    """A setting's default value, whatever the environment says."""
    return _BY_NAME[name].default


def resolve_all(overrides: dict | None = None) -> dict[str, str]:
    """Every setting's effective value, for building an app or a CLI context."""
    return {s.name: get(s.name, overrides) for s in SETTINGS}
