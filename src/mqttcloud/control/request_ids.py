"""Request ids: every HTTP request the platform serves gets one, bound to the log context while it runs.

An incoming `X-Request-Id` is kept when it is sane (1 to 128 characters of `A-Z a-z 0-9 - _ . : / + =`),
so a caller's id or a proxy's joins our logs to theirs; anything else is replaced by a fresh random id.
The id is answered in the `X-Request-Id` response header, set in `logs.request_id` for the request's task
(admin requests to brokers carry it from there: `control/broker_client.py`), and logged with the request
line: writes and server errors at INFO, other requests at DEBUG.

Rule: a pure ASGI middleware, outermost but for HSTS, so the fast paths get an id too; it resets the
log context when the request ends, so nothing of one request leaks into the next run on the same task.
"""

import logging
import re
import secrets
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mqttcloud import logs

logger = logging.getLogger(__name__)

HEADER = b"x-request-id"
MAX_LENGTH = 128  # contracts.AdminRequest.request_id's bound
_SANE = re.compile(rb"[A-Za-z0-9._:/+=-]{1,%d}" % MAX_LENGTH)
_READS = frozenset({"GET", "HEAD", "OPTIONS"})


def accepted_id(value: bytes | None) -> str:
    """`value` when it is a sane request id, else a fresh one (16 hex digits)."""
    if value is not None and _SANE.fullmatch(value):
        return value.decode("ascii")
    return secrets.token_hex(8)


class RequestIds:
    """Gives each HTTP request an id (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope["headers"]:
            if name == HEADER:
                incoming = value
                break
        rid = accepted_id(incoming)
        header = (HEADER, rid.encode("ascii"))
        status = 500  # unless the app starts a response

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        rid_token = logs.request_id.set(rid)
        actor_token = logs.actor.set(None)  # the auth layer names the actor of this request
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            method = scope["method"]
            level = logging.DEBUG if method in _READS and status < 500 else logging.INFO
            if logger.isEnabledFor(level):
                logger.log(
                    level,
                    "%s %s -> %d (%.1f ms)",
                    method,
                    scope["path"],
                    status,
                    (time.perf_counter() - started) * 1000,
                )
            logs.actor.reset(actor_token)
            logs.request_id.reset(rid_token)
