"""Steward review: the cases that hold records the matcher could not decide.

The queue and its counts (``queue``), the actions a steward takes on a case
(``cases``), opening and withdrawing cases for identity (``desk``, the
implementation of ``mpi.identity.ports.ReviewPort``), and what a case blocks,
its priority and due time (``priority``). Links and persons change only
through ``mpi.identity.writer``.
"""
