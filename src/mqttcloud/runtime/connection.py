"""One MQTT connection as an `asyncio.Protocol`: read → Framer → decode → Channel.handle → perform → flush.

The protocol owns the transport, the framer and the channel's deadline timer; the tenant
(`runtime.tenants.TenantRuntime`) performs the actions the core returns, and the `Hub`
(runtime/hub.py) writes what each connection queued during one loop tick at the end of the tick, once
per connection (one `write` per connection per tick, STYLE §4).

Rules this module must not break:
- Nothing raised while handling one connection escapes it: a core or codec bug logs, closes that
  connection and tells the core the channel is gone; other connections never notice.
- Protocol errors become wire answers in the core (`Channel.fail`: CONNACK before acceptance,
  DISCONNECT 0x81/0x95/... for v5, a bare close for v3.1.1); the runtime only performs them.
- Durability before acknowledgement (`broker.actions` rule 1): a send held back for a `Persist` of its
  batch waits in `_held` with the log sequence number it depends on, and every later send to the same
  connection queues behind it, so per-connection order is kept. A cluster's route barrier holds sends
  the same way, with a token above every sequence number (`barrier_passed`).
- While an `Authenticate` is outstanding (slow hashes run in a thread), inbound packets are framed but
  not handled; they are handled, in order, after `connect_decided`.
- At most MAX_FRAMES_PER_TICK packets of one connection are handled per loop iteration; the rest wait
  in the same backlog (reading paused), so one fast publisher delivering a 256 KB read cannot hold every
  other connection's answers back for the time it takes to route thousands of packets. Under load
  most packets arrive this way, so the backlog drains in one `_handle_run` per tick, not one call per
  frame.
- Outbound memory (`broker.budget`): after every write the connection reports its socket's unsent
  bytes (`Channel.flushed`); when deliveries wait for room that is there again, and on
  `resume_writing`, it performs `Channel.writable`. The core decides what to drop and whom to cut off.
- Closing is graceful on plain TCP: after our last packet (a DISCONNECT with its reason) we shut down
  writing (`write_eof`, a FIN after the buffered bytes), keep reading and discarding for at most
  LINGER seconds, and close when the peer closes (abort at the deadline). Closing with unread input
  makes the kernel send a reset, and a peer still writing lost our DISCONNECT and its reason code.
- Transports close through `Hub.close_soon` (runtime/hub.py), a batch per loop iteration: a peer's EOF on
  plain TCP (`eof_received` keeps the half-closed transport until its batch) and the core's `Close`,
  so a disconnect storm never holds the loop for one long iteration (bench/disconnect_storm.py). TLS
  closes on EOF at once (asyncio ignores True there).

Deadlines: one `call_later` timer per connection, armed lazily. After handling input (and after each
flush) the connection asks `Channel.next_deadline()` and re-arms only when the deadline moved *earlier*
than the armed one; when a timer fires early (the deadline moved later, e.g. keep-alive after a
PINGREQ) it re-arms for the new deadline. Keep-alive traffic thus costs one timer per keep-alive period
instead of one cancel + schedule per packet. Once the armed timer is due within
`Channel.deadline_horizon()` (keep-alive x1.5, or the 3.1.1 retry interval) of now, no event can set
an earlier deadline and `next_deadline()` (a min over the in-flight window) is not asked at all (the
horizon is 0 until CONNECT is accepted; a retry interval shortened by a spec change applies from the
next timer).
"""

import asyncio
import logging
import time
from collections import deque
from itertools import islice
from typing import TYPE_CHECKING, Final, cast

from mqttcloud.broker.actions import ChannelId
from mqttcloud.broker.channel import Channel
from mqttcloud.broker.hooks import PeerInfo
from mqttcloud.protocol.decode import decode
from mqttcloud.protocol.errors import MQTTError
from mqttcloud.protocol.framer import Frame, Framer
from mqttcloud.runtime import fairness, sni_refusal, tls

if TYPE_CHECKING:
    from mqttcloud.runtime.hub import Hub
    from mqttcloud.runtime.listeners import ListenerRuntime
    from mqttcloud.runtime.tenants import TenantRuntime
    from mqttcloud.runtime.trace import Tracer

log = logging.getLogger(__name__)

#: A connection whose unsent data passes this is a consumer too slow to keep: it is closed.
MAX_WRITE_BUFFER: Final = 64 * 1024 * 1024
#: Packets handled per connection per loop iteration; the rest wait in the backlog (fairness, latency).
MAX_FRAMES_PER_TICK: Final = 256
#: Inbound bytes framed while authentication runs before reading from the socket pauses.
MAX_HELD_INPUT: Final = 1024 * 1024

#: Seconds a closing connection keeps reading (discarding) after its FIN, for the peer to read our
#: last packet; then it is aborted (a consumer that never reads frees its buffer then).
LINGER: Final = 2.0

_CLOSE: Final = None  # a held "close" entry


class MqttConnection(asyncio.Protocol):
    """The MQTT side of one accepted transport (TCP, TLS, or the WebSocket adapter)."""

    framer: Framer  # set by `_open` with the tenant's packet size limit (read only once open)

    def __init__(self, hub: "Hub", listener: "ListenerRuntime") -> None:
        self.hub = hub
        self.listener = listener
        self.transport: asyncio.Transport | None = None
        self.tenant: TenantRuntime | None = None
        self.channel: Channel | None = None
        self.channel_id = ChannelId(0)
        self.peer: PeerInfo | None = None
        self.closed = False  # no more input is handled and nothing more is written
        self.core_closed = False  # the core asked for the close: do not report channel_closed
        self.authenticating = False
        self.refusal: sni_refusal.Refusal | None = None  # no tenant for the SNI: refused at CONNECT
        self._out: list[bytes] = []
        self._dirty = False
        self._held: deque[tuple[int, bytes | None]] = deque()
        self._held_frames: deque[Frame] = deque()
        self._held_frames_size = 0
        self._writing_paused = False
        self._reading_paused = False
        self._backlog_scheduled = False
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._timer_settled = 0.0  # from then on the armed timer is due within the deadline horizon
        self._defer_eof = False  # plain TCP: an EOF closes through Hub.close_soon (TLS cannot)
        self._peer_eof = False  # the peer shut its writing side down
        self.rate_bucket: fairness.TokenBucket | None = None  # the client's publish rate (fairness)
        self.trace: Tracer | None = None  # the tenant's tracer while a log trace runs (runtime.trace)

    # ------------------------------------------------------------------------------------ transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # cast: uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        try:
            self._open(self.transport)
        except Exception:
            log.exception("connection setup failed on listener %s", self.listener.name)
            self.closed = True
            self.transport.abort()

    def _open(self, transport: asyncio.Transport) -> None:
        peername = transport.get_extra_info("peername")
        ip, port = (str(peername[0]), int(peername[1])) if peername else ("", 0)
        if self.listener.secure:
            sslobj = transport.get_extra_info("ssl_object")
            sni = tls.peer_sni(sslobj)
            cn, dn = (
                tls.peer_names(transport.get_extra_info("peercert")) if sslobj is not None else (None, None)
            )
        else:  # plain TCP/WS: no TLS facts to ask the transport for (once per connect, a storm's path)
            sslobj = sni = cn = dn = None
        tenant = self.listener.select_tenant(sni)
        if tenant is None:
            log.info("listener %s: no tenant for %s:%d (sni %r); closing", self.listener.name, ip, port, sni)
            self.closed = True
            if sslobj is not None:  # answer the CONNECT with the reason, then close (runtime.sni_refusal)
                self.refusal = sni_refusal.Refusal(transport, sni, f"{ip}:{port}")
            else:
                transport.abort()
            return
        self.tenant = tenant
        self.trace = tenant.tracer
        self.peer = PeerInfo(listener=self.listener.name, ip_address=ip, port=port, peersni=sni, cn=cn, dn=dn)
        self.channel_id = self.hub.new_channel_id()
        self.hub.connections[self.channel_id] = self
        self.listener.connections.add(self)
        self.framer = Framer(tenant.spec.limits.max_packet_size)
        self._defer_eof = sslobj is None
        self.channel = tenant.broker.open_channel(self.channel_id, self.peer, time.time())
        self.arm_timer()

    def data_received(self, data: bytes) -> None:
        if self.closed:
            if self.refusal is not None:
                self.refusal.feed(data)
            return
        channel = self.channel
        assert channel is not None
        now = time.time()
        try:
            channel.bytes_received(len(data))
            try:
                frames = self.framer.feed(data)
            except MQTTError as exc:
                self._fail(exc, now)
                return
            if self.authenticating or self._held_frames:
                self._hold_frames(frames)
                return
            # The tenant's message rate (shared Serverless process): what it does not admit now waits.
            allowed, wait = fairness.admit(self, frames)
            self._handle_frames(frames if allowed == len(frames) else frames[:allowed], now)
            if allowed < len(frames) and not self.closed:
                self._hold_frames(frames[allowed:])
                self._schedule_backlog(wait)
            if not self.closed:
                self.arm_timer()
        except Exception:
            self._crash(now)

    def _handle_frames(self, frames: list[Frame], now: float) -> None:
        """Handle frames just read: at most MAX_FRAMES_PER_TICK now, the rest from the backlog."""
        if len(frames) > MAX_FRAMES_PER_TICK:
            # Yield to the loop: this tick's answers get flushed and other connections get a turn;
            # the rest is handled from the backlog on the next iterations (reading paused meanwhile).
            done = self._handle_run(frames[:MAX_FRAMES_PER_TICK], now)
            if self.closed:
                return
            if self.authenticating:  # handled after `connect_decided` (authentication_finished)
                self._hold_frames(frames[done:])
                return
            self._hold_frames(frames[MAX_FRAMES_PER_TICK:])
            self._schedule_backlog()
            return
        done = self._handle_run(frames, now)
        if done < len(frames) and not self.closed:  # authentication started: the rest waits
            self._hold_frames(frames[done:])

    def _handle_run(self, frames: list[Frame], now: float) -> int:
        """Decode, handle and perform `frames` in order; returns how many were handled.

        Stops after a frame that closed the connection or started authentication (the caller keeps
        the rest, in order). One call per batch of frames, not per frame: the backlog drains through
        it too (fan-in: most frames arrive in reads of more than MAX_FRAMES_PER_TICK packets).
        """
        channel = self.channel
        tenant = self.tenant
        assert channel is not None
        assert tenant is not None
        perform = tenant.perform
        handle = channel.handle
        trace = self.trace
        done = 0
        for first, body in frames:
            done += 1
            try:
                packet = decode(first, body, channel.version)  # (`protocol_version` without the call)
                if trace is not None:
                    trace.inbound(self, packet)
                actions = handle(packet, now)  # raises ProtocolError: `fail` answers it
            except MQTTError as exc:
                self._fail(exc, now)
                return done
            if actions:
                perform(actions)
            if self.closed or self.authenticating:
                return done
        return done

    def _hold_frames(self, frames: list[Frame]) -> None:
        for frame in frames:
            self._held_frames.append(frame)
            self._held_frames_size += len(frame[1]) + 2
        if self._held_frames_size > MAX_HELD_INPUT and not self._reading_paused and self.transport:
            self._reading_paused = True
            self.transport.pause_reading()

    def _accepting_input(self) -> bool:
        return not self.closed and not self.authenticating

    def authentication_started(self) -> None:
        self.authenticating = True

    def authentication_finished(self) -> None:
        """Called after `connect_decided` was performed: handle what arrived meanwhile."""
        self.authenticating = False
        self._drain_backlog()

    def _schedule_backlog(self, delay: float = 0.0) -> None:
        if self._backlog_scheduled:
            return
        self._backlog_scheduled = True
        if not self._reading_paused and self.transport is not None:
            self._reading_paused = True
            self.transport.pause_reading()
        if delay > 0:  # the tenant is over its message rate (runtime.fairness)
            asyncio.get_running_loop().call_later(delay, self._drain_backlog)
        else:
            asyncio.get_running_loop().call_soon(self._drain_backlog)

    def _drain_backlog(self) -> None:
        """Handle up to MAX_FRAMES_PER_TICK held frames, oldest first; reschedule while more remain."""
        self._backlog_scheduled = False
        if not self._accepting_input():
            return
        now = time.time()
        try:
            held = self._held_frames
            allowed, wait = fairness.admit(self, list(islice(held, MAX_FRAMES_PER_TICK)))
            batch = [held.popleft() for _ in range(min(allowed, len(held)))]
            self._held_frames_size -= sum(len(body) for _first, body in batch) + 2 * len(batch)
            done = self._handle_run(batch, now)
            if self.closed:
                return
            if done < len(batch):  # authentication started: the rest waits, in order, at the front
                rest = batch[done:]
                held.extendleft(reversed(rest))
                self._held_frames_size += sum(len(body) for _first, body in rest) + 2 * len(rest)
            if held:
                if not self.authenticating:
                    self._schedule_backlog(wait)
                return
            if self._reading_paused and not self._writing_paused and self.transport is not None:
                self._reading_paused = False
                self.transport.resume_reading()
            self.arm_timer()
        except Exception:
            self._crash(now)

    def _fail(self, exc: MQTTError, now: float) -> None:
        """A decode/protocol error: the core answers (CONNACK/DISCONNECT) and closes."""
        log.debug("channel %d: %r", self.channel_id, exc)
        assert self.channel is not None
        assert self.tenant is not None
        self.tenant.perform(self.channel.fail(exc, now))
        if not self.closed:
            # The core must close after a failure; make sure the connection does not linger.
            self.close_by_core("protocol error", 0)

    def _crash(self, now: float) -> None:
        log.exception("channel %d: internal error; closing this connection only", self.channel_id)
        if self.closed:
            return
        self.closed = True
        if self.transport is not None:
            self.transport.abort()
        self._report_closed(now)

    def eof_received(self) -> bool:
        """The peer closed its side: close ours through the hub's batches (True keeps it open)."""
        self._peer_eof = True
        if not self._defer_eof or self.closed:
            return False  # the transport closes now (TLS ignores True, and warns)
        self.hub.close_soon(self)
        return True

    def finish_close(self) -> None:
        """Close the transport (the hub's batch): gracefully after the core's close (module rules)."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if not (self.closed and self._defer_eof and not self._peer_eof and _can_write_eof(transport)):
            transport.close()
            return
        transport.write_eof()  # FIN once what is buffered (our DISCONNECT) is written
        if self._reading_paused:
            self._reading_paused = False
            transport.resume_reading()  # read and discard (`data_received` drops input once closed)
        self._cancel_timer()
        self._timer = asyncio.get_running_loop().call_later(LINGER, transport.abort)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()
        if self.channel is None:
            return
        self.listener.connections.discard(self)
        if self.trace is not None:
            self.trace.closed(self, "peer closed" if exc is None else repr(exc))
        self.closed = True
        self._held.clear()
        self._report_closed(time.time())
        connections = self.hub.connections
        connections.pop(self.channel_id, None)
        if not connections:
            self.hub.empty.set()

    def _report_closed(self, now: float) -> None:
        """Tell the core the transport is gone (once), unless the core itself asked for the close."""
        if self.core_closed or self.tenant is None or self.channel is None:
            return
        self.core_closed = True  # report once
        try:
            self.tenant.perform(self.tenant.broker.channel_closed(self.channel_id, now))
        except Exception:
            log.exception("channel %d: channel_closed failed", self.channel_id)

    def pause_writing(self) -> None:
        # The peer reads slower than we write: stop reading from it so it cannot make us produce more.
        self._writing_paused = True
        if not self._reading_paused and self.transport is not None:
            self._reading_paused = True
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self._writing_paused = False
        channel = self.channel
        transport = self.transport
        if (
            channel is not None
            and transport is not None
            and not self.closed
            and channel.flushed(0, transport.get_write_buffer_size())
        ):
            self._writable()
        if self._reading_paused and not self.authenticating and not self._held_frames and self.transport:
            self._reading_paused = False
            self.transport.resume_reading()

    # ------------------------------------------------------------------------------------- sending

    def send(self, data: bytes, seq: int) -> None:
        """Queue `data` for this tick's flush; `seq` > 0 = held until that log entry is durable."""
        if self.closed:
            return
        if self.trace is not None:
            self.trace.outbound(self, data)
        if self._held or (seq and self.tenant is not None and seq > self.tenant.store.durable_seq):
            self._held.append((seq, data))
            return
        self._out.append(data)
        if not self._dirty:
            self._dirty = True
            self.hub.mark_dirty(self)

    def close_by_core(self, reason: str, seq: int) -> None:
        """The core's `Close`: flush what was sent before it, then close (after `seq` is durable)."""
        if self.closed:
            return
        if self._held or (seq and self.tenant is not None and seq > self.tenant.store.durable_seq):
            self._held.append((seq, _CLOSE))
            return
        log.debug("channel %d: closing (%s)", self.channel_id, reason)
        self.core_closed = True
        self.closed = True
        self._cancel_timer()
        self.flush()
        if self.transport is not None:
            self.hub.close_soon(self)  # a kick-all closes 10,000: spread over iterations

    def barrier_passed(self, token: int, seq: int) -> None:
        """Sends held with a cluster `route_barrier` token now wait only for log entry `seq` (0: none)."""
        held = self._held
        for i, (held_seq, data) in enumerate(held):
            if held_seq == token:
                held[i] = (seq, data)
        self.release(self.tenant.store.durable_seq if self.tenant is not None else 0)

    def release(self, durable_seq: int) -> None:
        """Sends held for durability whose log entries are now on disk go out, in order."""
        held = self._held
        if self.closed:
            held.clear()
            return
        released = False
        while held and held[0][0] <= durable_seq:
            _seq, data = held.popleft()
            if data is _CLOSE:
                held.clear()
                self.close_by_core("after durable write", 0)
                return
            self._out.append(data)
            released = True
        if released and not self._dirty:
            self._dirty = True
            self.hub.mark_dirty(self)

    def flush(self) -> None:
        """Write everything queued this tick in one call."""
        self._dirty = False
        out = self._out
        if not out or self.transport is None:
            return
        data = out[0] if len(out) == 1 else b"".join(out)
        out.clear()
        transport = self.transport
        if transport.is_closing():
            return
        transport.write(data)
        channel = self.channel
        if channel is not None and channel.flushed(len(data), transport.get_write_buffer_size()):
            self._writable()
        if self._writing_paused and transport.get_write_buffer_size() > MAX_WRITE_BUFFER:
            log.warning(
                "channel %d: slow consumer (%d bytes unsent); closing", self.channel_id, MAX_WRITE_BUFFER
            )
            self.closed = True
            transport.abort()
            self._report_closed(time.time())
            return
        if not self.closed:
            self.arm_timer()

    def _writable(self) -> None:
        """Deliveries wait in the session queue and the socket has room: send them (next flush)."""
        if self.closed or self.channel is None or self.tenant is None:
            return
        now = time.time()
        try:
            self.tenant.perform(self.channel.writable(now))
        except Exception:
            self._crash(now)

    def abort(self) -> None:
        """Close without a word (listener removed, shutdown deadline passed)."""
        if self.transport is not None:
            self.transport.abort()

    # ------------------------------------------------------------------------------------ deadlines

    def arm_timer(self) -> None:
        channel = self.channel
        if channel is None or self.closed:  # a closing connection's timer is its LINGER deadline
            return
        if self._timer is not None and time.time() >= self._timer_settled:
            return  # nothing the last event can have set comes sooner (Channel.deadline_horizon)
        deadline = channel.next_deadline()
        if deadline is None:
            return
        if self._timer is not None and self._timer_at <= deadline:
            deadline = self._timer_at  # the armed timer comes first and stays
        else:
            if self._timer is not None:
                self._timer.cancel()
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(max(0.0, deadline - time.time()), self._on_timer)
            self._timer_at = deadline
        self._timer_settled = deadline - channel.deadline_horizon()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _on_timer(self) -> None:
        self._timer = None
        if self.closed or self.channel is None or self.tenant is None:
            return
        now = time.time()
        try:
            deadline = self.channel.next_deadline()
            if deadline is not None and deadline <= now:
                self.tenant.perform(self.channel.tick(now))
            if not self.closed:
                self.arm_timer()
        except Exception:
            self._crash(now)


def _can_write_eof(transport: asyncio.Transport) -> bool:
    """Whether the transport can half-close (plain TCP; not TLS, and not the WebSocket adapter)."""
    try:
        return transport.can_write_eof()
    except NotImplementedError:  # asyncio.Transport's default (the WebSocket adapter)
        return False
