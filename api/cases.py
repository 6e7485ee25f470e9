"""``/v1/review-cases``: the steward's queue and case actions, and undoing a steward's link.

Every route needs the steward or admin role (a hub gets 403): a case carries
the demographics of the record and of each candidate. Every action body names
its ``reason`` and the case ``version`` the steward saw; a case changed since
answers 409 (``conflict``) and nothing is changed. The work is done by
``services.cases`` (``mpi/stewardship/cases.py``), which the review UI calls too.
"""

from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import actor, require_steward
from api.case_schemas import (
    ActionSchema,
    AssignSchema,
    BlocksBodySchema,
    CaseDetailSchema,
    HoldBodySchema,
    LinkBodySchema,
    MergeBodySchema,
    MergeResultSchema,
    NotDuplicateBodySchema,
    NotDuplicateResultSchema,
    QueueArgsSchema,
    QueueSchema,
    ReasonSchema,
    RejectResultSchema,
    UndoLinkResultSchema,
)

blp = Blueprint("review_cases", __name__, url_prefix="/v1",
                description="Steward review cases (steward or admin role)")
blp.before_request(require_steward)

_CONFLICT = {"description": "the case changed since the version sent, or is in a state that does not allow this"}
_ALT = {403: {"description": "the caller is not a steward or admin"}}


def _cases():
    return current_app.extensions["mpi"].cases


def _spot_checks():
    return current_app.extensions["mpi"].spot_checks


def _documented(view):
    """Document the answers every case action may give besides 200."""
    view = blp.alt_response(409, schema="Error", description=_CONFLICT["description"])(view)
    view = blp.alt_response(403, schema="Error", description=_ALT[403]["description"])(view)
    return blp.alt_response(404, schema="Error", description="no such case")(view)


@blp.route("/review-cases")
class ReviewCases(MethodView):
    @blp.arguments(QueueArgsSchema, location="query")
    @blp.response(200, QueueSchema)
    @blp.alt_response(403, schema="Error", description=_ALT[403]["description"])
    def get(self, args):
        """The queue: cases most urgent first, then oldest, with counts of the whole waiting queue.

        Filters: ``state`` and ``priority`` (repeatable), ``owner``, ``source_system``, ``kind``
        (POSSIBLE_MATCH, POSSIBLE_DUPLICATE or SPOT_CHECK), ``min_age_hours``, ``overdue``; ``limit``/``offset`` page through.
        """
        cases = _cases()
        return {"cases": cases.queue(**args), "counts": cases.queue_counts(),
                "limit": args["limit"], "offset": args["offset"]}


@blp.route("/review-cases/<string:case_id>")
class ReviewCase(MethodView):
    @blp.response(200, CaseDetailSchema)
    @_documented
    def get(self, case_id):
        """A case with its candidates, their evidence and records, the inbound record and what it blocks."""
        return _cases().get(case_id)


def _action(path: str, schema, call, doc: str, response=CaseDetailSchema, service=_cases):
    """Register ``POST /review-cases/<case_id>/<path>``: ``call(service(), case_id, body, actor)``."""

    def post(self, body, case_id):
        return call(service(), case_id, body, actor())

    post.__doc__ = doc
    view = type(f"Case{path.title().replace('-', '')}", (MethodView,), {
        "post": blp.arguments(schema)(blp.response(200, response)(_documented(post)))})
    blp.route(f"/review-cases/<string:case_id>/{path}")(view)


_action("claim", ActionSchema,
        lambda s, c, b, a: s.claim(c, a, b["reason"], b["version"]),
        "Claim a case: you become its owner and it goes in_review.")
_action("assign", AssignSchema,
        lambda s, c, b, a: s.assign(c, b["owner"], a, b["reason"], b["version"]),
        "Assign a case to a steward.")
_action("link", LinkBodySchema,
        lambda s, c, b, a: s.resolve_linked(c, b["person_id"], a, b["reason"], b["version"]),
        "Resolve as linked: the record joins one of the candidates (MANUAL link, never changed by re-matching). "
        "A POSSIBLE_DUPLICATE case holds no record: 409 naming kind.")
_action("new-person", ActionSchema,
        lambda s, c, b, a: s.resolve_new_person(c, a, b["reason"], b["version"]),
        "Resolve as new_person: the record becomes a new person (MANUAL link). A POSSIBLE_DUPLICATE case holds no "
        "record: 409 naming kind.")
_action("merge", MergeBodySchema,
        lambda s, c, b, a: s.resolve_by_merge(c, b["survivor_id"], b["loser_id"], a, b["reason"], b["version"]),
        "Resolve as merged: two persons are one; the loser's records move to the survivor and its id redirects "
        "there (undo with POST /v1/merges/{merge_id}/unmerge, merge_id in the answer). On a POSSIBLE_DUPLICATE "
        "case the survivor and the loser are its two persons, the steward choosing which survives.",
        response=MergeResultSchema)
_action("not-duplicate", NotDuplicateBodySchema,
        lambda s, c, b, a: s.resolve_not_duplicate(c, a, b["reason"], b["version"], b.get("person_id")),
        "Resolve as not_duplicate: the record is not that candidate (or none of them); the pair never "
        "comes back to review, and a held record is decided again without it. On a POSSIBLE_DUPLICATE case the "
        "two persons are different humans: the pair is kept apart for good (through later merges; outcome null).",
        response=NotDuplicateResultSchema)
_action("hold", HoldBodySchema,
        lambda s, c, b, a: s.hold(c, a, b["reason"], b["version"], b["follow_up"], b.get("note")),
        "Put a case on hold for identity verification by outreach, with a note and a follow-up date.")
_action("release", ActionSchema,
        lambda s, c, b, a: s.release(c, a, b["reason"], b["version"]),
        "Release a hold: the case goes back in_review.")
_action("withdraw", ActionSchema,
        lambda s, c, b, a: s.withdraw(c, a, b["reason"], b["version"]),
        "Withdraw a case that is no longer needed.")
_action("confirm", ActionSchema,
        lambda s, c, b, a: s.confirm(c, a, b["reason"], b["version"]),
        "Resolve a SPOT_CHECK case as confirmed: the auto-link it sampled is right; the record stays linked (AUTO). "
        "Any other kind of case, or a record no longer linked to the sampled person: 409.",
        service=_spot_checks)
_action("reject", ActionSchema,
        lambda s, c, b, a: s.reject(c, a, b["reason"], b["version"]),
        "Resolve a SPOT_CHECK case as rejected: the wrong person. The link is undone (link.undone), the record is "
        "kept apart from that person for good and back in review in a new POSSIBLE_MATCH case (review_case in the "
        "answer; a referral waiting on the record is gated on it). Any other kind of case, or a record no longer "
        "linked to the sampled person: 409.",
        response=RejectResultSchema, service=_spot_checks)
_action("blocks", BlocksBodySchema,
        lambda s, c, b, a: s.set_blocks(c, b["blocks"], a, b["reason"], b.get("version")),
        "Say what the case blocks; its priority and due time follow (any urgent blocker: urgent; any "
        "referral: high; nothing: routine).")


@blp.route("/records/<string:source_system>/<path:source_record_id>/undo-link")
class UndoLink(MethodView):
    @blp.arguments(ReasonSchema)
    @blp.response(200, UndoLinkResultSchema)
    @blp.alt_response(403, schema="Error", description=_ALT[403]["description"])
    @blp.alt_response(404, schema="Error", description="no such record")
    @blp.alt_response(409, schema="Error", description="the record has no MANUAL link")
    def post(self, body, source_system, source_record_id):
        """Undo a steward's (MANUAL) link: the record is unlinked and back in review with fresh candidates."""
        return _cases().undo_link(source_system, source_record_id, actor(), body["reason"])
