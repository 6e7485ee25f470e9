"""Versioned model files: write, list, load, and which one the store uses.

A model file (``matching_models/<version>.json``) holds Splink's trained model
JSON, the match policy, the term-frequency tables and metadata saying what it
was trained on, when, and with which Splink. Files are written once and never
changed; ``mpi model activate`` records in the store which version is active.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mpi.clock import Clock, SystemClock
from mpi.errors import ModelError, NotFound
from mpi.matching.comparisons import FREQUENCY_COLUMNS
from mpi.matching.frequencies import ValueCounts
from mpi.matching.policy import Policy
from mpi.matching.scoring import Scorer

ACTIVE_MODEL_KEY = "active_model_version"
FORMAT = "closedloop-mpi/model/1"
_VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


@dataclass(frozen=True)
class Model:
    """A loaded model: its metadata, compiled scorer and policy."""

    version: str
    meta: dict[str, Any]
    policy: Policy
    scorer: Scorer


def term_frequencies(rows: Iterable[Mapping[str, Any]]) -> tuple[dict[str, dict[str, float]], float]:
    """Relative frequency of each value of the tf columns, and the floor for unseen values.

    Only values seen at least twice are kept: the floor (one in the number of
    records) stands for every rarer value, which keeps model files small.
    """
    counts, n = ValueCounts(), 0
    for row in rows:
        n += 1
        counts.add(row)
    tables = {}
    for col in FREQUENCY_COLUMNS:
        counter = counts.of(col)
        total = sum(counter.values()) or 1
        tables[col] = {v: c / total for v, c in sorted(counter.items()) if c >= 2}
    return tables, 1.0 / max(n, 1)


def build_model_file(
    version: str,
    splink_model: dict[str, Any],
    tf_tables: dict[str, dict[str, float]],
    tf_floor: float,
    trained_on: dict[str, Any],
    splink_version: str,
    policy: dict[str, Any] | None = None,
    clock: Clock | None = None,
) -> dict[str, Any]:
    """Assemble (and validate) the JSON document of one model version (``created_at`` from ``clock``)."""
    check_version_name(version)
    document = {
        "format": FORMAT,
        "version": version,
        "created_at": _created_at(clock),
        "splink_version": splink_version,
        "trained_on": trained_on,
        "policy": Policy.from_spec(policy).as_spec(),
        "tf_floor": tf_floor,
        "tf_tables": tf_tables,
        "splink_model": splink_model,
    }
    compile_model(document)
    return document


def derive_version(document: Mapping[str, Any], version: str, policy: Mapping[str, Any],
                   note: Mapping[str, Any], clock: Clock | None = None) -> dict[str, Any]:
    """A new model version: the same trained model under another policy, with a note of why."""
    check_version_name(version)
    derived = {**document, "version": version, "created_at": _created_at(clock),
               "policy": Policy.from_spec({**document.get("policy", {}), **policy}).as_spec(),
               "derived_from": {"version": document["version"], **note}}
    compile_model(derived)
    return derived


def _created_at(clock: Clock | None) -> str:
    return (clock or SystemClock()).now().isoformat(timespec="seconds")


def check_version_name(version: str) -> None:
    if not _VERSION_RE.match(version):
        raise ModelError("model version must be 1-80 letters, digits, '.', '_' or '-'", {"version": ["bad format"]})


def compile_model(document: Mapping[str, Any]) -> Model:
    """Turn a model document into a ready :class:`Model`, or raise ModelError."""
    if document.get("format") != FORMAT:
        raise ModelError(f"not a model file of format {FORMAT}")
    try:
        scorer = Scorer(document["splink_model"], document["tf_tables"], document["tf_floor"],
                        (document.get("trained_on") or {}).get("records"))
    except KeyError as e:
        raise ModelError(f"model file lacks {e.args[0]}") from e
    meta = {k: v for k, v in document.items() if k not in ("splink_model", "tf_tables")}
    return Model(document["version"], meta, Policy.from_spec(document.get("policy")), scorer)


class ModelRegistry:
    """The folder of model files."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def path_of(self, version: str) -> Path:
        check_version_name(version)
        return self.folder / f"{version}.json"

    def save(self, document: dict[str, Any]) -> Path:
        """Write a new version; refuse to overwrite one that exists."""
        path = self.path_of(document["version"])
        if path.exists():
            raise ModelError(f"model version {document['version']} exists already", {"version": ["exists"]})
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(document, indent=1, sort_keys=False) + "\n")
        tmp.replace(path)
        return path

    def versions(self) -> list[dict[str, Any]]:
        """Metadata of every model file, oldest first."""
        out = []
        for path in sorted(self.folder.glob("*.json")):
            try:
                document = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if document.get("format") == FORMAT:
                out.append({k: document.get(k) for k in ("version", "created_at", "splink_version", "trained_on",
                                                         "policy", "learned_from")})
        return sorted(out, key=lambda d: d["created_at"] or "")

    def load(self, version: str) -> Model:
        return compile_model(self.document(version))

    def document(self, version: str) -> dict[str, Any]:
        """The JSON document of a model version, as written."""
        path = self.path_of(version)
        if not path.exists():
            raise NotFound(f"model version {version} not found in {self.folder}")
        try:
            document = json.loads(path.read_text())
        except ValueError as e:
            raise ModelError(f"model file {path.name} is not valid JSON") from e
        return document
