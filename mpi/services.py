"""Wiring: the store, the model registry and the services built on them.

The API, the review UI and the CLI all build one :class:`Services` from the
resolved settings, so they share one store connection and one loaded model.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from mpi import settings
from mpi.identity.history import HistoryService
from mpi.identity.matcher import MatchService
from mpi.identity.merges import MergeService
from mpi.matching.model import ACTIVE_MODEL_KEY, ModelRegistry
from mpi.stewardship.cases import CaseService
from mpi.stewardship.priority import CaseTargets
from mpi.store import Store

#: The model shipped in matching_models/ and activated in a new store.
DEFAULT_MODEL_VERSION = "people_dev-v2"
#: Earlier shipped defaults, no longer shipped (their comparisons are gone): a
#: store still using one moves to the current default.
RETIRED_DEFAULTS = ("people_dev-v1",)


class Services:
    """Everything a request or a command needs, made on first use."""

    def __init__(self, overrides: dict | None = None):
        self.config = settings.resolve_all(overrides)

    @cached_property
    def store(self) -> Store:
        return Store(self.config["MPI_DB"], self.config["MPI_CHECKPOINT_THRESHOLD"])

    @cached_property
    def registry(self) -> ModelRegistry:
        return ModelRegistry(Path(self.config["MPI_MODELS_DIR"]))

    @cached_property
    def case_targets(self) -> CaseTargets:
        """Target resolution time per case priority (``MPI_CASE_TARGET_*_HOURS``)."""
        return CaseTargets.from_config(self.config)

    @cached_property
    def matching(self) -> MatchService:
        return MatchService(self.store, self.registry, int(self.config["MPI_MAX_BLOCK_SIZE"]), self.case_targets)

    @cached_property
    def cases(self) -> CaseService:
        """The steward review workflow (queue and case actions), shared by the API and the review UI."""
        return CaseService(self.store, self.matching, self.case_targets)

    @cached_property
    def merges(self) -> MergeService:
        return MergeService(self.store, self.matching)

    @cached_property
    def history(self) -> HistoryService:
        return HistoryService(self.store)

    def ensure_active_model(self, actor: str) -> str | None:
        """Activate the shipped default model in a store that has none (or a retired default); return it."""
        active = self.store.get_meta(ACTIVE_MODEL_KEY)
        retired = active in RETIRED_DEFAULTS and not self.registry.path_of(active).exists()
        if (active is None or retired) and self.registry.path_of(DEFAULT_MODEL_VERSION).exists():
            self.matching.activate(DEFAULT_MODEL_VERSION, actor)
            active = DEFAULT_MODEL_VERSION
        return active

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()
