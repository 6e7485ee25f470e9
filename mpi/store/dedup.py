"""The ``dedup_runs`` and ``dedup_findings`` tables, and the reads a batch dedup run makes of the index.

A run reads every source record with its link as one Arrow table
(:meth:`DedupTable.records`), and what stewards and earlier runs have already
said about pairs of persons (:meth:`DedupTable.apart_pairs`,
:meth:`DedupTable.proposed_pairs`), so it proposes nothing a steward decided and
nothing already proposed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pyarrow as pa

from mpi.store.columns import DEDUP_FINDINGS, DEDUP_RUNS, select
from mpi.store.database import Database
from mpi.vocab import CaseResolution, Decision, LinkSource

RUNNING = "running"


class DedupTable:
    """Batch dedup runs of one store and what each found."""

    def __init__(self, db: Database):
        self._db = db
        db.sequence("dedup_run", "SELECT max(run_id) FROM dedup_runs", prefix="DR")

    # -- runs --------------------------------------------------------------------------------------

    def start(self, source: str, engine: str, model_version: str, actor: str) -> str:
        """Record a run as ``running`` (in the caller's transaction); returns its id."""
        run_id = f"DR{self._db.next_id('dedup_run'):06d}"
        self._db.execute("INSERT INTO dedup_runs (run_id, source, engine, model_version, actor, started_at, outcome) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?)", [run_id, source, engine, model_version, actor, self._db.now(),
                                                          RUNNING])
        return run_id

    def finish(self, run_id: str, outcome: str, counts: dict[str, Any], report: dict[str, Any] | None = None,
               error: str | None = None) -> None:
        """End a run with its outcome, counts, report and (for a failure) the kind of error."""
        self._db.execute("UPDATE dedup_runs SET ended_at = ?, outcome = ?, counts = ?, report = ?, error = ? "
                         "WHERE run_id = ?", [self._db.now(), outcome, json.dumps(counts),
                                              None if report is None else json.dumps(report), error, run_id])

    def interrupt_running(self, outcome: str) -> list[str]:
        """Mark every run still ``running`` as ``outcome`` (none is: its process died); returns their ids."""
        ids = [r[0] for r in self._db.query("SELECT run_id FROM dedup_runs WHERE outcome = ?", [RUNNING])]
        if ids:
            self._db.execute("UPDATE dedup_runs SET outcome = ?, ended_at = ? WHERE outcome = ?",
                             [outcome, self._db.now(), RUNNING])
        return ids

    def get(self, run_id: str, with_report: bool = False) -> dict | None:
        row = self._db.one(f"SELECT {select(DEDUP_RUNS)} FROM dedup_runs WHERE run_id = ?", [run_id])
        return None if row is None else _run(row, with_report)

    def all(self, limit: int = 100) -> list[dict]:
        """Runs, newest first, without their reports."""
        return [_run(r, False) for r in self._db.query(
            f"SELECT {select(DEDUP_RUNS)} FROM dedup_runs ORDER BY run_id DESC LIMIT ?", [limit])]

    # -- findings ------------------------------------------------------------------------------------

    def add_findings(self, run_id: str, findings: Sequence[Mapping[str, Any]]) -> None:
        """A run's findings (each with the fields of ``dedup_findings`` but ``run_id``) as one Arrow insert.

        One statement for them all: a statement per finding, each flushing the cases and audit events buffered
        before it, cost a run over 1M records with ~30,000 findings far more than its scoring (``bench/dedup.py``).
        """
        if not findings:
            return
        names = DEDUP_FINDINGS[1:]
        table = pa.table({"run_id": pa.array([run_id] * len(findings), pa.string()),
                          **{n: pa.array([f[n] for f in findings], pa.float64() if n == "match_weight" else pa.string())
                             for n in names}})
        self._db.insert_arrow("dedup_findings", DEDUP_FINDINGS, table, "writing a run's findings")

    def findings(self, run_id: str) -> list[dict]:
        return [dict(zip(DEDUP_FINDINGS, r)) for r in self._db.query(
            f"SELECT {select(DEDUP_FINDINGS)} FROM dedup_findings WHERE run_id = ? ORDER BY match_weight DESC",
            [run_id])]

    # -- what a run reads ------------------------------------------------------------------------------

    def records(self, fields: Sequence[str]) -> Any:
        """Every source record as an Arrow table: ``unique_id`` (0..n-1), its key, its link (person, source)
        and the given fields of its normalised form (the model's columns), as text."""
        if not all(re.fullmatch(r"[a-z][a-z0-9_]*", f) for f in fields):
            raise ValueError("a normalised field name is lower-case letters, digits and underscores")
        # One parse of each record's JSON for all the fields (a list of paths), not one per field: at 17k
        # records a seventh of the CPU, the same table (bench/dedup.py reads 1M records).
        paths = ", ".join(f"'$.{f}'" for f in fields)
        columns = ", ".join(f'v[{i}] AS "{f}"' for i, f in enumerate(fields, start=1))
        return self._db.arrow(
            f"""SELECT unique_id, source_system, source_record_id, person_id, link_source, {columns}
                FROM (SELECT (row_number() OVER (ORDER BY r.source_system, r.source_record_id) - 1)::BIGINT
                                 AS unique_id,
                             r.source_system, r.source_record_id, l.person_id, l.link_source,
                             json_extract_string(r.norm, [{paths}]) AS v
                      FROM source_records r LEFT JOIN links l USING (source_system, source_record_id))
                ORDER BY unique_id""")

    def redirects(self) -> dict[str, str]:
        """Merged-away person -> the person it redirects to (one step)."""
        return dict(self._db.query("SELECT person_id, redirect_to FROM persons WHERE redirect_to IS NOT NULL"))

    def manual_persons(self) -> set[str]:
        """Persons holding a record a steward linked (``MANUAL``): no machine merges them."""
        return {r[0] for r in self._db.query("SELECT DISTINCT person_id FROM links WHERE link_source = ?",
                                             [LinkSource.MANUAL.value])}

    def apart_pairs(self) -> Iterable[tuple[str, str]]:
        """Pairs of person ids (as stored: possibly merged away since) a steward said are different humans:

        - a record is not a person (``not_duplicate``): the record's person and that person;
        - a record is a new person although its case offered candidates: it and each candidate;
        - a ``POSSIBLE_DUPLICATE`` case resolved ``not_duplicate``: its two persons (``persons_apart``).
        """
        yield from self._db.query(
            "SELECT l.person_id, n.person_id FROM not_duplicate n JOIN links l USING (source_system, source_record_id)")
        yield from self._db.query(
            """SELECT l.person_id, cand.person_id FROM review_cases c
               JOIN review_candidates cand USING (case_id)
               JOIN links l ON l.source_system = c.source_system AND l.source_record_id = c.source_record_id
               WHERE c.kind = ? AND c.resolution = ?""",
            [Decision.POSSIBLE_MATCH.value, CaseResolution.NEW_PERSON.value])
        yield from self._db.query("SELECT person_a, person_b FROM persons_apart")

    def proposed_pairs(self) -> Iterable[tuple[str, str]]:
        """Pairs of person ids a ``POSSIBLE_DUPLICATE`` case named, whatever became of it (open, on hold,
        withdrawn, merged), unless a steward said they are not duplicates (:meth:`apart_pairs`)."""
        return self._duplicate_case_pairs("c.resolution IS DISTINCT FROM ?", [CaseResolution.NOT_DUPLICATE.value])

    def _duplicate_case_pairs(self, where: str, params: list) -> list[tuple[str, str]]:
        return self._db.query(
            f"""SELECT a.person_id, b.person_id FROM review_candidates a
                JOIN review_candidates b ON a.case_id = b.case_id AND a.rank < b.rank
                JOIN review_cases c ON c.case_id = a.case_id WHERE c.kind = ? AND {where}""",
            [Decision.POSSIBLE_DUPLICATE.value, *params])


def _run(row: tuple, with_report: bool) -> dict:
    run = dict(zip(DEDUP_RUNS, row))
    run["counts"] = json.loads(run["counts"]) if run["counts"] else {}
    report = run.pop("report")
    if with_report:
        run["report"] = json.loads(report) if report else None
    return run
