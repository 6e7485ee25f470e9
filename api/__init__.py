"""The JSON API (Flask + flask-smorest) and the app factory that also mounts the review UI.

``create_app`` builds everything from settings and creates nothing at import
time. Tests call ``create_app({"MPI_DB": tmp_path / "t.duckdb", ...})``.
"""

from __future__ import annotations

import logging
import secrets
import time

from flask import Flask, g, request

from api import access_log, bodies, errors, inbound_exceptions, routing
from api.answers import AnswerProvider
from api.errors import MpiApi
from api.spec import ContractPlugin
from mpi import __version__, settings
from mpi.services import Services


def create_app(config: dict | None = None, services: Services | None = None) -> Flask:
    """Build the WSGI app.

    Args:
        config: setting overrides (``MPI_DB``, ``MPI_MODELS_DIR``, ...), as in the README.
        services: ready services to share (the CLI passes its own); built from config if None.
    """
    app = Flask(__name__, static_folder=None)  # the review UI serves its own; the API has no static files
    app.json = AnswerProvider(app)  # keys in the schemas' order; each answer kept for the access log
    services = services or Services(config)
    app.config.update(
        API_TITLE="closedloop-mpi",
        API_VERSION=__version__,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/v1",
        OPENAPI_JSON_PATH="openapi.json",
        SECRET_KEY=services.config.get("MPI_SECRET_KEY") or secrets.token_hex(32),
        MPI=services.config,
    )
    app.extensions["mpi"] = services
    services.ensure_active_model("system:startup")

    api = MpiApi(app, spec_kwargs={
        "extra_plugins": [ContractPlugin()],
        "info": {"description": "Identity resolution and master person index for referral networks."},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
    })
    routing.init_app(app, api)
    errors.register(app)
    access_log.init_app(app)
    bodies.init_app(app, int(services.config["MPI_MAX_BODY_BYTES"]))
    inbound_exceptions.init_app(app)
    _log_requests(app)

    from api import admin, alerts, cases, history, merges, organisations, persons, records, referrals
    from api import backup, manual_reports, metrics, outbound_exceptions, partner_updates, partners, reconciliation
    from api import dedup, person_search

    api.register_blueprint(records.blp)
    api.register_blueprint(persons.blp)
    api.register_blueprint(person_search.blp)
    api.register_blueprint(cases.blp)
    api.register_blueprint(merges.blp)
    api.register_blueprint(history.blp)
    api.register_blueprint(organisations.blp)
    api.register_blueprint(referrals.blp)
    api.register_blueprint(alerts.blp)
    api.register_blueprint(inbound_exceptions.blp)
    api.register_blueprint(admin.blp)
    api.register_blueprint(partners.blp)
    api.register_blueprint(outbound_exceptions.blp)
    api.register_blueprint(manual_reports.blp)
    api.register_blueprint(partner_updates.blp)
    api.register_blueprint(reconciliation.blp)
    api.register_blueprint(dedup.blp)
    from api import fhir, fhir_patient

    api.register_blueprint(fhir.blp)
    api.register_blueprint(fhir_patient.blp)
    api.register_blueprint(metrics.blp)
    from api import audit

    api.register_blueprint(audit.blp)
    access_log.document(api)
    api.register_blueprint(backup.blp)
    metrics.init_app(app)

    from review_ui import bp as review_bp

    app.register_blueprint(review_bp)
    return app


def _log_requests(app: Flask) -> None:
    """One access line per API call: who (the authenticated caller), what, outcome and time.

    Paths carry ids only (person ids, record keys), never demographics: those
    travel in request bodies, which are not logged.
    """
    access = logging.getLogger("api.access")

    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _log(response):
        if request.path.startswith("/v1/"):
            user = g.get("user")
            elapsed_ms = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
            access.info("%s %s %s caller=%s %.1fms", request.method, request.path, response.status_code,
                        user["name"] if user else "-", elapsed_ms)
        return response


def services_of(app: Flask) -> Services:
    return app.extensions["mpi"]


__all__ = ["create_app", "settings"]
