"""Unauthenticated operations endpoints of `serve`: `/status`, `/healthz`, `/readyz` and `/metrics`.

- `/status` answers as EMQX's does for load balancers: 200 "is running" while the platform can serve
  (its database answers), else 503; `?format=json` gives the same as JSON.
- `/healthz`: the process answers HTTP (liveness), nothing else is checked.
- `/readyz`: the database answers, its schema is at the migrations' head, and the broker supervisor
  runs when this platform runs brokers: 200, else 503 naming what is not ready.
- `/metrics`: the platform's metrics in the Prometheus text format (exposition.py).

Rule: every answer is computed when asked (a fresh database probe per call, see checks.py), never from
a cached "last known good".
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from mqttcloud.control.db import Database
from mqttcloud.control.deployments import service as deployments
from mqttcloud.control.health.checks import DatabaseProbe, probe_database
from mqttcloud.control.health.exposition import CONTENT_TYPE, BrokerRestarts, Family, http_families, render
from mqttcloud.control.health.http_metrics import HttpCounters

router = APIRouter(include_in_schema=False)
_NO_STORE = {"Cache-Control": "no-store"}


@dataclass
class Observability:
    """Per-app state of this package, kept on `app.state.observability`."""

    database: Database
    expects_supervisor: bool  # False when this platform keeps desired state without running brokers
    counters: HttpCounters = field(default_factory=HttpCounters)
    restarts: BrokerRestarts = field(default_factory=BrokerRestarts)
    # More families for /metrics, from other packages (the audit log's queue): called at scrape time.
    providers: list[Callable[[], list[Family]]] = field(default_factory=list)


def _state(request: Request) -> Observability:
    state: Observability = request.app.state.observability
    return state


@router.get("/healthz")
async def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok"}, headers=_NO_STORE)


@router.get("/status", response_model=None)
async def status(request: Request) -> Response:
    probe = await probe_database(_state(request).database.engine)
    running = probe.is_reachable
    code = 200 if running else 503
    if request.query_params.get("format") == "json":
        body = {"status": "running" if running else "not_running", "database": _database_text(probe)}
        return JSONResponse(body, status_code=code, headers=_NO_STORE)
    text = "mqttcloud is running\n" if running else "mqttcloud is not running: database unreachable\n"
    return PlainTextResponse(text, status_code=code, headers=_NO_STORE)


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    state = _state(request)
    probe = await probe_database(state.database.engine)
    supervisor_running = request.app.state.runtime.supervisor is not None
    checks = {
        "database": _database_text(probe),
        "migrations": "ok"
        if probe.is_migrated
        else f"revision {probe.revision or 'unknown'} is not the head",
        "supervisor": (
            "disabled" if not state.expects_supervisor else "ok" if supervisor_running else "not running"
        ),
    }
    ready = probe.is_migrated and (supervisor_running or not state.expects_supervisor)
    body = {"status": "ready" if ready else "not_ready", "checks": checks}
    return JSONResponse(body, status_code=200 if ready else 503, headers=_NO_STORE)


@router.get("/metrics")
async def metrics(request: Request) -> PlainTextResponse:
    state = _state(request)
    probe = await probe_database(state.database.engine)
    families = [
        *http_families(state.counters),
        Family(
            "mqttcloud_database_up",
            "gauge",
            "1 when the platform database answered the scrape's probe",
            [("", {}, 1 if probe.is_reachable else 0)],
        ),
        Family(
            "mqttcloud_database_probe_seconds",
            "gauge",
            "Time the scrape's database probe (one SELECT of the schema revision) took",
            [("", {}, probe.seconds)],
        ),
        Family(
            "mqttcloud_broker_restarts_total",
            "counter",
            "Brokers restarted by the supervisor (after a crash or for a changed spec)",
            [("", {}, state.restarts.total)],
        ),
    ]
    if probe.is_reachable:
        counts = await asyncio.to_thread(_deployment_counts, state.database)
        samples = [("", {"status": status}, count) for status, count in counts.items()]
        families.append(Family("mqttcloud_deployments", "gauge", "Deployments by status", samples))
    for provider in state.providers:
        families.extend(provider())
    return PlainTextResponse(render(families), media_type=CONTENT_TYPE, headers=_NO_STORE)


def _deployment_counts(database: Database) -> dict[str, int]:
    with database.read_session() as session:
        return {status.value: count for status, count in deployments.count_by_status(session).items()}


def _database_text(probe: DatabaseProbe) -> str:
    return "ok" if probe.error is None else f"unreachable ({probe.error})"


def install(app: FastAPI, database: Database, *, expects_supervisor: bool) -> Observability:
    """Add the four routes to `app`; the returned state's counters are for `HttpMetrics`."""
    state = Observability(database, expects_supervisor)
    app.state.observability = state
    app.include_router(router)
    return state
