"""Learning from stewards (``mpi train --from-decisions``): a new model version from the decisions' labels.

1. Every steward decision becomes labelled record pairs (``labels.py``).
2. The decisions (not their pairs: a case's pairs stay together) are split,
   seeded, into a training share and a held-out share. The persons that hold a
   training pair's records are the *reviewed* persons; those that hold a held-out
   pair's records are the *held-out* persons, and are left out of everything
   learned, so the gate judges on what nothing was fitted to.
3. **m**, on the model the active one descends from (so a chain of learned
   versions never counts a label twice): kept when that model's m came from
   labels (a complete truth, such as people_dev's for the shipped default:
   stewards' pairs are a biased sample of it, and at 5,000 generated people m
   re-estimated from them, even from every pair of the reviewed persons, cost
   recall and precision both); re-estimated where there are enough same pairs
   when it came from EM (``mpi.matching.learning``; u is kept, and why is written
   there). The same pairs are every pair of records a reviewed person holds after
   the decisions, and every training "same" pair: not the review-band pairs alone,
   which overstate disagreement.
4. **The upper threshold** comes down, never up, to the lowest weight from which
   the training pairs that clear the policy in the review band are
   ``target_precision`` right, and **a hold rule** gets a ``below`` weight above
   which the training pairs it held above the upper threshold are; each only on as
   many steward answers as show that precision (the rule of three: 3,000 at 0.999).
   The lower threshold is kept (or brought down to the upper).
5. **The gate**: the new model and the active one each auto-link (weight at or
   above the upper threshold, no hold, no conflict) among the judged pairs: every
   pair of records among the held-out persons that blocking brings together (one
   human when one person holds both) and every held-out labelled pair (as stewards
   said). The new model is activated only if it is at least as precise there *and*
   finds at least as many true pairs. The held-out labelled pairs alone are
   review-band pairs that rarely make a false link whatever the model: every
   learned model scored 1.0 on them. With fewer than :data:`MIN_HELD_OUT_PAIRS`
   held-out labelled pairs nothing is written: there is too little to judge by.

The file is written either way, with ``learned_from`` saying what it learned
from, what moved, the two models' precision and recall and whether it passed; the run is audited
(``model.trained``, ids and counts only). Activation changes no link: a steward's
``MANUAL`` link is never re-decided by the machine, whatever model is active.
"""

from __future__ import annotations

import logging
import math
import random
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mpi.clock import Clock
from mpi.errors import Conflict, ValidationError
from mpi.identity.matcher import MatchService
from mpi.identity.models import ActiveModel
from mpi.matching.calibration import blocked_pairs
from mpi.matching.learning import (
    held_out_precision,
    level_counts,
    relax_holds,
    relearn_m,
    upper_from_decisions,
)
from mpi.matching.model import ModelRegistry, compile_model
from mpi.stewardship.labels import Key, LabelledPair, collect, counts
from mpi.store import Store
from mpi.vocab import AuditAction, EntityType

logger = logging.getLogger(__name__)

#: Share of decisions held out by default.
HELD_OUT_SHARE = 0.25
#: Held-out labelled pairs needed to judge a new model at all.
MIN_HELD_OUT_PAIRS = 10
_LEARNED = re.compile(r"(-learned\d{14}(-\d+)?)+$")


def split(pairs: Sequence[LabelledPair], share: float, seed: int) -> tuple[list[LabelledPair], list[LabelledPair]]:
    """Training and held-out pairs: decisions shuffled with ``seed``, the first ``share`` of them held out."""
    decisions = sorted({p.decision for p in pairs})
    random.Random(seed).shuffle(decisions)
    held = set(decisions[:math.ceil(share * len(decisions))]) if share > 0 else set()
    return [p for p in pairs if p.decision not in held], [p for p in pairs if p.decision in held]


class DecisionLearning:
    """Trains model versions from steward decisions over one store and models folder."""

    def __init__(self, store: Store, matching: MatchService, models: ActiveModel, registry: ModelRegistry,
                 clock: Clock):
        self.store, self.matching, self.models, self.registry, self.clock = store, matching, models, registry, clock

    def train(self, actor: str, version: str | None = None, activate: bool = True,
              held_out: float = HELD_OUT_SHARE, seed: int = 42, only_if_new: bool = False) -> dict[str, Any]:
        """Learn a new model version from every steward decision; activate it if it passes the held-out gate.

        Returns:
            ``version``, ``activated``, ``learned_from`` (as written in the model file) and ``reason`` (why it was
            or was not activated).

        ``only_if_new`` (the schedule in ``mpi serve``): refuse when the active model learned from the same
        decisions and pairs already, rather than write the same model again.

        Raises:
            ValidationError: a bad ``held_out`` share.
            Conflict: the store's state does not allow it yet (the request itself is fine): no decision to learn
                from, too few held-out pairs, or (with ``only_if_new``) nothing new since the active model learned.
            ModelError: ``version`` exists or is a bad name.
        """
        if isinstance(held_out, bool) or not isinstance(held_out, (int, float)) or not 0 < held_out < 1:
            raise ValidationError("the held-out share must lie strictly between 0 and 1",
                                  {"held_out": ["must lie strictly between 0 and 1"]})
        active = self.models.get()
        with self.store.serialised():
            index = self.matching.index()
            records = {key: entry.norm for key, entry in index.entries.items()}
            members = {person_id: tuple(sorted(keys)) for person_id, keys in index.persons.items()}
            pairs = collect(self.store, index, active.scorer)
        if not pairs:
            raise Conflict("no steward decision to learn from yet", {"decisions": ["none labelled"]})
        known = self.registry.document(active.version).get("learned_from") or {}
        if only_if_new and all(known.get(k) == v for k, v in counts(pairs).items()):
            raise Conflict("no steward decision since the active model learned",
                                  {"decisions": ["nothing new to learn from"]})
        train, held = split(pairs, held_out, seed)
        if len(held) < MIN_HELD_OUT_PAIRS:
            raise Conflict(
                f"{len(held)} held-out labelled pairs from {len(pairs)} in all: at least {MIN_HELD_OUT_PAIRS} are "
                "needed to judge a new model; nothing written (wait for more decisions or hold out a larger share)",
                {"decisions": [f"too few held-out pairs: {len(held)} of {MIN_HELD_OUT_PAIRS}"]})
        base_version = known.get("base_version")
        base = self.registry.document(base_version or active.version)
        size = len(records)
        owners = {key: person_id for person_id, keys in members.items() for key in keys}
        held_persons = _persons_of(held, owners)
        reviewed = _persons_of(train, owners) - held_persons
        same = _within(members, reviewed) | {_pair(p.left, p.right) for p in train if p.same}
        m_kept = bool((base.get("trained_on") or {}).get("labels_used"))
        if m_kept:
            splink_model, reestimated = base["splink_model"], {}  # a complete truth's m, kept: see the module
        else:
            same_levels = level_counts(compile_model(base), [(records[a], records[b]) for a, b in sorted(same)], size)
            splink_model, reestimated = relearn_m(base["splink_model"], same_levels)
        stem = _LEARNED.sub("", base["version"])
        version = version or self._next_name(f"{stem}-learned{self.clock.now():%Y%m%d%H%M%S}")
        document = {**base, "version": version, "created_at": self.clock.now().isoformat(timespec="seconds"),
                    "splink_model": splink_model}
        learned = compile_model(document)
        policy = learned.policy
        scored = [(score.match_weight, score.evidence, p.same) for p in train
                  for score in [learned.scorer.score(records[p.left], records[p.right], size)]]
        upper = upper_from_decisions(policy, [(w, policy.clears(e), s) for w, e, s in scored])
        holds, relaxed = relax_holds(policy, scored, upper)
        document["policy"] = {**document["policy"], "upper_match_weight": upper, "hold_levels": holds,
                              "lower_match_weight": min(policy.lower_match_weight, upper)}
        learned = compile_model(document)
        judged = _judged(records, members, owners, held, held_persons, self.matching.max_block_size)
        new, old = held_out_precision(learned, judged, size), held_out_precision(active, judged, size)
        passed = new.at_least_as_good_as(old)
        learned_from = {
            **counts(pairs), "base_version": base["version"], "active_version": active.version,
            "train": {**counts(train), "persons": len(reviewed), "reviewed_pairs": len(same)},
            "held_out": {**counts(held), "share": held_out, "seed": seed, "persons": len(held_persons)},
            "m_kept": m_kept, "m_reestimated": reestimated, "target_precision": policy.target_precision,
            "upper_match_weight": {"before": base["policy"]["upper_match_weight"], "after": upper},
            "holds_relaxed": relaxed,
            "precision_held_out": {"new": new.as_dict(), "old": old.as_dict()}, "passed": passed,
        }
        document["learned_from"] = learned_from  # metadata: the document compiled as ``learned`` above
        self.registry.save(document)
        activated = activate and passed
        reason = (f"held-out precision {new.precision:.4f} and recall {new.recall:.4f} (new) vs {old.precision:.4f} "
                  f"and {old.recall:.4f} ({active.version})"
                  + ("" if passed else ": less precise or finds fewer true pairs, not activated"))
        with self.store.transaction():
            self.store.audit.append(actor, AuditAction.MODEL_TRAINED, EntityType.MODEL, version, reason, {
                "base_version": base["version"], "active_version": active.version,
                "decisions": learned_from["decisions"],
                "pairs_same": learned_from["pairs_same"], "pairs_different": learned_from["pairs_different"],
                "precision_new": new.as_dict()["precision"], "precision_old": old.as_dict()["precision"],
                "passed": passed, "activated": activated})
        if activated:
            self.models.activate(version, actor)
        logger.info("model %s learned from %s decisions (%s pairs); held-out precision %.4f vs %.4f; activated %s",
                    version, learned_from["decisions"], len(pairs), new.precision, old.precision, activated)
        return {"version": version, "activated": activated, "reason": reason, "learned_from": learned_from}

    def _next_name(self, name: str) -> str:
        """``name``, or with ``-2``, ``-3``... when a version of that name exists (two runs in one second)."""
        candidate, n = name, 1
        while self.registry.path_of(candidate).exists():
            n += 1
            candidate = f"{name}-{n}"
        return candidate


def _persons_of(pairs: Sequence[LabelledPair], owners: Mapping[Key, str]) -> set[str]:
    """The live persons that hold a record of these pairs."""
    return {owners[k] for p in pairs for k in (p.left, p.right) if k in owners}


def _within(members: Mapping[str, Sequence[Key]], persons: Iterable[str]) -> set[tuple[Key, Key]]:
    """Every pair of records one of these persons holds: after the stewards' decisions, one human each."""
    pairs = set()
    for person_id in persons:
        keys = members.get(person_id, ())
        pairs.update((a, b) for i, a in enumerate(keys) for b in keys[i + 1:])
    return pairs


def _judged(records: Mapping[Key, Mapping[str, Any]], members: Mapping[str, Sequence[Key]],
            owners: Mapping[Key, str], held: Sequence[LabelledPair], persons: Iterable[str],
            max_block_size: int) -> list[tuple[Mapping[str, Any], Mapping[str, Any], bool]]:
    """What the gate judges a model on: every pair of records among the held-out decisions' persons that blocking
    brings together (one human when one person holds both), and every held-out labelled pair as stewards said.

    The held-out labelled pairs alone are review-band pairs, which a model rarely links wrongly whatever it is;
    with the rest of their persons' records, a model that links a twin into her sister's person or misses pairs
    the active model finds shows it.
    """
    keys = {k for p in held for k in (p.left, p.right)}
    keys |= {key for person_id in persons for key in members.get(person_id, ())}
    subset = {k: records[k] for k in keys if k in records}
    labels = {_pair(a, b): a in owners and owners.get(a) == owners.get(b)
              for a, b in blocked_pairs(subset, max_block_size)}
    labels.update({_pair(p.left, p.right): p.same for p in held})
    return [(records[a], records[b], same) for (a, b), same in sorted(labels.items())]


def _pair(a: tuple[str, str], b: tuple[str, str]) -> tuple[tuple[str, str], tuple[str, str]]:
    return (a, b) if a < b else (b, a)
