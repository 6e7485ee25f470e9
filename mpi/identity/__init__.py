"""Persons and the links of source records to them.

The candidate index (``index``) and the one component that changes links,
persons, golden views and that index together (``writer``), the active model
(``models``), the match service (``matcher``: submit, match, decide again),
re-match sweeps (``rematch``), survivorship, merges and unmerges, person
history, and the batch-loading loop that ``mpi load`` and the demo share
(``loading``). Steward review is above this package: identity reaches it only
through the port in ``ports`` and tells it what happened through events.
"""
