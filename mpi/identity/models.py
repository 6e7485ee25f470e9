"""The active model: which model version the store matches with, loaded once and reloaded when it changes.

The version lives in the store's meta (``mpi model activate``, audited); the
model files in the registry's folder (``mpi.matching.model``).
"""

from __future__ import annotations

import logging
import threading

from mpi.errors import ModelError
from mpi.matching.model import Model, ModelRegistry
from mpi.store import Store
from mpi.vocab import AuditAction, EntityType

logger = logging.getLogger(__name__)

#: Store meta key: the version of the model matching uses.
ACTIVE_MODEL_KEY = "active_model_version"


class ActiveModel:
    """The store's active model, over one folder of model files."""

    def __init__(self, store: Store, registry: ModelRegistry):
        self.store = store
        self.registry = registry
        self._model: Model | None = None
        self._lock = threading.Lock()

    def version(self) -> str | None:
        """The active version's name, or None before one is activated."""
        return self.store.meta.get(ACTIVE_MODEL_KEY)

    def get(self) -> Model:
        """The active model, loaded once and reloaded when activation changes.

        Raises:
            ModelError: no model is active yet.
        """
        version = self.version()
        if version is None:
            raise ModelError("no active model: run `mpi train` or `mpi model activate VERSION`")
        with self._lock:
            if self._model is None or self._model.version != version:
                self._model = self.registry.load(version)
            return self._model

    def activate(self, version: str, actor: str) -> Model:
        """Make a model version the active one (audited)."""
        model = self.registry.load(version)
        with self.store.transaction():
            previous = self.version()
            self.store.meta.set(ACTIVE_MODEL_KEY, version)
            self.store.audit.append(actor, AuditAction.MODEL_ACTIVATED, EntityType.MODEL, version, None,
                                    {"previous": previous})
        logger.info("model %s activated by %s", version, actor)
        return model
