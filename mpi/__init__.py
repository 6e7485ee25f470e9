"""closedloop-mpi: identity resolution and master person index for referral networks.

The core package. It holds records and their normalisation, the store gateway, the
matching model and scorer, the decision policy, review cases and the audit log. It
never imports Flask: the JSON API (``api``) and the steward pages (``review_ui``) are
thin layers over the services defined here.
"""

__version__ = "0.1.0"
