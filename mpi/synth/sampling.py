"""Fast seeded draws shared by the generator's population and source-record modules.

Every draw goes through one ``Random.random`` bound method (``r``), so a run's output depends
only on its seed and on the order of the draws. These helpers each cost one ``random()`` call,
which is what keeps generating millions of records quick.
"""

from __future__ import annotations

from bisect import bisect
from itertools import accumulate
from random import Random


def choice(r, seq):
    """``rng.choice`` at a fraction of the cost: one ``random()`` call."""
    return seq[int(r() * len(seq))]


class Weighted:
    """Weighted choice by bisecting cumulative weights: one ``random()`` per draw."""

    __slots__ = ("items", "cum", "total")

    def __init__(self, pairs):
        self.items = tuple(item for item, _ in pairs)
        self.cum = tuple(accumulate(weight for _, weight in pairs))
        self.total = self.cum[-1]

    def pick(self, r):
        return self.items[bisect(self.cum, r() * self.total)]


def zipf(names: tuple[str, ...], offset: float) -> Weighted:
    """Rank-frequency weights 1/(rank+offset): a few very common names and a long tail."""
    return Weighted([(name, 1.0 / (rank + offset)) for rank, name in enumerate(names, 1)])


class Minter:
    """Unique random-looking numbers: start + k * step modulo 10**width, for k = 1, 2, ...

    The step ends in 1, so it is coprime with 10**width and no number repeats until all
    10**width have been used; the caller sizes the width for that never to happen.
    """

    def __init__(self, rng: Random, width: int):
        self.width, self.mod = width, 10**width
        self.step = 2654435761 % self.mod
        self.value = rng.randrange(self.mod)

    def next(self) -> str:
        self.value = (self.value + self.step) % self.mod
        return str(self.value).zfill(self.width)
