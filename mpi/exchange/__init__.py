"""The partner exchange: status feedback to partner systems (issue 15, ../shared/domain.md §4-5).

It hangs off the referral tracker (it may import ``mpi.referrals`` and below,
never the reverse). So far it holds its foundation:

- ``vocab.py``: the words of the exchange (partner format, status, subscriptions);
- ``crosswalk.py``: a partner's status crosswalk, a versioned and dated map from an internal
  state (and optionally a reason) to the partner's label, validated and compiled once, with
  lossy mappings computed, and the version in force at a time;
- ``partners.py``: the partner registry (add, list, show, add a crosswalk version, ``label_for``).
- ``inbound.py``: the inbound exception queue: referrals and status updates that
  failed validation, kept with their raw body, worked, replayed or returned.
- ``inbound_vocab.py``: its words (kinds, states, severities, remedies) and the severity rule.
"""
