"""The referral tracker: referrals between organisations, gated by identity, on one lifecycle with time targets.

- ``lifecycle.py``: the states and their guards, written once as a table;
- ``policy.py``: the network's minimum data set and time targets (a spec compiled once);
- ``validation.py``: what a requester sends, checked;
- ``intake.py``: a referral received, its person through the match decision, gated while a steward decides;
- ``transitions.py``: status changes, corrections, reopening and redirects, each guarded;
- ``gate.py``: the identity gate kept in step with identity, through events after commit;
- ``timing.py`` over ``clocks.py``: due and reminder times and business time taken, per clock;
- ``access.py``: which side of a referral a caller is on, and what it may see;
- ``reads.py``: one referral with its history, lineage and clocks, and lists of them;
- ``sweep.py``: reminders, escalations and expiries;
- ``fhir.py``: referrals as FHIR R4 resources (Task, ServiceRequest, history with Provenance), pure;
- ``fhir_search.py``: FHIR Task search over the caller's referral list;
- ``outcomes.py`` and ``metrics.py``: the outcomes each referral reached, and the loop measures over a period;
- ``events.py``: what the tracker tells the domains above it (the exchange).

Links and persons change only through identity; review cases only through stewardship.
"""
