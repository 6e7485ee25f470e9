"""``mpi load`` of held-out records into a fresh copy of a benchmark store, through the real CLI: the load phase of
``bench/latency.py`` (its step 4), timed from the command's start to its end, and its end part by part."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bulk  # noqa: E402

MPI = bulk.ROOT / ".venv" / "bin" / "mpi"


def load_phase(folder: Path, name: str = "load.csv") -> dict:
    """``mpi load`` of held-out records (``load.csv`` or ``load_large.csv``) into a fresh copy of the store,
    through the real CLI; the wall time is the whole command's, start-up and index included. Its end is timed by
    when each line is printed: ``rematch_s`` from the decisions' summary to the re-match's, ``rescore_s`` from
    there to the re-scoring's."""
    work = bulk.CACHE / "load-run"
    db = bulk.copy_store(folder, work)
    at: dict[str, float] = {}
    try:
        t0 = time.perf_counter()
        done = subprocess.Popen([str(MPI), "--db", str(db), "load", "--input", str(folder / name)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lines = []
        for line in done.stdout:
            lines.append(line)
            for mark in ("loaded ", "re-matched held records", "re-scored open cases"):
                if line.startswith(mark):
                    at[mark] = time.perf_counter()
        done.wait()
        wall = time.perf_counter() - t0
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = "".join(lines)
    if done.returncode != 0:
        sys.exit(f"mpi load failed:\n{text[-2000:]}")
    matched = re.search(r"matched in ([\d.]+) s \((\d+) records/s\)", text)
    loaded = re.search(r"loaded (\d+) records: (.*?); rejected (\d+)", text)
    index = re.search(r"candidate index: (\d+) records loaded in ([\d.]+) s", text)
    return {"file": name, "records": int(loaded.group(1)), "decisions": loaded.group(2), "matching_s": float(matched.group(1)),
            "records_per_s": int(matched.group(2)), "index_build_s": float(index.group(2)), "wall_s": wall,
            "rematch_s": _between(at, "loaded ", "re-matched held records"),
            "rescore_s": _between(at, "re-matched held records", "re-scored open cases")}


def _between(at: dict[str, float], first: str, then: str) -> float | None:
    return round(at[then] - at[first], 2) if first in at and then in at else None
