"""A sorted array of fixed-width byte strings (a base's record keys, blocking keys, person ids), searched in two steps.

A binary search of the whole array reads a cache line on a different page at
each of its 20-odd steps, and the first time a query's keys are looked up almost
none of those are in the processor's caches: at a million persons, the 16
blocking keys of a query seen for the first time took 0.32 ms to find in the
8M keys (327 MB), and 0.04-0.05 ms when the same keys were looked up again
(``bench/latency.py``'s queries, one process). So a copy of every
:data:`STRIDE`-th key is held in memory (the fence, 2.5 MB there), searched
first; the search of the array itself is then within :data:`STRIDE` keys, a page
or two. Same answers as a search of the whole array (``tests/test_sorted_keys.py``).
"""

from __future__ import annotations

import numpy as np

#: Keys between two of the fence's: 128 keys of 41 bytes are two pages of the array.
STRIDE = 128


class SortedKeys:
    """Look-ups in a sorted fixed-width byte-string array (``dtype`` kind ``S``), which may be a mapped file."""

    def __init__(self, array: np.ndarray):
        self.array = array
        self.width = array.dtype.itemsize
        #: Every STRIDE-th key, copied into this process's memory.
        self._fence = np.array(array[::STRIDE])

    def find(self, value: bytes) -> int | None:
        """The position of ``value``, or None."""
        at = self.find_many([value])[0]
        return None if at < 0 else at

    def find_many(self, values: list[bytes]) -> list[int]:
        """The position of each value (-1 for one the array does not hold)."""
        array, width = self.array, self.width
        if not values or not len(array):
            return [-1] * len(values)
        # Probed as arrays of the searched one's own type: a bare bytes value is converted on every call, ten to
        # twenty times the search itself (13-23 us against 1 us at a million persons).
        probe = np.array([v if len(v) <= width else b"" for v in values], dtype=array.dtype)
        blocks = (np.searchsorted(self._fence, probe, side="right") - 1).tolist()
        out = []
        for i, (value, block) in enumerate(zip(values, blocks)):
            if block < 0 or len(value) > width:  # below the first key, or longer than any
                out.append(-1)
                continue
            # fence[block] <= value < fence[block + 1]: if held, it is among these STRIDE keys.
            start = block * STRIDE
            window = array[start:start + STRIDE]
            at = int(np.searchsorted(window, probe[i:i + 1])[0])
            out.append(start + at if at < len(window) and window[at] == probe[i] else -1)
        return out
