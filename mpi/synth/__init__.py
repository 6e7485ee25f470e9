"""Synthetic people: the seeded generator of a population with duplicates, and the demo index built from it.

Tests and benchmarks use the generator instead of data from outside the
repository, so they run on a fresh clone; a seed always gives the same people.
"""
