"""Processes on this machine as /proc shows them: to find a command's worker processes and kill one from outside,
as the kernel's OOM killer would."""

from __future__ import annotations

import os
from pathlib import Path


def processes() -> dict[int, tuple[int, bytes, int]]:
    """Each process on the machine: its parent, its command line and the CPU time it used (ticks), from /proc."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:  # gone meanwhile
            continue
        if stat[0] != "Z":
            found[int(entry)] = (int(stat[1]), cmdline, int(stat[11]) + int(stat[12]))
    return found


def busy_workers(pid: int, ticks: int) -> list[int]:
    """The pool workers under ``pid`` that have used at least ``ticks`` of CPU, busiest first.

    A worker is forked (its command line is its parent's: from the command itself, or from a fork server) or
    started by multiprocessing's spawn; the fork server and the resource tracker are neither.
    """
    seen = processes()
    under, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, (parent, _, _) in seen.items() if parent in frontier} - under
        under |= frontier
    workers = [p for p in under if seen[p][1] == seen.get(seen[p][0], (0, b""))[1]
               or b"spawn_main" in seen[p][1]]
    return sorted((p for p in workers if seen[p][2] >= ticks), key=lambda p: -seen[p][2])
