"""The review UI's actions (POST): every one needs a reason and the case version the steward saw.

A form that succeeds redirects (303) with a one-line message, so reloading the
next page never posts twice. One that fails shows the same page again with the
problem and the HTTP status of the core's error: 422 for a missing reason, 409
when another steward acted on the case first (the form's ``version`` is stale).
Logs carry ids and the action, never the reason a steward typed (it may name the
person).
"""

from __future__ import annotations

import logging

from flask import flash, redirect, request, url_for

from mpi.errors import MpiError, ValidationError
from review_ui.blueprint import bp
from review_ui.signin import actor
from review_ui.person_pair import render_preview
from review_ui.views import render_case, render_person, review

logger = logging.getLogger(__name__)

#: What a steward reads after each action.
DONE = {
    "claim": "Case {case_id} is yours now.",
    "link": "Case {case_id} resolved: record linked to {person_id} ({record}).",
    "new-person": "Case {case_id} resolved: the record is a new person, {person_id} ({record}).",
    "not-duplicate": "Case {case_id} resolved: record {record} is none of those candidates (they will not be "
                     "proposed for it again); {outcome}",
    "persons-apart": "Case {case_id} resolved: {first} and {second} are different people; they are kept apart "
                     "and will not be proposed as duplicates again.",
    "merge": "Case {case_id} resolved: {loser} merged into {survivor} (merge {merge_id}); {loser} now redirects to "
             "{survivor}. To undo it, open {survivor} and use “Undo merge {merge_id}”.",
    "hold": "Case {case_id} is on hold until {follow_up}.",
    "release": "Case {case_id} is back in review.",
    "withdraw": "Case {case_id} withdrawn.",
    "confirm": "Spot-check {case_id} confirmed: record {record} stays linked to {person_id}.",
    "reject": "Spot-check {case_id} rejected: record {record} unlinked from {previous}; it is back in review as "
              "case {held}.",
}
#: Actions after which the case no longer waits, so the steward goes back to the queue.
CLOSING = {"link", "new-person", "not-duplicate", "merge", "withdraw", "confirm", "reject"}


def _version() -> int:
    try:
        return int(request.form.get("version", ""))
    except ValueError:
        raise ValidationError("the case version is missing; reload the case", {"version": ["required"]}) from None


def _settled(case: dict | None) -> dict[str, str]:
    """The record of a case just resolved and the person it is linked to now (for the confirmation)."""
    record = (case or {}).get("record") or {}
    link = record.get("link") or {}
    words = {"record": f"{record.get('source_system')}/{record.get('source_record_id')}" if record else "?"}
    if link.get("person_id"):
        words["person_id"] = link["person_id"]
    return words


def outcome_text(outcome: dict | None, linked_to: str | None = None) -> str:
    """What deciding a record again after "not a duplicate" did, in words naming the person or case (a record
    linked already is not decided again: it stays with ``linked_to``)."""
    if not outcome:
        return f"it stays linked to {linked_to}." if linked_to else "it stays as it was."
    decision = outcome.get("decision")
    person = outcome.get("person_id")
    case = outcome.get("review_case_id") or (outcome.get("review_case") or {}).get("case_id")
    if decision == "MATCH" and person:
        return f"decided again: linked to {person}."
    if decision == "NO_MATCH" and person:
        return f"decided again: new person {person}."
    if case:
        return f"decided again: held for review in case {case}."
    return "it was decided again."


@bp.post("/cases/<case_id>/<action>")
def case_action(case_id: str, action: str):
    """Claim, link, new person, not duplicate, merge (a duplicate case's two persons), confirm or reject (a
    spot-check), hold, release or withdraw one case."""
    form = request.form
    r = review()
    who = actor()
    reason = form.get("reason", "")
    words = {"case_id": case_id, "person_id": form.get("person_id", ""), "follow_up": form.get("follow_up", "")}
    done = action
    try:
        version = _version()
        if action == "claim":
            r.claim(case_id, who, reason, version)
        elif action == "link":
            words.update(_settled(r.link(case_id, form.get("person_id", ""), who, reason, version)))
        elif action == "new-person":
            words.update(_settled(r.new_person(case_id, who, reason, version)))
        elif action == "not-duplicate":
            result = r.not_duplicate(case_id, who, reason, version)
            settled = _settled(result)
            words.update(settled, outcome=outcome_text(result.get("outcome"), settled.get("person_id")))
            if result.get("kind") == "POSSIBLE_DUPLICATE":
                first, second = ((c.get("person") or {}).get("person_id") or c["person_id"]
                                 for c in result["candidates"][:2])
                words.update(first=first, second=second)
                done = "persons-apart"
        elif action == "merge":
            merge_id, survivor, loser = r.merge_case(case_id, form.get("survivor_id"), who, reason, version)
            words.update(merge_id=merge_id, survivor=survivor, loser=loser)
        elif action == "hold":
            r.hold(case_id, who, reason, version, form.get("follow_up"), form.get("note"))
        elif action == "release":
            r.release(case_id, who, reason, version)
        elif action == "withdraw":
            r.withdraw(case_id, who, reason, version)
        elif action == "confirm":
            words.update(_settled(r.confirm(case_id, who, reason, version)))
        elif action == "reject":
            result = r.reject(case_id, who, reason, version)
            words.update(_settled(result), previous=result["previous_person_id"],
                         held=result["review_case"]["case_id"])
        else:
            return render_case(case_id, 404, error=f"There is no action “{action}”.")
    except MpiError as e:
        logger.info("case %s %s by %s refused: %s (%s)", case_id, action, who, e.code, ", ".join(sorted(e.errors)))
        error = e.message
        if e.status == 409:
            error = f"This case was changed by someone else since you opened it ({e.message}). Reload it and decide again."
        return render_case(case_id, e.status, error=error, field_errors=e.errors,
                           form={"action": action, "person_id": form.get("person_id", ""),
                                 "survivor_id": form.get("survivor_id", "")})
    logger.info("case %s %s by %s", case_id, action, who)
    flash(DONE[done].format(**words), "success")
    if action in CLOSING:
        return redirect(url_for("review_ui.queue"), code=303)
    return redirect(url_for("review_ui.case", case_id=case_id), code=303)


@bp.post("/persons/<person_id>/merge")
def merge(person_id: str):
    """Merge another person into this one (this one survives; the other redirects here), from the merge preview."""
    loser = request.form.get("loser_id", "").strip()
    who = actor()
    try:
        merge_id = review().merge(person_id, loser, who, request.form.get("reason", ""))
    except MpiError as e:
        logger.info("merge of %s into %s by %s refused: %s", loser or "-", person_id, who, e.code)
        try:  # back to the preview the form came from, with the problem
            return render_preview(person_id, loser, e.status, error=e.message, field_errors=e.errors)
        except MpiError:
            return render_person(person_id, e.status, error=e.message, field_errors=e.errors,
                                 form={"loser_id": loser})
    logger.info("merge %s: %s into %s by %s", merge_id, loser, person_id, who)
    flash(f"{loser} merged into {person_id} (merge {merge_id}); {loser} now redirects to {person_id}. "
          "Undo it from this page.", "success")
    return redirect(url_for("review_ui.person", person_id=person_id), code=303)


@bp.post("/persons/<person_id>/records/<source_system>/<source_record_id>/undo-link")
def undo_link(person_id: str, source_system: str, source_record_id: str):
    """Take back a steward's link of one record of this person: it leaves the person and goes back to review."""
    who = actor()
    try:
        result = review().undo_link(source_system, source_record_id, who, request.form.get("reason", ""))
    except MpiError as e:
        logger.info("undo link of a record of %s by %s refused: %s", person_id, who, e.code)
        return render_person(person_id, e.status, error=e.message, field_errors=e.errors,
                             form={"undo": f"{source_system}/{source_record_id}"})
    case_id = result["review_case"]["case_id"]
    logger.info("link of a record of %s undone by %s; case %s opened", result["previous_person_id"], who, case_id)
    flash(f"Record {source_system}/{source_record_id} unlinked from {result['previous_person_id']}; it is back "
          f"in review as case {case_id}.", "success")
    return redirect(url_for("review_ui.person", person_id=person_id), code=303)


@bp.post("/merges/<merge_id>/unmerge")
def unmerge(merge_id: str):
    """Undo a merge: both persons, their records and links exactly as before it."""
    person_id = request.form.get("person_id", "").strip()
    who = actor()
    try:
        review().unmerge(merge_id, who, request.form.get("reason", ""))
    except MpiError as e:
        logger.info("unmerge %s by %s refused: %s", merge_id, who, e.code)
        if not person_id:
            raise
        return render_person(person_id, e.status, error=e.message, field_errors=e.errors)
    logger.info("unmerge %s by %s", merge_id, who)
    flash(f"Merge {merge_id} undone.", "success")
    if not person_id:
        return redirect(url_for("review_ui.queue"), code=303)
    return redirect(url_for("review_ui.person", person_id=person_id), code=303)
