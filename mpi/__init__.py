"""closedloop-mpi: identity resolution and master person index for referral networks.

The core package, a package per domain, each importing only those below it
(``tests/test_layering.py``): ``records`` (the inbound contract), ``matching``
(scoring and deciding), ``store`` (the only code that touches DuckDB),
``identity`` (persons, links and the one writer of them), ``stewardship``
(review cases), ``synth`` (the seeded generator and the demo) and ``cli``;
``services`` wires them. Beside them the kernel every package may use:
``errors``, ``vocab`` (the domain's words as enums), ``clock``, ``events`` and
``settings``. It never imports Flask: the JSON API (``api``) and the steward
pages (``review_ui``) are thin layers over the services defined here.
"""

__version__ = "0.1.0"
