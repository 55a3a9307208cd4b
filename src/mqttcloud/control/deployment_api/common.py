"""Query parameters and time formats shared by every presenter of the Deployment API.

Paging accepts EMQX 5 `page`/`limit` and the docs' `_page`/`_limit` (spec §1.7, §4 item 11): page ≥ 1,
1 ≤ limit ≤ 10000. Times: v5 is ISO-8601 with offset and milliseconds (`2023-09-15T09:36:20.871+00:00`),
v4 is `YYYY-MM-DD HH:MM:SS` (UTC). Time filters (`gte_created_at`, `_gte_created_at`, ...) accept epoch
seconds, epoch milliseconds (any number above 10^11) or an ISO-8601 / RFC 3339 string.
"""

import datetime as dt
import functools
import math
import time

from starlette.datastructures import QueryParams

from mqttcloud.control.errors import BadRequest

MAX_LIMIT = 10_000
_MS_THRESHOLD = 1e11


def param(query: QueryParams, name: str) -> str | None:
    """A query value by its EMQX 5 name or the docs' underscore-prefixed name."""
    value = query.get(name)
    if value is None:
        value = query.get(f"_{name}")
    return value


def int_param(
    query: QueryParams, name: str, *, low: int | None = None, high: int | None = None
) -> int | None:
    value = param(query, name)
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError:
        raise BadRequest(f"{name} must be an integer", code="BAD_REQUEST", field=name) from None
    if (low is not None and number < low) or (high is not None and number > high):
        raise BadRequest(f"{name} must be between {low} and {high}", code="BAD_REQUEST", field=name)
    return number


def bool_param(query: QueryParams, name: str) -> bool | None:
    value = param(query, name)
    if value is None or value == "":
        return None
    if value.lower() in {"true", "1"}:
        return True
    if value.lower() in {"false", "0"}:
        return False
    raise BadRequest(f"{name} must be true or false", code="BAD_REQUEST", field=name)


def time_param(query: QueryParams, name: str) -> float | None:
    value = param(query, name)
    if value is None or value == "":
        return None
    return parse_time(value, name)


MAX_EPOCH = 253_402_300_799.0  # 9999-12-31T23:59:59Z, the last second a datetime can hold


def parse_time(value: str | float, name: str) -> float:
    """Epoch seconds from seconds, milliseconds or an ISO-8601 string, between 1970 and 9999.

    Raises: BadRequest naming the field (not a time, NaN, infinite or out of range)."""
    try:
        number = float(value)
    except ValueError:
        try:
            parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise BadRequest(
                f"{name} must be a timestamp or an RFC 3339 time", code="BAD_REQUEST", field=name
            ) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        number = parsed.timestamp()
    else:
        number = number / 1000.0 if number > _MS_THRESHOLD else number
    if not math.isfinite(number) or not 0 <= number <= MAX_EPOCH:
        raise BadRequest(
            f"{name} must be a time between 1970 and 9999 (Unix seconds, milliseconds or RFC 3339)",
            code="BAD_REQUEST",
            field=name,
        )
    return number


def to_datetime(value: str | float, name: str) -> dt.datetime:
    """`parse_time` as an aware UTC datetime. Raises: BadRequest naming the field."""
    return dt.datetime.fromtimestamp(parse_time(value, name), dt.UTC)


def paging(query: QueryParams, default_limit: int) -> tuple[int, int]:
    """(page, limit) from `page`/`_page` and `limit`/`_limit`. Raises: BadRequest."""
    page = int_param(query, "page", low=1, high=10**9) or 1
    limit = int_param(query, "limit", low=1, high=MAX_LIMIT) or default_limit
    return page, limit


def iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec="milliseconds")


def v4_time(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return _v4_second(math.floor(epoch))


@functools.lru_cache(maxsize=4096)
def _v4_second(second: int) -> str:
    """Cached per second: a v4 page of 10,000 clients formats 20,000 times (~5 us each uncached)."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(second))
