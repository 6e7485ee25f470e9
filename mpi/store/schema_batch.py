"""Batch dedup runs' migrations (15-): the runs and what each opened (``schema.py`` appends them in order; its rules
hold here). Split from ``schema.py`` only to keep each file to a readable size: the numbers are one sequence.
"""

BATCH_MIGRATIONS: list[tuple[int, list[str]]] = []

BATCH_MIGRATIONS.append((
    15,
    [
        # One row per dedup run (``mpi dedup``, ``POST /v1/dedup-runs``): written ``running`` when it starts, in a
        # transaction of its own, and finished (``completed`` or ``failed``) in the transaction that writes what
        # it found, or alone when it fails; a row still ``running`` when no run is is ``interrupted``.
        # ``counts`` and ``report`` are JSON (the report is bounded: mpi.batch.report).
        """CREATE TABLE dedup_runs (
            run_id VARCHAR PRIMARY KEY,
            source VARCHAR NOT NULL,
            engine VARCHAR NOT NULL,
            model_version VARCHAR NOT NULL,
            actor VARCHAR NOT NULL,
            started_at TIMESTAMPTZ NOT NULL,
            ended_at TIMESTAMPTZ,
            outcome VARCHAR NOT NULL,
            counts JSON,
            error VARCHAR,
            report JSON
        )""",
        # What a run did about each pair of persons it found to be one: a POSSIBLE_DUPLICATE case opened, or an
        # auto-merge where the policy allows it. Append-only.
        """CREATE TABLE dedup_findings (
            run_id VARCHAR NOT NULL,
            person_a VARCHAR NOT NULL,
            person_b VARCHAR NOT NULL,
            match_weight DOUBLE NOT NULL,
            record_a VARCHAR NOT NULL,
            record_b VARCHAR NOT NULL,
            case_id VARCHAR,
            merge_id VARCHAR
        )""",
        "CREATE INDEX dedup_findings_run ON dedup_findings (run_id)",
    ],
))
