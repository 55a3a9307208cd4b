"""HTTP Strict Transport Security for the platform's HTTPS responses.

Rule: the header goes on every response of a request that arrived over HTTPS and never over plain HTTP
(RFC 6797 §7.2: a browser ignores it there, and behind a TLS-terminating proxy (`serve --http`) the proxy
owns the policy). A pure ASGI middleware, outermost, so the Platform API fast path gets it too.
"""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HSTS_MAX_AGE = 365 * 86400  # one year, the value browsers' preload lists ask for
_HEADER = (b"strict-transport-security", f"max-age={HSTS_MAX_AGE}".encode("ascii"))


class StrictTransportSecurity:
    """Adds `Strict-Transport-Security: max-age=31536000` to HTTPS responses."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("scheme") != "https":
            await self.app(scope, receive, send)
            return

        async def send_with_hsts(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), _HEADER]
            await send(message)

        await self.app(scope, receive, send_with_hsts)
