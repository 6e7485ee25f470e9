"""Batch dedup's migrations (15 onwards): the runs and what they found, and the persons stewards keep apart
(``schema.py`` appends them after the exchange's; its rules hold here).

Split from ``schema.py`` only to keep each file to a readable size: the numbers are one sequence.
"""

BATCH_MIGRATIONS: list[tuple[int, list[str]]] = []

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
