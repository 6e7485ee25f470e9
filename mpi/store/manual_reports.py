"""The ``manual_reports`` table: who told a partner what about a referral, how and when, while its feed was down.

Reports are only ever added; they are read by referral (its read and page) and by
the referrals of an outbound pattern with its partner.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mpi.store.columns import MANUAL_REPORTS, marks, select
from mpi.store.database import Database

_SELECT = f"SELECT {select(MANUAL_REPORTS)} FROM manual_reports"


class ManualReportTable:
    """The manual status reports of one store."""

    def __init__(self, db: Database):
        self._db = db
        db.sequence("manual_report", "SELECT max(report_id) FROM manual_reports", prefix="MR")

    def add(self, report: dict[str, Any]) -> dict[str, Any]:
        """Store a report (inside a transaction); returns it with its id (``MR00000001``)."""
        row = {**report, "report_id": f"MR{self._db.next_id('manual_report'):08d}"}
        self._db.execute(f"INSERT INTO manual_reports ({select(MANUAL_REPORTS)}) VALUES ({marks(len(MANUAL_REPORTS))})",
                         [row[c] for c in MANUAL_REPORTS])
        return row

    def of_referral(self, referral_id: str) -> list[dict[str, Any]]:
        """A referral's reports, to every partner, in the order they were told."""
        return [dict(zip(MANUAL_REPORTS, r)) for r in self._db.query(
            f"{_SELECT} WHERE referral_id = ? ORDER BY reported_at, report_id", [referral_id])]

    def of_partner(self, partner_id: str, referral_ids: Sequence[str]) -> list[dict[str, Any]]:
        """The reports to one partner about these referrals, in the order they were told."""
        if not referral_ids:
            return []
        return [dict(zip(MANUAL_REPORTS, r)) for r in self._db.query(
            f"{_SELECT} WHERE partner_id = ? AND referral_id IN ({marks(len(referral_ids))}) "
            "ORDER BY reported_at, report_id", [partner_id, *referral_ids])]
