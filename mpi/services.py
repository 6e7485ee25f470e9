"""Wiring: the one place where the store, the clock, the event bus, the model registry and the services are built.

The API, the review UI and the CLI all build one :class:`Services` from the
resolved settings, so they share one store connection, one loaded model and one
candidate index. Domains below know nothing of the domains above them: identity
reaches steward review through the port wired here (``ReviewDesk`` as
``ReviewPort``), and hears of nothing above it; the domains above subscribe to
events on ``services.events``.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

from mpi import settings
from mpi.batch.runs import DedupRuns
from mpi.clock import Clock, SystemClock
from mpi.directory.organisations import Directory
from mpi.events import EventBus
from mpi.exchange.delivery import DeliveryPolicy, DeliveryWorker
from mpi.exchange.governance import Governance, QueueTargets
from mpi.exchange.inbound import InboundDesk
from mpi.exchange.labels import PartnerLabels
from mpi.exchange.manual_reports import ManualReports
from mpi.exchange.outbound import OutboundDesk
from mpi.exchange.outbox import Outbox, enlist as enlist_outbox
from mpi.exchange.partners import PartnerRegistry
from mpi.exchange.reconcile import ReconcileSettings, Reconciler
from mpi.identity.history import HistoryService
from mpi.identity.matcher import MatchService
from mpi.identity.merges import MergeService
from mpi.identity.models import ACTIVE_MODEL_KEY, ActiveModel
from mpi.identity.reads import PersonLookup
from mpi.identity.search import PersonSearch
from mpi.identity.sync import IndexSync
from mpi.identity.writer import IdentityWriter
from mpi.matching.model import ModelRegistry
from mpi.referrals import gate
from mpi.referrals.alerts import AlertDesk
from mpi.referrals.intake import ReferralIntake
from mpi.referrals.metrics import ReferralMetrics
from mpi.referrals.policy import ReferralPolicy
from mpi.referrals.reads import ReferralReads
from mpi.referrals.service import ReferralService
from mpi.referrals.sweep import Sweep
from mpi.referrals.transitions import ReferralSteps
from mpi.referrals.writer import ReferralWriter
from mpi.stewardship import rescoring, spotchecks
from mpi.stewardship.cases import CaseService
from mpi.stewardship.desk import ReviewDesk
from mpi.stewardship.matching_metrics import MatchingMetrics
from mpi.stewardship.learning import DecisionLearning
from mpi.stewardship.priority import CaseTargets
from mpi.store import Store
from mpi.store import meta as store_meta
from mpi.trust.access import TrustedReads

#: The model shipped in matching_models/ and activated in a new store.
DEFAULT_MODEL_VERSION = "people_dev-v3"
#: Earlier shipped defaults, no longer shipped (their comparisons are gone): a
#: store still using one moves to the current default.
RETIRED_DEFAULTS = ("people_dev-v1",)


class Services:
    """Everything a request or a command needs, made on first use.

    Args:
        overrides: setting overrides (``MPI_DB``, ...), as :func:`mpi.settings.resolve_all` takes them.
        clock: the clock every business time comes from (tests pass a :class:`~mpi.clock.FixedClock`).
    """

    def __init__(self, overrides: dict | None = None, clock: Clock | None = None):
        self.config = settings.resolve_all(overrides)
        self.clock = clock or SystemClock()

    @cached_property
    def store(self) -> Store:
        path = self.config["MPI_DB"]
        # Only the default location's folder (var/) is made; a path given must name an existing folder.
        store = Store(path, self.config["MPI_CHECKPOINT_THRESHOLD"], self.clock,
                      make_folder=path == settings.default("MPI_DB"),
                      memory_limit=self.config["MPI_DUCKDB_MEMORY_LIMIT"] or None)
        store.access.flush_every(int(self.config["MPI_ACCESS_LOG_FLUSH_MS"]))
        return store

    @cached_property
    def events(self) -> EventBus:
        """Domain events, delivered to subscribers after the transaction that raised them commits.

        The referral tracker's identity gate listens from the start (made when its first
        event arrives), so no decision of identity is missed by a referral waiting on it;
        the exchange's outbox is enlisted, writing its messages inside each status change.
        """
        bus = EventBus(self.store.db)
        gate.subscribe(bus, lambda: self.identity_gate)
        rescoring.subscribe(bus, lambda: self.rescorer)
        spotchecks.enlist(bus, lambda: self.spot_checks, int(self.config["MPI_SPOT_CHECK_ONE_IN"]))
        enlist_outbox(bus, self.outbox)
        return bus

    @cached_property
    def registry(self) -> ModelRegistry:
        return ModelRegistry(Path(self.config["MPI_MODELS_DIR"]))

    @cached_property
    def models(self) -> ActiveModel:
        """The store's active model (``mpi model activate``)."""
        return ActiveModel(self.store, self.registry)

    @cached_property
    def case_targets(self) -> CaseTargets:
        """Target resolution time per case priority (``MPI_CASE_TARGET_*_HOURS``)."""
        return CaseTargets.from_config(self.config)

    @cached_property
    def writer(self) -> IdentityWriter:
        """The one writer of links, persons, golden views and the candidate index."""
        return IdentityWriter(self.store, self.events)

    @cached_property
    def index_sync(self) -> IndexSync:
        """Brings the records other instances over a shared (PostgreSQL) store changed into this one's index, and
        tells the re-scorer of the cases they are held by."""
        sync = IndexSync(self.store, self.writer)
        sync.on_cases.append(lambda cases: self.rescorer.named_elsewhere(cases))
        return sync

    def keep_in_step(self) -> bool:
        """Over a shared store, the ``index-sync`` work of ``mpi serve`` (every ``MPI_INDEX_SYNC_SECONDS``): drop
        what this instance cached that another has since written (users, API keys, meta and so the active model,
        organisations, partners: ``mpi/store/generations.py``), then bring their changed records into the index.
        Whether more changes are waiting."""
        self.outbox  # noqa: B018 - made first, so its partners are among what is dropped when they change
        self.store.generations.refresh()
        return self.index_sync.run_once()

    @cached_property
    def review(self) -> ReviewDesk:
        """Review cases as identity opens and closes them (the ``ReviewPort`` identity is given)."""
        return ReviewDesk(self.store, self.case_targets, self.events)

    @cached_property
    def rescorer(self) -> rescoring.CaseRescorer:
        """Keeps open cases true: re-scores those naming persons a merge, unmerge or link changed."""
        return rescoring.CaseRescorer(self.store, self.matching, self.events)

    @cached_property
    def matching(self) -> MatchService:
        return MatchService(self.store, self.writer, self.models, self.review, int(self.config["MPI_MAX_BLOCK_SIZE"]))

    @cached_property
    def persons(self) -> PersonLookup:
        """Persons and records as the API and the review UI read them."""
        return PersonLookup(self.store)

    @cached_property
    def search(self) -> PersonSearch:
        """Stewards' search for persons by name, birth date, phone, identifier, record key or id."""
        return PersonSearch(self.store, lambda: self.writer.index)

    @cached_property
    def trust(self) -> TrustedReads:
        """Person and record reads scoped to the caller (minimum necessary), and the grants answers make."""
        return TrustedReads(self.store, self.persons, self.matching)

    @cached_property
    def merges(self) -> MergeService:
        return MergeService(self.store, self.writer, self.events)

    @cached_property
    def cases(self) -> CaseService:
        """The steward review workflow (queue and case actions), shared by the API and the review UI."""
        return CaseService(self.store, self.writer, self.matching, self.merges, self.case_targets, self.clock,
                           self.events)

    @cached_property
    def spot_checks(self) -> spotchecks.SpotChecks:
        """Spot-checks of auto-links: drawn 1 in ``MPI_SPOT_CHECK_ONE_IN`` (enlisted on links), and their answers."""
        return spotchecks.SpotChecks(self.store, self.writer, self.matching, self.cases.reads, self.case_targets,
                                     self.events, int(self.config["MPI_SPOT_CHECK_ONE_IN"]))

    @cached_property
    def matching_metrics(self) -> MatchingMetrics:
        """Auto-link precision (spot-checks, undone links) with intervals, review share, steward decisions."""
        return MatchingMetrics(self.store, self.clock)

    @cached_property
    def learning(self) -> DecisionLearning:
        """``mpi train --from-decisions``: model versions learned from steward decisions."""
        return DecisionLearning(self.store, self.matching, self.models, self.registry, self.clock)

    @cached_property
    def history(self) -> HistoryService:
        return HistoryService(self.store)

    # -- referrals ----------------------------------------------------------------------------------

    @cached_property
    def directory(self) -> Directory:
        """The organisations that request and perform referrals, with their business calendars."""
        return Directory(self.store)

    @cached_property
    def referral_policy(self) -> ReferralPolicy:
        """The minimum data set and time targets (``MPI_REFERRAL_POLICY``)."""
        return ReferralPolicy.load(self.config["MPI_REFERRAL_POLICY"])

    @cached_property
    def referral_writer(self) -> ReferralWriter:
        return ReferralWriter(self.store, self.directory, self.referral_policy, self.events, self.clock)

    @cached_property
    def identity_gate(self) -> gate.IdentityGate:
        """Keeps each referral's person and gate in step with identity (through events after commit)."""
        return gate.IdentityGate(self.store, self.referral_writer, self.matching, self.cases, self.clock)

    @cached_property
    def referrals(self) -> ReferralService:
        """The referral tracker: intake gated by identity, the lifecycle's steps and reads."""
        intake = ReferralIntake(self.store, self.referral_writer, self.matching, self.directory, self.referral_policy,
                                self.identity_gate, self.clock)
        steps = ReferralSteps(self.store, self.referral_writer, self.directory, self.referral_policy,
                              self.identity_gate, self.clock)
        reads = ReferralReads(self.store, self.clock, self.referral_policy)
        return ReferralService(intake, steps, reads, self.identity_gate)

    @cached_property
    def alerts(self) -> AlertDesk:
        """Reminders and escalations the sweep raised."""
        return AlertDesk(self.store)

    @cached_property
    def referral_metrics(self) -> ReferralMetrics:
        """Loop measures over a period (``/v1/metrics/referrals``, the metrics page) and the scrape's gauges."""
        return ReferralMetrics(self.store, self.directory, self.clock)

    @cached_property
    def sweep(self) -> Sweep:
        """Reminders, escalations and expiry of referrals, and the exchange's exception escalations (``mpi sweep``;
        every ``MPI_SWEEP_SECONDS`` in serve)."""
        return Sweep(self.store, self.identity_gate, self.events, self.clock,
                     also=[lambda now: self.governance.escalate(now)])

    # -- exchange -----------------------------------------------------------------------------------

    @cached_property
    def partners(self) -> PartnerRegistry:
        """Partner systems, their subscriptions and versioned status crosswalks (``mpi partners``, ``/v1/partners``)."""
        return PartnerRegistry(self.store, on_change=self.outbox.forget)

    @cached_property
    def outbox(self) -> Outbox:
        """Writes a message for each status change a partner subscribes to, inside the change's transaction.

        Its partners and crosswalks are read afresh once any instance over the store has changed them."""
        outbox = Outbox(self.store)
        self.store.generations.on_change("partners", outbox.forget)
        return outbox

    @cached_property
    def delivery(self) -> DeliveryWorker:
        """Sends the outbox to partners, retrying with backoff (``mpi deliver``; a thread of ``mpi serve``)."""
        return DeliveryWorker(self.store, DeliveryPolicy.from_config(self.config), self.clock,
                              on_dead=self.outbound.record_dead)

    @cached_property
    def inbound(self) -> InboundDesk:
        """The inbound exception queue: referrals and status updates kept after failing validation."""
        return InboundDesk(self.store, self.referrals, QueueTargets.from_config(self.config, "INBOUND"), self.clock)

    @cached_property
    def outbound(self) -> OutboundDesk:
        """The outbound exception queue: dead messages as patterns; pause, resume and back-post partners."""
        return OutboundDesk(self.store, self.partners, QueueTargets.from_config(self.config, "OUTBOUND"), self.clock)

    @cached_property
    def manual_reports(self) -> ManualReports:
        """Manual status reports told to partners while their feed is down (shown on referrals and patterns)."""
        return ManualReports(self.store, self.clock)

    @cached_property
    def governance(self) -> Governance:
        """Exception governance over the exchange's queues: metrics, gauges, escalations (in the sweep).

        Each queue gives its items through one source; a new queue is one more line here.
        """
        return Governance([
            self.inbound.governance_items,
            self.outbound.governance_items,
            self.reconciliation.governance_items,
        ], self.store, self.clock)

    @cached_property
    def partner_labels(self) -> PartnerLabels:
        """Status updates in a partner's own labels, mapped back through its crosswalk into the one status path."""
        return PartnerLabels(self.partners, self.referrals, self.clock)

    @cached_property
    def reconciliation(self) -> Reconciler:
        """Partners' status snapshots compared with what they should show; the mismatch work queue and trend."""
        return Reconciler(self.store, self.outbox, ReconcileSettings.from_config(self.config), self.clock)

    @cached_property
    def dedup(self) -> DedupRuns:
        """Batch dedup runs over the store (``mpi dedup``, ``/v1/dedup-runs``), on DuckDB or Spark."""
        return DedupRuns(self.store, self.registry, lambda: self.models.get().version, self.review, self.merges,
                         self.clock, batch_db_api)

    def ensure_active_model(self, actor: str) -> str | None:
        """Activate the shipped default model in a store that has none (or a retired default); return it."""
        active = self.models.version()
        retired = active in RETIRED_DEFAULTS and not self.registry.path_of(active).exists()
        if (active is None or retired) and self.registry.path_of(DEFAULT_MODEL_VERSION).exists():
            self.models.activate(DEFAULT_MODEL_VERSION, actor)
            active = DEFAULT_MODEL_VERSION
        return active

    def file_model_version(self, version: str | None = None) -> str:
        """The model a command over files alone uses (``mpi dedup --input``), without holding the store.

        ``version`` if given; else the store file's active model, read without keeping the file (a store
        held by ``mpi serve`` raises ``StoreLocked``: name the version then); else the shipped default.
        A missing version is ``NotFound`` from the registry.
        """
        if version is None:
            version = store_meta.peek(self.config["MPI_DB"], ACTIVE_MODEL_KEY)
            retired = version in RETIRED_DEFAULTS and not self.registry.path_of(version).exists()
            if version is None or retired:
                version = DEFAULT_MODEL_VERSION
        self.registry.document(version)
        return version

    def close(self) -> None:
        if "delivery" in self.__dict__:
            self.delivery.close()
        if "store" in self.__dict__:
            self.store.close()


def batch_db_api(engine_name: str, spark_master: str | None) -> Any:
    """The Splink database a batch run uses: None (the engine's in-memory DuckDB) or a Spark session's."""
    if engine_name == "spark":
        from mpi.batch.spark import spark_db_api  # pyspark is an optional extra: loaded only when asked for
        return spark_db_api(spark_master)
    return None
