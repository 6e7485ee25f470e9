"""The real-time scorer: the trained Fellegi-Sunter model evaluated in process.

Splink trains the model; scoring one inbound record against a handful of
candidates must not pay for SQL generation and database round trips, so the
same comparisons (their Python side, :mod:`mpi.matching.comparisons`) and the same m, u,
prior and term-frequency rules are applied here. Every score is returned with
its evidence: each comparison's level, label, weight and term-frequency
adjustment, in waterfall order (prior first).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, NamedTuple

from mpi.errors import ModelError
from mpi.matching.comparisons import COMPARISONS, DERIVED_COLUMNS, DERIVED_FROM, Comparison, derive, tf_table
from mpi.matching.frequencies import ValueCounts, pooled
from mpi.matching.policy import LEVEL_BITS
from mpi.matching.weights import log2_odds, prior_for_index, probability_from_weight, tf_scales


@dataclass(frozen=True)
class _CompiledLevel:
    label: str
    weight: float
    log2_u: float | None
    tf_column: str | None
    tf_min_u: float


class PairScore(NamedTuple):
    """One pair's score and the per-field evidence that adds up to it.

    A named tuple rather than a frozen dataclass: one is made per candidate
    person on the real-time path, and a frozen dataclass's ``__init__`` costs
    several times a tuple's.
    """

    match_weight: float
    match_probability: float
    evidence: list[dict[str, Any]]


class Scorer:
    """A trained Splink model compiled for fast in-process scoring.

    Args:
        splink_model: the model JSON Splink saved (comparisons with m and u).
        tf_tables: per column, value -> relative frequency in the index.
        tf_floor: frequency used for a value absent from its table (seen once).
        trained_records: records the model was trained on (scales the prior to an index's size).
    """

    def __init__(self, splink_model: Mapping[str, Any], tf_tables: Mapping[str, Mapping[str, float]], tf_floor: float,
                 trained_records: int | None = None):
        self.tf_tables = tf_tables
        self.tf_floor = tf_floor
        self.tf_scales = tf_scales(splink_model, tf_tables)
        lam = splink_model["probability_two_random_records_match"]
        if not 0 < lam < 1:
            raise ModelError("model prior must lie strictly between 0 and 1")
        self.lam, self.trained_records = lam, trained_records
        self.prior_weight = log2_odds(lam)
        trained = {c["output_column_name"]: c for c in splink_model["comparisons"]}
        self._compiled: list[tuple[Comparison, list[_CompiledLevel]]] = []
        for comparison in COMPARISONS:
            spec = trained.get(comparison.name)
            if spec is None or [(lv.get("label_for_charts"), lv.get("tf_adjustment_column"))
                                for lv in spec["comparison_levels"]] != [(lv.label, lv.tf_column)
                                                                         for lv in comparison.levels]:
                raise ModelError(f"model does not match comparison definition '{comparison.name}': "
                                 "it was trained with other comparison levels; retrain it")
            self._compiled.append((comparison, [self._compile_level(lv) for lv in spec["comparison_levels"]]))
        #: Per comparison and level, its name as policy rules write it ("comparison: label").
        self._level_keys = tuple(tuple(f"{c.name}: {lv.label}" for lv in c.levels) for c, _ in self._compiled)
        #: The same as bits of one int (``mpi.matching.policy.LEVEL_BITS``): a pair's levels OR-ed together.
        self._level_bits = tuple(tuple(LEVEL_BITS[k] for k in keys) for keys in self._level_keys)
        #: Per comparison, its compiled level function and, per level, the memo entry of a level without a
        #: term-frequency adjustment (shared, so most evaluations make no tuple; None for a level with one).
        self._outcomes = tuple(
            (c.level_of, tuple(None if lv.tf_column else (lv.weight, j, lv.label, 0.0, bits[j])
                               for j, lv in enumerate(levels)))
            for (c, levels), bits in zip(self._compiled, self._level_bits))
        #: Per comparison, the normalised columns its level and weight depend on (see ``key_columns``).
        self._key_columns = tuple(key_columns(c) for c, _ in self._compiled)
        self._getters_by_shape: dict[tuple[str, ...], tuple[Callable[[tuple], Any], ...]] = {}
        #: Every column a comparison or ``derive`` reads, and per shape how to read them.
        self._read_columns = tuple(sorted({c for cols in self._key_columns for c in cols} | set(DERIVED_FROM)))
        self._readers: dict[tuple[str, ...], tuple[tuple[str, ...], Callable[[tuple], Any]]] = {}

    @staticmethod
    def _compile_level(spec: Mapping[str, Any]) -> _CompiledLevel:
        label = spec.get("label_for_charts", "")
        m, u = spec.get("m_probability"), spec.get("u_probability")
        if spec.get("is_null_level") or not m or not u:
            return _CompiledLevel(label, 0.0, None, None, 0.0)
        return _CompiledLevel(
            label,
            math.log2(m / u),
            math.log2(u),
            spec.get("tf_adjustment_column"),
            float(spec.get("tf_minimum_u_value", 0.0)),
        )

    def _tf_adjustment(self, level: _CompiledLevel, l: Mapping, r: Mapping,
                       tables: Mapping[str, Mapping[str, float]]) -> float:
        table = tf_table(tables, level.tf_column)
        freqs = [table.get(v, self.tf_floor) for v in (l.get(level.tf_column), r.get(level.tf_column)) if v is not None]
        if not freqs:
            return 0.0
        return level.log2_u - math.log2(max(max(freqs) * self.tf_scales[level.tf_column], level.tf_min_u))

    def prior_weight_for(self, index_records: int | None) -> float:
        """The prior's weight (log2 odds) for an index of this many records (:func:`prior_for_index`);
        the model's own for None."""
        if index_records is None:
            return self.prior_weight
        return log2_odds(prior_for_index(self.lam, self.trained_records, index_records))

    def prepare(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """A normalised record with the model's derived columns: what the level tests read."""
        return {**record, **derive(record, self.tf_tables)}

    def frequencies(self, record: Mapping[str, Any], index_records: int | None = None,
                    counts: ValueCounts | None = None, stored: Mapping[str, Any] | None = None
                    ) -> Mapping[str, Mapping[str, float]]:
        """The value frequencies term-frequency adjustments use when ``record`` is matched in an index of
        ``index_records`` records whose values are ``counts`` (and which holds ``stored``, the record's
        present version, if it does): the model's and the index's pooled with the record in it
        (:mod:`mpi.matching.frequencies`); the model's alone without counts, or for a model that does not record
        how many records it was trained on."""
        if counts is None or index_records is None or not self.trained_records:
            return self.tf_tables
        return pooled(self.tf_tables, self.tf_floor, self.trained_records, counts, index_records, record, stored)

    def query(self, record: Mapping[str, Any], index_records: int | None = None,
              frequencies: Mapping[str, Mapping[str, float]] | None = None) -> QueryScorer:
        """A scorer of one inbound (normalised) record against many stored ones, with the prior for an index of
        ``index_records`` and the term frequencies ``frequencies`` (the model's when None; see :meth:`frequencies`)."""
        return QueryScorer(self, record, index_records, frequencies)

    def _prepare_values(self, shape: tuple[str, ...], values: tuple) -> dict[str, Any]:
        """A stored record's values as :meth:`prepare` gives them, for the columns the comparisons read.

        The other columns cannot change any level (``tests/test_scoring.py``), and
        leaving them out keeps the dict small on the hot path.
        """
        reader = self._readers.get(shape)
        if reader is None:
            names = tuple(c for c in self._read_columns if c in shape)
            reader = self._readers[shape] = (names, _getter(shape, names))
        names, getter = reader
        prepared = dict(zip(names, getter(values))) if len(names) > 1 else dict(zip(names, (getter(values),)))
        prepared.update(derive(prepared, self.tf_tables))
        return prepared

    def _getters(self, shape: tuple[str, ...]) -> tuple[Callable[[tuple], Any], ...]:
        """Per comparison, a function from a stored record's values (in ``shape`` order) to its memo key."""
        getters = self._getters_by_shape.get(shape)
        if getters is None:
            getters = self._getters_by_shape[shape] = tuple(_getter(shape, cols) for cols in self._key_columns)
        return getters

    def _evaluate(self, i: int, l: Mapping[str, Any], r: Mapping[str, Any],
                  tables: Mapping[str, Mapping[str, float]] | None = None) -> tuple[float, int, str, float, int]:
        """Comparison ``i`` of two prepared records: (weight with tf, level index, label, tf adjustment, level bit),
        its term frequencies from ``tables`` (the model's when None)."""
        level_of, outcomes = self._outcomes[i]
        index = level_of(l, r)
        return outcomes[index] or self._adjusted(i, index, l, r, tables)

    def _adjusted(self, i: int, index: int, l: Mapping[str, Any], r: Mapping[str, Any],
                  tables: Mapping[str, Mapping[str, float]] | None) -> tuple[float, int, str, float, int]:
        """:meth:`_evaluate`'s answer for a level weighed by term frequency."""
        level = self._compiled[i][1][index]
        tf = self._tf_adjustment(level, l, r, tables or self.tf_tables)
        return level.weight + tf, index, level.label, tf, self._level_bits[i][index]

    def score(self, l: Mapping[str, Any], r: Mapping[str, Any], index_records: int | None = None,
              frequencies: Mapping[str, Mapping[str, float]] | None = None) -> PairScore:
        """Score two normalised records, with the prior scaled to an index of ``index_records`` (else the model's)
        and the term frequencies ``frequencies`` (else the model's; see :meth:`frequencies`).

        The evidence is the waterfall: the prior, then one entry per comparison
        (level, label, weight with its term-frequency part), each with the running
        total, the last of which is the pair's match weight.
        """
        l, r = self.prepare(l), self.prepare(r)
        total = self.prior_weight_for(index_records)
        evidence: list[dict[str, Any]] = [self._prior_evidence(total, index_records)]
        for i, (comparison, _) in enumerate(self._compiled):
            weight, index, label, tf, _ = self._evaluate(i, l, r, frequencies)
            total += weight
            evidence.append(_evidence(comparison.name, index, label, weight, tf, total))
        return PairScore(total, probability_from_weight(total), evidence)

    @staticmethod
    def _prior_evidence(prior: float, index_records: int | None) -> dict[str, Any]:
        entry = {"comparison": "prior", "level": None, "label": "prior odds of a match", "weight": prior,
                 "tf_adjustment": 0.0, "cumulative_weight": prior}
        if index_records is not None:
            entry["index_records"] = index_records
        return entry


class QueryScorer:
    """One inbound record scored against many stored ones: the real-time hot path.

    A comparison's level and weight depend only on a few columns of each side
    (its key columns), and the inbound side is fixed for the whole request, so
    each comparison is evaluated once per distinct set of values the stored
    records show in those columns and looked up for every other record that
    shows them (candidates share birth dates, surnames, ZIP codes, empty
    fields). The evaluation itself is :meth:`Scorer._evaluate`, the same as
    :meth:`Scorer.score` runs, and weights are summed in the same order, so every
    number is identical to scoring each pair on its own; stored records are
    read from their compact values, never turned into dicts unless a
    comparison has to be evaluated.
    """

    def __init__(self, scorer: Scorer, record: Mapping[str, Any], index_records: int | None = None,
                 frequencies: Mapping[str, Mapping[str, float]] | None = None):
        self._scorer = scorer
        self._record = scorer.prepare(record)
        self._index_records = index_records
        self._frequencies = frequencies or scorer.tf_tables
        self._prior = scorer.prior_weight_for(index_records)
        #: Per comparison: memo key -> (weight with tf, level index, label, tf adjustment, level bit).
        self._memo: tuple[dict[Any, tuple[float, int, str, float, int]], ...] = tuple(
            {} for _ in scorer._compiled)
        #: shape -> per comparison (index, key getter, memo, level function, outcomes): the loop of :meth:`weight`.
        self._plans: dict[tuple[str, ...], tuple[tuple, ...]] = {}

    def _plan(self, shape: tuple[str, ...]) -> tuple[tuple, ...]:
        plan = self._plans.get(shape)
        if plan is None:
            scorer = self._scorer
            plan = self._plans[shape] = tuple(
                (i, getter, memo, level_of, outcomes)
                for i, getter, memo, (level_of, outcomes) in zip(range(len(self._memo)), scorer._getters(shape),
                                                                 self._memo, scorer._outcomes))
        return plan

    def weight(self, shape: tuple[str, ...], values: tuple) -> float:
        """Match weight of the inbound record against a stored one (its values in ``shape`` order)."""
        return self._weigh(shape, values)[0]

    def score(self, shape: tuple[str, ...], values: tuple) -> PairScore:
        """The full score with evidence, as :meth:`Scorer.score` gives it."""
        total = self.weight(shape, values)  # fills the memo for this record
        return PairScore(total, probability_from_weight(total), self._evidence(shape, values))

    def _evidence(self, shape: tuple[str, ...], values: tuple) -> list[dict[str, Any]]:
        """The evidence of a record :meth:`weight` has scored (from the memo), as a waterfall."""
        scorer = self._scorer
        total = self._prior
        evidence = [scorer._prior_evidence(total, self._index_records)]
        for (comparison, _), (_, getter, memo, _, _) in zip(scorer._compiled, self._plan(shape)):
            weight, index, label, tf, _ = memo[getter(values)]
            total += weight
            evidence.append(_evidence(comparison.name, index, label, weight, tf, total))
        return evidence

    def _weigh(self, shape: tuple[str, ...], values: tuple) -> tuple[float, int]:
        """:meth:`weight`, and the record's levels as bits (``mpi.matching.policy.LEVEL_BITS``), in one pass."""
        scorer = self._scorer
        total, bits = self._prior, 0
        prepared = None
        for i, getter, memo, level_of, outcomes in self._plan(shape):
            key = getter(values)
            hit = memo.get(key)
            if hit is None:  # :meth:`Scorer._evaluate`, written out: this runs for most candidate records
                if prepared is None:
                    prepared = scorer._prepare_values(shape, values)
                index = level_of(self._record, prepared)
                hit = memo[key] = outcomes[index] or scorer._adjusted(i, index, self._record, prepared,
                                                                      self._frequencies)
            total += hit[0]
            bits |= hit[4]
        return total, bits

    def score_person(self, members: Sequence[Any], conflict: Callable[[int], str | None] | None = None
                     ) -> tuple[float, Any, float, tuple[Any, str] | None]:
        """Score the inbound record against every record of one person.

        Evidence is left out: a request shows it for a few candidates of the
        dozens it scores, so it is made only for those (:meth:`explain`).

        Args:
            members: the person's stored records, at least one, each with ``key``,
                ``shape`` and ``values`` (entries of :class:`mpi.identity.index.CandidateIndex`).
            conflict: a policy's test of one pair's levels as bits (:meth:`mpi.matching.policy.Policy.conflict_in_bits`).

        Returns:
            The best record's weight and the record (the first in order among
            equals), the weakest record's weight, and the first record (key,
            conflict) the inbound one conflicts with, if any.
        """
        weigh = self._weigh
        best = weakest = found = None
        for m in members:
            total, bits = weigh(m.shape, m.values)
            if best is None or total > best:
                best, record = total, m
            if weakest is None or total < weakest:
                weakest = total
            if conflict is not None and found is None and (why := conflict(bits)) is not None:
                found = (m.key, why)
        return best, record, weakest, found

    def explain(self, member: Any) -> PairScore:
        """The full score with evidence of a record :meth:`score_person` has scored (from the memo)."""
        total = self.weight(member.shape, member.values)
        return PairScore(total, probability_from_weight(total), self._evidence(member.shape, member.values))


def _evidence(name: str, index: int, label: str, weight: float, tf: float, cumulative: float) -> dict[str, Any]:
    return {"comparison": name, "level": index, "label": label, "weight": weight, "tf_adjustment": tf,
            "cumulative_weight": cumulative}


_SQL_COLUMN = re.compile(r'"(\w+)_[lr]"')


def key_columns(comparison: Comparison) -> tuple[str, ...]:
    """The normalised columns a comparison's level and weight depend on.

    Those its levels' SQL names (``"col_l"``, ``"col_r"``; the Python tests read
    the same, which ``tests/test_scoring.py`` checks) and its term-frequency
    columns, with a derived column replaced by what it is derived from.
    """
    columns = {m for level in comparison.levels for m in _SQL_COLUMN.findall(level.sql)}
    columns |= {level.tf_column for level in comparison.levels if level.tf_column}
    if columns & set(DERIVED_COLUMNS):
        columns = (columns - set(DERIVED_COLUMNS)) | set(DERIVED_FROM)
    return tuple(sorted(columns))


def _getter(shape: tuple[str, ...], columns: tuple[str, ...]) -> Callable[[tuple], Any]:
    """A fast function from values in ``shape`` order to the values of ``columns`` (None where absent)."""
    positions = [shape.index(c) if c in shape else None for c in columns]
    if not positions:
        return lambda values: ()
    if None not in positions:
        return itemgetter(*positions)
    return lambda values: tuple(None if p is None else values[p] for p in positions)
