"""Why each review case holds its record: the ``case_reasons`` table (migration 18), one row per case.

What a reason says is stewardship's and matching's (``mpi.matching.decisions.HeldBecause``); this
module only keeps it. A case's row is written with the case (buffered, like the case) and replaced
when the case is re-scored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from mpi.store.columns import loads
from mpi.store.database import Database


class CaseReasonTable:
    """The ``case_reasons`` table of one store."""

    def __init__(self, db: Database):
        self._db = db

    def add(self, case_id: str, code: str, sentence: str, detail: Mapping[str, Any] | None = None) -> None:
        """Record why a case just opened holds its record (buffered with the case)."""
        self._db.pending().reasons.append([case_id, code, sentence, json.dumps(dict(detail or {})), self._db.now()])

    def replace(self, case_id: str, code: str, sentence: str, detail: Mapping[str, Any] | None = None) -> None:
        """Say afresh why a case holds its record (it was re-scored)."""
        self.replace_many({case_id: (code, sentence, detail)})

    def replace_many(self, reasons: Mapping[str, tuple[str, str, Mapping[str, Any] | None]]) -> None:
        """Say afresh why each case holds its record (``case_id -> (code, sentence, detail)``): one delete however
        many cases (the new rows are buffered)."""
        if not reasons:
            return
        self._db.execute("DELETE FROM case_reasons WHERE list_contains(?, case_id)", [list(reasons)])
        for case_id, (code, sentence, detail) in reasons.items():
            self.add(case_id, code, sentence, detail)

    def of(self, case_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Each case's reason (``code``, ``sentence``, ``detail``) by case id; a case opened before migration 18
        has none."""
        ids = list(case_ids)
        if not ids:
            return {}
        rows = self._db.query("SELECT case_id, code, sentence, detail FROM case_reasons "
                              "WHERE list_contains(?, case_id)", [ids])
        return {r[0]: {"code": r[1], "sentence": r[2], "detail": loads(r[3]) or {}} for r in rows}
