"""Same decisions to the record: one seeded population through `mpi load` of two checkouts, compared.

What it proves: that two commits (say the one before a refactor and the one after)
decide a generated population identically. It generates ONE population with the
base checkout's ``mpi generate`` (default 5,000 people, seed 11: about 13,000
records), loads it with each checkout's own ``.venv/bin/mpi`` into a fresh store
in a temporary folder (each with its own default models folder, the same
``--workers``), exports each store with ``mpi export`` and compares:

* the export, record by record on (source_system, source_record_id): decision,
  person_id, link_source, score (the string ``export`` writes), review_case_id;
  and person grouping as a partition of records into persons, so a renumbering
  of the same groups is told apart from records grouped differently;
* the stores themselves (opened read-only with ``duckdb``), every column the load
  decided, leaving out only timestamps: links, persons, review cases (with
  due_at - created_at), review candidates, the audit log in event_id order,
  source records (raw and normalised), blocking keys, meta, and every table's
  row count.

It prints rows compared and mismatches per table (the first few keys and both
values), each load's ``matched in X s (N records/s)`` line and the throughput
ratio new/base, and exits 1 if anything differs. ``--repeat K`` times K loads
of each side alternately (A, B, A, B ...); the stores of the first pair are the
ones compared.

Run (any Python with duckdb, e.g. a checkout's venv)::

    .venv/bin/python bench/same_decisions.py --base /work/base --new .
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import duckdb

KEY = ("source_system", "source_record_id")
EXPORTED = ("decision", "person_id", "link_source", "score", "review_case_id")
#: Table name -> (number of leading key columns, query). Timestamps are left out, nothing else.
TABLES: dict[str, tuple[int, str]] = {
    "links": (2, "SELECT source_system, source_record_id, person_id, decision, link_source, score, probability,"
                 " evidence::VARCHAR AS evidence, model_version FROM links"),
    "persons": (1, "SELECT person_id, status, redirect_to, golden::VARCHAR AS golden FROM persons"),
    "review_cases": (1, "SELECT case_id, kind, source_system, source_record_id, state, priority, resolution, owner,"
                        " blocks::VARCHAR AS blocks, model_version, (due_at - created_at)::VARCHAR AS due_after,"
                        " version FROM review_cases"),
    "review_candidates": (2, "SELECT case_id, rank, person_id, score, probability, evidence::VARCHAR AS evidence"
                             " FROM review_candidates"),
    "audit_log": (1, "SELECT event_id, actor, action, entity_type, entity_id, reason, detail::VARCHAR AS detail"
                     " FROM audit_log ORDER BY event_id"),
    "source_records": (2, "SELECT source_system, source_record_id, raw::VARCHAR AS raw, norm::VARCHAR AS norm"
                          " FROM source_records"),
    "blocking_keys": (2, "SELECT source_system, source_record_id, list_sort(list(block_key))::VARCHAR AS keys"
                         " FROM blocking_keys GROUP BY ALL"),
    "meta": (1, "SELECT key, value FROM meta"),
    "row counts": (1, "SELECT table_name, estimated_size AS rows FROM duckdb_tables()"),  # exact counts filled in below
}
MATCHED = re.compile(r"matched in ([\d.]+) s \((\d+) records/s\)")


def run(cmd: list[str], cwd: Path) -> str:
    """Run a command (no MPI_* from our environment: each checkout uses its own defaults); stdout + stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MPI_")}
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
    return done.stdout + done.stderr


def load_and_export(root: Path, population: Path, work: Path, workers: int) -> tuple[Path, str, float]:
    """``mpi load`` the population into a new store under ``work`` and export it; (store, matched line, rate)."""
    mpi, store, export = str(root / ".venv" / "bin" / "mpi"), work / "store.duckdb", work / "export.csv"
    text = run([mpi, "--db", str(store), "load", "--input", str(population), "--workers", str(workers)], work)
    run([mpi, "--db", str(store), "export", "--output", str(export)], work)
    matched = MATCHED.search(text)
    if not matched:
        sys.exit(f"no 'matched in' line in the output of mpi load from {root}:\n{text[-2000:]}")
    return store, matched.group(0), float(matched.group(2))


def read_export(path: Path) -> dict[tuple, dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return {tuple(r[k] for k in KEY): r for r in csv.DictReader(f)}


def read_store(path: Path) -> dict[str, dict[tuple, tuple]]:
    """Every table of ``TABLES`` as {key: rest of the row}, read-only."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = {}
        for name, (width, sql) in TABLES.items():
            cur = con.execute(sql)
            rows, columns = cur.fetchall(), [d[0] for d in cur.description][width:]
            if name == "row counts":
                rows = [(t, con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]) for t, _ in rows]
            tables[name] = {tuple(r[:width]): dict(zip(columns, r[width:])) for r in rows}
        return tables
    finally:
        con.close()


def groups(export: dict[tuple, dict]) -> dict[tuple, frozenset]:
    """Each record's fellow members of its person (itself alone when it has none): the partition, ids aside."""
    members: dict[str, set] = defaultdict(set)
    for key, row in export.items():
        if row["person_id"]:
            members[row["person_id"]].add(key)
    return {key: frozenset(members[row["person_id"]]) if row["person_id"] else frozenset([key])
            for key, row in export.items()}


def clip(x: str, y: str, width: int = 100) -> tuple[str, str]:
    """Two long texts cut to a window around where they first differ."""
    if len(x) <= width and len(y) <= width:
        return x, y
    at = next((i for i, (p, q) in enumerate(zip(x, y)) if p != q), min(len(x), len(y)))
    start = max(0, at - width // 4)
    return tuple(("..." if start else "") + t[start:start + width] + ("..." if len(t) > start + width else "")
                 for t in (x, y))


class Report:
    """Mismatches per check, with the first few examples."""

    def __init__(self, examples: int):
        self.examples, self.failed, self.lines = examples, False, []

    def check(self, name: str, a: dict, b: dict, show=lambda x: x) -> int:
        """Compare two {key: value} maps; returns the number of keys that differ."""
        only_a, only_b = sorted(a.keys() - b.keys()), sorted(b.keys() - a.keys())
        changed = sorted(k for k in a.keys() & b.keys() if a[k] != b[k])
        bad = len(only_a) + len(only_b) + len(changed)
        self.failed |= bad > 0
        self.lines.append(f"  {name:<28} {len(a.keys() | b.keys()):>8} rows  "
                          f"{'identical' if not bad else f'{bad} DIFFER'}")
        for k in only_a[: self.examples]:
            self.lines.append(f"      {k}: only in base")
        for k in only_b[: self.examples]:
            self.lines.append(f"      {k}: only in new")
        for k in changed[: self.examples]:
            self.lines.append(f"      {k}:")
            # A row (a dict of columns): only the columns that differ, each clipped around its first difference.
            pairs = [(c, v, b[k][c]) for c, v in a[k].items() if v != b[k][c]] if isinstance(a[k], dict) \
                else [("", show(a[k]), show(b[k]))]
            for column, x, y in pairs:
                x, y = clip(str(x), str(y))
                self.lines.append(f"        {column:<16} base {x}\n        {'':<16} new  {y}")
        return bad


def compare(export_a: dict, export_b: dict, store_a: dict, store_b: dict, examples: int) -> Report:
    report = Report(examples)
    bad = {column: report.check(f"export {column}", {k: r[column] for k, r in export_a.items()},
                                {k: r[column] for k, r in export_b.items()}) for column in EXPORTED}
    # Grouping: the same partition with other ids is a renumbering; a different partition is a regrouping.
    group_a, group_b = groups(export_a), groups(export_b)
    regrouped = report.check("export person grouping", group_a, group_b,
                             show=lambda g: f"{len(g)} records: {sorted(g)[:4]}{' ...' if len(g) > 4 else ''}")
    if bad["person_id"] and not regrouped:
        report.lines.append("      (the same grouping under other person ids: a renumbering, not a regrouping)")
    for name in TABLES:
        report.check(name, store_a[name], store_b[name])
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n", 2)[2])
    parser.add_argument("--base", type=Path, required=True, help="checkout before the change (with .venv/bin/mpi)")
    parser.add_argument("--new", type=Path, required=True, help="checkout after the change (with .venv/bin/mpi)")
    parser.add_argument("--people", type=int, default=5000, help="generated people (default 5000: ~13,000 records)")
    parser.add_argument("--seed", type=int, default=11, help="generator seed (default 11)")
    parser.add_argument("--workers", type=int, default=1, help="mpi load --workers, the same for both (default 1)")
    parser.add_argument("--repeat", type=int, default=1, help="loads of each side, alternately, for timing")
    parser.add_argument("--examples", type=int, default=5, help="differing keys shown per table (default 5)")
    parser.add_argument("--min-records", type=int, default=10_000, help="refuse a smaller population")
    args = parser.parse_args()
    roots = {"base": args.base.resolve(), "new": args.new.resolve()}
    for side, root in roots.items():
        if not (root / ".venv" / "bin" / "mpi").exists():
            sys.exit(f"--{side} {root}: no .venv/bin/mpi")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="same-decisions-") as tmp:
        tmp = Path(tmp)
        population = tmp / "population.csv"
        print(run([str(roots["base"] / ".venv" / "bin" / "mpi"), "generate", "--output", str(population),
                   "--people", str(args.people), "--seed", str(args.seed)], tmp).strip())
        with open(population, newline="", encoding="utf-8") as f:
            records = sum(1 for _ in csv.DictReader(f))
        if records < args.min_records:
            sys.exit(f"{records} records is fewer than --min-records {args.min_records}: raise --people")
        rates: dict[str, list[float]] = {"base": [], "new": []}
        kept: dict[str, Path] = {}
        for i in range(args.repeat):
            for side, root in roots.items():
                work = tmp / f"{side}-{i}"
                work.mkdir()
                t0 = time.perf_counter()
                store, line, rate = load_and_export(root, population, work, args.workers)
                print(f"  load {i + 1}/{args.repeat} {side:<4} ({root}): {line}  "
                      f"[load + export {time.perf_counter() - t0:.0f} s]", flush=True)
                rates[side].append(rate)
                kept.setdefault(side, work)
        print(f"\ncomparing {records} records of {args.people} people (seed {args.seed}), "
              f"loads of {kept['base'].name} and {kept['new'].name}:")
        report = compare(read_export(kept["base"] / "export.csv"), read_export(kept["new"] / "export.csv"),
                         read_store(kept["base"] / "store.duckdb"), read_store(kept["new"] / "store.duckdb"),
                         args.examples)
    print("\n".join(report.lines))
    ratios = [n / b for n, b in zip(rates["new"], rates["base"])]
    print(f"\nmpi load records/s  base: {', '.join(f'{r:.0f}' for r in rates['base'])}"
          f"  new: {', '.join(f'{r:.0f}' for r in rates['new'])}")
    print(f"ratio new/base: {', '.join(f'{r:.3f}' for r in ratios)}; mean {sum(ratios) / len(ratios):.3f}"
          f" (above 1: new is faster)")
    print(f"\n{'DIFFERENCES FOUND' if report.failed else 'SAME: no difference'} "
          f"({time.perf_counter() - started:.0f} s in all)")
    sys.exit(1 if report.failed else 0)


if __name__ == "__main__":
    main()
