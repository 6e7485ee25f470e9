"""Learning from stewards (``mpi train --from-decisions``): a new model version from the decisions' labels.

1. Every steward decision becomes labelled record pairs (``labels.py``).
2. The decisions (not their pairs: a case's pairs stay together) are split,
   seeded, into a training share and a held-out share.
3. From the training pairs, m is re-estimated where there are enough same pairs
   (``mpi.matching.learning``; u is kept, and why is written there), on the
   model the active one descends from (so labels are never counted twice by a
   chain of learned versions).
4. The upper threshold is recalibrated for the policy's ``target_precision``
   (``mpi.matching.calibration``) over the records stewards looked at (the
   training decisions' and every record of their persons), with every pair of
   records one person holds and every training "same" pair as true, every other
   pair of them (the training "different" pairs among them) as false; the records
   of held-out decisions are left out, so the gate below judges on what nothing
   was fitted to. Persons nobody reviewed are not taken as complete (``_labels``). The lower
   threshold is kept (or brought down to the upper): known pairs are those the
   index already joined, heavy at high weights, so a lower threshold fitted to
   them would rise and turn true matches into new persons nobody reviews.
5. The new model's auto-link precision on the held-out pairs is compared with the
   active model's: it is activated only if at least as precise (a model that
   auto-links none of them is taken as precise: it linked nothing wrongly). With
   fewer than :data:`MIN_HELD_OUT_PAIRS` held-out pairs nothing is written: there
   is too little to judge a model by.

The file is written either way, with ``learned_from`` saying what it learned
from, the two precisions and whether it passed; the run is audited
(``model.trained``, ids and counts only). Activation changes no link: a steward's
``MANUAL`` link is never re-decided by the machine, whatever model is active.
"""

from __future__ import annotations

import logging
import math
import random
import re
from collections.abc import Sequence
from typing import Any

from mpi.clock import Clock
from mpi.errors import Conflict, ValidationError
from mpi.identity.matcher import MatchService
from mpi.identity.models import ActiveModel
from mpi.matching.calibration import calibrate
from mpi.matching.learning import held_out_precision, level_counts, relearn_m
from mpi.matching.model import ModelRegistry, compile_model
from mpi.records.csvio import Labels
from mpi.stewardship.labels import LabelledPair, collect, counts
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
            persons = list(index.persons.values())
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
        base_model = compile_model(base)
        size = len(records)
        same_levels = level_counts(base_model, [(records[p.left], records[p.right]) for p in train if p.same], size)
        splink_model, reestimated = relearn_m(base["splink_model"], same_levels)
        version = version or self._next_name(f"{_LEARNED.sub('', base['version'])}-learned{self.clock.now():%Y%m%d%H%M%S}")
        document = {**base, "version": version, "created_at": self.clock.now().isoformat(timespec="seconds"),
                    "splink_model": splink_model}
        learned = compile_model(document)
        result = calibrate(records, _labels(records, persons, train, held), learned.scorer,
                           learned.policy.target_precision, max_block_size=self.matching.max_block_size,
                           policy=learned.policy)
        lower = min(learned.policy.lower_match_weight, result.upper_match_weight)
        document["policy"] = {**document["policy"], "upper_match_weight": result.upper_match_weight,
                              "lower_match_weight": lower}
        learned = compile_model(document)
        judged = [(records[p.left], records[p.right], p.same) for p in held]
        new, old = held_out_precision(learned, judged, size), held_out_precision(active, judged, size)
        passed = new.precision >= old.precision
        learned_from = {
            **counts(pairs), "base_version": base["version"], "active_version": active.version,
            "train": counts(train), "held_out": {**counts(held), "share": held_out, "seed": seed},
            "m_reestimated": reestimated, "target_precision": learned.policy.target_precision,
            "calibration": result.as_dict(),
            "precision_held_out": {"new": new.as_dict(), "old": old.as_dict()}, "passed": passed,
        }
        document["learned_from"] = learned_from
        compile_model(document)
        self.registry.save(document)
        activated = activate and passed
        reason = (f"held-out precision {new.precision:.4f} (new) vs {old.precision:.4f} ({active.version})"
                  + ("" if passed else ": less precise, not activated"))
        with self.store.transaction():
            self.store.audit.append(actor, AuditAction.MODEL_TRAINED, EntityType.MODEL, version, reason, {
                "base_version": base["version"], "active_version": active.version, "decisions": learned_from["decisions"],
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


def _labels(records: dict, persons: Sequence[Sequence[tuple[str, str]]], train: Sequence[LabelledPair],
            held: Sequence[LabelledPair]) -> Labels:
    """Labels for calibration: the records stewards looked at (the training decisions' records and every record
    of their persons), but the held-out decisions'; true pairs those one person holds and the training "same"
    pairs, less the training "different" ones.

    Only reviewed persons are taken as complete: two records the machine left in two persons nobody reviewed may
    be one human no one has found yet, and counted as a false pair such a split at 30 bits or more would drive the
    upper threshold far above every pair that needs it.
    """
    left_out = {k for p in held for k in (p.left, p.right)}
    decided = {k for p in train for k in (p.left, p.right)}
    persons = [keys for keys in persons if not decided.isdisjoint(keys)]
    reviewed = (decided | {k for keys in persons for k in keys}) & records.keys()
    matches = {_pair(a, b) for keys in persons for i, a in enumerate(keys) for b in keys[i + 1:]}
    matches |= {_pair(p.left, p.right) for p in train if p.same}
    matches -= {_pair(p.left, p.right) for p in train if not p.same}
    matches = {m for m in matches if not (set(m) & left_out)}
    labelled = frozenset(reviewed - left_out)
    return Labels(labelled, frozenset(matches), len(labelled), True,
                  frozenset(_pair(p.left, p.right) for p in train if not p.same))


def _pair(a: tuple[str, str], b: tuple[str, str]) -> tuple[tuple[str, str], tuple[str, str]]:
    return (a, b) if a < b else (b, a)
