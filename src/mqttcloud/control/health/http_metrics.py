"""HTTP request counters and latency histograms for `/metrics`, kept by one pure ASGI middleware.

Labels are the method, the route *template* (`/public_api/v1/deployments/{deployment_id}`, never the
concrete path: ids would make the series unbounded and name tenants on an unauthenticated endpoint) and
the status. The template is the route the router matched (`scope["route"]`, prefixed with the mount's
`root_path`); the two fast paths answer before any router, so their templates come from `FAST_PATHS`;
anything else unmatched is `UNMATCHED`.

Rule: the hot path allocates only the tuple keys and the send wrapper; every number lives in plain dicts
and lists read at scrape time.
"""

import bisect
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass

from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Upper bounds (seconds) of the latency buckets; +Inf is the last slot.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
UNMATCHED = "(unmatched)"
FAST_PATHS = (
    ("GET", re.compile(r"/public_api/v1/deployments/[^/]+"), "/public_api/v1/deployments/{deployment_id}"),
    ("POST", re.compile(r"/api/v5/publish"), "/api/v5/publish"),
)


@dataclass(slots=True)
class Histogram:
    counts: list[int]  # one slot per bucket of BUCKETS, then +Inf
    total: float = 0.0

    def cumulative(self) -> Iterator[tuple[str, int]]:
        """(le, cumulative count) pairs as the Prometheus text format lists them."""
        running = 0
        for bound, count in zip((*(f"{b:g}" for b in BUCKETS), "+Inf"), self.counts, strict=True):
            running += count
            yield bound, running


class HttpCounters:
    """What `HttpMetrics` counts: requests by (method, route, status), latency by (method, route)."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, int], int] = {}
        self.latency: dict[tuple[str, str], Histogram] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        self.requests[key] = self.requests.get(key, 0) + 1
        histogram = self.latency.get((method, route))
        if histogram is None:
            histogram = self.latency[(method, route)] = Histogram([0] * (len(BUCKETS) + 1))
        histogram.counts[bisect.bisect_left(BUCKETS, seconds)] += 1
        histogram.total += seconds


def route_template(scope: Scope) -> str:
    """The template of the route that answered this request (after the app ran).

    Rebuilt from the path and the matched path parameters (each segment equal to a parameter's value
    becomes `{name}`; a `{name:path}` value spanning segments is replaced as a whole): FastAPI keeps the
    route of an included router with its path relative to the router, and the mount's prefix apart.
    """
    if not isinstance(scope.get("route"), BaseRoute):
        method, path = scope["method"], scope["path"]
        for fast_method, pattern, template in FAST_PATHS:
            if method == fast_method and pattern.fullmatch(path):
                return template
        return UNMATCHED
    path = scope["path"]
    params: dict[str, object] = scope.get("path_params") or {}
    if not params:
        return str(path)
    names = {str(value): name for name, value in params.items()}
    for value, name in names.items():
        if "/" in value and path.endswith(value):
            path = path[: -len(value)] + "{" + name + "}"
    return "/".join("{" + names[part] + "}" if part in names else part for part in path.split("/"))


class HttpMetrics:
    """Pure ASGI middleware: times every HTTP request and counts it once its response has started."""

    def __init__(self, app: ASGIApp, *, counters: HttpCounters) -> None:
        self.app = app
        self.counters = counters

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception before the response started is answered 500 by the server

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.counters.observe(
                scope["method"], route_template(scope), status, time.perf_counter() - started
            )
