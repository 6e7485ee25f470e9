"""The steward's migrations (17 onwards): the search terms of every record and the indexes a search reads by (17),
and why each review case is held (18). ``schema.py`` appends them after batch dedup's; its rules hold here."""

from mpi.store.search import fill_sql

STEWARD_MIGRATIONS: list[tuple[int, list[str]]] = [(
    17,
    [
        # One row per term of a record (``mpi/store/search.py``), written with the record and replaced with it.
        # Rows are only inserted and deleted, so no key; the index on term is what a search reads by.
        """CREATE TABLE search_terms (
            term VARCHAR NOT NULL,
            source_system VARCHAR NOT NULL,
            source_record_id VARCHAR NOT NULL
        )""",
        fill_sql(),
        "CREATE INDEX search_terms_term ON search_terms (term)",
        # DuckDB scans a table for a two-column key; the record id alone is looked up by index.
        "CREATE INDEX links_record ON links (source_record_id)",
        "CREATE INDEX source_records_record ON source_records (source_record_id)",
    ],
)]

STEWARD_MIGRATIONS.append((
    18,
    [
        # Why each review case holds its record: a code (mpi.vocab.HeldCode), the sentence a steward reads (the
        # case's opening audit reason), and its numbers as JSON. Keyed by case_id, a table of its own because
        # review_cases has an index and cannot take a new column. No key constraint: a re-scored case's row is
        # replaced (delete and insert) in its transaction. Cases opened before it have no row (``unrecorded``).
        """CREATE TABLE case_reasons (
            case_id VARCHAR NOT NULL,
            code VARCHAR NOT NULL,
            sentence VARCHAR NOT NULL,
            detail JSON,
            recorded_at TIMESTAMPTZ NOT NULL
        )""",
    ],
))
