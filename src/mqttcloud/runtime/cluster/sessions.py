"""SessionRegistry: where the cluster's persistent sessions and wills live, moves, and dead nodes.

Shared state, namespaced by the cluster name (`ClusterLink`):
- KV bucket `mqc_<cluster>_sessions`, one key per (tenant, client id) with a persistent session or a
  will: its node, whether it is online, its durable state (session and subscription records), its will,
  and `checkpoint`, the offline stream's sequence up to which the session's own queue holds what the
  stream kept for it. Every node keeps the whole bucket as a local replica (a KV watch).
- Stream `mqc_<cluster>_offline` (subjects `mqc.<cluster>.off.<tenant>`): each QoS 1/2 message
  published while a persistent session it matches is offline, once, with the client ids it is for.
- `mqc.<cluster>.sess.<node>`: requests to hand a session over to the asking node.

Rules this module must not break:
- A CONNECT with clean start, or of a client id the replica does not place on another node, waits for
  nothing: no NATS round trip (but for a session of ours whose catch-up after a reconnect is due: it
  is caught up first). Otherwise the session is asked of its node (`MOVE_TIMEOUT`); a node that
  does not answer is taken as dead and the session comes from the bucket plus the stream, replayed from
  its checkpoint (at least once: a message may come twice, none acknowledged and stored is lost).
- One writer per entry: a node writes an entry while it holds the session online, or while the entry
  is its own; a dead node's entries are changed only by the node elected for it (lowest live name),
  with compare-and-set, so a will is published once. The elected node also ends a dead node's sessions
  when they expire (the entry goes, a pending will is published, the stream is purged below the lowest
  checkpoint left), and cancels a will it scheduled when the client resumes on another node first.
- A node that starts again, or whose NATS link comes back, queues for its own offline sessions what
  the stream stored for them since their checkpoint (by message id, nothing twice; after a reconnect
  `CATCH_UP_AGAIN` later, so forwards on their way arrive first), each in its stream order among what
  the session holds (`merge_stored`, `lifecycle.catch_up_placed`); a session placed elsewhere is dropped.
- Writes never block the broker: they are queued by `perform`/`SessionChanged` and published by one
  pump task (core NATS publishes into the bucket and the stream: no round trip per message). A PUBACK
  whose message was stored waits for the stream write (`store_barrier`: one flush per pump batch).
- A session moved away while online leaves a tombstone for `relay_window` (`broker.cluster`): a
  QoS 1/2 forward that reaches the old node after the hand-over goes on to the new one (`Relay`).
- A session moved here while offline also gets what the stream stored for it since its checkpoint,
  less what it holds (a forward on its way to the old node, or lost while it was away from NATS), in
  stream order among what it holds (`merge_stored`): one publisher's messages keep their order.
"""

import asyncio
import binascii
import contextlib
import dataclasses
import json
import logging
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import nats.errors
import nats.js.errors
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import api
from nats.js.kv import KeyValue

from mqttcloud import contracts
from mqttcloud.broker import lifecycle, persistence
from mqttcloud.broker.actions import SessionAction, SessionChanged, StoreOffline
from mqttcloud.broker.durability import (
    Record,
    SessionUpserted,
    SubscriptionAdded,
)
from mqttcloud.broker.hooks import ConnectDecision
from mqttcloud.runtime.cluster.codec import encode_message
from mqttcloud.runtime.cluster.entries import (
    Entry,
    Key,
    build_entry,
    entry_key,
    key_owner,
    merge_stored,
    offline_frame,
    pack_records,
    replayed_records,
    unpack_records,
)
from mqttcloud.runtime.cluster.reaper import Reaper
from mqttcloud.runtime.cluster.stream import read_offline

if TYPE_CHECKING:
    from mqttcloud.broker.actions import ChannelId
    from mqttcloud.runtime.cluster.link import ClusterLink
    from mqttcloud.runtime.tenants import TenantRuntime

log = logging.getLogger(__name__)

#: Seconds a node gets to hand a session over before the asking node takes the durable copy.
MOVE_TIMEOUT = 1.0
#: How long the offline stream keeps a message (the longest a dead node's session can wait for it).
OFFLINE_MAX_AGE = 7 * 24 * 3600.0
#: Seconds a PUBACK waits at most for NATS to confirm the offline stream's writes before it goes.
STORE_FLUSH_TIMEOUT = 2
#: The shortest window in which a node passes on messages for a session that moved away online.
RELAY_MIN = 2.0
#: Seconds after start before a second catch-up: messages stored before the other nodes had our routes.
CATCH_UP_AGAIN = 1.5


class SessionRegistry:
    """One node's view of the cluster's sessions, and the moves in and out of this node."""

    def __init__(self, link: "ClusterLink", prefix: str, safe_name: str) -> None:
        self.link = link
        self.node = link.node
        self.subject_move = f"{prefix}.sess."
        self.subject_off = f"{prefix}.off."
        self.bucket = f"mqc_{safe_name}_sessions"
        self.stream = f"mqc_{safe_name}_offline"
        self.entries: dict[Key, Entry] = {}
        self.kv: KeyValue | None = None
        self._dirty: dict[Key, None] = {}  # keys whose entry this node may have to write (ordered set)
        self._stored: list[tuple[str, bytes]] = []  # (subject, frame) for the offline stream
        self._stored_waits: list[Callable[[], None]] = []  # releases of sends held for `_stored`
        self._checkpoints: dict[Key, int] = {}  # checkpoint for an entry adopted from a dead node
        self._adopted: set[Key] = set()  # moved here: written even while offline
        self._wake = asyncio.Event()
        self._answering = False  # subscribed to the moves asked of this node
        self._lost_at: float | None = None  # when NATS went away (None: connected)
        self._behind: dict[Key, float | None] = {}  # catch-up due after a reconnect (by disconnected_at)
        self._tasks: list[asyncio.Task[None]] = []
        self._jobs: set[asyncio.Task[None]] = set()  # moves in flight, wills of dead nodes
        self.reaper = Reaper(self)  # dead nodes' wills and sessions

    # --- lifecycle -------------------------------------------------------------------------------

    async def start(self, nc: NatsClient) -> None:
        """Bind the bucket and the stream, load the replica, answer moves; then drop stale local copies."""
        js = nc.jetstream()
        try:
            self.kv = await js.key_value(self.bucket)
        except nats.js.errors.BucketNotFoundError:
            self.kv = await js.create_key_value(bucket=self.bucket, history=1)
        try:
            await js.stream_info(self.stream)
        except nats.js.errors.NotFoundError:
            await js.add_stream(
                name=self.stream, subjects=[self.subject_off + ">"], max_age=OFFLINE_MAX_AGE,
                storage=api.StorageType.FILE,
            )  # fmt: skip
        if not self._answering:  # `start` may run again after a failure: one subscription
            await nc.subscribe(self.subject_move + self.link_token(self.node), cb=self._on_move)
            self._answering = True
        watcher = await self.kv.watchall()
        while True:  # the initial values, then None
            update = await watcher.updates(timeout=5.0)  # type: ignore[no-untyped-call]  # nats-py: no annotation
            if update is None:
                break
            self._apply(update.key, update.value, update.operation, update.revision, live=False)
        owned = self._owned_offline()
        await self._catch_up(nc, owned)
        for tenant in self.link.registry.by_id.values():
            self._mark_all(tenant)
        self.reaper.since = time.monotonic()
        self._tasks = [
            asyncio.create_task(self._pump(), name="cluster-sessions-pump"),
            asyncio.create_task(self._watch(watcher), name="cluster-sessions-watch"),
            asyncio.create_task(self.reaper.run(), name="cluster-sessions-sweep"),
            asyncio.create_task(self._catch_up_again(nc, owned), name="cluster-sessions-catch-up"),
        ]
        self._wake.set()

    async def close(self) -> None:
        for task in [*self._tasks, *self._jobs]:
            task.cancel()
        for task in [*self._tasks, *self._jobs]:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    def relay_window(self) -> float:
        """Seconds a node passes on what it receives for a session that left it online (`_on_move`):
        enough for a forward sent before the sender knew of the move (a node's silence is a death)."""
        return max(RELAY_MIN, self.link.spec.node_timeout)

    def _subject(self, tenant_id: str) -> str:
        """The offline stream's subject of one tenant."""
        return self.subject_off + self.link_token(tenant_id)

    def link_token(self, name: str) -> str:
        return name.encode().hex()

    def lost(self) -> None:
        """NATS is away: remember since when (`resync` catches up the sessions offline since before)."""
        if self._lost_at is None:
            self._lost_at = time.time()

    def resync(self) -> None:
        """NATS is back: write again every entry this node holds (writes were dropped meanwhile), and
        catch up the sessions offline here since before the link went (`_catch_up_again`)."""
        self.reaper.since = time.monotonic()  # every node went silent meanwhile: none is dead before heard
        for tenant in self.link.registry.by_id.values():
            self._mark_all(tenant)
        self._wake.set()
        lost_at, self._lost_at = self._lost_at, None
        nc = self.link.nc
        if lost_at is None or nc is None or not self._tasks:  # not started: `start` catches up
            return
        owned: dict[Key, float | None] = {
            k: at for k, at in self._owned_offline().items() if at is not None and at <= lost_at
        }
        if owned:
            self._behind.update(owned)
            job = asyncio.create_task(self._catch_up_again(nc, owned), name="cluster-sessions-catch-up")
            self._jobs.add(job)
            job.add_done_callback(self._jobs.discard)

    def _mark_all(self, tenant: "TenantRuntime") -> None:
        broker = tenant.broker
        tid = tenant.tenant_id
        for cid, session in broker.sessions.items():
            if session.is_persistent or session.connected_channel is not None:
                self._dirty[(tid, cid)] = None
        for cid in broker.wills:
            self._dirty[(tid, cid)] = None

    # --- the broker's session actions --------------------------------------------------------------

    def perform(self, tenant_id: str, action: SessionAction) -> None:
        match action:
            case SessionChanged(clientid=cid):
                self._dirty[(tenant_id, cid)] = None
            case StoreOffline(message=msg, clientids=ids):
                subject = self._subject(tenant_id)
                self._stored.append((subject, offline_frame(ids, encode_message(msg))))
        self._wake.set()

    def store_barrier(self) -> int:
        """A token to hold a batch's sends with (its PUBACK) until the messages it stored for offline
        sessions reached NATS (`after_stored`); 0 while NATS is away (they are dropped)."""
        return self.link.next_token() if self.link.connected else 0

    def after_stored(self, release: Callable[[], None]) -> None:
        """Call `release` once the stream writes queued so far were flushed to the NATS server."""
        self._stored_waits.append(release)
        self._wake.set()

    # --- writing ---------------------------------------------------------------------------------

    async def _pump(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self._flush()
            except Exception:  # a broken link must not stop the pump; NATS reconnects on its own
                log.exception("cluster %s: writing sessions failed", self.link.spec.name)

    async def _flush(self) -> None:
        nc = self.link.nc
        stored, self._stored = self._stored, []
        waits, self._stored_waits = self._stored_waits, []
        try:
            if nc is None or not nc.is_connected:
                self.link.dropped += len(stored)
                return  # entries stay dirty; `resync` on reconnect marks every one again anyway
            for subject, frame in stored:
                await nc.publish(subject, frame)
            if waits:  # the server has read them once it answers (a PING after them)
                try:
                    await nc.flush(timeout=STORE_FLUSH_TIMEOUT)
                except (TimeoutError, nats.errors.Error) as exc:
                    log.warning("cluster %s: stored messages not confirmed by NATS (%s)",
                                self.link.spec.name, exc)  # fmt: skip
        finally:
            for release in waits:
                release()
        dirty, self._dirty = list(self._dirty), {}
        last_seq: int | None = None
        now = time.time()
        for key in dirty:
            tenant = self.link.registry.by_id.get(contracts.TenantId(key[0]))
            if tenant is None:
                continue
            prev = self.entries.get(key)
            entry = build_entry(tenant, key[1], self.node, now)
            mine = prev is None or prev.node == self.node or key in self._adopted
            if entry is None:
                if prev is not None and prev.node == self.node:
                    await self._publish(nc, key, None, prev.revision)
                continue
            if not entry.online and not mine:  # the session lives elsewhere now: this copy is stale
                tenant.perform(lifecycle.forget(tenant.broker, key[1]))
                continue
            if key in self._checkpoints:
                entry.checkpoint = self._checkpoints.pop(key)
            elif entry.online and (prev is None or (prev.node == self.node and not prev.online)):
                if last_seq is None:
                    last_seq = await self.last_seq()
                entry.checkpoint = last_seq  # what was stored before is in the session's queue
            elif prev is not None:
                entry.checkpoint = prev.checkpoint
            self._adopted.discard(key)
            if prev is None or not prev.same(entry):
                # a connection here is the newest claim: it overwrites; anything else must not
                # overwrite what another node wrote since (the server refuses a stale revision)
                expected = None if entry.online or prev is None else prev.revision
                await self._publish(nc, key, entry, expected)

    async def _publish(self, nc: NatsClient, key: Key, entry: Entry | None, expected: int | None) -> None:
        """Write (or delete) an entry with a core publish into the bucket; the replica follows at once.

        `expected`: the revision the bucket must still hold (0 or None: no check).
        """
        subject = f"$KV.{self.bucket}.{entry_key(*key)}"
        headers = {"Nats-Expected-Last-Subject-Sequence": str(expected)} if expected else {}
        if entry is None:
            self.entries.pop(key, None)
            self.refresh(key)
            await nc.publish(subject, b"", headers={"KV-Operation": "DEL", **headers})
            return
        self.entries[key] = entry
        self.refresh(key)
        await nc.publish(subject, entry.encode(), headers=headers or None)

    async def last_seq(self) -> int:
        nc = self.link.nc
        assert nc is not None
        info = await nc.jetstream().stream_info(self.stream)
        return info.state.last_seq

    # --- the replica -----------------------------------------------------------------------------

    async def _watch(self, watcher: KeyValue.KeyWatcher) -> None:
        while True:
            try:
                update = await watcher.updates(timeout=3600.0)  # type: ignore[no-untyped-call]  # nats-py: no annotation
            except (TimeoutError, nats.errors.TimeoutError):
                continue
            if update is not None:
                try:
                    self._apply(update.key, update.value, update.operation, update.revision)
                except Exception:
                    log.exception("cluster %s: session entry %s not applied", self.link.spec.name, update.key)

    def _apply(
        self,
        raw_key: str,
        value: bytes | None,
        operation: str | None,
        revision: int | None,
        *,
        live: bool = True,
    ) -> None:
        try:
            key = key_owner(raw_key)
        except (ValueError, binascii.Error):
            return
        if operation in ("DEL", "PURGE"):
            self.entries.pop(key, None)
            self.refresh(key)
            return
        entry = Entry.decode(value or b"", revision or 0)
        if entry is None:
            return
        self.entries[key] = entry
        self.refresh(key)
        tenant = self.link.registry.by_id.get(contracts.TenantId(key[0]))
        if key in self.reaper.wills and (entry.online or entry.node == self.node):
            self.reaper.client_back(key, entry)
        if entry.node != self.node and tenant is not None:  # it lives elsewhere: a local copy is stale
            self._elsewhere(tenant, key[1], entry, live)

    def _elsewhere(self, tenant: "TenantRuntime", clientid: str, entry: Entry, live: bool) -> None:
        """`clientid` lives on another node now: drop the local copy (no will), unless a new session
        started there (online, another creation time than ours: not ours resumed), which ends ours and
        publishes its pending will now, as the claim does (whichever comes first). At start-up
        (`live` False) a copy is only dropped: its will was the elected node's while we were down."""
        session = tenant.broker.sessions.get(clientid)
        if session is None:
            return
        record = entry.session_record()
        if live and entry.online and (record is None or record.created_at != session.created_at):
            tenant.perform(lifecycle.superseded(tenant.broker, clientid, time.time()))
        else:
            tenant.perform(lifecycle.forget(tenant.broker, clientid))

    def is_alive(self, node: str) -> bool:
        return node == self.node or node in self.link.last_seen

    def refresh(self, key: Key) -> None:
        """Put the session in its tenant's offline trie, or take it out."""
        tenant = self.link.registry.by_id.get(contracts.TenantId(key[0]))
        router = tenant.cluster_router if tenant is not None else None
        if router is None:
            return
        entry = self.entries.get(key)
        if entry is not None and entry.is_persistent and (not entry.online or not self.is_alive(entry.node)):
            router.set_offline(key[1], entry.subscriptions())
        else:
            router.clear_offline(key[1])

    def node_seen(self, node: str) -> None:
        for key, entry in self.entries.items():
            if entry.node == node:
                self.refresh(key)

    def node_down(self, node: str) -> None:
        """`node` fell silent: its sessions are offline; the elected node publishes its clients' wills."""
        for key, entry in self.entries.items():
            if entry.node == node:
                self.refresh(key)
        job = asyncio.create_task(self.reaper.sweep(), name="cluster-dead-node")
        self._jobs.add(job)
        job.add_done_callback(self._jobs.discard)

    # --- a node that starts again ----------------------------------------------------------------

    def _owned_offline(self) -> dict[Key, float | None]:
        """Sessions restored here, disconnected, that the registry still places here (and when each
        was disconnected: a session that connected since is left alone by `_catch_up_again`)."""
        found: dict[Key, float | None] = {}
        for tenant in self.link.registry.by_id.values():
            for cid, session in tenant.broker.sessions.items():
                key = (tenant.tenant_id, cid)
                entry = self.entries.get(key)
                if session.connected_channel is not None or entry is None:
                    continue
                if session.stored and entry.node == self.node and entry.is_persistent:
                    found[key] = session.disconnected_at
        return found

    async def _catch_up(self, nc: NatsClient, keys: Iterable[Key]) -> None:
        """Queue in these sessions what the stream stored for them after their checkpoints."""
        by_tenant: dict[str, list[tuple[str, Entry]]] = {}
        for key in keys:
            entry = self.entries.get(key)
            if entry is not None and entry.node == self.node and entry.is_persistent:
                by_tenant.setdefault(key[0], []).append((key[1], entry))
        for tenant_id, wanted in by_tenant.items():
            tenant = self.link.registry.by_id.get(contracts.TenantId(tenant_id))
            if tenant is None:
                continue
            stored, _last = await read_offline(
                nc, self.stream, self._subject(tenant_id), min(e.checkpoint for _, e in wanted)
            )
            now = time.time()
            for cid, entry in wanted:
                session = tenant.broker.sessions.get(cid)
                if session is None:
                    continue
                frames = [data for seq, data in stored if seq > entry.checkpoint]
                records = replayed_records(cid, entry.subscriptions(), frames)
                placed, after = merge_stored(persistence.session_records(session), records)
                actions = lifecycle.catch_up_placed(tenant.broker, cid, placed, now)
                actions.extend(lifecycle.catch_up(tenant.broker, cid, after, now))
                if actions:
                    log.info("cluster %s: %s caught up with the messages stored while this node was down",
                             self.link.spec.name, cid)  # fmt: skip
                    tenant.perform(actions)

    async def _catch_up_again(self, nc: NatsClient, owned: dict[Key, float | None]) -> None:
        """Once the other nodes have our routes: what they stored, not forwarded, before they had them."""
        await asyncio.sleep(CATCH_UP_AGAIN)
        again: list[Key] = []
        for key, disconnected_at in owned.items():
            tenant = self.link.registry.by_id.get(contracts.TenantId(key[0]))
            session = tenant.broker.sessions.get(key[1]) if tenant is not None else None
            # left alone once its client came (and maybe went): what it got since is not known here
            idle = session is not None and session.connected_channel is None
            if idle and session is not None and session.disconnected_at == disconnected_at:
                again.append(key)
        try:
            await self._catch_up(nc, again)
        except (TimeoutError, nats.errors.Error) as exc:
            log.warning("cluster %s: second catch-up failed (%s)", self.link.spec.name, exc)
        finally:
            for key in owned:
                self._behind.pop(key, None)

    # --- moves -----------------------------------------------------------------------------------

    def before_connect(
        self, tenant: "TenantRuntime", channel_id: "ChannelId", decision: ConnectDecision
    ) -> bool:
        """An accepted CONNECT: True when its session lives on another node and is being fetched, or is
        ours and due for a catch-up after a reconnect (the registry then finishes the CONNECT); False
        when it can go on at once."""
        ch = tenant.broker.channel(channel_id)
        if ch is None or ch.clean_start:
            return False
        key = (tenant.tenant_id, ch.clientid)
        entry = self.entries.get(key)
        session = tenant.broker.sessions.get(ch.clientid)
        behind = key in self._behind and session is not None and session.disconnected_at == self._behind[key]
        if entry is None or not entry.is_persistent or (entry.node == self.node and not behind):
            return False
        conn = tenant.hub.connections.get(channel_id)
        if conn is not None:
            conn.authentication_started()  # packets after CONNECT wait for the session
        if entry.node == self.node:  # its catch-up after a reconnect is due: it comes first
            self._behind.pop(key, None)
            work = self._connect_caught_up(tenant, channel_id, decision, key)
        else:
            work = self._move_in(tenant, channel_id, decision, key, entry)
        job = asyncio.create_task(work, name="cluster-move")
        self._jobs.add(job)
        job.add_done_callback(self._jobs.discard)
        return True

    async def _move_in(
        self,
        tenant: "TenantRuntime",
        channel_id: "ChannelId",
        decision: ConnectDecision,
        key: Key,
        entry: Entry,
    ) -> None:
        clientid = key[1]
        try:
            fetched = await self._fetch(key, entry)
            if fetched is not None:
                records, stored = fetched
                self._adopted.add(key)
                now = time.time()
                records, after = merge_stored(records, stored)
                tenant.perform(lifecycle.adopt(tenant.broker, clientid, records, now))
                if entry.online and tenant.cluster_router is not None:  # relays may follow (`_on_move`)
                    tenant.cluster_router.moved_in(clientid, now, now + self.relay_window())
                tenant.perform(lifecycle.catch_up(tenant.broker, clientid, after, time.time()))
        except Exception:
            log.exception("cluster %s: moving the session of %s failed", self.link.spec.name, clientid)
        self._decided(tenant, channel_id, decision)

    async def _connect_caught_up(
        self, tenant: "TenantRuntime", channel_id: "ChannelId", decision: ConnectDecision, key: Key
    ) -> None:
        """A CONNECT to a session of ours whose catch-up after a reconnect is due: catch up, then go on."""
        nc = self.link.nc
        try:
            if nc is not None and nc.is_connected:
                await self._catch_up(nc, [key])
        except Exception:
            log.exception("cluster %s: catching up %s failed", self.link.spec.name, key[1])
        self._decided(tenant, channel_id, decision)

    def _decided(self, tenant: "TenantRuntime", channel_id: "ChannelId", decision: ConnectDecision) -> None:
        tenant.perform(tenant.broker.connect_decided(channel_id, decision, time.time()))
        tenant.arm_timer()
        conn = tenant.hub.connections.get(channel_id)
        if conn is not None:
            conn.authentication_finished()

    async def _fetch(self, key: Key, entry: Entry) -> tuple[list[Record], list[Record]] | None:
        """The session's records and the stream's messages for it since its checkpoint: from its node
        plus the stream, or (node silent) from the bucket plus the stream.

        The stream is read after a hand-over too when the session was offline: a message acknowledged
        on a third node before this CONNECT went both to the old node and into the stream, and its
        forward may reach the old node only after the session left (it is dropped there); the
        stream's copy is queued here instead, in its place among what the session holds (`merge_stored`).
        """
        nc = self.link.nc
        if nc is None or not nc.is_connected:
            return None
        if self.is_alive(entry.node):
            body = json.dumps({"tenant": key[0], "clientid": key[1], "at": time.time(), "node": self.node})
            try:
                reply = await nc.request(
                    self.subject_move + self.link_token(entry.node), body.encode(), timeout=MOVE_TIMEOUT
                )
            except (TimeoutError, nats.errors.Error):
                log.info("cluster %s: node %s did not hand %s over; taking the stored copy",
                         self.link.spec.name, entry.node, key[1])  # fmt: skip
            else:
                if reply.data[:1] != b"1":
                    return None
                records = unpack_records(reply.data[1:])
                return records, [] if entry.online else await self._stored_for(nc, key, entry)
        records = [r for r in entry.records() if isinstance(r, SessionUpserted | SubscriptionAdded)]
        return records, await self._stored_for(nc, key, entry)

    async def _stored_for(self, nc: NatsClient, key: Key, entry: Entry) -> list[Record]:
        """The stream's messages for the session after its checkpoint; the checkpoint moves past them."""
        stored, last = await read_offline(nc, self.stream, self._subject(key[0]), entry.checkpoint)
        self._checkpoints[key] = last
        return replayed_records(key[1], entry.subscriptions(), [data for _seq, data in stored])

    async def _on_move(self, msg: Msg) -> None:
        """Another node resumes one of our sessions: release the client, answer with the session."""
        try:
            body = json.loads(msg.data)
            key = (str(body["tenant"]), str(body["clientid"]))
            at = float(body["at"])
        except (ValueError, KeyError, TypeError):
            await msg.respond(b"0")
            return
        tenant = self.link.registry.by_id.get(contracts.TenantId(key[0]))
        records: list[Record] | None = None
        if tenant is not None:
            session = tenant.broker.sessions.get(key[1])
            online = session is not None and session.connected_channel is not None
            subs = list(session.subscriptions.values()) if session is not None else []
            now = time.time()
            records, actions = lifecycle.hand_over(tenant.broker, key[1], at, now)
            tenant.perform(actions)
            router = tenant.cluster_router
            if records is not None and online and router is not None:
                # forwards sent here before the sender knew of the move go on to the session there
                window = self.relay_window()
                tenant.perform(router.handed_over(key[1], str(body.get("node", "")), subs, now + window))
                asyncio.get_running_loop().call_later(
                    window + 0.1, lambda: tenant.perform(router.expire_moved(time.time()))
                )
            if records is not None:
                self._dirty.pop(key, None)  # the asking node writes the entry from now on
                prev = self.entries.get(key)
                if prev is not None:
                    self.entries[key] = dataclasses.replace(prev, node=str(body.get("node", "")))
        await msg.respond(b"0" if records is None else b"1" + pack_records(records))
