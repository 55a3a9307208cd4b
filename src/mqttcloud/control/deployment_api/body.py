"""Request bodies as EMQX reads them: a body is JSON whatever its Content-Type says.

The documented examples are `curl -u id:secret -X POST -d '{...}' .../api/...`, and curl sends `-d`
bodies as `application/x-www-form-urlencoded`; EMQX parses them as JSON all the same. This ASGI
middleware, in front of the Deployment API's routes, presents every body of a POST, PUT or PATCH as
`application/json`, so the routes parse it (and a body that is not JSON gets the documented 400).
"""

from starlette.types import ASGIApp, Receive, Scope, Send

_WRITES = frozenset({"POST", "PUT", "PATCH"})
_JSON = (b"content-type", b"application/json")


class JsonBodies:
    """ASGI middleware: rewrite the Content-Type of write requests to `application/json`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in _WRITES:
            headers = [(name, value) for name, value in scope["headers"] if name != b"content-type"]
            # In place, not a copy: the outer middlewares (audit log, metrics) read the route and the actor
            # that routing and authentication add to this very scope.
            scope["headers"] = [*headers, _JSON]
        await self.app(scope, receive, send)
