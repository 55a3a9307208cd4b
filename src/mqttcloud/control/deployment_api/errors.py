"""Error bodies of the two Deployment API shapes.

v5 (`/api/v5`): `{"code": "UPPER_SNAKE", "message": "..."}`, rendered by the control plane's one handler
(`control/errors.py`): every error here is an `ApiError`.

v4 (`/api`): `{"code": <int>, "message": "..."}` with the v4 result codes of spec §1.6. Spec §5 item 12
leaves open whether v4 business errors come back as HTTP 200 or 4xx; we answer the **same HTTP status as
v5** (400/401/403/404/409/422/429/503) with the v4 integer code in the body, so clients that check either
the status or `code` see the failure. Batch operations keep HTTP 200 and top-level `code` 0, with per-item
codes (e.g. 112 for an offline client), as documented.

v4 code for each v5 code (then by HTTP status): see `V4_CODES` / `V4_BY_STATUS`.
"""

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ClassVar

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from mqttcloud.control.errors import ApiError, describe_validation_errors


class ServiceUnavailable(ApiError):  # noqa: N818  (named like control/errors.py's classes)
    """503: the deployment is stopped (or its broker is not running): live endpoints cannot answer."""

    status_code: ClassVar[int] = 503
    default_code: ClassVar[str] = "SERVICE_UNAVAILABLE"


V4_SUCCESS = 0
V4_RPC_ERROR = 101
V4_UNKNOWN = 102
V4_BAD_CREDENTIALS = 103
V4_USER_NOT_FOUND = 105
V4_MISSING_PARAMETER = 107
V4_BAD_PARAMETER = 108
V4_INVALID_JSON = 109
V4_CLIENT_NOT_ONLINE = 112
V4_ALREADY_EXISTS = 113
V4_ILLEGAL_TOPIC = 115

V4_CODES: dict[str, int] = {
    "SERVICE_UNAVAILABLE": V4_RPC_ERROR,  # the broker cannot be reached: EMQX 4's "RPC error"
    "CLIENTID_NOT_FOUND": V4_CLIENT_NOT_ONLINE,
    "USER_NOT_FOUND": V4_USER_NOT_FOUND,
    "ALREADY_EXISTS": V4_ALREADY_EXISTS,
    "BAD_TOPIC": V4_ILLEGAL_TOPIC,
    "INVALID_JSON": V4_INVALID_JSON,
    "MISSING_PARAMETER": V4_MISSING_PARAMETER,
    "BAD_API_KEY_OR_SECRET": V4_BAD_CREDENTIALS,
    "UNAUTHORIZED": V4_BAD_CREDENTIALS,
}
V4_BY_STATUS: dict[int, int] = {
    400: V4_BAD_PARAMETER,
    401: V4_BAD_CREDENTIALS,
    403: V4_UNKNOWN,
    404: V4_UNKNOWN,
    409: V4_ALREADY_EXISTS,
    422: V4_BAD_PARAMETER,
    429: V4_UNKNOWN,
    503: V4_RPC_ERROR,
}


def v4_code(status: int, code: str) -> int:
    """The v4 integer result code for an error with this HTTP status and v5 code."""
    return V4_CODES.get(code, V4_BY_STATUS.get(status, V4_UNKNOWN))


def v4_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {"code": v4_code(status, code), "message": message}, status_code=status, headers=headers
    )


class V4Route(APIRoute):
    """Renders every error of a v4 route as `{"code": <int>, "message"}` (see module docstring)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def v4_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except ApiError as exc:
                return v4_error(exc.status_code, exc.code, exc.message, exc.headers)
            except RequestValidationError as exc:
                errors = list(exc.errors())
                if any(e.get("type") == "json_invalid" for e in errors):
                    return v4_error(400, "INVALID_JSON", "Request parameters are not valid JSON")
                if any(e.get("type") == "missing" for e in errors):
                    return v4_error(422, "MISSING_PARAMETER", describe_validation_errors(errors))
                return v4_error(422, "INVALID_PARAMETERS", describe_validation_errors(errors))
            except StarletteHTTPException as exc:
                # FastAPI's own 400 for a body it cannot decode at all (not UTF-8: so not JSON either).
                if exc.status_code == 400:
                    return v4_error(400, "INVALID_JSON", "Request parameters are not valid JSON")
                return v4_error(exc.status_code, "", str(exc.detail), dict(exc.headers or {}))

        return v4_handler


async def item_code(call: Awaitable[object]) -> int:
    """The v4 code of one item of a batch: 0, or the code of its error (112: client not online).

    Raises: ServiceUnavailable (the broker is gone: the whole batch fails)."""
    try:
        await call
    except ServiceUnavailable:
        raise
    except ApiError as exc:
        return v4_code(exc.status_code, exc.code)
    return V4_SUCCESS
