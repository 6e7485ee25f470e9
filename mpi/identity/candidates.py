"""The persons an inbound record meets in the index, scored by the active model, best first.

Scoring pairs and deciding are the matching package's (``mpi.matching``); this
applies them to the index: retrieval by blocking keys, a person scored against
all of its records, and the frequencies of the index pooled with the model's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from mpi.identity.index import CandidateIndex
from mpi.matching import blocking
from mpi.matching.decisions import Candidate, rank
from mpi.matching.model import Model
from mpi.matching.scoring import QueryScorer
from mpi.matching.weights import probability_from_weight

Key = tuple[str, str]


def _explained(query: QueryScorer, record: Any) -> Callable[[], list[dict[str, Any]]]:
    return lambda: query.explain(record).evidence


def find_candidates(index: CandidateIndex, norm: Mapping[str, Any], model: Model, max_block_size: int,
                    exclude: Key | None = None) -> list[Candidate]:
    """Persons worth considering, best first.

    A person found through any of its records is scored against all of
    them: by its best record (the candidate's weight and evidence), and
    every one is checked against the policy's conflict rules (so a record is
    not linked to a person it contradicts in part). The prior is the one for
    the index's size, and term frequencies pool the model's with the
    index's, the record counted in it (``mpi.matching.frequencies``).
    ``exclude`` is the record's own key, if it is stored (it is not its own candidate).
    """
    size, stored = len(index.entries), index.get(exclude) if exclude else None
    frequencies = model.scorer.frequencies(norm, size, index.value_counts, stored and stored.norm)
    query = model.scorer.query(norm, size, frequencies)
    conflict_in = model.policy.conflict_in_bits
    candidates = []
    for person_id, members in index.candidate_persons(blocking.query_keys(norm), max_block_size, exclude):
        best, record, weakest, found = query.score_person(members, conflict_in)
        conflict = None if found is None else {"source_system": found[0][0], "source_record_id": found[0][1],
                                               "level": found[1]}
        candidates.append(Candidate(person_id, best, probability_from_weight(best),
                                    _explained(query, record), *record.key, weakest, conflict))
    candidates.sort(key=rank)
    return candidates
