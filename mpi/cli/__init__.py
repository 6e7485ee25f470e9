"""The ``mpi`` command: thin click commands over the core services, one module per command group.

Commands parse options, call services and echo results; long work shows a
progress bar. ``base.py`` holds the group and its error handling;
``store.py`` (init), ``models.py`` (train, calibrate, model list/activate),
``records.py`` (load, rematch, export), ``users.py``, ``keys.py``, ``orgs.py``, ``partners.py``, ``outbound.py`` (partners pause/resume/back-post), ``reconcile.py``, ``dedup.py`` (dedup, dedup runs), ``referrals.py`` (sweep),
``synth.py`` (generate), ``backup.py`` (backup, restore)
and ``serve.py`` (serve, demo) add their commands to it. With ``--url`` the administrative
commands go through a running service (``remote.py``).
"""

from mpi.cli import (backup, dedup, deliver, keys, models, orgs, outbound, partners, reconcile, records, referrals,  # noqa: F401
                     serve, store, synth, users)  # (commands register on import)
from mpi.cli.base import main
from mpi.identity.export import EXPORT_COLUMNS

__all__ = ["main", "EXPORT_COLUMNS"]
