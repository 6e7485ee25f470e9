"""docs/referrals.md shows the lifecycle table the code holds: written once, read by the docs too."""

from __future__ import annotations

from mpi.referrals.lifecycle import markdown_table
from mpi.referrals.policy import ReferralPolicy
from mpi.settings import PROJECT_ROOT

DOC = (PROJECT_ROOT / "docs" / "referrals.md").read_text(encoding="utf-8")


def test_the_lifecycle_table_in_the_docs_is_the_codes():
    section = DOC.split("<!-- lifecycle-table:", 1)[1].split("<!-- /lifecycle-table -->", 1)[0]
    table = section.split("-->\n", 1)[1].strip()

    assert table == markdown_table()


def test_the_shipped_policy_compiles_and_its_targets_are_the_documented_ones():
    policy = ReferralPolicy.load()

    rows = {line.split("|")[1].strip(" `"): [c.strip() for c in line.split("|")[2:6]]
            for line in DOC.split("## Time targets", 1)[1].splitlines() if line.startswith("| `")}
    for urgency, cells in rows.items():
        hours = [int(cell.split()[0]) for cell in cells]
        assert [policy.targets[urgency][c] / 3600 for c in policy.targets[urgency]] == hours, urgency
