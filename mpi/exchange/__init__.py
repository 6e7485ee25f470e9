"""Exchange with partner systems (issue 15): what comes in from them and what goes out to them.

- ``inbound.py``: the inbound exception queue: referrals and status updates that
  failed validation, kept with their raw body, worked, replayed or returned.
- ``inbound_vocab.py``: its words (kinds, states, severities, remedies) and the severity rule.
"""
