"""Persons and the links of source records to them.

The candidate index (``index``) and the one component that changes links,
persons, golden views and that index together (``writer``, building the index
with ``upkeep``), the active model (``models``), the persons a record meets
(``candidates``), the match service (``matcher``: submit, match, decide again,
re-match sweeps), survivorship, merges and unmerges, person history, the reads
the API and the review UI share (``reads``), calibration on the store's records
(``calibrating``), and the batch-loading loop that ``mpi load`` and the demo
share (``loading``). Steward review is above this package: identity reaches it
only through the port in ``ports`` and tells it what happened through events
(``events``).
"""
