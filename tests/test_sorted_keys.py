"""Look-ups in a base's sorted key arrays through the in-memory fence: the same answers as a search of the whole."""

from __future__ import annotations

import bisect

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mpi.identity import sorted_keys
from mpi.identity.sorted_keys import SortedKeys

# Short keys over a small alphabet, so that probes often hit, share prefixes, and fall between held keys.
KEY = st.binary(min_size=1, max_size=6).map(lambda b: bytes(97 + x % 4 for x in b))


def whole(held: list[bytes], value: bytes) -> int:
    """The position by a search of the whole sorted list (-1 if not held)."""
    at = bisect.bisect_left(held, value)
    return at if at < len(held) and held[at] == value else -1


@settings(max_examples=300, deadline=None)
@given(held=st.sets(KEY, max_size=700), probes=st.lists(KEY, max_size=40), stride=st.sampled_from([1, 2, 7, 128]))
def test_find_many_answers_as_a_search_of_the_whole_array(held, probes, stride):
    held = sorted(held)
    array = np.array(held, dtype="S6") if held else np.zeros(0, dtype="S1")
    original, sorted_keys.STRIDE = sorted_keys.STRIDE, stride
    try:
        keys = SortedKeys(array)
        values = [*probes, *held[:: max(1, len(held) // 20)]]
        assert keys.find_many(values) == [whole(held, v) for v in values]
        assert [keys.find(v) for v in values] == [None if whole(held, v) < 0 else whole(held, v) for v in values]
    finally:
        sorted_keys.STRIDE = original


def test_every_held_key_is_found_across_fence_boundaries():
    held = [f"k{i:05d}".encode() for i in range(0, 2 * sorted_keys.STRIDE + 5)]
    keys = SortedKeys(np.array(held))
    assert keys.find_many(held) == list(range(len(held)))
    assert keys.find_many([b"a", b"k00000x", b"z", b"k" + b"9" * 40]) == [-1, -1, -1, -1]  # below, between, above, wider


def test_an_empty_array_finds_nothing():
    keys = SortedKeys(np.zeros(0, dtype="S1"))
    assert keys.find_many([b"a", b""]) == [-1, -1]
    assert keys.find(b"a") is None
