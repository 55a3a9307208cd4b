"""Connector and action configs: checked on the way in, resolved into the broker's `HttpAction`.

Rule: a stored config has passed `check_*` here, so resolving it (`http_action`) cannot fail. URLs are
`http://` or `https://` with a host; durations are EMQX's (`"15s"`, `"500ms"`, `"1m"`, a number of
milliseconds) between 1 ms and 300 s.
"""

import re
from collections.abc import Mapping
from typing import Literal
from urllib.parse import urlsplit

from mqttcloud.contracts import HttpAction
from mqttcloud.control.errors import BadRequest

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-.]{0,254}")
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*", re.IGNORECASE)
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
MAX_SECONDS = 300.0
HttpMethod = Literal["post", "put", "get", "delete"]
_METHODS: dict[str, HttpMethod] = {"post": "post", "put": "put", "get": "get", "delete": "delete"}


def seconds(value: object, field: str) -> float:
    """An EMQX duration in seconds. Raises: BadRequest naming `field`."""
    if isinstance(value, bool):
        value = None
    if isinstance(value, int | float):
        number = float(value) / 1000.0
    elif isinstance(value, str) and (match := _DURATION.fullmatch(value)):
        number = float(match.group(1)) * _UNIT[(match.group(2) or "ms").lower()]
    else:
        raise BadRequest(f"{field} must be a duration such as 15s or 500ms", field=field)
    if not 0.001 <= number <= MAX_SECONDS:
        raise BadRequest(f"{field} must be between 1ms and {int(MAX_SECONDS)}s", field=field)
    return number


def check_name(name: str | None, field: str = "name") -> str:
    """Raises: BadRequest unless `name` is 1-255 of letters, digits, `_`, `-`, `.` (first a letter/digit)."""
    if not name or not NAME.fullmatch(name):
        raise BadRequest(
            f"{field} must be 1-255 letters, digits, '_', '-' or '.', starting with a letter or digit",
            field=field,
        )
    return name


def check_url(url: str, field: str = "url") -> str:
    """Raises: BadRequest unless `url` is an http(s) URL with a host."""
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in {"http", "https"} or not parts.hostname:
        raise BadRequest(f"{field} must be an http:// or https:// URL with a host", field=field)
    return url


def check_pem(pem: str, field: str) -> None:
    if pem and "-----BEGIN CERTIFICATE-----" not in pem:
        raise BadRequest(f"{field} must be a PEM certificate (its content)", field=field)


def join_url(base: str, path: str) -> str:
    """The connector URL with the action's `path` appended, as EMQX 5 does (one `/` between them)."""
    if not path:
        return base
    return base.rstrip("/") + "/" + path.lstrip("/")


def _mapping(value: object) -> Mapping[str, object]:
    return value if isinstance(value, Mapping) else {}


def _headers(value: object) -> dict[str, str]:
    return {str(k): str(v) for k, v in _mapping(value).items()}


def _str(value: object, default: str = "") -> str:
    return value if isinstance(value, str) else default


def _int(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _method(value: object) -> HttpMethod:
    return _METHODS.get(_str(value, "post").lower(), "post")


def _seconds(value: object, default: float) -> float:
    try:
        return min(seconds(value, "duration"), MAX_SECONDS)
    except BadRequest:
        return default


def connector_action(
    name: str, connector: Mapping[str, object], parameters: Mapping[str, object]
) -> HttpAction:
    """A v5 `http` action over its `http` connector (both as stored)."""
    ssl = _mapping(connector.get("ssl"))
    params = _mapping(parameters.get("parameters"))
    opts = _mapping(parameters.get("resource_opts"))
    url = _str(connector.get("url"))
    return HttpAction(
        name=name,
        url=join_url(url, _str(params.get("path"))),
        method=_method(params.get("method")),
        headers={**_headers(connector.get("headers")), **_headers(params.get("headers"))},
        body=_str(params.get("body")),
        connect_timeout=_seconds(connector.get("connect_timeout"), 15.0),
        request_timeout=_seconds(opts.get("request_ttl"), 45.0),
        pool_size=_int(connector.get("pool_size"), 8),
        max_retries=_int(params.get("max_retries"), 2),
        verify_tls=not (url.startswith("https") and ssl.get("verify") == "verify_none"),
        ca_pem=_str(ssl.get("cacertfile")) or None,
    )


def webhook_action(name: str, resource: Mapping[str, object], params: Mapping[str, object]) -> HttpAction:
    """A v4 `data_to_webserver` action instance over its `web_hook` resource config."""
    url = _str(resource.get("url"))
    return HttpAction(
        name=name,
        url=join_url(url, _str(params.get("path"))),
        method=_method(params.get("method") or resource.get("method")),
        headers={**_headers(resource.get("headers")), **_headers(params.get("headers"))},
        body=_str(params.get("payload_tmpl")),
        connect_timeout=_seconds(resource.get("connect_timeout"), 5.0),
        request_timeout=_seconds(resource.get("request_timeout"), 5.0),
        pool_size=_int(resource.get("pool_size"), 8),
        verify_tls=bool(resource.get("verify", False)) or not url.startswith("https"),
        ca_pem=_str(resource.get("cacertfile")) or None,
    )
