"""Limits: the per-tenant bounds (`contracts.Limits`) and the small helpers that enforce them.

The bounds themselves are `contracts.Limits` (one frozen model shared with the control plane); this
module holds the enforcement pieces that need state: the publish-rate token bucket, and the caps
applied to what a client asks for in CONNECT.
"""

from mqttcloud.contracts import Limits

__all__ = ["TOPIC_ALIAS_MAXIMUM", "Limits", "RateLimiter", "cap_keep_alive", "cap_session_expiry"]

#: Topic aliases the server accepts from a v5 client (CONNACK Topic Alias Maximum).
TOPIC_ALIAS_MAXIMUM = 64

# MQTT 3.1.1 has no session expiry: a persistent (clean session 0) session lasts `max_session_expiry`.


def cap_session_expiry(requested: int, limits: Limits) -> int:
    """The session expiry the server grants: the client's request capped by the tenant limit."""
    if limits.max_session_expiry <= 0:
        return requested
    return min(requested, limits.max_session_expiry)


def cap_keep_alive(requested: int, limits: Limits) -> int:
    """[MQTT-3.2.2-21] a v5 server may impose a lower keep alive via Server Keep Alive."""
    if limits.max_keepalive and (requested == 0 or requested > limits.max_keepalive):
        return limits.max_keepalive if requested != 0 else 0
    return requested


class RateLimiter:
    """Token bucket: `rate` messages per second with a burst of max(1, rate) messages."""

    __slots__ = ("burst", "last", "rate", "tokens")

    def __init__(self, rate: float, now: float) -> None:
        self.rate = rate
        self.burst = max(1.0, rate)
        self.tokens = self.burst
        self.last = now

    def allow(self, now: float) -> bool:
        """Take one token; False when the client publishes faster than `rate` (0x96)."""
        if self.rate <= 0:
            return True
        elapsed = now - self.last
        if elapsed > 0:
            self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
            self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False
