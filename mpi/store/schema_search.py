"""Search's migration (17): the search terms of every record, and the indexes a search reads by
(``schema.py`` appends it after batch dedup's; its rules hold here)."""

from mpi.store.search import fill_sql

SEARCH_MIGRATIONS: list[tuple[int, list[str]]] = [(
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
