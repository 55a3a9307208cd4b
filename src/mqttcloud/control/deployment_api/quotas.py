"""Per-deployment quotas of the Deployment API (spec §1.10) and its request-rate limit.

Serverless: 2,000 built-in auth entries, 2,000 ACL entries, 100 rules per user/client, 100 API calls/s.
Dedicated: auth and ACL entries = session tier (the deployment's `connections`) x 2, 100 API calls/s,
1,000 shadow models with documents of at most 64 KiB each.
Data integration: Serverless 2 connectors, 4 rules, 4 actions; Dedicated 10 connectors (v4 resources),
50 rules, 50 actions; at most 10 actions per rule.
Every number can be overridden by passing a `Quotas` to `deployment_api.mount.install` (or replacing
`app.state.deployment_api_quotas`). Exceeding an entry quota answers 422 `QUOTA_EXCEEDED` (v4 code 108);
exceeding the API rate answers 429 `TOO_MANY_REQUESTS` with `Retry-After`.
"""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from mqttcloud.control.errors import Invalid, RateLimited


@dataclass(frozen=True, slots=True)
class Quotas:
    serverless_auth_entries: int = 2000
    serverless_acl_entries: int = 2000
    dedicated_entries_per_session: int = 2  # auth and ACL entries = connections x this
    max_rules_per_target: int = 100
    api_qps: float = 100.0  # per deployment; 0 = unlimited
    api_burst: int = 100
    max_shadows: int = 1000  # shadow models per Dedicated deployment (shadow service)
    max_shadow_document_bytes: int = 64 * 1024  # one shadow's JSON `data`, compact UTF-8
    serverless_integration: tuple[int, int, int] = (2, 4, 4)  # connectors, rules, actions (spec §1.10)
    dedicated_integration: tuple[int, int, int] = (10, 50, 50)  # resources/connectors, rules, actions
    max_actions_per_rule: int = 10

    def auth_entries(self, *, serverless: bool, connections: int) -> int:
        return (
            self.serverless_auth_entries if serverless else connections * self.dedicated_entries_per_session
        )

    def acl_entries(self, *, serverless: bool, connections: int) -> int:
        return self.serverless_acl_entries if serverless else connections * self.dedicated_entries_per_session

    def integration(self, *, serverless: bool) -> tuple[int, int, int]:
        """How many connectors (v4 resources), rules and actions a deployment may have."""
        return self.serverless_integration if serverless else self.dedicated_integration


def require_room(current: int, adding: int, limit: int, what: str, *, field: str | None = None) -> None:
    """Raises: Invalid (422 QUOTA_EXCEEDED) when `current + adding` passes `limit`."""
    if current + adding > limit:
        raise Invalid(
            f"quota exceeded: at most {limit} {what} per deployment", code="QUOTA_EXCEEDED", field=field
        )


class ApiRateLimiter:
    """A token bucket per deployment: `qps` refill, `burst` capacity. Single event loop, no locks."""

    def __init__(self, qps: float, burst: int, clock: Callable[[], float] = time.monotonic):
        self.qps = qps
        self.burst = max(1, burst)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def hit(self, deployment_id: str) -> None:
        """Raises: RateLimited with Retry-After when the deployment's bucket is empty."""
        if self.qps <= 0:
            return
        now = self._clock()
        tokens, updated = self._buckets.get(deployment_id, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - updated) * self.qps)
        if tokens < 1.0:
            self._buckets[deployment_id] = (tokens, now)
            raise RateLimited(
                "Request exceeds the limit", retry_after=max(1, math.ceil((1.0 - tokens) / self.qps))
            )
        self._buckets[deployment_id] = (tokens - 1.0, now)
