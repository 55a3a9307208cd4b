"""Outbound memory budgets: how much a consumer that reads slowly may cost before it loses messages
and then its connection.

A connection's outbound usage is `Channel.unsent` (bytes the runtime holds unsent for it: the socket's
write buffer as reported at the last flush, plus the PUBLISH bytes sent since) plus its session's
`queued_bytes`. A tenant's usage is `Broker.unsent_total`, the sum over its channels of what the
runtime reported at their last flush (`Channel.reported`; one flush per loop tick keeps it current, and
the PUBLISH fast path pays one addition per receiver, not two).

Policy (`Limits.outbound_soft_budget`, `outbound_hard_budget`, `tenant_outbound_budget`; 0 = none):

1. Under the soft budget a delivery goes out as usual.
2. A connection whose `unsent` reached the soft budget is *congested*: new deliveries, QoS 0 too, wait
   in its session queue, which keeps at most the soft budget's worth of bytes: past it the oldest
   queued QoS 0 delivery is dropped and counted (`delivery.dropped.qos0_msg`, as EMQX counts a QoS 0
   message its full mqueue drops). A client that reads again gets the newest QoS 0 messages.
3. Past the hard budget, or while the tenant's usage is past the tenant budget, a congested
   connection is disconnected: DISCONNECT 0x97 (Quota exceeded) for v5, a plain close for 3.1.x.
   Only congested connections are cut off: a client that keeps up never pays for one that does not.
4. When the runtime reports the socket's buffer under the soft budget again (`Channel.flushed`), the
   queue drains (`Channel.writable`) until the soft budget is reached again.

Rule: the policy only reads numbers the runtime reported; it never asks for I/O.
"""

import sys
from typing import TYPE_CHECKING

from mqttcloud.broker.session import Session
from mqttcloud.contracts import Limits
from mqttcloud.protocol.reason_codes import ReasonCode

if TYPE_CHECKING:
    from mqttcloud.broker.channel import Channel
    from mqttcloud.broker.delivery import Out

#: A budget of 0 means none: compared as this (no `if budget` test on the delivery path).
UNLIMITED = sys.maxsize


def soft_budget(limits: Limits) -> int:
    """The unsent bytes at which a connection counts as congested (`UNLIMITED` when off)."""
    return limits.outbound_soft_budget or UNLIMITED


def enforce(ch: "Channel", session: Session, now: float, out: "Out") -> None:
    """Apply rules 2 and 3 to a congested connection that just had a delivery queued."""
    broker = ch.broker
    limits = broker.limits
    soft = soft_budget(limits)
    dropped = 0
    while session.queued_bytes > soft and session.drop_oldest_qos0() is not None:
        dropped += 1
    if dropped:
        c = ch.counters
        c.send_msg_dropped += dropped
        c.send_msg_dropped_queue_full += dropped
        m = broker.counters.values
        m["delivery.dropped"] += dropped
        m["delivery.dropped.qos0_msg"] += dropped
    usage = ch.unsent + session.queued_bytes
    hard = limits.outbound_hard_budget
    tenant = limits.tenant_outbound_budget
    if hard and usage > hard:
        why = f"outbound budget exceeded ({usage} bytes unsent or queued)"
    elif tenant and broker.unsent_total > tenant:
        why = f"tenant outbound budget exceeded ({broker.unsent_total} bytes unsent)"
    else:
        return
    broker.cut_off(ch, ReasonCode.QUOTA_EXCEEDED, why, now, out)
