"""The process-wide registry of MQTT connections and the end-of-tick flush.

Connections queue what they send during one loop tick and mark themselves dirty here; `flush` runs once
at the end of the tick and writes each dirty connection's bytes in one call (STYLE §4), then re-arms the
timers of the tenants that performed actions. Closes go through `close_soon`, at most CLOSE_BATCH
transports per loop iteration, so thousands of closes at once never hold the loop for one long
iteration. Channel ids are handed out here, unique in the process.
"""

import asyncio
import logging
from collections import deque
from typing import TYPE_CHECKING, Final

from mqttcloud.broker.actions import ChannelId

if TYPE_CHECKING:
    from mqttcloud.runtime.connection import MqttConnection
    from mqttcloud.runtime.tenants import TenantRuntime

log = logging.getLogger(__name__)

#: Transports closed per loop iteration when many close at once (see `Hub.close_soon`).
CLOSE_BATCH: Final = 128


class Hub:
    """Process-wide registry of connections plus the end-of-tick flush."""

    def __init__(self) -> None:
        self.connections: dict[ChannelId, MqttConnection] = {}
        self._next_id = 0
        self._dirty: list[MqttConnection] = []
        self._dirty_tenants: set[TenantRuntime] = set()
        self._scheduled = False
        self._closing: deque[MqttConnection] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.empty = asyncio.Event()  # set whenever the last connection goes

    def new_channel_id(self) -> ChannelId:
        self._next_id += 1
        return ChannelId(self._next_id)

    def mark_dirty(self, conn: "MqttConnection") -> None:
        self._dirty.append(conn)
        if not self._scheduled:
            self._schedule()

    def mark_tenant(self, tenant: "TenantRuntime") -> None:
        """The tenant performed actions this tick; re-arm its broker timer at the end of the tick."""
        self._dirty_tenants.add(tenant)
        if not self._scheduled:
            self._schedule()

    def close_soon(self, conn: "MqttConnection") -> None:
        """Close `conn`'s transport within a few loop iterations, at most CLOSE_BATCH per iteration:
        a disconnect storm (thousands of peers closing at once, or a kick-all) is spread over many
        iterations, and the event loop keeps serving the admin channel and other clients in between.
        """
        self._closing.append(conn)
        if len(self._closing) == 1:
            if self._loop is None:
                self._loop = asyncio.get_running_loop()
            self._loop.call_soon(self._close_batch)

    def _close_batch(self) -> None:
        closing = self._closing
        for _ in range(min(CLOSE_BATCH, len(closing))):
            closing.popleft().finish_close()  # connection_lost follows on a later iteration
        if closing:
            assert self._loop is not None
            self._loop.call_soon(self._close_batch)

    def _schedule(self) -> None:
        self._scheduled = True
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        self._loop.call_soon(self.flush)

    def flush(self) -> None:
        self._scheduled = False
        dirty, self._dirty = self._dirty, []
        for conn in dirty:
            try:
                conn.flush()
            except Exception:
                log.exception("channel %d: flush failed; closing this connection only", conn.channel_id)
                conn.abort()
        if self._dirty_tenants:
            tenants, self._dirty_tenants = self._dirty_tenants, set()
            for tenant in tenants:
                try:
                    tenant.arm_timer()
                except Exception:
                    log.exception("tenant %s: next_deadline failed", tenant.tenant_id)
