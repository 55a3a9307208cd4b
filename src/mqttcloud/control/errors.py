"""The one error path of the HTTP APIs.

Services raise `ApiError` subclasses (`NotFound`, `Conflict`, `Invalid`, `Forbidden`, `Unauthorized`,
`RateLimited`, `BadRequest`); `install_error_handlers` registers the handlers that render every error,
including FastAPI's validation errors, unknown paths and unexpected exceptions, as

    {"code": "UPPER_SNAKE_CASE", "message": "..."}

Rule: no other module builds an error response, and a 500 never carries exception text to the client.
"""

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger(__name__)


class ConfigError(Exception):
    """A setting or command-line value is unusable (reported to the operator, never over HTTP)."""


class ApiError(Exception):
    """An error with an HTTP status, a stable code and a message safe to show to the caller.

    `field` names the request field the error concerns (a form shows the message next to it), or None
    when it concerns the request as a whole.
    """

    status_code: ClassVar[int] = 500
    default_code: ClassVar[str] = "INTERNAL_ERROR"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
        field: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.headers = dict(headers or {})
        self.field = field


class BadRequest(ApiError):  # noqa: N818  (STYLE §5 names: NotFound, Conflict, Invalid...)
    status_code = 400
    default_code = "BAD_REQUEST"


class Unauthorized(ApiError):  # noqa: N818  (STYLE §5 names: NotFound, Conflict, Invalid...)
    status_code = 401
    default_code = "UNAUTHORIZED"


class Forbidden(ApiError):  # noqa: N818  (STYLE §5 names: NotFound, Conflict, Invalid...)
    status_code = 403
    default_code = "FORBIDDEN"


class NotFound(ApiError):  # noqa: N818  (STYLE §5 names: NotFound, Conflict, Invalid...)
    status_code = 404
    default_code = "NOT_FOUND"


class Conflict(ApiError):  # noqa: N818  (STYLE §5 names: NotFound, Conflict, Invalid...)
    status_code = 409
    default_code = "CONFLICT"


class Invalid(ApiError):  # noqa: N818  (STYLE §5 names: NotFound, Conflict, Invalid...)
    """422: the request is well-formed but a field or the object's state forbids it."""

    status_code = 422
    default_code = "INVALID_PARAMETERS"


class RateLimited(ApiError):  # noqa: N818  (STYLE §5 names: NotFound, Conflict, Invalid...)
    status_code = 429
    default_code = "TOO_MANY_REQUESTS"

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message, headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


class ErrorResponse(BaseModel):
    """Body of every non-2xx response."""

    code: str
    message: str


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status, headers=dict(headers or {}))


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _code_for_status(status: int) -> str:
    return _phrase(status).upper().replace(" ", "_").replace("-", "_")


def describe_validation_errors(errors: Sequence[Mapping[str, object]]) -> str:
    """Turn pydantic error dicts into one readable line: `body.projectID: Field required; ...`."""
    parts = []
    for error in errors[:10]:
        loc = error.get("loc", ())
        where = ".".join(str(p) for p in loc) if isinstance(loc, Sequence) else str(loc)
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status_code, exc.code, exc.message, exc.headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(400, "BAD_REQUEST", "Request body is not valid JSON")
    return error_response(422, "INVALID_PARAMETERS", describe_validation_errors(errors))


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        message = "Path not found"
    elif exc.status_code == 405:
        message = "Method not allowed"
    else:
        message = _phrase(exc.status_code)
    return error_response(exc.status_code, _code_for_status(exc.status_code), message, exc.headers)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "INTERNAL_ERROR", "Internal server error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)


def error_responses(*statuses: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI `responses=` entries documenting the error body for each status."""
    descriptions = {
        400: "Malformed request (e.g. body is not valid JSON)",
        401: "Missing or invalid API key credentials",
        403: "The API key lacks the functionality or project scope",
        404: "Path or object not found",
        409: "Conflicts with the current state of the object",
        422: "Invalid fields, or the object is in a state that forbids the operation",
        429: "Rate limit exceeded; retry after the number of seconds in the Retry-After header",
        500: "Internal server error",
    }
    responses: dict[int | str, dict[str, object]] = {}
    for status in statuses:
        entry: dict[str, object] = {"model": ErrorResponse, "description": descriptions[status]}
        if status == 429:
            entry["headers"] = {
                "Retry-After": {
                    "description": "Seconds to wait before retrying",
                    "schema": {"type": "integer"},
                }
            }
        responses[status] = entry
    return responses
