"""Minimum necessary: which persons and records a caller reads, and how much of each.

- ``access.py``: :class:`~mpi.trust.access.TrustedReads`, the one gate of person and record
  reads for the API and the review UI (and the grants written with the answers that give a
  person to an organisation);
- ``masking.py``: identifiers masked beyond what matching needs.

What consent lets a referral's performer see of the referral itself is the referral
tracker's (:mod:`mpi.referrals.disclosure`); this package applies the same rule to the person.
"""
