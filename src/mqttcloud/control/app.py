"""`create_app(settings)`: the control plane's FastAPI application.

Routers: the Platform API under `/public_api/v1` (OpenAPI at `/public_api/v1/openapi.json`), the
Deployment API (`/api/v5`, `/api`), the Serverless CA download and the console (`/console`); in front of
them, the measured fast path for cached `GET /public_api/v1/deployments/{id}` (deployments/fast_path.py);
around everything, the audit log of every write (audit/) and the request metrics of `/metrics` (health/).
The lifespan migrates the database, starts the broker supervisor and the monitoring sampler
(monitoring/sampler.py) and brings every desired-running deployment back; on shutdown it stops the
brokers (their desired state stays in the database) and closes the database.
"""

import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import FastAPI

from mqttcloud.control import migrations
from mqttcloud.control.alarms import routes as alarm_routes
from mqttcloud.control.alarms.checker import AlarmChecker
from mqttcloud.control.audit.log import AuditLog
from mqttcloud.control.audit.middleware import AuditMiddleware
from mqttcloud.control.audit.routes import router as audit_router
from mqttcloud.control.auth import KeyVerifier, document_security
from mqttcloud.control.certificates.routes import router as tls_router
from mqttcloud.control.config import Settings
from mqttcloud.control.db import Database
from mqttcloud.control.deployment_api import mount as deployment_api
from mqttcloud.control.deployment_api.shadows.relay import ShadowRelays
from mqttcloud.control.deployments import spec_builder
from mqttcloud.control.deployments.cache import ViewCache
from mqttcloud.control.deployments.fast_path import DeploymentReadFastPath
from mqttcloud.control.deployments.lifecycle import BrokerRuntime, SupervisorLike
from mqttcloud.control.deployments.routes import router as deployments_router
from mqttcloud.control.errors import install_error_handlers
from mqttcloud.control.events.collector import PURGE_INTERVAL, EventCollectors
from mqttcloud.control.health import routes as health
from mqttcloud.control.health.http_metrics import HttpMetrics
from mqttcloud.control.monitoring.sampler import Sampler
from mqttcloud.control.projects.routes import router as projects_router
from mqttcloud.control.ratelimit import RateLimiter
from mqttcloud.control.request_ids import RequestIds
from mqttcloud.control.serverless.lifecycle import ServerlessLifecycle
from mqttcloud.control.transport_security import StrictTransportSecurity

logger = logging.getLogger(__name__)

PLATFORM_API_PREFIX = "/public_api/v1"
OPENAPI_URL = f"{PLATFORM_API_PREFIX}/openapi.json"

SupervisorFactory = Callable[[BrokerRuntime], AbstractAsyncContextManager[SupervisorLike]]


def default_supervisor(runtime: BrokerRuntime) -> AbstractAsyncContextManager[SupervisorLike]:
    """The real supervisor: one `mqttcloud broker` process per desired spec, under `<data-dir>/brokers`,
    logging in the platform's format."""
    from mqttcloud.control.supervisor import Supervisor, processes  # noqa: PLC0415  (only when brokers run)

    command = (*processes.DEFAULT_COMMAND, "--log-format", runtime.settings.log_format)
    return Supervisor(
        runtime.settings.brokers_dir,
        on_status=runtime.on_status,
        on_applied=runtime.on_applied,
        command=command,
    )


def create_app(
    settings: Settings,
    *,
    database: Database | None = None,
    supervisor_factory: SupervisorFactory | None = default_supervisor,
    shared: spec_builder.SharedSecrets | None = None,
) -> FastAPI:
    """Build the application.

    Args:
        settings: where everything lives and how it behaves.
        database: an existing database (tests pass one bound to a transaction); when omitted one is
            created from `settings`, migrated at startup and disposed at shutdown.
        supervisor_factory: builds the broker supervisor; None (or `settings.start_brokers` False) keeps
            the desired state in the database without running brokers.
        shared: Serverless admin token and certificate; built from the platform CA when omitted.
    """
    owns_database = database is None
    db = database or Database.from_url(settings.sqlalchemy_url)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if owns_database:
            migrations.upgrade(db.engine)
        runtime = BrokerRuntime(settings, db, shared or _shared_secrets(settings))
        runtime.status_listeners.append(observability.restarts.on_status)
        app.state.runtime = runtime
        try:
            async with audit_log:  # its writer task drains the queue after the last request
                if supervisor_factory is not None and settings.start_brokers:
                    async with (
                        supervisor_factory(runtime) as supervisor,
                        ShadowRelays(runtime, db, lambda: app.state.deployment_api_quotas),
                        event_collectors.attach(runtime) if settings.event_history else _nothing(),
                        AlarmChecker(
                            runtime, db, settings.alarms, lambda: app.state.deployment_api_quotas
                        ) as alarm_checker,
                        # A database passed in (tests) is one connection: no task shares it on its own clock.
                        Sampler(runtime, db, interval=settings.monitor_interval)
                        if owns_database
                        else contextlib.nullcontext(),
                    ):
                        runtime.attach(supervisor)
                        app.state.alarm_checker = alarm_checker
                        ServerlessLifecycle(
                            runtime, db, settings.serverless_lifecycle, audited=settings.audit_log
                        ).attach(alarm_checker)
                        await runtime.restore()
                        yield
                        runtime.supervisor = None
                else:
                    yield
        finally:
            await runtime.close()  # the local nats-server of multi-node deployments, after their brokers
            if owns_database:
                db.dispose()

    app = FastAPI(
        title="mqttcloud Platform API",
        version="1",
        description=(
            "EMQX Platform compatible Platform API. Authenticate with HTTP Basic: the platform API Key as "
            'user name, its Secret as password. Every error has the body {"code": "UPPER_SNAKE_CASE", '
            '"message": "..."}; 429 responses carry Retry-After.'
        ),
        openapi_url=OPENAPI_URL,
        docs_url=f"{PLATFORM_API_PREFIX}/docs",
        redoc_url=None,
        lifespan=lifespan,
        strict_content_type=False,  # spec §1.4: JSON bodies are accepted without a Content-Type header
    )
    app.state.settings = settings
    app.state.database = db
    app.state.key_verifier = KeyVerifier(
        db, cache_seconds=settings.key_cache_seconds, last_used_interval=settings.last_used_interval
    )
    app.state.rate_limiter = RateLimiter.from_profile(
        settings.rate_limit_profile, settings.rate_limit_overrides
    )
    app.state.key_verifier.watch_changes()
    app.state.view_cache = view_cache = ViewCache()
    view_cache.watch_commits(db)
    # Until the lifespan runs (e.g. a TestClient used without `with`), writes just update the database.
    app.state.runtime = BrokerRuntime(settings, db, shared or spec_builder.SharedSecrets(""))
    install_error_handlers(app)
    # /status, /healthz, /readyz, /metrics: unauthenticated, outside the API prefixes.
    observability = health.install(
        app, db, expects_supervisor=supervisor_factory is not None and settings.start_brokers
    )
    # A database passed in (tests: one connection held in a transaction) cannot be shared with a writer
    # thread running on its own schedule: its entries are written by `flush()` and at shutdown.
    app.state.audit_log = audit_log = AuditLog(
        db, retention_days=settings.audit_retention_days, flush_seconds=1.0 if owns_database else None
    )
    observability.providers.append(audit_log.families)
    app.state.event_collectors = event_collectors = EventCollectors(
        db,
        retention_days=settings.event_history_retention_days,
        max_per_deployment=settings.event_history_max_events,
        purge_seconds=PURGE_INTERVAL if owns_database else None,  # as the audit log's writer, above
    )
    observability.providers.append(event_collectors.families)
    for router in (projects_router, deployments_router, tls_router, audit_router):
        app.include_router(router, prefix=PLATFORM_API_PREFIX)
    from mqttcloud.control.serverless import routes as serverless  # noqa: PLC0415  (P9: CA download)

    serverless.install(app)  # GET /public_api/v1/serverless/emqxsl-ca.crt and /emqxsl-ca.crt
    alarm_routes.install(app, PLATFORM_API_PREFIX)  # GET /public_api/v1/alarms (control/alarms/)
    deployment_api.install(app)  # Deployment API (P7): /api/v5 and /api, with their own error shapes
    # Web console (P8): HTML pages under /console, static files under /console/static.
    from mqttcloud.control.console import mount_console  # noqa: PLC0415  (console owns its imports)

    mount_console(app, settings, db)
    _document_platform_security(app)
    app.add_middleware(
        DeploymentReadFastPath,
        prefix=PLATFORM_API_PREFIX,
        verifier=app.state.key_verifier,
        limiter=app.state.rate_limiter,
        cache=view_cache,
    )
    if settings.audit_log:  # every write of the three surfaces (publishing excepted), denied ones too
        app.add_middleware(AuditMiddleware, log=audit_log, trusted_proxies=settings.trusted_proxies)
    app.add_middleware(HttpMetrics, counters=observability.counters)  # counts the fast paths too
    app.add_middleware(RequestIds)  # an id per request, in its logs and admin requests (request_ids.py)
    app.add_middleware(StrictTransportSecurity)  # outermost: every HTTPS response, fast path included
    return app


@contextlib.asynccontextmanager
async def _nothing() -> AsyncIterator[None]:
    yield


def _document_platform_security(app: FastAPI) -> None:
    """Add the HTTP Basic scheme to the Platform API operations in the generated OpenAPI document."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_security(generate(), PLATFORM_API_PREFIX)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to customise the schema


def _shared_secrets(settings: Settings) -> spec_builder.SharedSecrets:
    from mqttcloud.control.platform_tls import serverless_tls  # noqa: PLC0415  (needs the platform CA)

    return spec_builder.SharedSecrets(
        serverless_admin_token=secrets.token_urlsafe(32), serverless_tls=serverless_tls(settings)
    )
