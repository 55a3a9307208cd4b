"""Tenants: one core `Broker` + compiled `Access` per tenant, and the one place actions are performed.

`TenantRuntime.perform(actions)` is the runtime side of `broker.actions`: it `match`es every action
(`assert_never` last), appends `Persist` records to the durable log and holds the batch's sends until
they are on disk (rule 1), runs authentication (in a thread when the tenant has slow password hashes),
and logs `Log` facts. It owns the tenant's `RuleEngine` (`runtime/rules/`) and sets the core's taps:
the message tap is the capture tap, the engine, or both; the event tap is the engine while a rule
selects an event. `TenantRegistry` maps tenant ids and SNI host names to tenants.

Rules this module must not break:
- Every record of a batch is appended to the log before any send of that batch is queued.
- A spec change builds a new `Access` (it is immutable) before the broker sees the new spec, and kicks
  connected clients that a new ban now covers.
"""

import asyncio
import concurrent.futures
import logging
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, assert_never

from mqttcloud import contracts
from mqttcloud.broker import queries
from mqttcloud.broker.access import Access
from mqttcloud.broker.actions import (
    Action,
    Authenticate,
    ChannelId,
    ClientClaimed,
    Close,
    Forward,
    Log,
    Persist,
    Relay,
    RetainedChanged,
    RouteChanged,
    Send,
    SessionChanged,
    StoreOffline,
)
from mqttcloud.broker.channel import Channel
from mqttcloud.broker.cluster import ClusterRouter
from mqttcloud.broker.core import Broker
from mqttcloud.broker.durability import CorruptRecordError, Record, decode_record, encode_record
from mqttcloud.broker.hooks import AuthRequest, ConnectDecision, MessageTap
from mqttcloud.broker.message import Message
from mqttcloud.protocol.reason_codes import ReasonCode
from mqttcloud.runtime.connection import MqttConnection
from mqttcloud.runtime.events import DEFAULT_CAPACITY, EventHistory
from mqttcloud.runtime.fairness import TokenBucket
from mqttcloud.runtime.hub import Hub
from mqttcloud.runtime.rules import RuleEngine, Sink
from mqttcloud.runtime.store import Entry, Store
from mqttcloud.runtime.trace import TenantTraces, Tracer, TracingAuthorizer

if TYPE_CHECKING:
    from mqttcloud.runtime.cluster.link import ClusterLink

log = logging.getLogger(__name__)

_SLOW_HASHES = frozenset({contracts.HashAlgorithm.BCRYPT, contracts.HashAlgorithm.PBKDF2})


def _needs_thread(spec: contracts.TenantSpec) -> bool:
    return any(user.algorithm in _SLOW_HASHES for user in spec.users)


class _BothTaps:
    """The core's one message tap when a capture and the rule engine both want messages."""

    __slots__ = ("_first", "_second")

    def __init__(self, first: MessageTap, second: MessageTap) -> None:
        self._first = first
        self._second = second

    def offer(self, msg: Message) -> None:
        self._first.offer(msg)
        self._second.offer(msg)


class TenantRuntime:
    """A tenant's broker core, its access control and the glue that performs what the core returns."""

    def __init__(
        self,
        spec: contracts.TenantSpec,
        *,
        hub: Hub,
        store: Store,
        node_name: str,
        sys_interval: float,
        auth_executor: concurrent.futures.Executor,
        event_history: int = DEFAULT_CAPACITY,
        trace_dir: Path | None = None,
    ) -> None:
        self.spec = spec
        self.tenant_id = spec.tenant_id
        self.hub = hub
        self.store = store
        self.access = Access(spec)
        self._slow_auth = _needs_thread(spec)
        self._auth_executor = auth_executor
        self.broker = Broker(
            spec, node_name=node_name, now=time.time(), authorizer=self.access, sys_interval=sys_interval
        )
        self.broker.log_level = log.getEffectiveLevel()  # `Log` facts below it are not built
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self.capture_tap: MessageTap | None = None  # set by the admin `capture` op
        self.rate_bucket: TokenBucket | None = None  # the tenant's message rate (`fairness.bucket_for`)
        self.cluster: ClusterLink | None = None  # the NATS link of a cluster node (`ClusterLink.attach`)
        self.cluster_router: ClusterRouter | None = None  # the broker's router while in a cluster
        # the client event history (runtime/events.py), taken by the admin `events` op; None: not recorded
        self.history = EventHistory(event_history) if event_history > 0 else None
        self.broker.history = self.history
        self.rules = RuleEngine(self.broker, self.perform, sockname=self._sockname)
        self._retired: list[Sink] = []  # sinks of replaced rules, closed by `close_retired`
        if spec.rules:
            self._apply_rules()
        self.tracer: Tracer | None = None  # while a log trace runs (runtime/trace.py)
        self.traces = None if trace_dir is None else TenantTraces(trace_dir, self._set_tracer)
        if self.traces is not None:
            self.traces.apply(spec.traces)

    # ------------------------------------------------------------------------------------- state

    def restore(self, payloads: Iterable[bytes]) -> int:
        """Feed replayed log payloads to the core; returns how many records were restored."""
        records: list[Record] = []
        for payload in payloads:
            try:
                records.append(decode_record(payload))
            except CorruptRecordError:
                log.warning("tenant %s: skipping an undecodable durability record", self.tenant_id)
        self.broker.restore(records, time.time())
        return len(records)

    def snapshot_entries(self) -> Iterator[Entry]:
        for record in self.broker.snapshot():
            yield self.tenant_id, encode_record(record)

    def update(self, spec: contracts.TenantSpec) -> None:
        """Apply a changed tenant spec: access first, then the core, then kick newly banned clients."""
        old = self.spec
        self.spec = spec
        if spec != old:
            self.access = Access(spec)
            self._slow_auth = _needs_thread(spec)
            self.broker.set_authorizer(self.access)
            now = time.time()
            self.perform(self.broker.update_spec(spec, now))
            if spec.banned != old.banned:
                self._kick_banned(now)
            if spec.rules != old.rules or spec.limits != old.limits:
                self._apply_rules()
            if self.tracer is not None:  # the new Access is wrapped again
                self._set_tracer(self.tracer)
            if self.traces is not None:
                self.traces.apply(spec.traces)
            self.arm_timer()  # a new deadline (topic metrics sampling) may come before the armed one

    def _set_tracer(self, tracer: Tracer | None) -> None:
        """A log trace started or stopped: connections, authorizer and authentication report to it."""
        self.tracer = tracer
        self.broker.set_authorizer(self.access if tracer is None else TracingAuthorizer(self.access, tracer))
        for conn in self.hub.connections.values():
            if conn.tenant is self:
                conn.trace = tracer

    # ------------------------------------------------------------------------------------- rules

    def _apply_rules(self) -> None:
        self._retired.extend(self.rules.apply(self.spec.rules))
        self._install_taps()

    def set_capture_tap(self, tap: MessageTap) -> None:
        self.capture_tap = tap
        self._install_taps()

    def _install_taps(self) -> None:
        capture = self.capture_tap
        rules = self.rules if self.rules.has_message_rules else None
        if capture is None or rules is None:
            self.broker.tap = capture if rules is None else rules
        else:
            self.broker.tap = _BothTaps(capture, rules)
        self.broker.events = self.rules if self.rules.has_event_rules else None

    def _sockname(self, ch: Channel) -> str:
        conn = self.hub.connections.get(ch.channel_id)
        transport = conn.transport if conn is not None else None
        sock = transport.get_extra_info("sockname") if transport is not None else None
        return f"{sock[0]}:{sock[1]}" if isinstance(sock, tuple) and len(sock) >= 2 else ""

    def stop_rules(self) -> None:
        """Forget every rule (tenant removed, broker stopping); `close_retired` stops their workers."""
        self._retired.extend(self.rules.close_all())
        self._install_taps()

    async def close_retired(self) -> None:
        """Stop the HTTP workers of rules that were replaced or removed."""
        retired, self._retired = self._retired, []
        for sink in retired:
            await sink.close()

    def _kick_banned(self, now: float) -> None:
        # Raw identities, not a ClientInfo per client: 10,000 clients cost ~8 ms instead of ~280 ms.
        banned = [
            clientid
            for clientid, username, ip_address in queries.connected_identities(self.broker)
            if self.access.is_banned(clientid=clientid, username=username, peerhost=ip_address, now=now)
        ]
        for clientid in banned:
            log.info("tenant %s: kicking banned client %s", self.tenant_id, clientid)
            _found, actions = self.broker.kick(clientid, now)
            self.perform(actions)

    def shutdown(self) -> None:
        """DISCONNECT 0x8B to v5 clients and close everyone (the core decides the bytes)."""
        self.perform(self.broker.shutdown(time.time()))

    # ----------------------------------------------------------------------------------- perform

    def perform(self, actions: list[Action]) -> None:
        """Carry out one batch of core actions, in order (see `broker.actions` for the rules)."""
        if not actions:
            return
        hub = self.hub
        if self.cluster is not None and type(actions[0]) is Forward and len(actions) == 1:
            self.cluster.perform(self.tenant_id, actions[0])  # a QoS 0 PUBLISH only another node wants
            return
        for action in actions:
            if type(action) is not Send:
                break
        else:
            # Fast path: only Sends (a QoS 0 PUBLISH routed to its subscribers, a QoS 1 PUBLISH and its
            # PUBACK, a PINGRESP). Sends cannot move a broker-level deadline (the core schedules wills
            # and session expiry only next to a Close or a Log), so the tenant timer is left alone.
            conns = hub.connections
            sends: list[Send] = actions  # type: ignore[assignment]  # the loop above checked (no cast call)
            for send in sends:
                conn = conns.get(send.channel_id)
                if conn is not None:
                    conn.send(send.data, 0)
            return
        hub.mark_tenant(self)
        seq = 0
        for action in actions:
            if type(action) is Persist:
                store = self.store
                tid = self.tenant_id
                for record in action.records:
                    seq = store.append(tid, encode_record(record))
        # A new route: its SUBACK waits until the other nodes have it (`ClusterLink`); a message kept
        # for offline sessions: its PUBACK waits until the stream write reached NATS (`SessionRegistry`).
        barrier = 0
        routed = stored = False
        if self.cluster is not None:
            for action in actions:
                if type(action) is RouteChanged:
                    routed = routed or action.added
                elif type(action) is StoreOffline:
                    stored = True
            if routed:
                barrier = self.cluster.route_barrier()
            if stored and not barrier:
                barrier = self.cluster.sessions.store_barrier()
        hold = barrier or seq
        conns = hub.connections
        waiting: list[MqttConnection] | None = [] if hold else None
        for action in actions:
            match action:
                case Send(channel_id=cid, data=data):
                    conn = conns.get(cid)
                    if conn is not None:
                        conn.send(data, hold)
                        if waiting is not None:
                            waiting.append(conn)
                case Close(channel_id=cid, reason=reason):
                    conn = conns.get(cid)
                    if conn is not None:
                        conn.close_by_core(reason, hold)
                        if waiting is not None:
                            waiting.append(conn)
                case Persist():
                    pass
                case Authenticate(channel_id=cid, request=request):
                    self._authenticate(cid, request)
                case Log(level=level, event=event, fields=fields):
                    if log.isEnabledFor(level):
                        log.log(
                            level,
                            "tenant %s: %s %s",
                            self.tenant_id,
                            event,
                            " ".join(f"{k}={v}" for k, v in fields),
                        )
                case Forward() | Relay() | RouteChanged() | ClientClaimed() | RetainedChanged():
                    if self.cluster is not None:
                        self.cluster.perform(self.tenant_id, action)
                case SessionChanged() | StoreOffline():
                    if self.cluster is not None:
                        self.cluster.sessions.perform(self.tenant_id, action)
                case _:
                    assert_never(action)
        if waiting and barrier and self.cluster is not None:
            held = waiting
            cluster = self.cluster

            def passed() -> None:
                for conn in held:
                    conn.barrier_passed(barrier, seq)

            if not routed:
                cluster.sessions.after_stored(passed)
            elif stored:
                cluster.after_routes(lambda: cluster.sessions.after_stored(passed))
            else:
                cluster.after_routes(passed)
        if waiting and seq:
            store = self.store

            def release() -> None:
                for conn in waiting:
                    conn.release(store.durable_seq)

            store.when_durable(release, seq)

    def _authenticate(self, channel_id: ChannelId, request: AuthRequest) -> None:
        if not self._slow_auth:
            decision = self._decide(self.access, request)
            if self.tracer is not None:
                self.tracer.authenticated(request, decision)
            self._connect_decided(channel_id, decision)
            return
        conn = self.hub.connections.get(channel_id)
        if conn is None:
            return
        conn.authentication_started()
        loop = asyncio.get_running_loop()
        access = self.access
        fut = loop.run_in_executor(self._auth_executor, self._decide, access, request)

        def done(f: "asyncio.Future[ConnectDecision]") -> None:
            if conn.closed or self.broker.channel(channel_id) is None:
                return
            try:
                if self.tracer is not None:
                    self.tracer.authenticated(request, f.result())
                if self._connect_decided(channel_id, f.result()):
                    return  # the cluster fetches the session and finishes the CONNECT
            except Exception:
                log.exception("tenant %s: connect_decided failed", self.tenant_id)
                conn.abort()
                return
            conn.authentication_finished()

        fut.add_done_callback(done)

    def _connect_decided(self, channel_id: ChannelId, decision: ConnectDecision) -> bool:
        """Finish an authenticated CONNECT; True when a cluster first fetches the session from another
        node (it calls `connect_decided` itself, without a round trip for other CONNECTs)."""
        cluster = self.cluster
        if (
            cluster is not None
            and decision.allowed
            and cluster.sessions.before_connect(self, channel_id, decision)
        ):
            return True
        self.perform(self.broker.connect_decided(channel_id, decision, time.time()))
        return False

    @staticmethod
    def _decide(access: Access, request: AuthRequest) -> ConnectDecision:
        try:
            return access.authenticate_request(request, time.time())
        except Exception:
            log.exception("authentication raised; refusing the client")
            return ConnectDecision(allowed=False, reason_code=ReasonCode.UNSPECIFIED_ERROR)

    # ------------------------------------------------------------------------------------ timers

    def arm_timer(self) -> None:
        """Arm the broker-level timer (will delay, session expiry, $SYS) if its deadline moved earlier."""
        deadline = self.broker.next_deadline()
        if deadline is None:
            return
        if self._timer is not None:
            if self._timer_at <= deadline:
                return
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(max(0.0, deadline - time.time()), self._on_timer)
        self._timer_at = deadline

    def _on_timer(self) -> None:
        self._timer = None
        now = time.time()
        try:
            deadline = self.broker.next_deadline()
            if deadline is not None and deadline <= now:
                self.perform(self.broker.tick(now))
        except Exception:
            log.exception("tenant %s: tick failed", self.tenant_id)
        self.arm_timer()

    def cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class TenantRegistry:
    """Tenants by id and by SNI host name (lower-cased)."""

    def __init__(self) -> None:
        self.by_id: dict[contracts.TenantId, TenantRuntime] = {}
        self.by_sni: dict[str, TenantRuntime] = {}

    def rebuild_sni(self) -> None:
        self.by_sni = {host.lower(): t for t in self.by_id.values() for host in t.spec.sni_hosts}

    def get(self, tenant_id: contracts.TenantId | None) -> TenantRuntime | None:
        return None if tenant_id is None else self.by_id.get(tenant_id)

    def for_sni(self, host: str | None) -> TenantRuntime | None:
        return None if host is None else self.by_sni.get(host.lower())

    def max_packet_size(self) -> int:
        return max((t.spec.limits.max_packet_size for t in self.by_id.values()), default=1024 * 1024)
