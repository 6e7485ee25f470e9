"""Two persons side by side: compare any two (``/review/compare?a=&b=``) and the merge preview.

A steward never merges an id typed blind: the person page's merge form opens
the **merge preview** (``/review/persons/<survivor>/merge-preview?loser_id=``),
which shows both persons as a ``POSSIBLE_DUPLICATE`` case shows its two (golden
views, records, the field-by-field comparison, the best pair's waterfall:
``_duplicate.html``), spells out which one survives, and only then asks for the
reason and posts the merge (``POST /review/persons/<survivor>/merge``). The
compare page (linked from search) shows the same and offers "merge these" in
either direction, each leading to the preview. Both pages name the two persons
by links, so the access log records them as read (``api/access_log.py``); logs
carry ids only.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import g, render_template, request

from mpi.errors import ValidationError
from review_ui import duplicates
from review_ui.blueprint import bp
from review_ui.views import render_person, review

logger = logging.getLogger(__name__)

#: What a person id looks like (anything else is refused before the store is asked).
PERSON_ID = re.compile(r"MPI\d{1,20}\Z")


@dataclass(frozen=True)
class PairPage:
    """Two live persons compared; on a merge preview, which one survives."""

    pair: duplicates.DuplicatePair
    survivor: str | None = None
    loser: str | None = None
    error: str | None = None
    field_errors: Mapping[str, list[str]] = field(default_factory=dict)

    @property
    def preview(self) -> bool:
        return self.survivor is not None


def person_id_arg(name: str, value: str | None) -> str:
    """A person id from the request, checked for its shape (a 422 naming the field otherwise)."""
    value = (value or "").strip()
    if not value:
        raise ValidationError(f"{name} is required: a person id", {name: ["required"]})
    if not PERSON_ID.match(value):
        raise ValidationError(f"{name} is not a person id", {name: ["a person id, MPI followed by digits"]})
    return value


def build(a_id: str, b_id: str, **extra: Any) -> PairPage:
    """Read both persons (following merges to the live ones), score their best pair, lay them side by side.

    Raises:
        NotFound: an unknown person id.
        ValidationError: both ids lead to one person (nothing to compare or merge).
    """
    r = review()
    first, second = r.person(a_id), r.person(b_id)
    if first["person_id"] == second["person_id"]:
        raise ValidationError(f"{a_id} and {b_id} are one person ({first['person_id']})",
                              {"b": ["a different person"]})
    left, right, score = r.best_pair(first["records"], second["records"])
    if left is not None:  # the best pair's record first: the comparison reads it beside the other's records
        first = {**first, "records": [left] + [x for x in first["records"] if x is not left]}
    candidates = [
        {"person_id": a_id, "person": first, "evidence": score.evidence if score else [],
         "match_weight": score.match_weight if score else 0.0,
         "match_probability": score.match_probability if score else None},
        {"person_id": b_id, "person": second},
    ]
    policy = r.policy()
    pair = duplicates.pair({"candidates": candidates}, getattr(policy, "upper_match_weight", None),
                           getattr(policy, "lower_match_weight", None))
    logger.debug("persons %s and %s compared by %s", first["person_id"], second["person_id"], g.steward["name"])
    return PairPage(pair=pair, **extra)


@bp.get("/compare")
def compare_persons():
    """Any two persons side by side (from search), with "merge these" in either direction; without ids, the form."""
    if not request.args.get("a") and not request.args.get("b"):
        return render_template("compare.html", page=None, error=None, field_errors={}, form={"a": "", "b": ""})
    try:
        a = person_id_arg("a", request.args.get("a"))
        b = person_id_arg("b", request.args.get("b"))
        page = build(a, b)
    except ValidationError as e:
        return render_template("compare.html", page=None, error=e.message, field_errors=e.errors,
                               form={"a": request.args.get("a", ""), "b": request.args.get("b", "")}), 422
    return render_template("compare.html", page=page, error=None, field_errors={}, form={})


def render_preview(survivor_id: str, loser_id: str, status: int = 200, **extra: Any):
    """The merge preview: ``loser_id`` merged into ``survivor_id`` (both read live), before the reason."""
    page = build(survivor_id, loser_id, **extra)
    page = PairPage(pair=page.pair, survivor=page.pair.sides[0].shown_id, loser=page.pair.sides[1].shown_id,
                    error=page.error, field_errors=page.field_errors)
    return render_template("merge_preview.html", page=page), status


@bp.get("/persons/<person_id>/merge-preview")
def merge_preview(person_id: str):
    """Who is merged into whom, both persons side by side; the reason and the merge come after."""
    try:
        loser = person_id_arg("loser_id", request.args.get("loser_id"))
        return render_preview(person_id, loser)
    except ValidationError as e:
        return render_person(person_id, 422, error=e.message, field_errors=e.errors,
                             form={"loser_id": request.args.get("loser_id", "")})
