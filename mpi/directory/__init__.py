"""The directory of organisations: who requests and performs referrals, what they offer, and when they work.

An organisation (``organisations.py``) has a code, a name, a kind, the service
types it performs, supervisors, and a business-hours calendar in its time zone
with its public holidays (``calendar.py``): the time targets of the referrals it
performs are counted in those hours. It sits below the callers (``mpi.auth``),
who each belong to one organisation.
"""
