"""Health checks and the platform's Prometheus metrics (`/status`, `/healthz`, `/readyz`, `/metrics`).

`install(app, database, expects_supervisor=...)` adds the routes and returns the `Observability` state
whose counters the `HttpMetrics` middleware fills (create_app adds it outside every fast path).
"""

from fastapi import FastAPI

from mqttcloud.control.db import Database
from mqttcloud.control.health.exposition import BrokerRestarts, Family
from mqttcloud.control.health.http_metrics import HttpCounters, HttpMetrics
from mqttcloud.control.health.routes import Observability, router

__all__ = ["BrokerRestarts", "Family", "HttpCounters", "HttpMetrics", "Observability", "install"]


def install(app: FastAPI, database: Database, *, expects_supervisor: bool) -> Observability:
    state = Observability(database, expects_supervisor)
    app.state.observability = state
    app.include_router(router)
    return state
