"""ClusterLink: this node's one NATS connection, carrying the cluster actions of every tenant.

Subjects live under `mqc.<cluster>.` (`ClusterSpec.name`; node names are hex-encoded as subject
tokens): `fwd.<node>` is a node's inbox of forward batches (`codec`), `routes` carries route-table
changes and full tables, `hello` asks every node for its full table, `hb` carries heartbeats, `claim`
announces a client id that connected somewhere, `relay.<node>` carries a message for one session that
moved to that node (`broker.cluster`: a session handed over online). Retained messages are also kept
in the JetStream key-value bucket `mqc_<cluster>_retained`, which a node reads when it starts; a
deleted one is kept as its empty message (with the deletion's time), so a node that held it while
down deletes it too.

Rules this module must not break:
- Sending never blocks the broker: cluster actions are queued by `perform` and published by one pump
  task, once per loop iteration, so forwards to one node share one NATS message per iteration (more
  only past NATS's max_payload), encoded there (`codec.encode_batches`), not per message.
- While NATS is away, local traffic goes on: forwards, route changes and claims are dropped (counted),
  retained messages wait for the key-value store; on every (re)connect the node says `hello` and
  publishes its full table, and every node answers with its own. Tables are replaced, never added to,
  so a resync never makes a message go twice to one node (`broker.cluster`).
- A node silent for `ClusterSpec.node_timeout` is dropped from every tenant's route table.
- A new route is in every live node's table before the SUBACK that made it goes out (EMQX adds a
  route before it acknowledges the SUBSCRIBE): the tenant holds that batch's sends behind a
  `route_barrier`, the routes message asks for acknowledgements (`ack.<node>`), and the sends go once
  every node known alive answered, or after ROUTE_ACK_TIMEOUT (a node about to be found dead).
- `start` returns within START_TIMEOUT: connecting, or joining (retained store, sessions part), that
  takes longer goes on in the background (a join is retried after an error, never cut half done).
- Every task has an owner: `start` creates them, `close` cancels and awaits them.
"""

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js.kv import KeyValue

from mqttcloud import contracts
from mqttcloud.broker import lifecycle
from mqttcloud.broker.actions import (
    Action,
    ClientClaimed,
    ClusterAction,
    Forward,
    Persist,
    Relay,
    RetainedChanged,
    RouteChanged,
)
from mqttcloud.broker.cluster import ClusterRouter, join
from mqttcloud.broker.delivery import Out
from mqttcloud.broker.message import Message
from mqttcloud.runtime.cluster.codec import (
    Frame,
    decode_batch,
    decode_message,
    encode_batches,
    encode_message,
)
from mqttcloud.runtime.cluster.sessions import SessionRegistry

if TYPE_CHECKING:
    from mqttcloud.runtime.tenants import TenantRegistry, TenantRuntime

log = logging.getLogger(__name__)

#: Seconds the first connection (and the retained store's read) may take before the node starts alone.
START_TIMEOUT = 3.0
#: Seconds between reconnect attempts while NATS is away.
RECONNECT_WAIT = 0.5
#: Seconds a batch held behind a `route_barrier` waits at most for the other nodes' acknowledgements.
ROUTE_ACK_TIMEOUT = 0.5


def token(name: str) -> str:
    """A name as one NATS subject token (no dots, spaces or wildcards)."""
    return name.encode().hex()


def _retained_key(tenant: str, topic: str) -> str:
    return base64.urlsafe_b64encode(f"{tenant}\x00{topic}".encode()).decode().rstrip("=")


def _key_owner(key: str) -> tuple[str, str]:
    tenant, _, topic = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4)).decode().partition("\x00")
    return tenant, topic


class ClusterLink:
    """One node's membership in the cluster `spec.name`."""

    def __init__(self, spec: contracts.ClusterSpec, node: str, registry: "TenantRegistry") -> None:
        self.spec = spec
        self.node = node
        self.registry = registry
        prefix = f"mqc.{token(spec.name)}"
        self.subject_routes = f"{prefix}.routes"
        self.subject_hello = f"{prefix}.hello"
        self.subject_hb = f"{prefix}.hb"
        self.subject_claim = f"{prefix}.claim"
        self.subject_fwd = f"{prefix}.fwd."
        self.subject_acks = f"{prefix}.ack.{token(node)}"
        self.subject_relay = f"{prefix}.relay."
        self.inbox = self.subject_fwd + token(node)
        safe_name = "".join(c if c.isalnum() or c in "-_" else "_" for c in spec.name)
        self.bucket = "mqc_" + safe_name + "_retained"
        self.sessions = SessionRegistry(self, prefix, safe_name)  # persistent sessions, moves, wills
        self.heartbeat_interval = min(1.0, spec.node_timeout / 4)
        self.nc: NatsClient | None = None
        self.kv: KeyValue | None = None
        self.last_seen: dict[str, float] = {}  # remote node -> when it was last heard from
        self.dropped = 0  # cluster actions dropped while NATS was away
        self._forwards: dict[str, list[Frame]] = {}  # node -> what to forward to it, in order
        self._route_ops: list[tuple[str, bool, str]] = []
        self._claims: list[tuple[str, str, float, bool]] = []  # (tenant, client id, at, resumed)
        self._relays: list[tuple[str, str, str, Message]] = []  # (node, tenant, client id, message)
        self._retained: dict[tuple[str, str], bytes] = {}  # KV writes to do (empty payload: deleted)
        self._resync = False  # say hello and publish the full table
        self._send_table = False  # publish the full table
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._barrier = 1 << 62  # last `route_barrier` token: above any durable log sequence number
        self._held: list[Callable[[], None]] = []  # releases waiting for the next routes message
        self._round = 0
        self._confirming: dict[int, tuple[set[str], list[Callable[[], None]]]] = {}  # round -> waits

    # --- tenants ---------------------------------------------------------------------------------

    def attach(self, tenant: "TenantRuntime") -> ClusterRouter:
        """Put the tenant's broker behind a cluster router that this link carries."""
        router = join(tenant.broker.local_router, self.node)
        for node in self.last_seen:
            router.node_seen(node)
        tenant.cluster = self
        tenant.cluster_router = router
        self._send_table = True
        self._wake.set()
        return router

    def _routers(self) -> dict[str, ClusterRouter]:
        return {
            tid: t.cluster_router for tid, t in self.registry.by_id.items() if t.cluster_router is not None
        }

    def perform(self, tenant_id: str, action: ClusterAction) -> None:
        """Queue one cluster action of a tenant's batch; the pump publishes it this loop iteration."""
        if type(action) is Forward:  # the hot path: no match, encoded per node and batch by the pump
            queue = self._forwards.get(action.node)
            if queue is None:
                queue = self._forwards[action.node] = []
            queue.append((tenant_id, action.groups, action.message))
            if not self._wake.is_set():
                self._wake.set()
            return
        match action:
            case RouteChanged(topic_filter=flt, added=added):
                self._route_ops.append((tenant_id, added, flt))
            case ClientClaimed(clientid=clientid, at=at, resumed=resumed):
                self._claims.append((tenant_id, clientid, at, resumed))
            case Relay(node=node, clientid=clientid, message=msg):
                self._relays.append((node, tenant_id, clientid, msg))
            case RetainedChanged(message=msg):  # an empty payload is kept too: the deletion's time
                self._retained[(tenant_id, msg.topic)] = encode_message(msg)
        self._wake.set()

    def route_barrier(self) -> int:
        """A token to hold a batch's sends with until the route changes queued so far are in every
        other node's table (`after_routes`); 0 when there is no one to wait for."""
        if not self.last_seen or not self.connected:
            return 0
        return self.next_token()

    def next_token(self) -> int:
        """A new barrier token (above any durable log sequence number, never given twice)."""
        self._barrier += 1
        return self._barrier

    def after_routes(self, release: Callable[[], None]) -> None:
        """Call `release` once the other nodes acknowledged this node's next routes message."""
        self._held.append(release)
        self._wake.set()

    # --- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect and join (retained store, sessions) within START_TIMEOUT; past it, serve while the
        connection (or the join) goes on in the background."""
        deadline = time.monotonic() + START_TIMEOUT
        try:
            async with asyncio.timeout(START_TIMEOUT):
                await self._connect()
        except (TimeoutError, OSError, nats.errors.Error) as exc:
            log.warning("cluster %s: NATS at %s not reachable (%s); serving alone until it is",
                        self.spec.name, self.spec.nats_url, exc)  # fmt: skip
        self._tasks = [
            asyncio.create_task(self._pump(), name="cluster-pump"),
            asyncio.create_task(self._heartbeat(), name="cluster-heartbeat"),
        ]
        if self.nc is None:
            self._tasks.append(asyncio.create_task(self._connect_later(), name="cluster-connect"))
            return
        joining = asyncio.create_task(self._join(), name="cluster-join")
        self._tasks.append(joining)
        try:  # shielded: past the deadline the join goes on, never restarted half done
            await asyncio.wait_for(asyncio.shield(joining), max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            log.warning(
                "cluster %s: reading the cluster's retained messages and sessions takes more than %.0f s;"
                " serving meanwhile, it goes on in the background", self.spec.name, START_TIMEOUT,
            )  # fmt: skip

    async def _join(self) -> None:
        """Read the retained store and start the sessions part, retrying until both are done."""
        while True:
            try:
                await self._load_retained()
                await self._start_sessions()
            except (TimeoutError, OSError, nats.errors.Error) as exc:
                log.warning("cluster %s: joining failed (%s); retrying", self.spec.name, exc)
                await asyncio.sleep(RECONNECT_WAIT)
                continue
            log.info("cluster %s: sessions started on node %s", self.spec.name, self.node)
            return

    async def _connect(self) -> None:
        nc = NatsClient()
        await nc.connect(
            servers=[self.spec.nats_url],
            name=f"mqttcloud {self.node}",
            no_echo=True,  # a node never hears itself
            allow_reconnect=True,
            max_reconnect_attempts=-1,
            reconnect_time_wait=RECONNECT_WAIT,  # type: ignore[arg-type]  # nats-py annotates int, sleeps a float
            connect_timeout=2,
            disconnected_cb=self._disconnected,
            reconnected_cb=self._reconnected,
            error_cb=self._error,
        )
        await nc.subscribe(self.inbox, cb=self._on_forward)
        await nc.subscribe(self.subject_routes, cb=self._on_routes)
        await nc.subscribe(self.subject_hello, cb=self._on_hello)
        await nc.subscribe(self.subject_hb, cb=self._on_heartbeat)
        await nc.subscribe(self.subject_claim, cb=self._on_claim)
        await nc.subscribe(self.subject_acks, cb=self._on_ack)
        await nc.subscribe(self.subject_relay + token(self.node), cb=self._on_relay)
        self.nc = nc
        log.info("cluster %s: node %s joined through %s", self.spec.name, self.node, self.spec.nats_url)
        self._resync = True
        self._wake.set()

    async def _connect_later(self) -> None:
        while self.nc is None:
            await asyncio.sleep(RECONNECT_WAIT)
            try:
                await self._connect()
            except (TimeoutError, OSError, nats.errors.Error):
                continue
        await self._join()

    async def _start_sessions(self) -> None:
        if self.nc is not None:
            await self.sessions.start(self.nc)

    async def close(self) -> None:
        for task in self._tasks:  # the join first: it may be starting the sessions part
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self.sessions.close()
        if self.nc is not None:
            with contextlib.suppress(Exception):  # closing a link that is already broken
                await self.nc.close()

    @property
    def connected(self) -> bool:
        return self.nc is not None and self.nc.is_connected

    async def _disconnected(self) -> None:
        log.warning("cluster %s: NATS connection lost; serving local traffic", self.spec.name)
        self.sessions.lost()

    async def _reconnected(self) -> None:
        log.info("cluster %s: NATS connection back; resynchronising", self.spec.name)
        self._resync = True
        self._wake.set()
        self.sessions.resync()

    async def _error(self, exc: Exception) -> None:
        log.debug("cluster %s: NATS: %s", self.spec.name, exc)

    # --- retained store --------------------------------------------------------------------------

    async def _load_retained(self) -> None:
        """Read the cluster's retained messages into every tenant: a stored message newer than the local
        copy of its topic wins, a stored deletion (empty payload) newer than it deletes it."""
        assert self.nc is not None
        js = self.nc.jetstream()
        try:
            self.kv = await js.key_value(self.bucket)
        except nats.js.errors.BucketNotFoundError:
            self.kv = await js.create_key_value(bucket=self.bucket, history=1)
        watcher = await self.kv.watchall(ignore_deletes=True)
        now = time.time()
        loaded = 0
        try:
            while True:  # the last value of every key, then None
                update = await watcher.updates(timeout=START_TIMEOUT)  # type: ignore[no-untyped-call]  # nats-py: no annotation
                if update is None:
                    break
                try:
                    tenant_id, _topic = _key_owner(update.key)
                    msg = decode_message(update.value or b"")
                except (ValueError, binascii.Error):
                    continue
                tenant = self.registry.by_id.get(contracts.TenantId(tenant_id))
                if tenant is None or msg.is_expired(now):
                    continue
                local = tenant.broker.retained.get(msg.topic)
                newer = bool(msg.payload) if local is None else local.timestamp <= msg.timestamp
                if newer:
                    out = Out()
                    tenant.broker.local_router.store_retained(msg, out)  # empty payload: a delete
                    tenant.perform(out.result())
                    loaded += 1
        finally:
            await watcher.stop()  # type: ignore[no-untyped-call]  # nats-py: no annotation
        log.info("cluster %s: %d retained changes from the cluster store", self.spec.name, loaded)

    # --- sending ---------------------------------------------------------------------------------

    async def _pump(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self._send_queued()
            except Exception:  # a broken link must not stop the pump; NATS reconnects on its own
                log.exception("cluster %s: sending failed", self.spec.name)

    async def _send_queued(self) -> None:
        forwards, self._forwards = self._forwards, {}
        ops, self._route_ops = self._route_ops, []
        claims, self._claims = self._claims, []
        relays, self._relays = self._relays, []
        held, self._held = self._held, []
        nc = self.nc
        if nc is None or not nc.is_connected:
            self.dropped += sum(map(len, forwards.values())) + len(ops) + len(claims) + len(relays)
            for release in held:
                release()
            return
        routes: dict[str, Any] = {"ops": [[t, a, f] for t, a, f in ops]}
        if self._resync:
            self._resync = self._send_table = False
            await nc.publish(self.subject_hello, self._json({}))
            routes = self._table()  # the full table says it all
        elif self._send_table:
            self._send_table = False
            routes = self._table()
        for node, frames in forwards.items():
            for batch in encode_batches(frames, nc.max_payload):
                try:
                    await nc.publish(self.subject_fwd + token(node), batch)
                except nats.errors.MaxPayloadError:  # one message larger than NATS takes
                    self.dropped += 1
                    log.warning("cluster %s: a forward of %d bytes exceeds NATS max_payload %d; dropped",
                                self.spec.name, len(batch), nc.max_payload)  # fmt: skip
        if held and self.last_seen:
            self._round += 1
            self._confirming[self._round] = (set(self.last_seen), held)
            asyncio.get_running_loop().call_later(ROUTE_ACK_TIMEOUT, self._confirmed, self._round, None)
            routes["round"] = self._round
            await nc.publish(self.subject_routes, self._json(routes), reply=self.subject_acks)
        else:
            for release in held:
                release()
            if routes.get("ops") != []:
                await nc.publish(self.subject_routes, self._json(routes))
        for tenant_id, clientid, at, resumed in claims:
            claim = {"tenant": tenant_id, "clientid": clientid, "at": at, "resumed": resumed}
            await nc.publish(self.subject_claim, self._json(claim))
        for node, tenant_id, clientid, msg in relays:
            relay = {"tenant": tenant_id, "clientid": clientid, "message": encode_message(msg).hex()}
            await nc.publish(self.subject_relay + token(node), self._json(relay))
        if self._retained and self.kv is not None:
            retained, self._retained = self._retained, {}
            for (tenant_id, topic), value in retained.items():
                await self.kv.put(_retained_key(tenant_id, topic), value)

    def _table(self) -> dict[str, Any]:
        return {"full": {tid: router.local_filters() for tid, router in self._routers().items()}}

    def _confirmed(self, round_: int, node: str | None) -> None:
        """`node` has the routes of `round_` (None: its time is up); the last one releases the sends."""
        entry = self._confirming.get(round_)
        if entry is None:
            return
        waiting, releases = entry
        waiting.discard(node or "")
        if node is None or not waiting:
            del self._confirming[round_]
            for release in releases:
                release()

    def _json(self, body: dict[str, Any]) -> bytes:
        return json.dumps({"node": self.node, **body}).encode()

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            nc = self.nc
            if nc is not None and nc.is_connected:
                with contextlib.suppress(nats.errors.Error):
                    await nc.publish(self.subject_hb, self._json({}))
            self._expire(time.monotonic())

    def _expire(self, now: float) -> None:
        for node, seen in list(self.last_seen.items()):
            if now - seen > self.spec.node_timeout:
                log.warning("cluster %s: node %s silent for %.1f s; dropping its routes",
                            self.spec.name, node, now - seen)  # fmt: skip
                del self.last_seen[node]
                for router in self._routers().values():
                    router.node_down(node)
                self.sessions.node_down(node)

    # --- receiving -------------------------------------------------------------------------------

    def _seen(self, node: str) -> None:
        """`node` spoke: a node not known (new, or back after being dropped) gets our table and ours its."""
        is_new = node not in self.last_seen
        self.last_seen[node] = time.monotonic()
        if is_new:
            for router in self._routers().values():
                router.node_seen(node)
            self.sessions.node_seen(node)
            self._resync = True
            self._wake.set()

    def _parse(self, msg: Msg) -> dict[str, Any] | None:
        try:
            body = json.loads(msg.data)
        except ValueError:
            return None
        if not isinstance(body, dict) or not isinstance(body.get("node"), str) or body["node"] == self.node:
            return None
        self._seen(body["node"])
        return body

    async def _on_forward(self, msg: Msg) -> None:
        try:
            runs = decode_batch(msg.data)
        except ValueError as exc:
            log.warning("cluster %s: undecodable forward batch dropped: %s", self.spec.name, exc)
            return
        now = time.time()
        by_id = self.registry.by_id
        # One `perform` per run of messages without records (the tenant's all-Sends fast path); a
        # result with `Persist` goes alone, after what came before it, so per-connection order holds.
        for tenant_id, items in runs:
            tenant = by_id.get(contracts.TenantId(tenant_id))
            router = tenant.cluster_router if tenant is not None else None
            if tenant is None or router is None:
                continue
            deliver = router.deliver_remote
            pending: list[Action] = []
            for groups, message in items:
                actions = deliver(message, groups, now)
                if not actions:
                    continue
                if type(actions[0]) is Persist:
                    if pending:
                        tenant.perform(pending)
                        pending = []
                    tenant.perform(actions)
                else:
                    pending += actions
            if pending:
                tenant.perform(pending)

    async def _on_routes(self, msg: Msg) -> None:
        body = self._parse(msg)
        if body is None:
            return
        node: str = body["node"]
        routers = self._routers()
        full = body.get("full")
        if isinstance(full, dict):
            for tenant_id, router in routers.items():
                filters = full.get(tenant_id, [])
                router.routes_replaced(node, [f for f in filters if isinstance(f, str)])
        for op in body.get("ops", ()):
            if isinstance(op, list) and len(op) == 3 and isinstance(op[2], str):
                target = routers.get(op[0])
                if target is not None:
                    (target.routes_added if op[1] else target.routes_removed)(node, [op[2]])
        if msg.reply and isinstance(body.get("round"), int) and self.nc is not None:
            with contextlib.suppress(nats.errors.Error):  # unanswered, the sender waits its timeout
                await self.nc.publish(msg.reply, self._json({"round": body["round"]}))

    async def _on_ack(self, msg: Msg) -> None:
        body = self._parse(msg)
        if body is not None and isinstance(body.get("round"), int):
            self._confirmed(body["round"], body["node"])

    async def _on_hello(self, msg: Msg) -> None:
        if self._parse(msg) is not None:
            self._send_table = True
            self._wake.set()

    async def _on_heartbeat(self, msg: Msg) -> None:
        self._parse(msg)

    async def _on_relay(self, msg: Msg) -> None:
        """A message the node a session left received after the move: deliver it to that session."""
        body = self._parse(msg)
        if body is None:
            return
        tenant = self.registry.by_id.get(contracts.TenantId(str(body.get("tenant"))))
        router = tenant.cluster_router if tenant is not None else None
        clientid, raw = body.get("clientid"), body.get("message")
        if tenant is None or router is None or not isinstance(clientid, str) or not isinstance(raw, str):
            return
        try:
            message = decode_message(bytes.fromhex(raw))
        except ValueError as exc:
            log.warning("cluster %s: undecodable relayed message dropped: %s", self.spec.name, exc)
            return
        now = time.time()
        if router.relayed(clientid, message, now):
            tenant.perform(lifecycle.relayed(tenant.broker, clientid, message, now))

    async def _on_claim(self, msg: Msg) -> None:
        body = self._parse(msg)
        if body is None:
            return
        tenant = self.registry.by_id.get(contracts.TenantId(str(body.get("tenant"))))
        clientid, at = body.get("clientid"), body.get("at")
        if tenant is not None and isinstance(clientid, str) and isinstance(at, int | float):
            now = time.time()
            tenant.perform(tenant.broker.release(clientid, float(at), now))
            # still here after the release: a move that took the stored copy drops it (no will); a new
            # session there ends it, and its pending will goes now [MQTT-3.1.3-9]
            if body.get("resumed", True) is False:
                tenant.perform(lifecycle.superseded(tenant.broker, clientid, now))
            else:
                tenant.perform(lifecycle.forget(tenant.broker, clientid))
