"""Re-matching held records: those in review that no steward has taken up, decided again in passes.

:class:`Rematching` is a base of :class:`~mpi.identity.matcher.MatchService`, where it is called
(``services.matching.rematch_open_cases``); what a sweep has scored is kept by
:class:`~mpi.identity.held_scorings.HeldScorings`.
"""

from __future__ import annotations

import logging

from mpi.identity.events import HeldRecordsScored
from mpi.identity.held_scorings import HeldScorings
from mpi.matching.decisions import decide
from mpi.vocab import Decision

logger = logging.getLogger(__name__)


class Rematching:
    """Re-match sweeps of held records, for a match service that gives ``store``, ``writer``, ``review``,
    :meth:`active_model`, :meth:`find_candidates`, ``_withdraw`` and ``_link`` (``MatchService``)."""

    def rematch_open_cases(self, actor: str, max_passes: int = 5) -> dict[str, int]:
        """Decide again the records held in review that no steward has taken up.

        A record that arrived before the rest of its person's records (the first
        rows of a bulk file, say) may have had too little to match against; once
        those have arrived it can be an unambiguous match. Each such record is
        linked (``AUTO``) and its case withdrawn, audited; any other outcome leaves
        the case as it is. Passes repeat while they link something, since one link
        can settle another case. The last pass, which links nothing, tells what it
        found for each record it scored (``HeldRecordsScored``): nothing has changed
        since, so their cases' re-scoring need not find it again.

        A record is scored again only if a link since its last scoring could change
        what it finds (:class:`~mpi.identity.held_scorings.HeldScorings`); returns the links, the passes and the
        scorings.
        """
        model = self.active_model()
        rematch = HeldScorings()
        linked = passes = 0
        while passes < max_passes:
            passes += 1
            scorings = rematch.scorings
            with self.store.transaction():
                index = self.writer.index
                held = index.held()
                # Read once a pass: deciding one record withdraws only its own case.
                untaken = self.review.untaken(case_id for _, case_id in held)
                done, scored = 0, {}
                for key, case_id in held:
                    if case_id not in untaken:
                        continue
                    candidates = rematch.still(key)
                    if candidates is None:
                        norm = index.get(key).norm
                        candidates = self.find_candidates(norm, model, exclude=key)
                        rematch.scored(key, candidates, norm)
                    if decide(candidates, model.policy) is not Decision.MATCH:
                        scored[key] = candidates
                        continue
                    self._withdraw(case_id, key, actor, "re-matched: an unambiguous match now")
                    self._link(actor, key, candidates[0].person_id, Decision.MATCH, candidates[0], model)
                    rematch.linked(candidates[0].person_id, index.get(key).keys)
                    done += 1
                if not done and scored:  # (a pass that linked something scored some against an index since changed)
                    self.writer.events.publish(HeldRecordsScored(model.version, scored))
            linked += done
            logger.info("re-match pass %s: %s of %s held records linked (%s scored)", passes, done, len(held),
                        rematch.scorings - scorings)
            if not done:
                break
        return {"linked": linked, "passes": passes, "scored": rematch.scorings}
