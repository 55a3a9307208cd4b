"""Health checks and the platform's Prometheus metrics (`/status`, `/healthz`, `/readyz`, `/metrics`).

`routes.install(app, database, expects_supervisor=...)` adds the routes and returns the `Observability`
state whose counters the `http_metrics.HttpMetrics` middleware fills (create_app adds it outside every
fast path). This `__init__` imports nothing: the audit log and the event collectors import
`exposition.Family`, and must not load the routes, which import the deployments' service.
"""
