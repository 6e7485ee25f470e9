"""The partner exchange's migrations (10-14): partners and crosswalks, the inbound exception queue, the outbox,
the outbound exception queue and reconciliation (``schema.py`` appends them in order; its rules hold here).

Split from ``schema.py`` only to keep each file to a readable size: the numbers are one sequence.
"""

EXCHANGE_MIGRATIONS: list[tuple[int, list[str]]] = []

EXCHANGE_MIGRATIONS.append((
    10,
    [
        # Partners: an organisation's system that the exchange sends status feedback to. The signing
        # secret is kept as it is (not a hash, unlike an API key's): the service signs each message
        # with it, so it must be readable here; it is shown to people once, when the partner is made.
        # ``subscriptions`` is a JSON list of what the partner receives (mpi.exchange.vocab.Subscription).
        """CREATE TABLE partners (
            partner_id VARCHAR PRIMARY KEY,
            organisation VARCHAR NOT NULL,
            name VARCHAR NOT NULL,
            endpoint VARCHAR NOT NULL,
            format VARCHAR NOT NULL,
            subscriptions VARCHAR NOT NULL,
            status VARCHAR NOT NULL,
            signing_secret VARCHAR NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            created_by VARCHAR NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL
        )""",
        # A partner's status crosswalk, versioned and dated: a version is in force from the first moment
        # (UTC) of its effective_from until a later version's; its rows map an internal state, and
        # optionally a reason code, to the partner's label. Versions are never changed, only added.
        """CREATE TABLE crosswalk_versions (
            version_id BIGINT PRIMARY KEY,
            partner_id VARCHAR NOT NULL,
            effective_from DATE NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            created_by VARCHAR NOT NULL
        )""",
        "CREATE INDEX crosswalk_versions_partner ON crosswalk_versions (partner_id)",
        """CREATE TABLE crosswalk_rows (
            version_id BIGINT NOT NULL,
            line INTEGER NOT NULL,
            state VARCHAR NOT NULL,
            reason VARCHAR,
            label VARCHAR NOT NULL
        )""",
        "CREATE INDEX crosswalk_rows_version ON crosswalk_rows (version_id)",
    ],
))

EXCHANGE_MIGRATIONS.append((
    11,
    [
        # The inbound exception queue: a referral or status update that failed validation, kept with
        # its sender, the raw body as received (bytes: it may not be JSON, or not text), the reasons per
        # field and what recovery it needs. Rows change state; every change is in audit_log too.
        """CREATE TABLE inbound_exceptions (
            exception_id VARCHAR PRIMARY KEY,
            kind VARCHAR NOT NULL,
            referral_id VARCHAR,
            sender VARCHAR NOT NULL,
            sender_role VARCHAR NOT NULL,
            sender_organisation VARCHAR,
            received_at TIMESTAMPTZ NOT NULL,
            content_type VARCHAR,
            raw_body BLOB NOT NULL,
            error_code VARCHAR NOT NULL,
            http_status INTEGER NOT NULL,
            reasons VARCHAR NOT NULL,
            severity VARCHAR NOT NULL,
            owner VARCHAR NOT NULL,
            due_at TIMESTAMPTZ NOT NULL,
            remedy VARCHAR NOT NULL,
            state VARCHAR NOT NULL,
            claimed_by VARCHAR,
            claimed_at TIMESTAMPTZ,
            closed_by VARCHAR,
            closed_at TIMESTAMPTZ,
            produced_referral_id VARCHAR,
            return_reason VARCHAR
        )""",
        "CREATE INDEX inbound_exceptions_queue ON inbound_exceptions (state, received_at)",
    ],
))

EXCHANGE_MIGRATIONS.append((
    12,
    [
        # The outbox: one row per status change a partner subscribes to, written in the transaction of
        # the change (nothing is sent from inside it) and delivered after, in message_id order per
        # referral and partner. The payload is the message as the partner will read it, labelled under
        # the crosswalk version in force at the event time; its transmission time is added when it is
        # sent. A row changes state (queued, sent, acknowledged, failed, dead), never its payload.
        """CREATE TABLE outbound_messages (
            message_id BIGINT PRIMARY KEY,
            idempotency_key VARCHAR NOT NULL,
            partner_id VARCHAR NOT NULL,
            referral_id VARCHAR NOT NULL,
            referral_version INTEGER NOT NULL,
            message_type VARCHAR NOT NULL,
            reason VARCHAR,
            label VARCHAR NOT NULL,
            crosswalk_version BIGINT,
            lossy BOOLEAN NOT NULL,
            event_time TIMESTAMPTZ NOT NULL,
            recorded_time TIMESTAMPTZ NOT NULL,
            payload VARCHAR NOT NULL,
            status VARCHAR NOT NULL,
            attempts INTEGER NOT NULL,
            next_attempt_at TIMESTAMPTZ NOT NULL,
            sent_at TIMESTAMPTZ,
            acknowledged_at TIMESTAMPTZ,
            dead_at TIMESTAMPTZ,
            error_code VARCHAR,
            http_status INTEGER,
            back_post_id VARCHAR,
            back_posted_at TIMESTAMPTZ
        )""",
        "CREATE INDEX outbound_messages_stream ON outbound_messages (referral_id, partner_id)",
        "CREATE INDEX outbound_messages_due ON outbound_messages (status, next_attempt_at)",
    ],
))

EXCHANGE_MIGRATIONS.append((
    13,
    [
        # The outbound exception queue: dead messages grouped into patterns by (partner_id, message_type,
        # error_code). A pattern is written when the delivery worker records a dead outcome (in the same
        # transaction); a later dead message of the same key joins the open pattern, or opens a new one once
        # the old one is closed (by a back-post, with its note). No key constraint: rows are UPDATEd.
        """CREATE TABLE outbound_patterns (
            pattern_id VARCHAR NOT NULL,
            partner_id VARCHAR NOT NULL,
            message_type VARCHAR NOT NULL,
            error_code VARCHAR NOT NULL,
            severity VARCHAR NOT NULL,
            owner VARCHAR NOT NULL,
            opened_at TIMESTAMPTZ NOT NULL,
            due_at TIMESTAMPTZ NOT NULL,
            closed_at TIMESTAMPTZ,
            closed_by VARCHAR,
            close_note VARCHAR,
            back_post_id VARCHAR
        )""",
        # Which dead messages a pattern holds (a message back-posted and dead again joins a new pattern).
        """CREATE TABLE outbound_pattern_messages (
            pattern_id VARCHAR NOT NULL,
            message_id BIGINT NOT NULL,
            referral_id VARCHAR NOT NULL,
            dead_at TIMESTAMPTZ NOT NULL,
            severity VARCHAR NOT NULL
        )""",
        # Manual status reports: while an integration is down, who told the partner what, how and when.
        # Only ever added.
        """CREATE TABLE manual_reports (
            report_id VARCHAR PRIMARY KEY,
            referral_id VARCHAR NOT NULL,
            partner_id VARCHAR NOT NULL,
            told_by VARCHAR NOT NULL,
            method VARCHAR NOT NULL,
            state VARCHAR NOT NULL,
            reported_at TIMESTAMPTZ NOT NULL,
            note VARCHAR NOT NULL,
            recorded_at TIMESTAMPTZ NOT NULL,
            recorded_by VARCHAR NOT NULL
        )""",
        "CREATE INDEX manual_reports_referral ON manual_reports (referral_id)",
    ],
))

EXCHANGE_MIGRATIONS.append((
    14,
    [
        # Reconciliation: what a partner reported its system shows (a snapshot and its rows, kept so a
        # scheduled run can compare it again), each run of a comparison with its counts, the counts per
        # stage, status category and expected label (the trend that shows a mapping defect), and a work
        # item per real mismatch (seen again, the same item). No UNIQUE constraints: items are updated.
        """CREATE TABLE status_snapshots (
            snapshot_id BIGINT NOT NULL,
            partner_id VARCHAR NOT NULL,
            received_at TIMESTAMPTZ NOT NULL,
            received_by VARCHAR NOT NULL,
            source VARCHAR NOT NULL,
            row_count INTEGER NOT NULL
        )""",
        """CREATE TABLE status_snapshot_rows (
            snapshot_id BIGINT NOT NULL,
            line INTEGER NOT NULL,
            referral_id VARCHAR,
            reference VARCHAR,
            label VARCHAR NOT NULL,
            as_of TIMESTAMPTZ
        )""",
        """CREATE TABLE reconciliation_runs (
            run_id BIGINT NOT NULL,
            partner_id VARCHAR NOT NULL,
            snapshot_id BIGINT NOT NULL,
            ran_at TIMESTAMPTZ NOT NULL,
            trigger VARCHAR NOT NULL,
            actor VARCHAR NOT NULL,
            grace_s DOUBLE NOT NULL,
            compared INTEGER NOT NULL,
            matched INTEGER NOT NULL,
            lagging INTEGER NOT NULL,
            mismatched INTEGER NOT NULL,
            opened INTEGER NOT NULL,
            seen_again INTEGER NOT NULL,
            cleared INTEGER NOT NULL
        )""",
        """CREATE TABLE reconciliation_rates (
            run_id BIGINT NOT NULL,
            partner_id VARCHAR NOT NULL,
            ran_at TIMESTAMPTZ NOT NULL,
            stage VARCHAR NOT NULL,
            category VARCHAR NOT NULL,
            expected_label VARCHAR,
            compared INTEGER NOT NULL,
            matched INTEGER NOT NULL,
            lagging INTEGER NOT NULL,
            mismatched INTEGER NOT NULL
        )""",
        """CREATE TABLE reconciliation_items (
            item_id VARCHAR NOT NULL,
            partner_id VARCHAR NOT NULL,
            referral_id VARCHAR,
            reported_id VARCHAR,
            our_state VARCHAR,
            expected_label VARCHAR,
            reported_label VARCHAR NOT NULL,
            crosswalk_version BIGINT,
            kind VARCHAR NOT NULL,
            severity VARCHAR NOT NULL,
            owner VARCHAR NOT NULL,
            opened_at TIMESTAMPTZ NOT NULL,
            due_at TIMESTAMPTZ NOT NULL,
            opened_run_id BIGINT NOT NULL,
            last_run_id BIGINT NOT NULL,
            last_seen_at TIMESTAMPTZ NOT NULL,
            seen_count INTEGER NOT NULL,
            state VARCHAR NOT NULL,
            cause VARCHAR,
            note VARCHAR,
            closed_by VARCHAR,
            closed_at TIMESTAMPTZ,
            reissues INTEGER NOT NULL
        )""",
    ],
))
