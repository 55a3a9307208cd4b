"""Per-tenant fairness in a shared (Serverless) broker process: a token bucket on each tenant's inbound
message rate, enforced by pausing reads instead of dropping messages.

Every tenant of the shared process gets `Limits.max_tenant_rate` messages per second (the Serverless
deployment TPS, spec §1.10: 1000/s), with a burst of one second's worth. After a connection's input was
handled, `charge(conn, frames)` takes one token per PUBLISH it contained. A bucket may go into debt (the
bytes are already read and handled); the connection that drove it there stops being read until the debt
is paid back at the tenant's rate. The tenant's other connections are paused too as soon as they send
while the bucket is in debt, so a noisy tenant is held at its rate however many connections it opens,
and the event loop's time goes to the other tenants: one noisy tenant cannot starve another.

Why reads: TCP (and TLS, and WebSocket under them) pushes back on the client, which keeps its
messages until we read again; nothing is lost and no MQTT error is needed. The per-client publish rate
(0x96) is a different rule, enforced by the core (`broker.limits.RateLimiter`).

Granularity (measured): the rate holds on average, but a read is handled whole before the pause, and
one read of a TLS transport can carry up to ~256 KiB (about 10,000 small PUBLISH packets). A tenant
flooding through many connections can thus overshoot by one read per connection, and then stays paused
until that debt is paid. Tighter control needs the connection to hold framed packets beyond the budget
(as it already does while authentication runs) instead of handling them; that is the connection's code.

Rules this module must not break:
- `TokenBucket` is pure: time is an argument (unit-tested with numbers).
- A connection paused here is resumed only by the timer set here, and not while the connection itself
  paused reading (write backpressure, authentication): the connection resumes that one itself.
"""

import asyncio
import time
import weakref
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


# The bucket of each tenant in this process (weak: a removed tenant's bucket goes with it).
_BUCKETS: "weakref.WeakKeyDictionary[TenantRuntime, TokenBucket]" = weakref.WeakKeyDictionary()


def bucket_for(tenant: "TenantRuntime", now: float) -> TokenBucket | None:
    """The tenant's bucket, following its current limit; None when the tenant has no rate limit."""
    rate = tenant.spec.limits.max_tenant_rate
    bucket = _BUCKETS.get(tenant)
    if rate <= 0:
        if bucket is not None:
            del _BUCKETS[tenant]
        return None
    if bucket is None:
        bucket = _BUCKETS[tenant] = TokenBucket(rate, now)
    elif bucket.rate != rate:
        bucket.set_rate(rate)
    return bucket


def charge(conn: "MqttConnection", frames: Sequence[Frame]) -> None:
    """Account the PUBLISH packets `conn` just delivered to its tenant; pause `conn` while in debt."""
    tenant = conn.tenant
    if tenant is None or tenant.spec.limits.max_tenant_rate <= 0:
        return  # the common case outside the shared process: one attribute walk, nothing else
    n = count_publishes(frames)
    if not n:
        return
    now = time.monotonic()
    bucket = bucket_for(tenant, now)
    if bucket is None:
        return
    delay = bucket.take(n, now)
    if delay > 0:
        _pause(conn, delay)


def _pause(conn: "MqttConnection", delay: float) -> None:
    transport = conn.transport
    if transport is None or transport.is_closing():
        return
    transport.pause_reading()
    asyncio.get_running_loop().call_later(delay, _resume, conn)


def _resume(conn: "MqttConnection") -> None:
    transport = conn.transport
    if conn.closed or transport is None or transport.is_closing():
        return
    tenant = conn.tenant
    bucket = None if tenant is None else bucket_for(tenant, time.monotonic())
    if bucket is not None:
        wait = bucket.wait(time.monotonic())
        if wait > 0:  # other connections of the tenant spent the refill meanwhile
            asyncio.get_running_loop().call_later(wait, _resume, conn)
            return
    # The connection's own pause (write backpressure, authentication) is resumed by the connection;
    # read its flag rather than add API to the connection for one boolean.
    if not conn._reading_paused:
        transport.resume_reading()
