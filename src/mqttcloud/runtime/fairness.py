"""Inbound message rates: a token bucket on each tenant's rate (fairness in a shared Serverless process)
and on each client's (`Limits.max_publish_rate`). Input over a rate waits in the connection's backlog
(reading paused); nothing is dropped and nobody is disconnected, as EMQX throttles.

Every tenant of the shared process gets `Limits.max_tenant_rate` messages per second (the Serverless
deployment TPS, spec §1.10: 1000/s), with a burst of one second's worth. Before a connection handles
framed packets it asks `admit(conn, frames)`: how many leading packets it may handle now (one token per
PUBLISH; other packets ride along in order) and, when not all of them, how long until more tokens are
there. The connection holds the rest in its backlog, keeps reading paused and drains the backlog after
that delay (`runtime.connection`). A tenant's connections share its bucket, so a noisy tenant is held
at its rate however many connections it opens, and the loop's time goes to the other tenants: one noisy
tenant cannot starve another.

Why admission before handling (measured): one read of a TLS transport can carry ~256 KiB, some 10,000
small PUBLISH packets; charging after handling let a flooding tenant overshoot by one read per
connection. Why reads: TCP (and TLS, WebSocket) pushes back on the client, which keeps its messages
until we read again, so no MQTT error is needed. The per-client publish rate works the same way with a
bucket per connection (burst: one second's worth); a frame is admitted when both buckets have a token.

Rules this module must not break:
- `TokenBucket` and `admit_frames` are pure: time is an argument (unit-tested with numbers).
- Admission never reorders: it returns a count of leading frames, the caller keeps the rest in order.
"""

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from mqttcloud.protocol.framer import Frame

if TYPE_CHECKING:
    from mqttcloud.runtime.connection import MqttConnection
    from mqttcloud.runtime.tenants import TenantRuntime

_PUBLISH: Final = 3  # packet type in the high nibble of the first byte


class TokenBucket:
    """`rate` tokens per second, at most `burst` saved; `take` may leave the bucket in debt."""

    __slots__ = ("burst", "rate", "tokens", "updated")

    def __init__(self, rate: float, now: float, burst: float | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = max(1.0, rate if burst is None else burst)
        self.tokens = self.burst
        self.updated = now

    def refill(self, now: float) -> None:
        elapsed = now - self.updated
        if elapsed > 0:
            self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
            self.updated = now

    def take(self, n: float, now: float) -> float:
        """Take `n` tokens; return how long (seconds) until the bucket is out of debt, 0 if it is not."""
        self.refill(now)
        self.tokens -= n
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate

    def wait(self, now: float) -> float:
        """Seconds until the bucket is out of debt (0 when it has tokens), without taking any."""
        self.refill(now)
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate

    def set_rate(self, rate: float) -> None:
        """Follow a changed limit; saved tokens above the new burst are dropped."""
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = max(1.0, rate)
        self.tokens = min(self.tokens, self.burst)


def count_publishes(frames: Sequence[Frame]) -> int:
    """How many of the framed packets are PUBLISH (the messages a tenant's rate counts)."""
    return sum(1 for first, _body in frames if first >> 4 == _PUBLISH)


def following(bucket: TokenBucket | None, rate: float, now: float) -> TokenBucket | None:
    """`bucket` following the current `rate` (a new one when there was none); None without a rate."""
    if rate <= 0:
        return None
    if bucket is None:
        return TokenBucket(rate, now)
    if bucket.rate != rate:
        bucket.set_rate(rate)
    return bucket


def bucket_for(tenant: "TenantRuntime", now: float) -> TokenBucket | None:
    """The tenant's bucket (it keeps it), following its current limit; None without a rate limit."""
    bucket = tenant.rate_bucket = following(tenant.rate_bucket, tenant.spec.limits.max_tenant_rate, now)
    return bucket


#: When throttled, wait until at least this share of a second's tokens is back (fewer, larger wakeups).
RELEASE_SLICE: Final = 0.05


def admit_frames(bucket: TokenBucket, frames: Sequence[Frame], now: float) -> tuple[int, float]:
    """How many leading `frames` fit in `bucket` now (their PUBLISH tokens are taken), and the delay
    before the next one could (0.0 when all fit)."""
    n = count_publishes(frames)
    bucket.refill(now)
    if n <= bucket.tokens:
        bucket.tokens -= n
        return len(frames), 0.0
    allowed = max(0, int(bucket.tokens))
    bucket.tokens -= allowed
    cut = _cut(frames, allowed)
    wanted = max(1.0, min(float(n - allowed), bucket.rate * RELEASE_SLICE))
    return cut, (wanted - bucket.tokens) / bucket.rate


def _cut(frames: Sequence[Frame], publishes: int) -> int:
    """Index of the first frame that is the (publishes + 1)-th PUBLISH (len(frames) if there is none)."""
    seen = 0
    for i, (first, _body) in enumerate(frames):
        if first >> 4 == _PUBLISH:
            if seen == publishes:
                return i
            seen += 1
    return len(frames)


def admit_both(
    client: TokenBucket | None, tenant: TokenBucket | None, frames: Sequence[Frame], now: float
) -> tuple[int, float]:
    """How many leading `frames` both buckets admit (tokens taken from both), and the delay before
    the next one could be (0.0 when all are admitted). A missing bucket admits everything."""
    allowed, wait = len(frames), 0.0
    if client is not None:
        allowed, wait = admit_frames(client, frames, now)
    if tenant is not None:
        admitted, tenant_wait = admit_frames(tenant, frames[:allowed], now)
        if admitted < allowed:
            if client is not None:  # give back the client's tokens for what the tenant held back
                client.tokens += count_publishes(frames[admitted:allowed])
            allowed, wait = admitted, tenant_wait
    return allowed, wait


def client_bucket(conn: "MqttConnection", rate: float, now: float) -> TokenBucket | None:
    """The connection's publish-rate bucket, following the current limit; None without a limit."""
    bucket = conn.rate_bucket = following(conn.rate_bucket, rate, now)
    return bucket


def admit(conn: "MqttConnection", frames: Sequence[Frame]) -> tuple[int, float]:
    """`admit_both` with `conn`'s own bucket and its tenant's; everything is admitted without rates."""
    tenant = conn.tenant
    if tenant is None:
        return len(frames), 0.0
    limits = tenant.spec.limits
    if limits.max_tenant_rate <= 0 and limits.max_publish_rate <= 0:
        return len(frames), 0.0  # the common case outside the shared process: one attribute walk
    now = time.monotonic()
    return admit_both(client_bucket(conn, limits.max_publish_rate, now), bucket_for(tenant, now), frames, now)
