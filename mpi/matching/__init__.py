"""Scoring pairs of records and deciding what a score means, apart from any store.

Blocking keys, comparison levels and comparisons, term frequencies, the
in-process Fellegi-Sunter scorer, the match policy and the three-way decision,
versioned model files, training and calibration, and the one adapter to Splink
(``splink_adapter``), which is given a Splink ``DatabaseAPI`` (DuckDB or
Spark) by its caller. Nothing here reads or writes the store: identity
(``mpi.identity``) applies these to the index.
"""
