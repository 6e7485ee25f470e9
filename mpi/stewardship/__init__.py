"""Steward review: the cases that hold records the matcher could not decide.

The queue and its counts (``queue``), the actions a steward takes on a case
(``cases``), opening and withdrawing cases for identity (``desk``, the
implementation of ``mpi.identity.ports.ReviewPort``), and what a case blocks,
its priority and due time (``priority``); spot-checks of auto-links (``spotchecks``) and the matching
measures built on them (``matching_metrics``). Links and persons change only
through ``mpi.identity.writer``.
"""
