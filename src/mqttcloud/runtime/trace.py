"""Log traces: a tenant's traffic for one client id, topic filter or IP address, written to bounded files.

`TenantTraces` owns a tenant's traces (`contracts.TraceSpec`, from its spec): one `TraceFile` each in
`<data_dir>/trace/<tenant>/<name>.log`, opened while the trace's window runs, and a timer for the next
window edge. While at least one trace runs, the tenant has a `Tracer` (else None): connections hold it
as `MqttConnection.trace`, the tenant's authorizer is wrapped in a `TracingAuthorizer`, and
authentication decisions are reported to it. It writes one line per event, EMQX-style:
`<time> [MQTT] <clientid>@<ip>:<port> msg: mqtt_packet_received, packet: PUBLISH(...)`.

Rules this module must not break:
- A tenant with no running trace pays one `is not None` test per read batch and per send: nothing of
  this module runs on the hot path then.
- A file never grows past its trace's `max_bytes`: the line that would pass it is replaced by one
  "trace file is full" line and later events are dropped. Lines are buffered and written once per loop
  tick, never with a write per packet.
- Passwords never reach a file; payloads follow the trace's `payload_encode` (text, hex, hidden).
"""

import asyncio
import base64
import contextlib
import dataclasses
import datetime as dt
import ipaddress
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from mqttcloud import contracts
from mqttcloud.broker.hooks import Authorizer, AuthRequest, ClientContext, ConnectDecision, PeerInfo
from mqttcloud.protocol import topics
from mqttcloud.protocol.decode import decode
from mqttcloud.protocol.errors import MQTTError
from mqttcloud.protocol.framer import Framer
from mqttcloud.protocol.packets import PACKET_TYPES, Connect, Packet, Publish, Subscribe, Unsubscribe, Will
from mqttcloud.protocol.properties import Properties

if TYPE_CHECKING:
    from mqttcloud.runtime.connection import MqttConnection

log = logging.getLogger(__name__)

MAX_PAYLOAD_SHOWN = 1024  # payload bytes written per packet (EMQX's default payload limit)
FULL_LINE = "trace file is full: later events are dropped"


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


class TraceFile:
    """One trace's file: lines buffered, then appended once per tick, up to `max_bytes`."""

    def __init__(self, spec: contracts.TraceSpec, path: Path) -> None:
        self.spec = spec
        self.path = path
        self.size = path.stat().st_size if path.exists() else 0
        self.full = self.size >= spec.max_bytes
        self._pending: list[bytes] = []
        self._file: BinaryIO | None = None
        self._scheduled = False

    def write(self, line: str) -> None:
        if self.full:
            return
        data = (line + "\n").encode("utf-8", "replace")
        if self.size + len(data) > self.spec.max_bytes:
            self.full = True
            data = f"{_now_iso()} [TRACE] {FULL_LINE} ({self.spec.max_bytes} bytes)\n".encode()
            if self.size + len(data) > self.spec.max_bytes:
                return
        self.size += len(data)
        self._pending.append(data)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        self._scheduled = False
        if not self._pending:
            return
        data, self._pending = b"".join(self._pending), []
        try:
            if self._file is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = self.path.open("ab")
            self._file.write(data)
            self._file.flush()
        except OSError as exc:
            log.warning("trace %s: cannot write %s: %s", self.spec.name, self.path, exc)

    def close(self) -> None:
        self.flush()
        if self._file is not None:
            self._file.close()
            self._file = None


def _payload(payload: bytes, encode: str) -> str:
    if encode == "hidden":
        return "******"
    shown = payload[:MAX_PAYLOAD_SHOWN]
    more = f"...({len(payload)} bytes)" if len(payload) > MAX_PAYLOAD_SHOWN else ""
    if encode == "hex":
        return shown.hex() + more
    return shown.decode("utf-8", "replace") + more


def _value(name: str, value: object, encode: str) -> str:
    if name == "password":
        return "******" if value is not None else "None"
    if name in {"payload", "correlation_data", "authentication_data"} and isinstance(value, bytes):
        return _payload(value, encode)
    if isinstance(value, Will):
        shown = _payload(value.payload, encode)
        return f"Will(topic={value.topic}, qos={int(value.qos)}, retain={value.retain}, payload={shown})"
    if isinstance(value, Properties):
        return (
            "{"
            + ", ".join(
                f"{f.name}={_value(f.name, getattr(value, f.name), encode)}"
                for f in dataclasses.fields(value)
                if getattr(value, f.name) not in (None, ())
            )
            + "}"
        )
    if isinstance(value, tuple) and value and dataclasses.is_dataclass(value[0]):
        return "[" + ", ".join(_value("", item, encode) for item in value) + "]"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        inner = ", ".join(
            f"{f.name}={_value(f.name, getattr(value, f.name), encode)}" for f in dataclasses.fields(value)
        )
        return f"{type(value).__name__}({inner})"
    return str(int(value)) if isinstance(value, int) and not isinstance(value, bool) else str(value)


def format_packet(packet: Packet, encode: str) -> str:
    """`PUBLISH(topic=t, payload=hi, qos=1, ...)`: every field but empty properties, password hidden."""
    fields = ", ".join(
        f"{f.name}={_value(f.name, getattr(packet, f.name), encode)}"
        for f in dataclasses.fields(packet)
        if not (f.name == "properties" and getattr(packet, f.name).is_empty())
    )
    return f"{PACKET_TYPES[type(packet)].name}({fields})"


def _who(clientid: str, peer: PeerInfo | None) -> str:
    return f"{clientid}@{peer.ip_address}:{peer.port}" if peer is not None else clientid


class Tracer:
    """The running traces of one tenant, indexed for matching; built anew whenever the set changes."""

    def __init__(self, files: list[TraceFile]) -> None:
        self.files = files
        self.by_clientid: dict[str, list[TraceFile]] = {}
        self.by_ip: dict[str, list[TraceFile]] = {}
        self.by_topic: list[TraceFile] = []
        for file in files:
            kind = file.spec.type
            if kind is contracts.TraceType.CLIENTID:
                self.by_clientid.setdefault(file.spec.filter, []).append(file)
            elif kind is contracts.TraceType.IP_ADDRESS:
                self.by_ip.setdefault(_normal_ip(file.spec.filter), []).append(file)
            else:
                self.by_topic.append(file)

    def _client_files(self, clientid: str, peer: PeerInfo | None) -> list[TraceFile]:
        found = list(self.by_clientid.get(clientid, ()))
        if peer is not None and self.by_ip:
            found += [f for f in self.by_ip.get(_normal_ip(peer.ip_address), ()) if f not in found]
        return found

    def _topic_files(self, names: tuple[str, ...], found: list[TraceFile]) -> list[TraceFile]:
        for file in self.by_topic:
            if file not in found and any(_topic_matches(file.spec.filter, n) for n in names):
                found.append(file)
        return found

    def _packet_files(self, clientid: str, peer: PeerInfo | None, packet: Packet) -> list[TraceFile]:
        found = self._client_files(clientid, peer)
        if self.by_topic:
            match packet:
                case Publish(topic=topic):
                    found = self._topic_files((topic,), found)
                case Subscribe(subscriptions=subs):
                    found = self._topic_files(tuple(s.topic_filter for s in subs), found)
                case Unsubscribe(topic_filters=filters):
                    found = self._topic_files(filters, found)
                case _:
                    pass
        return found

    def inbound(self, conn: "MqttConnection", packet: Packet) -> None:
        """A packet read from `conn`, before the core handles it."""
        channel = conn.channel
        clientid = packet.client_id if isinstance(packet, Connect) else (channel.clientid if channel else "")
        self._packet(clientid, conn.peer, packet, "mqtt_packet_received")

    def outbound(self, conn: "MqttConnection", data: bytes) -> None:
        """Bytes queued for `conn` (one or more whole packets), decoded only when a trace may want them."""
        channel = conn.channel
        clientid = channel.clientid if channel is not None else ""
        if not self.by_topic and not self._client_files(clientid, conn.peer):
            return
        version = channel.version if channel is not None else 5
        try:
            frames = Framer().feed(data)
            packets = [decode(first, body, version) for first, body in frames]
        except MQTTError:
            line = f"msg: mqtt_bytes_sent, hex: {data[:MAX_PAYLOAD_SHOWN].hex()}"
            for file in self._client_files(clientid, conn.peer):
                file.write(f"{_now_iso()} [MQTT] {_who(clientid, conn.peer)} {line}")
            return
        for packet in packets:
            self._packet(clientid, conn.peer, packet, "mqtt_packet_sent")

    def _packet(self, clientid: str, peer: PeerInfo | None, packet: Packet, what: str) -> None:
        files = self._packet_files(clientid, peer, packet)
        if not files:
            return
        stamp, who = _now_iso(), _who(clientid, peer)
        for file in files:
            text = format_packet(packet, file.spec.payload_encode)
            file.write(f"{stamp} [MQTT] {who} msg: {what}, packet: {text}")

    def authenticated(self, request: AuthRequest, decision: ConnectDecision) -> None:
        files = self._client_files(request.clientid, request.peer)
        if not files:
            return
        result = "allow" if decision.allowed else "deny"
        line = (
            f"{_now_iso()} [AUTHN] {_who(request.clientid, request.peer)} msg: authentication_result, "
            f"username: {request.username}, result: {result}, reason_code: {decision.reason_code.name}"
            f", superuser: {decision.is_superuser}"
        )
        for file in files:
            file.write(line)

    def authorized(self, client: ClientContext, action: str, topic: str, allowed: bool) -> None:
        files = self._topic_files((topic,), self._client_files(client.clientid, client.peer))
        if not files:
            return
        line = (
            f"{_now_iso()} [AUTHZ] {_who(client.clientid, client.peer)} msg: authorization_result, "
            f"action: {action}, topic: {topic}, result: {'allow' if allowed else 'deny'}"
        )
        for file in files:
            file.write(line)

    def closed(self, conn: "MqttConnection", reason: str) -> None:
        channel = conn.channel
        clientid = channel.clientid if channel is not None else ""
        line = f"{_now_iso()} [SOCKET] {_who(clientid, conn.peer)} msg: connection_closed, reason: {reason}"
        for file in self._client_files(clientid, conn.peer):
            file.write(line)


def _normal_ip(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text


def _topic_matches(topic_filter: str, name: str) -> bool:
    """A PUBLISH topic against the trace's filter, or a SUBSCRIBE filter equal to it or under it."""
    try:
        return topic_filter == name or topics.match(topic_filter, name)
    except MQTTError:
        return False


class TracingAuthorizer:
    """The tenant's authorizer while a trace runs: the same answers, each also reported to the tracer."""

    __slots__ = ("inner", "tracer")

    def __init__(self, inner: Authorizer, tracer: Tracer) -> None:
        self.inner = inner
        self.tracer = tracer

    def can_publish(self, client: ClientContext, topic: str) -> bool:
        allowed = self.inner.can_publish(client, topic)
        self.tracer.authorized(client, "publish", topic, allowed)
        return allowed

    def can_subscribe(self, client: ClientContext, topic_filter: str) -> bool:
        allowed = self.inner.can_subscribe(client, topic_filter)
        self.tracer.authorized(client, "subscribe", topic_filter, allowed)
        return allowed


class TenantTraces:
    """Every trace of one tenant: files, the running set and the timer for the next window edge.

    `on_change(tracer)` is called with the new `Tracer` (None: no trace runs) whenever the running set
    changes, by `apply` or at a window edge.
    """

    def __init__(self, directory: Path, on_change: Callable[[Tracer | None], None]) -> None:
        self.directory = directory
        self.on_change = on_change
        self.specs: dict[str, contracts.TraceSpec] = {}
        self.files: dict[str, TraceFile] = {}
        self.tracer: Tracer | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._running: frozenset[str] = frozenset()
        self._applied = False

    def path(self, name: str) -> Path:
        return self.directory / f"{name}.log"

    def apply(self, specs: list[contracts.TraceSpec]) -> None:
        """Take the tenant's traces from its spec: files of removed traces are deleted."""
        wanted = {spec.name: spec for spec in specs}
        if self._applied and wanted == self.specs:
            return
        self._applied = True
        for name in set(self.files) - set(wanted):
            self.files.pop(name).close()
        for name, spec in wanted.items():
            current = self.files.get(name)
            if current is not None and current.spec != spec:
                current.close()
                self.files[name] = TraceFile(spec, self.path(name))
            elif current is None:
                self.files[name] = TraceFile(spec, self.path(name))
        self.specs = wanted
        if self.directory.exists():
            for leftover in self.directory.glob("*.log"):
                if leftover.stem not in wanted:
                    with contextlib.suppress(OSError):
                        leftover.unlink()
        self.refresh(rebuild=True)  # files may be new objects

    def refresh(self, *, rebuild: bool = False) -> None:
        """Recompute the running set at the current time and arm the timer for the next edge."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        now = time.time()
        running = frozenset(n for n, s in self.specs.items() if s.start_at <= now < s.end_at)
        if rebuild or running != self._running:
            for name in self._running - running:
                file = self.files.get(name)
                if file is not None:
                    file.close()
            self._running = running
            tracer = Tracer([self.files[n] for n in sorted(running)]) if running else None
            if tracer is not None or self.tracer is not None:
                self.tracer = tracer
                self.on_change(tracer)
        edges = [t for s in self.specs.values() for t in (s.start_at, s.end_at) if t > now]
        if edges:
            delay = min(min(edges) - now, 3600.0)  # re-checked at least hourly (clock changes)
            self._timer = asyncio.get_running_loop().call_later(delay + 0.001, self.refresh)

    def read(self, name: str, offset: int, limit: int) -> contracts.TraceLogResult:
        """Up to `limit` bytes of trace `name`'s file from `offset`. Raises: KeyError (no such trace)."""
        file = self.files[name]
        file.flush()
        try:
            stat = os.stat(file.path)
        except FileNotFoundError:
            return contracts.TraceLogResult(size=0, mtime=None)
        data = b""
        if limit and offset < stat.st_size:
            with file.path.open("rb") as handle:
                handle.seek(offset)
                data = handle.read(limit)
        return contracts.TraceLogResult(
            size=stat.st_size, mtime=stat.st_mtime, data_b64=base64.b64encode(data).decode("ascii")
        )

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for file in self.files.values():
            file.close()
