"""Raw-byte MQTT helpers for black-box broker tests (mosquitto `test/mosq_test.py` style).

Packets are built by hand here, not with `mqttcloud.protocol`, so a codec bug cannot hide itself.
"""

import socket
import ssl
import struct
import time


def vbi(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n % 128
        n //= 128
        if n:
            byte |= 0x80
        out.append(byte)
        if not n:
            return bytes(out)


def utf8(s: str) -> bytes:
    raw = s.encode()
    return struct.pack("!H", len(raw)) + raw


def packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + vbi(len(body)) + body


def connect(
    client_id: str,
    *,
    version: int = 4,
    keepalive: int = 60,
    clean: bool = True,
    username: str | None = None,
    password: str | None = None,
    properties: bytes = b"",
) -> bytes:
    flags = 0x02 if clean else 0
    if username is not None:
        flags |= 0x80
    if password is not None:
        flags |= 0x40
    body = utf8("MQTT") + bytes([version, flags]) + struct.pack("!H", keepalive)
    if version == 5:
        body += vbi(len(properties)) + properties
    body += utf8(client_id)
    if username is not None:
        body += utf8(username)
    if password is not None:
        body += utf8(password)
    return packet(0x10, body)


def subscribe(mid: int, topic: str, qos: int = 0, *, version: int = 4) -> bytes:
    body = struct.pack("!H", mid) + (b"\x00" if version == 5 else b"") + utf8(topic) + bytes([qos])
    return packet(0x82, body)


def publish(
    topic: str, payload: bytes, *, qos: int = 0, mid: int = 0, retain: bool = False, version: int = 4
) -> bytes:
    first = 0x30 | (qos << 1) | (1 if retain else 0)
    body = (
        utf8(topic) + (struct.pack("!H", mid) if qos else b"") + (b"\x00" if version == 5 else b"") + payload
    )
    return packet(first, body)


def puback(mid: int) -> bytes:
    return packet(0x40, struct.pack("!H", mid))


PINGREQ = b"\xc0\x00"
PINGRESP = b"\xd0\x00"
DISCONNECT = b"\xe0\x00"
CONNACK_V4_OK = b"\x20\x02\x00\x00"


class Client:
    """A blocking socket with a per-read deadline."""

    def __init__(
        self, port: int, *, timeout: float = 5.0, tls: ssl.SSLContext | None = None, sni: str | None = None
    ):
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if tls is not None:
            sock = tls.wrap_socket(sock, server_hostname=sni)
        self.sock = sock
        self.timeout = timeout

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def recv_exact(self, n: int) -> bytes:
        out = b""
        deadline = time.monotonic() + self.timeout
        while len(out) < n:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise ConnectionError(f"closed after {len(out)} of {n} bytes")
            out += chunk
        return out

    def recv_packet(self) -> bytes:
        """One complete packet, fixed header included."""
        head = self.recv_exact(2)
        length = head[1] & 0x7F
        shift = 7
        raw = head
        byte = head[1]
        while byte & 0x80:
            byte = self.recv_exact(1)[0]
            raw += bytes([byte])
            length |= (byte & 0x7F) << shift
            shift += 7
        return raw + (self.recv_exact(length) if length else b"")

    def expect(self, data: bytes) -> None:
        got = self.recv_exact(len(data))
        assert got == data, f"expected {data.hex()} got {got.hex()}"

    def is_closed(self, within: float = 5.0) -> bool:
        """Whether the broker closes the socket within `within` seconds (earlier bytes are dropped)."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(4096)
            except TimeoutError:
                return False
            except (ConnectionResetError, ssl.SSLError):
                return True
            if not chunk:
                return True
        return False

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connected(
    port: int, client_id: str, *, version: int = 4, keepalive: int = 60, clean: bool = True
) -> Client:
    """A client that sent CONNECT and received a successful CONNACK."""
    c = Client(port)
    c.send(connect(client_id, version=version, keepalive=keepalive, clean=clean))
    ack = c.recv_packet()
    assert ack[0] == 0x20, ack.hex()
    assert ack[3] == 0, ack.hex()
    return c
