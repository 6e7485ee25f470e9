"""Batch dedup's migrations (15 onwards): the runs and what they found, and the persons stewards keep apart
(``schema.py`` appends them after the exchange's; its rules hold here).

Split from ``schema.py`` only to keep each file to a readable size: the numbers are one sequence.
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

BATCH_MIGRATIONS.append((
    16,
    [
        # A steward's word that two persons are different humans (a POSSIBLE_DUPLICATE case resolved
        # not_duplicate): a batch run never proposes the pair again. Kept as the ids decided on, with
        # person_a < person_b; readers follow merge redirects to the live persons (mpi/store/apart.py).
        # Rows are only ever added, so the key costs no UPDATE.
        """CREATE TABLE persons_apart (
            person_a VARCHAR NOT NULL,
            person_b VARCHAR NOT NULL,
            case_id VARCHAR,
            actor VARCHAR NOT NULL,
            reason VARCHAR NOT NULL,
            decided_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (person_a, person_b)
        )""",
    ],
))
