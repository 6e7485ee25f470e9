"""Inbound status updates in a partner's own labels, mapped back through its crosswalk (issue 15, point 4).

A partner system (a hub of the partner's organisation) may say what happened in
the words its own system uses: ``{"referral_id", "label", "reason"?,
"event_time"?, "note"?}`` to ``POST /v1/partners/{partner_id}/status-updates``.
The label is mapped back to an internal state (and reason) under the partner's
crosswalk version in force at the event time (:func:`mpi.exchange.crosswalk.state_for`,
labels compared as the lossy marks compare them), then the update takes the very
path every status update takes (``services.referrals.change_status``: the same
checks of the transition, the side, the gate and the event time).

A label the version does not know (``unknown_label``), or a lossy one the reason
does not resolve (``ambiguous_label``), is a ``422`` naming ``label``: never a
guess. The API keeps every such refusal in the inbound exception queue as it
keeps a refused status update (``api/inbound_exceptions.py``), kind
``status_update``, with the raw body and the reasons per field.
"""

from __future__ import annotations

import logging
from typing import Any

from marshmallow import RAISE, Schema, fields, validate

from mpi.auth import Caller
from mpi.clock import Clock
from mpi.errors import Forbidden
from mpi.exchange.crosswalk import LABEL, MAX_LABEL, state_for
from mpi.exchange.partners import PartnerRegistry
from mpi.referral_vocab import ReasonCode, ReferralState
from mpi.referrals.lifecycle import STEPS
from mpi.referrals.service import ReferralService
from mpi.referrals.validation import load
from mpi.vocab import Role

logger = logging.getLogger(__name__)


class PartnerStatusUpdateSchema(Schema):
    """A status update in the partner's own label (``POST /v1/partners/{partner_id}/status-updates``)."""

    class Meta:
        unknown = RAISE

    referral_id = fields.String(required=True, validate=validate.Regexp(
        r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", error="a referral id: letters, digits and . _ - only"),
        metadata={"description": "the referral the update is about"})
    label = fields.String(required=True, validate=[
        validate.Length(min=1, max=MAX_LABEL),
        validate.Regexp(LABEL, error=f"some text, at most {MAX_LABEL} characters, no control characters")],
        metadata={"description": "the partner's own label for what happened, as its crosswalk shows it "
                                 "(compared without case or extra spaces)"})
    reason = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(
        [r.value for r in ReasonCode], error="must be a reason code (no-capacity, redirected, ...)"),
        metadata={"description": "a coded reason: required where the state needs one, and what tells a lossy "
                                 "label's states apart"})
    event_time = fields.AwareDateTime(load_default=None, allow_none=True, metadata={
        "description": "when it happened (default: now): also picks the crosswalk version in force"})
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


_UPDATE = PartnerStatusUpdateSchema()


def takes_reason(state: str, reason: str) -> bool:
    """Whether the lifecycle's step into ``state`` takes ``reason`` (what resolves a lossy label)."""
    step = STEPS.get(ReferralState(state))
    return step is not None and reason in {r.value for r in step.reasons}


class PartnerLabels:
    """Maps a partner's inbound labels back to internal states and moves the referral through the one path."""

    def __init__(self, partners: PartnerRegistry, referrals: ReferralService, clock: Clock):
        self.partners = partners
        self.referrals = referrals
        self.clock = clock

    def check_sender(self, partner_id: str, caller: Caller) -> dict[str, Any]:
        """The partner, when the caller is a hub of its organisation (the API asks before it reads a body).

        Raises:
            NotFound: no such partner.
            Forbidden: the caller is not a hub of the partner's organisation.
        """
        partner = self.partners.get(partner_id)
        if caller.role != Role.HUB or caller.organisation != partner["organisation"]:
            raise Forbidden("only a hub of the partner's organisation sends its status updates",
                            {"partner_id": ["not a partner of the caller's organisation"]})
        return partner

    def status_update(self, partner_id: str, data: Any, caller: Caller) -> dict[str, Any]:
        """Map an update's label under the version in force at its event time and change the referral's status.

        Raises:
            NotFound: no such partner (or, from the status change, no such referral the caller sees).
            Forbidden: the caller is not a hub of the partner's organisation.
            ValidationError: a bad body; ``unknown_label`` or ``ambiguous_label`` naming ``label``.
            MpiError: whatever the status change answers (an invalid transition, an identity gate, ...).
        """
        self.check_sender(partner_id, caller)
        body = load(_UPDATE, data, "partner status update")
        at = body["event_time"] or self.clock.now()
        mapped = state_for(self.partners.versions(partner_id), body["label"], body["reason"], at, takes_reason)
        change = {"state": mapped.state, "reason": mapped.reason, "event_time": body["event_time"],
                  "note": body["note"]}
        logger.info("partner %s label mapped to %s under crosswalk version %s for referral %s", partner_id,
                    mapped.state, mapped.version_id, body["referral_id"])
        return self.referrals.change_status(body["referral_id"], {k: v for k, v in change.items() if v is not None},
                                            caller)
