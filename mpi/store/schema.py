"""The store's schema, as numbered migrations applied in order exactly once.

A migration is a list of statements; ``schema_version`` records which ran. Add a
new migration at the end, never edit one that has shipped.

Enums are stored as their text (``Decision``, ``LinkSource``, ...), never ordinals.
JSON columns hold the record as sent (``raw``), its normalised form (``norm``),
evidence and audit detail.
"""

from mpi.store.schema_batch import BATCH_MIGRATIONS
from mpi.store.schema_exchange import EXCHANGE_MIGRATIONS
from mpi.store.schema_scale import SCALE_MIGRATIONS
from mpi.store.schema_steward import STEWARD_MIGRATIONS

MIGRATIONS: list[tuple[int, list[str]]] = [
    (
        1,
        [
            """CREATE TABLE meta (
                key VARCHAR PRIMARY KEY,
                value VARCHAR NOT NULL
            )""",
            """CREATE TABLE persons (
                person_id VARCHAR PRIMARY KEY,
                status VARCHAR NOT NULL,
                redirect_to VARCHAR,
                golden JSON NOT NULL,
                created_at TIMESTAMPTZ NOT NULL,
                updated_at TIMESTAMPTZ NOT NULL
            )""",
            """CREATE TABLE source_records (
                source_system VARCHAR NOT NULL,
                source_record_id VARCHAR NOT NULL,
                raw JSON NOT NULL,
                norm JSON NOT NULL,
                received_at TIMESTAMPTZ NOT NULL,
                updated_at TIMESTAMPTZ NOT NULL,
                PRIMARY KEY (source_system, source_record_id)
            )""",
            """CREATE TABLE blocking_keys (
                block_key VARCHAR NOT NULL,
                source_system VARCHAR NOT NULL,
                source_record_id VARCHAR NOT NULL
            )""",
            "CREATE INDEX blocking_keys_key ON blocking_keys (block_key)",
            "CREATE INDEX blocking_keys_record ON blocking_keys (source_system, source_record_id)",
            """CREATE TABLE links (
                source_system VARCHAR NOT NULL,
                source_record_id VARCHAR NOT NULL,
                person_id VARCHAR NOT NULL,
                decision VARCHAR NOT NULL,
                link_source VARCHAR NOT NULL,
                score DOUBLE,
                probability DOUBLE,
                evidence JSON,
                model_version VARCHAR,
                linked_at TIMESTAMPTZ NOT NULL,
                PRIMARY KEY (source_system, source_record_id)
            )""",
            "CREATE INDEX links_person ON links (person_id)",
            """CREATE TABLE review_cases (
                case_id VARCHAR PRIMARY KEY,
                kind VARCHAR NOT NULL,
                source_system VARCHAR,
                source_record_id VARCHAR,
                state VARCHAR NOT NULL,
                priority VARCHAR NOT NULL,
                resolution VARCHAR,
                owner VARCHAR,
                blocks JSON NOT NULL,
                model_version VARCHAR,
                created_at TIMESTAMPTZ NOT NULL,
                updated_at TIMESTAMPTZ NOT NULL,
                due_at TIMESTAMPTZ,
                version INTEGER NOT NULL
            )""",
            "CREATE INDEX review_cases_record ON review_cases (source_system, source_record_id)",
            """CREATE TABLE review_candidates (
                case_id VARCHAR NOT NULL,
                rank INTEGER NOT NULL,
                person_id VARCHAR NOT NULL,
                score DOUBLE NOT NULL,
                probability DOUBLE NOT NULL,
                evidence JSON NOT NULL,
                PRIMARY KEY (case_id, rank)
            )""",
            """CREATE TABLE audit_log (
                event_id BIGINT PRIMARY KEY,
                occurred_at TIMESTAMPTZ NOT NULL,
                actor VARCHAR NOT NULL,
                action VARCHAR NOT NULL,
                entity_type VARCHAR NOT NULL,
                entity_id VARCHAR NOT NULL,
                reason VARCHAR,
                detail JSON
            )""",
            "CREATE INDEX audit_entity ON audit_log (entity_type, entity_id)",
            """CREATE TABLE users (
                name VARCHAR PRIMARY KEY,
                role VARCHAR NOT NULL,
                token_hash VARCHAR NOT NULL UNIQUE,
                created_at TIMESTAMPTZ NOT NULL
            )""",
        ],
    ),
    (
        2,
        [
            # Candidates come from the in-memory index, never from a query on block_key, and
            # keeping this index in step cost most of each COMMIT of ``mpi load`` at 1M persons
            # (0.42 s of 3.0 s per 500 records; 0.13 s without it).
            "DROP INDEX IF EXISTS blocking_keys_key",
        ],
    ),
    (
        3,
        [
            # A steward's word that a record is not a person: re-matching skips the pair for good,
            # so the same question never comes back to review.
            """CREATE TABLE not_duplicate (
                source_system VARCHAR NOT NULL,
                source_record_id VARCHAR NOT NULL,
                person_id VARCHAR NOT NULL,
                case_id VARCHAR,
                actor VARCHAR NOT NULL,
                reason VARCHAR NOT NULL,
                decided_at TIMESTAMPTZ NOT NULL,
                PRIMARY KEY (source_system, source_record_id, person_id)
            )""",
            # Holds for identity verification by outreach: the note and follow-up date of each,
            # the current one being the one not yet released. A table, not columns of
            # review_cases, so a case's earlier holds are kept.
            """CREATE TABLE case_holds (
                case_id VARCHAR NOT NULL,
                held_at TIMESTAMPTZ NOT NULL,
                held_by VARCHAR NOT NULL,
                note VARCHAR NOT NULL,
                follow_up DATE NOT NULL,
                released_at TIMESTAMPTZ,
                released_by VARCHAR
            )""",
        ],
    ),
    (
        4,
        [
            # One row per merge of two persons: who, why, and every row the merge changed as it
            # was before (``snapshot``), so an unmerge can put them back exactly. Rows are never
            # deleted; an unmerge stamps ``undone_at``, ``undone_by`` and ``undo_reason``.
            """CREATE TABLE merges (
                merge_id VARCHAR PRIMARY KEY,
                survivor_id VARCHAR NOT NULL,
                loser_id VARCHAR NOT NULL,
                snapshot JSON NOT NULL,
                actor VARCHAR NOT NULL,
                reason VARCHAR NOT NULL,
                case_id VARCHAR,
                merged_at TIMESTAMPTZ NOT NULL,
                undone_at TIMESTAMPTZ,
                undone_by VARCHAR,
                undo_reason VARCHAR
            )""",
        ],
    ),
]

MIGRATIONS.append((
    5,
    [
        # The directory: who requests and performs referrals, and when each works (its business
        # hours, in its time zone, with its public holidays: the calendar spec as JSON).
        """CREATE TABLE organisations (
            code VARCHAR PRIMARY KEY,
            name VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,
            service_types JSON NOT NULL,
            calendar JSON NOT NULL,
            supervisors JSON NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL
        )""",
        # Every caller belongs to one organisation (users made before organisations belong to none).
        "ALTER TABLE users ADD COLUMN organisation VARCHAR",
        # One row per referral: what was asked, of whom, for which record's person, its state and
        # gate, and its clocks (target, due, reminder and met times, and business seconds taken,
        # per clock; ``next_due_at`` is the earliest due time still running, what "overdue" reads),
        # and when it first reached each outcome the loop measures count (``mpi/referrals/outcomes.py``:
        # one pass over this table, not a grouping of its whole history). ``stepped_at`` is the event
        # time of its last lifecycle step; ``pauses`` the intervals its clocks stood still (gated,
        # returned for information, closed until reopened), kept on the row because every change
        # reads them and a table of their own cost a query per change.
        # No UNIQUE on (requester, requester_referral_id): a redirect's successor shares them, and
        # intake checks them under the writer lock.
        """CREATE TABLE referrals (
            referral_id VARCHAR PRIMARY KEY,
            reference VARCHAR NOT NULL,
            requester VARCHAR NOT NULL,
            requester_referral_id VARCHAR NOT NULL,
            performer VARCHAR NOT NULL,
            service_type VARCHAR NOT NULL,
            urgency VARCHAR NOT NULL,
            reason VARCHAR,
            requester_contact JSON,
            consent VARCHAR,
            risk_flags JSON NOT NULL,
            service_address JSON,
            source_system VARCHAR NOT NULL,
            source_record_id VARCHAR NOT NULL,
            person_id VARCHAR,
            state VARCHAR NOT NULL,
            state_reason VARCHAR,
            state_party VARCHAR,
            resume_state VARCHAR,
            gate VARCHAR,
            review_case_id VARCHAR,
            gated_since TIMESTAMPTZ,
            gated_seconds DOUBLE NOT NULL,
            predecessor_id VARCHAR,
            received_at TIMESTAMPTZ NOT NULL,
            recorded_at TIMESTAMPTZ NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL,
            closed_at TIMESTAMPTZ,
            business_day_s DOUBLE NOT NULL,
            ack_target_s DOUBLE, ack_due_at TIMESTAMPTZ, ack_remind_at TIMESTAMPTZ, ack_met_at TIMESTAMPTZ,
            ack_business_s DOUBLE,
            triage_target_s DOUBLE, triage_due_at TIMESTAMPTZ, triage_remind_at TIMESTAMPTZ,
            triage_met_at TIMESTAMPTZ, triage_business_s DOUBLE,
            contact_target_s DOUBLE, contact_due_at TIMESTAMPTZ, contact_remind_at TIMESTAMPTZ,
            contact_met_at TIMESTAMPTZ, contact_business_s DOUBLE,
            expiry_target_s DOUBLE, expiry_due_at TIMESTAMPTZ,
            next_due_at TIMESTAMPTZ,
            next_clock VARCHAR,
            version INTEGER NOT NULL,
            accepted_at TIMESTAMPTZ,
            declined_at TIMESTAMPTZ,
            redirected_at TIMESTAMPTZ,
            completed_at TIMESTAMPTZ,
            stepped_at TIMESTAMPTZ NOT NULL,
            pauses JSON NOT NULL
        )""",
        # One column each: DuckDB looks a row up through an index on one column compared with one
        # value, never through a composite index (a scan of a million referrals: 45 ms, against 1).
        "CREATE INDEX referrals_requester_id ON referrals (requester_referral_id)",
        "CREATE INDEX referrals_record ON referrals (source_record_id)",
        "CREATE INDEX referrals_person ON referrals (person_id)",
        "CREATE INDEX referrals_case ON referrals (review_case_id)",
        "CREATE INDEX referrals_predecessor ON referrals (predecessor_id)",
        # The referral's history: every change with both its times (when it happened, when we stored
        # it), who, for which party, the coded reason and a note.
        """CREATE TABLE referral_events (
            referral_id VARCHAR NOT NULL,
            seq INTEGER NOT NULL,
            kind VARCHAR NOT NULL,
            from_state VARCHAR,
            to_state VARCHAR,
            event_time TIMESTAMPTZ NOT NULL,
            recorded_time TIMESTAMPTZ NOT NULL,
            actor VARCHAR NOT NULL,
            party VARCHAR,
            reason VARCHAR,
            note VARCHAR,
            detail JSON
        )""",
        "CREATE INDEX referral_events_referral ON referral_events (referral_id)",
        # Reminders (a target nears) and escalations (it passed), one per referral, clock, kind and
        # due time: a second sweep finds its row and raises nothing twice.
        """CREATE TABLE alerts (
            alert_id VARCHAR PRIMARY KEY,
            referral_id VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,
            clock VARCHAR NOT NULL,
            organisation VARCHAR NOT NULL,
            recipients JSON NOT NULL,
            due_at TIMESTAMPTZ NOT NULL,
            raised_at TIMESTAMPTZ NOT NULL,
            acknowledged_at TIMESTAMPTZ,
            acknowledged_by VARCHAR
        )""",
        "CREATE INDEX alerts_referral ON alerts (referral_id)",
    ],
))

# API keys: each belongs to an organisation and a role, and is kept only as the SHA-256 of its secret
# (shown once). A key is refused from its expiry on, and from the moment it is revoked.
MIGRATIONS.append((
    6,
    [
        """CREATE TABLE api_keys (
            key_id VARCHAR PRIMARY KEY,
            organisation VARCHAR NOT NULL,
            role VARCHAR NOT NULL,
            key_hash VARCHAR NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            created_by VARCHAR NOT NULL,
            expires_at TIMESTAMPTZ,
            revoked_at TIMESTAMPTZ,
            revoked_by VARCHAR
        )""",
    ],
))

MIGRATIONS.append((
    7,
    [
        # Minimum necessary: which organisation was given which person, how and when. A row is
        # written in the same transaction as the answer that named the person to the organisation
        # (``record``: its own record, keyed here, linked to the person; ``match``: a certain match
        # of its /v1/match). Referrals need no row: the referral itself names both organisations.
        """CREATE TABLE person_grants (
            organisation VARCHAR NOT NULL,
            person_id VARCHAR,
            how VARCHAR NOT NULL,
            source_system VARCHAR,
            source_record_id VARCHAR,
            granted_at TIMESTAMPTZ NOT NULL
        )""",
        "CREATE INDEX person_grants_person ON person_grants (person_id)",
        "CREATE INDEX person_grants_record ON person_grants (source_record_id)",
    ],
))

MIGRATIONS.append((
    8,
    [
        # The access log: who read or changed which persons, records, cases and referrals, for what
        # purpose, through which route, and with what answer. Ids only, never a value from a record.
        # Append-only and apart from audit_log (what changed). No primary key: it is written on every
        # request, its ids come from the process's sequence, and an index would cost every insert.
        """CREATE TABLE access_log (
            event_id BIGINT NOT NULL,
            occurred_at TIMESTAMPTZ NOT NULL,
            actor VARCHAR,
            organisation VARCHAR,
            role VARCHAR,
            purpose VARCHAR,
            action VARCHAR NOT NULL,
            method VARCHAR NOT NULL,
            route VARCHAR NOT NULL,
            status INTEGER NOT NULL,
            entities STRUCT(type VARCHAR, id VARCHAR)[] NOT NULL
        )""",
    ],
))

MIGRATIONS.append((
    9,
    [
        # ``mpi load``'s progress through one file, written in the transaction of each batch it
        # commits, so a load killed part-way resumes after its last committed row. A file is known
        # by its size and SHA-256 (its path may change between runs, its content may not).
        """CREATE TABLE loads (
            file_sha256 VARCHAR NOT NULL,
            file_size BIGINT NOT NULL,
            file_name VARCHAR NOT NULL,
            rows_total BIGINT NOT NULL,
            rows_done BIGINT NOT NULL,
            actor VARCHAR NOT NULL,
            started_at TIMESTAMPTZ NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL,
            finished_at TIMESTAMPTZ,
            PRIMARY KEY (file_sha256, file_size)
        )""",
    ],
))

# Migrations 10-14 are the partner exchange's, kept in their own file (the numbers are one sequence).
MIGRATIONS.extend(EXCHANGE_MIGRATIONS)
# Migrations 15 onwards are batch dedup's (runs, and persons kept apart), in their own file too.
MIGRATIONS.extend(BATCH_MIGRATIONS)
# Migrations 17 onwards are the steward's: search terms (17) and why cases are held (18).
MIGRATIONS.extend(STEWARD_MIGRATIONS)
# Migrations 19 onwards are for running at scale and in several instances (leases, 19; the change log of
# records, 20); the store's state token (21) follows, then the cache generations (22).
MIGRATIONS.extend(SCALE_MIGRATIONS[:2])

MIGRATIONS.append((
    21,
    [
        # The store's state token: a fresh random value set by every write transaction as it commits
        # (``Database.transaction``). A copy of derived state kept outside the store (the candidate index's
        # snapshot beside the file) is valid only while the token it was made at is still the store's; a
        # random value, not a counter, so a store restored from a backup and written again never repeats one.
        # A table of its own (one row), not a meta key: the meta rows are settings, compared as such.
        "CREATE TABLE IF NOT EXISTS store_state (token VARCHAR NOT NULL)",
        "INSERT INTO store_state SELECT CAST(uuid() AS VARCHAR) WHERE NOT EXISTS (SELECT 1 FROM store_state)",
    ],
))

# The generations of what instances over one store cache (22) follow the state token, then the two-column indexes
# DuckDB never read by are dropped (23).
MIGRATIONS.extend(SCALE_MIGRATIONS[2:])

LATEST_VERSION = MIGRATIONS[-1][0]
#: The migration that made ``store_state``: later ones set a new state token as they commit (but one that only
#: drops indexes, ``database.only_drops_indexes``).
STATE_TOKEN_VERSION = 21
