"""RFC 6455 server side, sans-I/O: the opening handshake and the frame codec for MQTT over WebSocket.

MQTT over WebSocket ([MQTT-6.0.0-1..4]) sends MQTT bytes in *binary* frames; one frame may carry part of a
packet or several packets, so this module turns frames back into a byte stream and leaves packet
boundaries to the MQTT framer. `WebSocketServer.receive_data(bytes)` returns events; the bytes to send
back come from `accept()`, `reject()`, `send()` and `close()`. Nothing here does I/O.

Rules this module must not break:
- Every buffer is bounded: the handshake by `MAX_HANDSHAKE`, a message by `max_message` (a frame
  announcing more is refused with close code 1009 before its payload arrives).
- Client frames must be masked ([RFC 6455 5.1]); an unmasked frame, a reserved bit or opcode, a text
  frame ([MQTT-6.0.0-1]) or a bad control frame is a protocol error (close 1002/1003), never an exception.
"""

import base64
import hashlib
import struct
from dataclasses import dataclass, field
from enum import Enum, IntEnum

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_HANDSHAKE = 16 * 1024  # bytes of request line + headers


class Opcode(IntEnum):
    CONTINUATION = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA


_OPCODES = frozenset(int(op) for op in Opcode)


class CloseCode(IntEnum):
    NORMAL = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    MESSAGE_TOO_BIG = 1009


class WsState(Enum):
    HANDSHAKE = "handshake"  # waiting for the HTTP upgrade request
    OPEN = "open"
    CLOSED = "closed"  # a close frame was sent or the handshake was refused; ignore further input


@dataclass(frozen=True, slots=True)
class Request:
    """The opening handshake arrived; answer with `accept()` or `reject()`."""

    path: str
    headers: dict[str, str]  # lower-cased names; repeated headers joined with ", "
    subprotocols: list[str]


@dataclass(frozen=True, slots=True)
class Data:
    """Bytes from one binary frame (possibly a fragment): part of the MQTT byte stream."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Closed:
    """The peer closed, or the peer broke the protocol; `reply` must be sent before closing the socket."""

    code: int
    reason: str
    reply: bytes = b""


@dataclass(frozen=True, slots=True)
class Reply:
    """Bytes to send now (a pong)."""

    data: bytes


WsEvent = Request | Data | Closed | Reply


class HandshakeError(Exception):
    """The upgrade request is not a valid WebSocket handshake; `status` is the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def accept_key(key: str) -> str:
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key ([RFC 6455 4.2.2])."""
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + GUID).digest()).decode("ascii")  # noqa: S324  (RFC 6455 mandates SHA-1)


def encode_frame(opcode: Opcode, payload: bytes, *, mask: bytes | None = None) -> bytes:
    """One final frame. Servers send unmasked frames; `mask` exists for tests that play the client."""
    n = len(payload)
    first = 0x80 | opcode
    mask_bit = 0x80 if mask is not None else 0
    if n < 126:
        header = struct.pack("!BB", first, mask_bit | n)
    elif n < 65536:
        header = struct.pack("!BBH", first, mask_bit | 126, n)
    else:
        header = struct.pack("!BBQ", first, mask_bit | 127, n)
    if mask is None:
        return header + payload
    return header + mask + apply_mask(payload, mask)


def apply_mask(data: bytes | bytearray | memoryview, mask: bytes) -> bytes:
    """XOR `data` with the 4-byte `mask` repeated; one big-integer XOR instead of a per-byte loop."""
    n = len(data)
    if n == 0:
        return b""
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(key, "little")).to_bytes(n, "little")


def _parse_request(head: bytes) -> Request:
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError as exc:  # pragma: no cover - latin-1 decodes every byte
        raise HandshakeError(400, "undecodable request") from exc
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or parts[0] != "GET" or not parts[2].startswith("HTTP/1."):
        raise HandshakeError(400, "not an HTTP GET request")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise HandshakeError(400, "malformed header line")
        key = name.strip().lower()
        value = value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    subprotocols = [p.strip() for p in headers.get("sec-websocket-protocol", "").split(",") if p.strip()]
    return Request(path=parts[1], headers=headers, subprotocols=subprotocols)


@dataclass(slots=True)
class _Partial:
    """The fragmented data message being received, if any."""

    active: bool = False
    size: int = 0


@dataclass(slots=True)
class WebSocketServer:
    """Server side of one WebSocket connection.

    Args:
        path: the only request path accepted (others get 404).
        max_message: largest payload accepted in one frame and in one fragmented message.
    """

    path: str = "/mqtt"
    max_message: int = 1024 * 1024 + 16
    state: WsState = WsState.HANDSHAKE
    _buffer: bytearray = field(default_factory=bytearray)
    _partial: _Partial = field(default_factory=_Partial)

    def receive_data(self, data: bytes) -> list[WsEvent]:
        """Feed bytes from the socket; return what they mean, in order."""
        if self.state is WsState.CLOSED:
            return []
        self._buffer += data
        if self.state is WsState.HANDSHAKE:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > MAX_HANDSHAKE:
                    raise HandshakeError(431, "request header too large")
                return []
            head = bytes(self._buffer[:end])
            del self._buffer[: end + 4]
            request = _parse_request(head)
            self._check(request)
            # Frames may follow the handshake in the same segment; they are parsed after accept().
            return [request]
        return self._frames()

    def _check(self, request: Request) -> None:
        target = request.path.split("?", 1)[0]
        if target != self.path:
            raise HandshakeError(404, f"unknown path {target!r}")
        headers = request.headers
        if "websocket" not in headers.get("upgrade", "").lower():
            raise HandshakeError(400, "missing Upgrade: websocket")
        if "upgrade" not in headers.get("connection", "").lower():
            raise HandshakeError(400, "missing Connection: Upgrade")
        if headers.get("sec-websocket-version") != "13":
            raise HandshakeError(426, "unsupported Sec-WebSocket-Version")
        key = headers.get("sec-websocket-key", "")
        try:
            raw = base64.b64decode(key, validate=True)
        except ValueError as exc:
            raise HandshakeError(400, "bad Sec-WebSocket-Key") from exc
        if len(raw) != 16:
            raise HandshakeError(400, "bad Sec-WebSocket-Key")

    def accept(self, request: Request) -> bytes:
        """The 101 response. Picks subprotocol `mqtt` (or the legacy `mqttv3.1`) when the client offers it."""
        self.state = WsState.OPEN
        lines = [
            "HTTP/1.1 101 Switching Protocols",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Accept: {accept_key(request.headers['sec-websocket-key'])}",
        ]
        for proto in ("mqtt", "mqttv3.1"):
            if proto in request.subprotocols:
                lines.append(f"Sec-WebSocket-Protocol: {proto}")
                break
        return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")

    def pending_events(self) -> list[WsEvent]:
        """Frames that arrived together with the handshake; call right after `accept()`."""
        return self._frames() if self._buffer else []

    def reject(self, status: int, message: str) -> bytes:
        self.state = WsState.CLOSED
        reason = {400: "Bad Request", 404: "Not Found", 426: "Upgrade Required", 431: "Too Large"}.get(
            status, "Error"
        )
        body = message.encode("utf-8", "replace")
        extra = "Sec-WebSocket-Version: 13\r\n" if status == 426 else ""
        return (
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
            f"{extra}Connection: close\r\n\r\n"
        ).encode("ascii") + body

    def send(self, data: bytes) -> bytes:
        """One binary frame carrying `data`."""
        return encode_frame(Opcode.BINARY, data)

    def close(self, code: int = CloseCode.NORMAL, reason: str = "") -> bytes:
        """A close frame; afterwards input is ignored."""
        if self.state is not WsState.OPEN:
            self.state = WsState.CLOSED
            return b""
        self.state = WsState.CLOSED
        return encode_frame(Opcode.CLOSE, struct.pack("!H", code) + reason.encode("utf-8")[:120])

    def _fail(self, code: CloseCode, reason: str) -> list[WsEvent]:
        reply = self.close(code, reason)
        self._buffer.clear()
        return [Closed(code=code, reason=reason, reply=reply)]

    def _frames(self) -> list[WsEvent]:
        events: list[WsEvent] = []
        buf = self._buffer
        pos = 0
        while self.state is WsState.OPEN:
            avail = len(buf) - pos
            if avail < 2:
                break
            b0 = buf[pos]
            b1 = buf[pos + 1]
            fin = b0 & 0x80
            opcode = b0 & 0x0F
            if b0 & 0x70:
                return [*events, *self._fail(CloseCode.PROTOCOL_ERROR, "reserved bits set")]
            if not b1 & 0x80:
                return [*events, *self._fail(CloseCode.PROTOCOL_ERROR, "client frame not masked")]
            length = b1 & 0x7F
            header = 2
            if length == 126:
                if avail < 4:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 4], "big")
                header = 4
            elif length == 127:
                if avail < 10:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                header = 10
            is_control = opcode >= 0x8
            if is_control and (length > 125 or not fin):
                return [*events, *self._fail(CloseCode.PROTOCOL_ERROR, "bad control frame")]
            if opcode not in _OPCODES:
                return [*events, *self._fail(CloseCode.PROTOCOL_ERROR, "reserved opcode")]
            if opcode == Opcode.TEXT:
                return [*events, *self._fail(CloseCode.UNSUPPORTED_DATA, "text frames are not MQTT")]
            if not is_control:
                total = length + (self._partial.size if opcode == Opcode.CONTINUATION else 0)
                if total > self.max_message:
                    return [*events, *self._fail(CloseCode.MESSAGE_TOO_BIG, "message too big")]
            if avail < header + 4 + length:
                break
            mask = bytes(buf[pos + header : pos + header + 4])
            start = pos + header + 4
            payload = apply_mask(memoryview(buf)[start : start + length], mask)
            pos = start + length
            if opcode in (Opcode.BINARY, Opcode.CONTINUATION):
                if opcode == Opcode.CONTINUATION and not self._partial.active:
                    return [*events, *self._fail(CloseCode.PROTOCOL_ERROR, "unexpected continuation")]
                if opcode == Opcode.BINARY and self._partial.active:
                    return [*events, *self._fail(CloseCode.PROTOCOL_ERROR, "expected continuation")]
                self._partial.active = not fin
                self._partial.size = 0 if fin else self._partial.size + length
                if payload:
                    events.append(Data(payload))
            elif opcode == Opcode.PING:
                events.append(Reply(encode_frame(Opcode.PONG, payload)))
            elif opcode == Opcode.CLOSE:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else CloseCode.NORMAL
                reason = payload[2:].decode("utf-8", "replace")
                reply = self.close(code if len(payload) >= 2 else CloseCode.NORMAL)
                events.append(Closed(code=code, reason=reason, reply=reply))
                break
            # PONG: unsolicited pongs are allowed and ignored.
        del buf[:pos]
        return events
