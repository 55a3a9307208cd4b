"""Reaper: what the elected node does for dead nodes' sessions (the session registry's part, `sessions`).

A node silent for `node_timeout` is dead; the live node with the lowest name is elected for it. It takes
each of the dead node's entries that is online or carries a will (compare-and-set on the bucket, so
one node does it once): the entry says offline since then, and the will is scheduled here at the
earlier of its delay and the session's end [MQTT-3.1.3-9]. It ends a dead node's session when its
expiry interval has passed [MQTT-3.1.2-23]: the entry goes (compare-and-set), a will still pending is
published, and the tenant's offline stream is purged below the lowest checkpoint of the persistent
sessions left. A will scheduled here is cancelled when its client resumes its session on another node
first, and published at once when it starts a new one there (the old session ended).

Rules: nothing is done while NATS is away, nor within `node_timeout` of (re)connecting (a node not heard
from yet is not known to be dead); entries of live nodes are never touched.
"""

import asyncio
import dataclasses
import logging
import time
from typing import TYPE_CHECKING

import nats.errors
from nats.js.kv import KeyValue

from mqttcloud import contracts
from mqttcloud.broker import lifecycle, persistence
from mqttcloud.broker.delivery import Out
from mqttcloud.broker.durability import CorruptRecordError, SessionUpserted
from mqttcloud.runtime.cluster.entries import Entry, Key, entry_key, pack_records

if TYPE_CHECKING:
    from mqttcloud.runtime.cluster.sessions import SessionRegistry

log = logging.getLogger(__name__)

#: Seconds between two looks of the elected node at dead nodes' entries (wills due, sessions expired).
SWEEP_INTERVAL = 2.0


class Reaper:
    """One node's share of the work for dead nodes: done only while it is the elected one."""

    def __init__(self, registry: "SessionRegistry") -> None:
        self.registry = registry
        self.link = registry.link
        self.wills: dict[Key, float | None] = {}  # wills scheduled here -> their session's created_at
        self.since = time.monotonic()  # (re)connected at: no node is found dead before node_timeout
        self._lock = asyncio.Lock()

    def client_back(self, key: Key, entry: Entry) -> None:
        """A dead node's client, whose will this node scheduled, connected again: on another node, a
        resumed session cancels the will [MQTT-3.1.3-9], a new one ended the old session and the will
        goes now. (Here, `lifecycle.attach` did the same.)"""
        created = self.wills.pop(key)
        tenant = self.link.registry.by_id.get(contracts.TenantId(key[0]))
        if tenant is None or entry.node == self.registry.node:
            return
        broker = tenant.broker
        pending = broker.wills.get(key[1])
        if pending is None or key[1] in broker.sessions:
            return
        record = entry.session_record()
        if record is not None and record.created_at == created:
            broker.drop_will(key[1])
            log.info("cluster %s: %s resumed on %s; its will is cancelled", self.link.spec.name, key[1],
                     entry.node)  # fmt: skip
            return
        out = Out()
        lifecycle.will_due(broker, key[1], pending[0], time.time(), out)
        tenant.perform(out.result())

    async def run(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_INTERVAL)
            try:
                await self.sweep()
            except Exception:  # a broken link must not stop the sweeps; NATS reconnects on its own
                log.exception("cluster %s: sweeping dead nodes' sessions failed", self.link.spec.name)

    async def sweep(self) -> None:
        """Elected (lowest live name): take the entries of dead nodes (wills), end their expired sessions.

        Nothing is done while NATS is away, nor within `node_timeout` of (re)connecting: a node not heard
        from yet is not known to be dead.
        """
        kv = self.registry.kv
        me = self.registry.node
        if kv is None or not self.link.connected or min({me, *self.link.last_seen}) != me:
            return
        if time.monotonic() - self.since < self.link.spec.node_timeout:
            return
        async with self._lock:
            now = time.time()
            ended: set[str] = set()
            for key, entry in list(self.registry.entries.items()):
                if self.registry.is_alive(entry.node) or not entry.revision:
                    continue
                if entry.online or entry.will:
                    await self._take_over(kv, key, entry, now)
                    continue
                expires = entry.expires_at()
                if expires is not None and expires <= now and await self._end_expired(kv, key, entry, now):
                    ended.add(key[0])
            for tenant_id in ended:
                await self._purge(tenant_id)

    async def _take_over(self, kv: KeyValue, key: Key, entry: Entry, now: float) -> None:
        """A dead node's entry (compare-and-set): its will is scheduled here, at the earlier of its delay
        and the session's end [MQTT-3.1.3-9], and the entry says offline since now (or goes, when there
        is no persistent session)."""
        try:
            will = entry.will_record()
            record = entry.session_record()
            if record is not None:
                if record.disconnected_at is None:  # online when its node died: disconnected now
                    records = [dataclasses.replace(r, disconnected_at=now) if isinstance(r, SessionUpserted)
                               else r for r in entry.records()]  # fmt: skip
                    entry = dataclasses.replace(entry, session=pack_records(records))
                left = dataclasses.replace(entry, online=False, will=b"", delay=None)
                await kv.update(entry_key(*key), left.encode(), last=entry.revision)
            else:
                await kv.delete(entry_key(*key), last=entry.revision)
        except (nats.errors.Error, CorruptRecordError) as exc:
            log.info("cluster %s: entry of %s taken by another node (%s)", self.link.spec.name, key[1], exc)
            return
        tenant = self.link.registry.by_id.get(contracts.TenantId(key[0]))
        if will is None or tenant is None:
            return
        if entry.delay is None:
            due = will.due
        else:
            due = now + min(entry.delay, record.expiry_interval if record is not None else 0)
        msg = will.message
        if msg.expires_at is not None:
            msg = dataclasses.replace(msg, expires_at=now + (msg.expires_at - msg.timestamp))
        msg = dataclasses.replace(msg, timestamp=now)
        log.info("cluster %s: will of %s (node %s died) due in %.1f s", self.link.spec.name,
                 key[1], entry.node, max(0.0, due - now))  # fmt: skip
        self.wills[key] = record.created_at if record is not None else None
        tenant.broker.schedule_will(key[1], due, msg, persistence.will_context(will))
        tenant.arm_timer()

    async def _end_expired(self, kv: KeyValue, key: Key, entry: Entry, now: float) -> bool:
        """A dead node's session expired [MQTT-3.1.2-23]: its entry goes (compare-and-set) and a will
        still pending here is published now. False when another node changed the entry first."""
        try:
            await kv.delete(entry_key(*key), last=entry.revision)
        except nats.errors.Error as exc:
            log.info("cluster %s: entry of %s changed meanwhile (%s)", self.link.spec.name, key[1], exc)
            return False
        log.info("cluster %s: session of %s (node %s died) expired", self.link.spec.name, key[1], entry.node)
        if self.registry.entries.get(key) is entry:  # gone now for `_purge`, whenever the watch says so
            del self.registry.entries[key]
            self.registry.refresh(key)
        self.wills.pop(key, None)
        tenant = self.link.registry.by_id.get(contracts.TenantId(key[0]))
        if tenant is not None and key[1] not in tenant.broker.sessions:
            pending = tenant.broker.wills.get(key[1])
            if pending is not None:
                out = Out()
                lifecycle.will_due(tenant.broker, key[1], pending[0], now, out)
                tenant.perform(out.result())
        return True

    async def _purge(self, tenant_id: str) -> None:
        """Drop the tenant's stored messages that no session needs: those at or below the lowest
        checkpoint of its persistent sessions (every one, when none is left)."""
        nc = self.link.nc
        if nc is None:
            return
        floor = min(
            (e.checkpoint for k, e in self.registry.entries.items() if k[0] == tenant_id and e.is_persistent),
            default=None,
        )
        if floor is None:
            floor = await self.registry.last_seq()
        if floor > 0:
            subject = self.registry.subject_off + self.registry.link_token(tenant_id)
            await nc.jetstream().purge_stream(self.registry.stream, seq=floor + 1, subject=subject)
