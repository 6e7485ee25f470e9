"""``mpi dedup`` over the store: find the duplicates the real-time path could not see, and record the run.

A run reads every record with its link, scores every blocked pair with the
active model through the batch engine (the online path's weights), and compares
what it finds with today's persons (``compare.py``):

- two persons found to be one become a ``POSSIBLE_DUPLICATE`` review case with the
  best pair's evidence, worked by a steward like any case. Where several persons
  are found to be one, a case is opened only for the pairs that join them (the
  best-first spanning forest: k persons, k - 1 cases), since merging along those
  makes them one; a pair already joined by an earlier run's case counts as joined.
  Where the policy says
  ``batch_auto_merge`` and the pair is at or above the upper threshold with no hold
  and no conflict (between any record of one and any of the other, not the best pair
  alone), and neither person holds a steward's link, the run merges them
  itself, audited as the run's (an unmerge undoes it like any merge);
- a person the run would split is reported (counts and report), never split;
- a pair a steward said are different humans (not a duplicate, a new person
  against candidates) is never proposed again; a pair a case named before (in
  any state but not-a-duplicate) is not proposed twice, so a second run over
  unchanged data opens nothing new.

Each run is a row of ``dedup_runs``: written ``running`` when it starts and
finished with its counts in the transaction that writes its cases and merges, so
a run that fails part-way (or is interrupted) writes nothing else: the store is
as it was, and the run's row says ``failed`` (or, for a process that died,
``interrupted`` when the next run starts). One run at a time per process; the
serving process runs them in the background for ``POST /v1/dedup-runs``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from mpi.batch import compare, engine, spark
from mpi.batch.engine import BatchModel, Progress
from mpi.batch.report import build_report
from mpi.clock import Clock
from mpi.errors import Conflict, NotFound
from mpi.identity.merges import MergeService
from mpi.matching.comparisons import FREQUENCY_COLUMNS, MODEL_COLUMNS
from mpi.matching.model import ModelRegistry
from mpi.stewardship.desk import ReviewDesk
from mpi.store import Store

logger = logging.getLogger(__name__)

ENGINES = ("duckdb", "spark")
COMPLETED, FAILED, INTERRUPTED = "completed", "failed", "interrupted"
SOURCE_STORE = "store"
#: What a run reads of each record it reports: its key, and what the scorer compares.
KEY_AND_MODEL_COLUMNS = ("source_system", "source_record_id", *MODEL_COLUMNS)


class DedupRuns:
    """Batch dedup runs over one store.

    Args:
        store: the store.
        registry: model files; ``active_version`` names the one in use.
        desk: opens ``POSSIBLE_DUPLICATE`` cases; merges: merges persons (an auto-merge).
        db_api_for: the Splink database for an engine name and Spark master (``mpi.batch.spark``).
    """

    def __init__(self, store: Store, registry: ModelRegistry, active_version: Callable[[], str], desk: ReviewDesk,
                 merges: MergeService, clock: Clock,
                 db_api_for: Callable[[str, str | None], Any] | None = None):
        self.store, self.registry, self.active_version = store, registry, active_version
        self.desk, self.merges, self.clock = desk, merges, clock
        self.db_api_for = db_api_for or (lambda engine_name, master: None)
        self._running = threading.Lock()
        self.progress: dict[str, Any] | None = None

    # -- reads --------------------------------------------------------------------------------------

    def runs(self, limit: int = 100) -> list[dict]:
        """Runs, newest first (without reports); a running one carries its ``progress``."""
        return [self._live(r) for r in self.store.dedup.all(limit)]

    def get(self, run_id: str, with_report: bool = False) -> dict:
        run = self.store.dedup.get(run_id, with_report)
        if run is None:
            raise NotFound(f"dedup run {run_id} not found", {"run_id": ["not found"]})
        return {**self._live(run), "findings": self.store.dedup.findings(run_id)}

    def _live(self, run: dict) -> dict:
        progress = self.progress
        if progress and progress["run_id"] == run["run_id"] and run["outcome"] == "running":
            return {**run, "progress": {k: v for k, v in progress.items() if k != "run_id"}}
        return run

    # -- a run --------------------------------------------------------------------------------------

    def start(self, actor: str, engine_name: str = "duckdb") -> str:
        """Record a new run as ``running`` (after marking any left ``running`` by a dead process
        ``interrupted``); returns its id. Raises Conflict while a run is in progress in this process."""
        if engine_name not in ENGINES:
            raise Conflict(f"unknown engine {engine_name!r}", {"engine": [f"one of {', '.join(ENGINES)}"]})
        if engine_name == "spark":
            spark.require_pyspark()  # a run that could not start is not recorded as one that failed
        if not self._running.acquire(blocking=False):
            raise Conflict("a dedup run is in progress: wait for it to finish", {"run": ["in progress"]})
        try:
            with self.store.transaction():
                for run_id in self.store.dedup.interrupt_running(INTERRUPTED):
                    logger.warning("dedup run %s was left running by a process that stopped: interrupted", run_id)
                return self.store.dedup.start(SOURCE_STORE, engine_name, self.active_version(), actor)
        except BaseException:
            self._running.release()
            raise

    def run(self, actor: str, engine_name: str = "duckdb", spark_master: str | None = None,
            progress: Progress = engine.quiet, run_id: str | None = None) -> dict:
        """Run a dedup over the whole store and return the finished run (with its findings).

        ``run_id`` is a run :meth:`start` recorded (the service starts one, answers, then runs it);
        without, one is started here. Any failure marks the run ``failed`` and is raised again.
        """
        run_id = run_id or self.start(actor, engine_name)
        started = time.perf_counter()
        seconds: dict[str, float] = {}

        def told(phase: str, count: int | None) -> None:
            self.progress = {"run_id": run_id, "phase": phase, "count": count,
                             "elapsed_s": round(time.perf_counter() - started, 1)}
            progress(phase, count)

        try:
            version = self.store.dedup.get(run_id)["model_version"]
            model = BatchModel.of(self.registry.document(version))
            told("reading", None)
            t = time.perf_counter()
            records = self.store.dedup.records(MODEL_COLUMNS)
            seconds["read"] = time.perf_counter() - t
            told("read", records.num_rows)
            scored = engine.score(records, model, self.db_api_for(engine_name, spark_master), told,
                                  extra_rules=(compare.SAME_PERSON_RULE,))
            seconds.update(scored.seconds)
            told("comparing", None)
            t = time.perf_counter()
            lower = model.policy.lower_match_weight
            pairs, split = compare.person_pairs(records, scored, lower), compare.splits(records, scored, lower)
            seconds["compare"] = time.perf_counter() - t
            told("writing", len(pairs))
            t = time.perf_counter()
            counts = self._write(run_id, actor, model, records, scored, pairs, split, seconds, t)
        except BaseException as e:
            self._fail(run_id, e)
            raise
        finally:
            self.progress = None
            self._running.release()
        logger.info("dedup run %s: %s records, %s pairs, %s cases, %s merges, %s splits", run_id, counts["records"],
                    counts["pairs_scored"], counts["cases_opened"], counts["auto_merged"], counts["splits"])
        return self.get(run_id)

    def _fail(self, run_id: str, error: BaseException) -> None:
        outcome = INTERRUPTED if isinstance(error, KeyboardInterrupt) else FAILED
        logger.error("dedup run %s %s: %s", run_id, outcome, type(error).__name__)
        with self.store.transaction():
            self.store.dedup.finish(run_id, outcome, {}, error=type(error).__name__)

    def _write(self, run_id: str, actor: str, model: BatchModel, records: Any, scored: engine.Scored,
               pairs: list[compare.PersonPair], split: list[compare.Split], seconds: dict[str, float],
               write_started: float) -> dict[str, Any]:
        """Open the cases and make the merges the run found, and finish the run, in one transaction."""
        policy = model.policy
        evidence_of = _Evidence(records, model, pairs)
        tally = dict.fromkeys(("cases_opened", "auto_merged", "already_proposed", "kept_apart", "implied"), 0)
        findings = []
        with self.store.serialised(), self.store.transaction():
            redirects = self.store.dedup.redirects()
            live = _resolver(redirects)
            apart = _pairs(self.store.dedup.apart_pairs(), live)
            proposed = _pairs(self.store.dedup.proposed_pairs(), live)
            manual = self.store.dedup.manual_persons()
            joined = compare.UnionFind()
            for pair in pairs:  # best first: Kruskal's spanning forest of the persons found to be one
                a, b = sorted((live(pair.person_a), live(pair.person_b)))
                if a == b:
                    continue
                if frozenset((a, b)) in apart:
                    tally["kept_apart"] += 1
                    continue
                if not joined.union(a, b):
                    tally["implied"] += 1  # already one through cases of this run or earlier ones
                    continue
                if frozenset((a, b)) in proposed:
                    tally["already_proposed"] += 1
                    continue
                score = evidence_of(pair)
                record_a, record_b = evidence_of.key(pair.uid_a), evidence_of.key(pair.uid_b)
                reason = f"dedup run {run_id}: best pair scores {pair.match_weight:.2f}"
                case_id = merge_id = None
                if (policy.batch_auto_merge and pair.match_weight >= policy.upper_match_weight
                        and policy.clears(score.evidence)
                        and not {a, b} & manual and not evidence_of.contradict(a, b, live, redirects, policy)):
                    merge_id = self.merges.merge(a, b, actor, reason)
                    redirects[b] = a  # later findings naming b mean a now
                    tally["auto_merged"] += 1
                else:
                    case_id = self.desk.open_duplicate(a, b, pair.match_weight, pair.match_probability,
                                                       score.evidence, model.version, actor, reason,
                                                       {"dedup_run_id": run_id, "records": [record_a, record_b]})
                    tally["cases_opened"] += 1
                findings.append({"case_id": case_id, "merge_id": merge_id, "person_a": a, "person_b": b,
                                 "match_weight": pair.match_weight, "record_a": record_a, "record_b": record_b})
            self.store.dedup.add_findings(run_id, findings)  # one insert: the cases stay buffered till then
            seconds["write"] = time.perf_counter() - write_started
            report = _report(scored, records, policy, findings, split)
            counts = _counts(report, pairs, tally, split, seconds)
            self.store.dedup.finish(run_id, COMPLETED, counts, report)
        return counts


def _pairs(pairs: Any, live: Callable[[str], str]) -> set[frozenset[str]]:
    """Stored pairs of person ids as pairs of the live persons they stand for."""
    return {frozenset((live(a), live(b))) for a, b in pairs}


def _resolver(redirects: dict[str, str]) -> Callable[[str], str]:
    """Person id -> the live person it stands for, following ``redirects`` (merged-away id -> survivor)."""

    def live(person_id: str) -> str:
        seen = 0
        while person_id in redirects and seen < 64:
            person_id, seen = redirects[person_id], seen + 1
        return person_id
    return live


class _Evidence:
    """The in-process scorer's evidence for a finding's best pair, with the population's pooled frequencies
    (the same weight the engine gave it: ``tests/test_batch_engine.py``)."""

    def __init__(self, records: Any, model: BatchModel, pairs: list[compare.PersonPair]):
        self.records, self.scorer, self.size = records, model.model.scorer, records.num_rows
        self.rows: dict[int, dict[str, Any]] = {}
        values: dict[str, set] = {c: set() for c in FREQUENCY_COLUMNS}
        for pair in pairs:
            for uid in (pair.uid_a, pair.uid_b):
                if uid not in self.rows:
                    row = self.rows[uid] = compare.model_columns_of(records, uid, KEY_AND_MODEL_COLUMNS)
                    for c in FREQUENCY_COLUMNS:
                        if row.get(c) is not None:
                            values[c].add(row[c])
        self.counts = compare.CountsOf(records, FREQUENCY_COLUMNS, values)
        self._uids_of: dict[str, list[int]] | None = None  # each person's records, read once if a merge is weighed

    def __call__(self, pair: compare.PersonPair) -> Any:
        left, right = self.rows[pair.uid_a], self.rows[pair.uid_b]
        frequencies = self.scorer.frequencies(left, self.size, self.counts, left)
        return self.scorer.score(left, right, self.size, frequencies)

    def contradict(self, a: str, b: str, live: Callable[[str], str], redirects: Mapping[str, str],
                   policy: Any) -> bool:
        """Whether a record of person ``a`` meets a conflict rule against a record of ``b``: a merge joins every
        record of one to every record of the other, so it is made only when none contradicts another, as a
        record joins a person in real time (its best pair alone might agree while another says two people).

        A person's records are those read for it, and those of every person merged into it (``redirects``,
        followed by ``live``): the owners are looked up, not every record scanned per merge weighed.
        """
        if self._uids_of is None:
            self._uids_of = {}
            for uid, owner in enumerate(self.records["person_id"].to_pylist()):
                if owner is not None:
                    self._uids_of.setdefault(owner, []).append(uid)
        sides: dict[str, list[dict[str, Any]]] = {a: [], b: []}
        for owner in {a, b, *redirects}:
            if (person := live(owner)) in sides:
                sides[person] += [compare.model_columns_of(self.records, uid, MODEL_COLUMNS)
                                  for uid in self._uids_of.get(owner, ())]
        return any(policy.conflict(self.scorer.score(left, right).evidence) is not None
                   for left in sides[a] for right in sides[b])

    def key(self, uid: int) -> str:
        """A finding's record as ``source_system/source_record_id``."""
        row = self.rows[uid]
        return f"{row['source_system']}/{row['source_record_id']}"


def _counts(report: dict[str, Any], pairs: list, tally: dict[str, int], split: list,
            seconds: dict[str, float]) -> dict[str, Any]:
    """The run's counts: the population's from its report's totals, then what the run did about persons."""
    totals = report["totals"]
    return {
        **{k: totals[k] for k in ("records", "pairs_scored", "pairs_above_lower", "pairs_above_upper", "clusters",
                                  "clusters_of_two_or_more")},
        "person_pairs_found": len(pairs),
        **tally,
        "splits": len(split),
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
    }


def _report(scored: engine.Scored, records: Any, policy: Any, findings: list[dict], split: list) -> dict | None:
    """The run's report (``mpi.batch.report``), kept with the run."""
    return build_report(scored, records, policy, findings,
                        [{"person_id": s.person_id, "records": s.records, "parts": s.parts} for s in split])
