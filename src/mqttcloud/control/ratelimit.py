"""Per-endpoint rate limits of the Platform API (spec §1.8), as token buckets.

A rule `COUNT/SECONDS` lets COUNT requests through at once and refills at COUNT per SECONDS (a rolling
window, so "1 per 60 minutes" means one request, then one more an hour later). Buckets are keyed by
(rule, API key, deployment id when the path has one). An excess request raises `RateLimited` with
`Retry-After` = seconds until a token is available. A request is counted when it arrives, so a start
refused with 422 still uses the budget (spec §5.3 leaves this open; counting first is cheaper to run).

Profiles:
    default  protects the service without hourly caps on start/stop (the default)
    emqx     the documented EMQX Platform numbers (TLS writes 6/h, start and stop 1/h, reads 60/h)
    off      no limits
Any rule can be overridden with `MQTTCLOUD_RATE_LIMITS="rule=COUNT/SECONDS,rule=off"`.
"""

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from mqttcloud.control.errors import ConfigError, RateLimited


@dataclass(frozen=True, slots=True)
class Limit:
    count: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    @classmethod
    def parse(cls, text: str) -> "Limit | None":
        """Parse "COUNT/SECONDS" (or "off" → None). Raises: ConfigError."""
        if text.strip().lower() == "off":
            return None
        count, sep, seconds = text.partition("/")
        try:
            limit = cls(int(count), float(seconds))
        except ValueError:
            raise ConfigError(f"rate limit must look like COUNT/SECONDS, not {text!r}") from None
        if not sep or limit.count < 1 or limit.seconds <= 0:
            raise ConfigError(f"rate limit must look like COUNT/SECONDS with positive numbers, not {text!r}")
        return limit


HOUR = 3600.0
MINUTE = 60.0

RULES = (
    "projects.list",
    "deployments.list",
    "deployments.create",
    "deployments.get",
    "deployments.delete",
    "deployments.update",
    "deployments.start",
    "deployments.stop",
    "tls.get",
    "tls.create",
    "tls.update",
    "tls.delete",
    "audit_logs.list",
    "alarms.list",
)

PROFILES: dict[str, dict[str, Limit | None]] = {
    "emqx": {
        "projects.list": Limit(60, HOUR),
        "deployments.list": Limit(60, HOUR),
        "deployments.create": Limit(6, HOUR),  # undocumented: treated like the other writes
        "deployments.get": Limit(60, HOUR),
        "deployments.delete": Limit(6, HOUR),  # undocumented: treated like the other writes
        "deployments.update": Limit(6, HOUR),  # an extension: treated like the other writes
        "deployments.start": Limit(1, HOUR),
        "deployments.stop": Limit(1, HOUR),
        "tls.get": Limit(60, HOUR),
        "tls.create": Limit(6, HOUR),
        "tls.update": Limit(6, HOUR),
        "tls.delete": Limit(6, HOUR),
        "audit_logs.list": Limit(60, HOUR),  # a Platform API extension: read like the other lists
        "alarms.list": Limit(60, HOUR),  # a Platform API extension too
    },
    "default": {
        "projects.list": Limit(600, MINUTE),
        "deployments.list": Limit(600, MINUTE),
        "deployments.create": Limit(30, MINUTE),
        "deployments.get": Limit(3000, MINUTE),
        "deployments.delete": Limit(30, MINUTE),
        "deployments.update": Limit(30, MINUTE),
        "deployments.start": Limit(30, MINUTE),
        "deployments.stop": Limit(30, MINUTE),
        "tls.get": Limit(600, MINUTE),
        "tls.create": Limit(30, MINUTE),
        "tls.update": Limit(30, MINUTE),
        "tls.delete": Limit(30, MINUTE),
        "audit_logs.list": Limit(600, MINUTE),
        "alarms.list": Limit(600, MINUTE),
    },
    "off": dict.fromkeys(RULES),
}

_MAX_BUCKETS = 50_000  # above this, full (idle) buckets are dropped


class RateLimiter:
    """Token buckets for every (rule, key, deployment). Single event loop: no locking needed."""

    def __init__(self, limits: Mapping[str, Limit | None], clock: Callable[[], float] = time.monotonic):
        unknown = set(limits) - set(RULES)
        if unknown:
            raise ConfigError(f"unknown rate-limit rules: {', '.join(sorted(unknown))}")
        self.limits = {rule: limits.get(rule) for rule in RULES}
        self._clock = clock
        self._buckets: dict[tuple[str, str, str], tuple[float, float]] = {}  # → (tokens, updated at)

    @classmethod
    def from_profile(cls, profile: str, overrides: Mapping[str, str] | None = None) -> "RateLimiter":
        """Raises: ConfigError for an unknown profile, rule or malformed override."""
        if profile not in PROFILES:
            raise ConfigError(f"unknown rate-limit profile {profile!r}")
        limits = dict(PROFILES[profile])
        for rule, text in (overrides or {}).items():
            if rule not in RULES:
                raise ConfigError(f"unknown rate-limit rule {rule!r}; rules: {', '.join(RULES)}")
            limits[rule] = Limit.parse(text)
        return cls(limits)

    def hit(self, rule: str, key: str, scope: str = "") -> None:
        """Count one request. Raises: RateLimited (with retry_after seconds) when the bucket is empty."""
        limit = self.limits[rule]
        if limit is None:
            return
        now = self._clock()
        bucket_key = (rule, key, scope)
        tokens, updated = self._buckets.get(bucket_key, (float(limit.count), now))
        tokens = min(float(limit.count), tokens + (now - updated) * limit.rate)
        if tokens < 1.0:
            self._buckets[bucket_key] = (tokens, now)
            retry_after = max(1, math.ceil((1.0 - tokens) / limit.rate))
            raise RateLimited("Request exceeds the limit", retry_after=retry_after)
        self._buckets[bucket_key] = (tokens - 1.0, now)
        if len(self._buckets) > _MAX_BUCKETS:
            self._prune(now)

    def _prune(self, now: float) -> None:
        for bucket_key, (tokens, updated) in list(self._buckets.items()):
            limit = self.limits[bucket_key[0]]
            if limit is None or tokens + (now - updated) * limit.rate >= limit.count:
                del self._buckets[bucket_key]
