"""``bench/latency.py`` of two checkouts, run alternately, and the ratios new/base.

Each checkout runs its own ``bench/latency.py`` with its own venv (base, new,
base, new ... ``--repeat`` times each, never two at once) at one size, timing
``mpi load`` at that size too. The figures are read from the JSON each run
writes to its ``bench/out/``: /v1/match over HTTP and in process (p50, p95,
p99, ms) and ``mpi load`` records/s. It prints every run, then per figure the
median of each side and the ratio new/base of the medians, with the ratio of
each base/new pair beside it. A latency ratio above 1 means the new checkout is
slower; a records/s ratio above 1 means it is faster.

Both sides must measure the same store: ``--share-store`` first copies the
base checkout's cached store of that size (``var/bench/people<N>-seed<S>-v*``,
built by ``bench/bulk.py``) into the new checkout's ``var/bench/`` where it has
none, so nothing is rebuilt and both start from the same bytes.

Run::

    .venv/bin/python bench/side_by_side.py --base /work/base --new . --share-store
    .venv/bin/python bench/side_by_side.py --base /work/base --new . --repeat 3 -- --queries 200
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

#: (label, path in one size's results of latency.py's JSON)
FIGURES = [(f"{where} {q} ms", (where, "latency_ms", q))
           for where in ("http", "inprocess") for q in ("p50", "p95", "p99")]
FIGURES.append(("mpi load records/s", ("load", "records_per_s")))


def share_store(base: Path, new: Path, size: int, seed: int) -> None:
    """Copy the base checkout's cached store(s) of this size to the new checkout, where it has none."""
    found = sorted((base / "var" / "bench").glob(f"people{size}-seed{seed}-v*"))
    if not found:
        sys.exit(f"no cached store people{size}-seed{seed}-v* under {base}/var/bench: run its bench/bulk.py first")
    for folder in found:
        target = new / "var" / "bench" / folder.name
        if target.exists():
            print(f"{target} exists: kept")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(folder, target, ignore=shutil.ignore_patterns("serve.log"))
        print(f"copied {folder} to {target}")


def run_once(root: Path, size: int, seed: int, extra: list[str]) -> dict:
    """One latency.py run of a checkout; the results of that size from the JSON it wrote."""
    cmd = [str(root / ".venv" / "bin" / "python"), str(root / "bench" / "latency.py"), "--sizes", str(size),
           "--load-sizes", str(size), "--seed", str(seed), *extra]
    done = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    written = re.search(r"^written (.+\.json)$", done.stdout, re.M)
    if done.returncode != 0 or not written:
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
    return json.loads(Path(written.group(1)).read_text())["results"][str(size)] | {"json": written.group(1)}


def figure(result: dict, path: tuple) -> float | None:
    for step in path:
        result = result.get(step) if isinstance(result, dict) else None
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n", 2)[2])
    parser.add_argument("--base", type=Path, required=True, help="checkout before the change")
    parser.add_argument("--new", type=Path, required=True, help="checkout after the change")
    parser.add_argument("--size", type=int, default=100_000, help="generated persons (default 100000)")
    parser.add_argument("--seed", type=int, default=7, help="generator seed of the store (default 7)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each side, alternately (default 1)")
    parser.add_argument("--share-store", action="store_true", help="copy base's cached store to new first")
    parser.add_argument("extra", nargs="*", help="after --: more options for latency.py (e.g. --queries 200)")
    args = parser.parse_args()
    roots = {"base": args.base.resolve(), "new": args.new.resolve()}
    if args.share_store:
        share_store(roots["base"], roots["new"], args.size, args.seed)
    runs: dict[str, list[dict]] = {"base": [], "new": []}
    for i in range(args.repeat):
        for side, root in roots.items():
            result = run_once(root, args.size, args.seed, args.extra)
            runs[side].append(result)
            shown = "  ".join(f"{label} {value:.2f}" for label, path in FIGURES
                              if (value := figure(result, path)) is not None)
            print(f"run {i + 1}/{args.repeat} {side:<4} {shown}  ({result['json']})", flush=True)
    print(f"\n{args.size} persons generated, {args.repeat} run(s) each; medians, and ratio new/base"
          " (latency: above 1 is slower; records/s: above 1 is faster)")
    print(f"{'figure':<22} {'base':>9} {'new':>9} {'new/base':>9}  per pair")
    for label, path in FIGURES:
        base = [v for r in runs["base"] if (v := figure(r, path)) is not None]
        new = [v for r in runs["new"] if (v := figure(r, path)) is not None]
        if not base or not new:
            continue
        pairs = " ".join(f"{n / b:.3f}" for b, n in zip(base, new))
        print(f"{label:<22} {statistics.median(base):>9.2f} {statistics.median(new):>9.2f}"
              f" {statistics.median(new) / statistics.median(base):>9.3f}  {pairs}")


if __name__ == "__main__":
    main()
