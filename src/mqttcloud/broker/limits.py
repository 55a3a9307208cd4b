"""Limits: the per-tenant bounds (`contracts.Limits`) and the small helpers that enforce them.

The bounds themselves are `contracts.Limits` (one frozen model shared with the control plane); this
module holds the caps applied to what a client asks for in CONNECT. The publish rates are enforced by
the runtime, which reads a client over its rate more slowly (`runtime.fairness`), as EMQX throttles.
"""

from mqttcloud.contracts import Limits

__all__ = ["TOPIC_ALIAS_MAXIMUM", "Limits", "cap_keep_alive", "cap_session_expiry"]

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
