"""Refusing a connection whose TLS SNI host name selects no tenant, at CONNECT, with a reason clients see.

On the shared Serverless listener the tenant comes from the SNI host name (spec §1.10). A TLS alert
(`unrecognized_name`) in the handshake would be the natural refusal, but asyncio's (and uvloop's) SSL
transport closes the socket on a failed handshake without sending the alert OpenSSL produced: the client
sees only an unexpected EOF. So the handshake completes, and the client's CONNECT is answered with:

- MQTT 5: CONNACK 0x88 *Server unavailable* with a Reason String naming the missing or unknown host name;
- MQTT 3.1.1 / 3.1: CONNACK return code 3 *Server unavailable*;

then the connection is closed. Nothing else is ever read or answered, and nothing reaches any tenant.

`connack_for(data, sni)` is pure: it reads just enough of the first packet to know the protocol version
and returns the bytes to send (None while more bytes are needed). `Refusal` is the runtime side.

Rules this module must not break:
- At most `MAX_PREFIX` bytes are buffered; a client that does not send a CONNECT prefix is closed when
  the buffer passes that bound or after `TIMEOUT` seconds.
- No tenant state is touched: this path has no tenant.
"""

import asyncio
import logging
import struct
from typing import Final

log = logging.getLogger(__name__)

TIMEOUT: Final = 10.0  # seconds to wait for the CONNECT (spec §1.10: TCP connect timeout 10 s)
MAX_PREFIX: Final = 64  # bytes needed at most: fixed header (≤5) + protocol name (≤8) + level (1)
_SERVER_UNAVAILABLE_V5: Final = 0x88
_SERVER_UNAVAILABLE_V3: Final = 3
_REASON_STRING: Final = 0x1F


class NotConnectError(ValueError):
    """The first bytes are not an MQTT CONNECT: close without an answer."""


def reason_text(sni: str | None) -> str:
    if sni is None:
        return "TLS SNI host name required: connect to <deployment id>.<domain>"
    return f"no deployment serves the TLS SNI host name {sni!r}"


def connack_for(data: bytes, sni: str | None) -> bytes | None:
    """The CONNACK that refuses this client, or None while the protocol level has not arrived yet.

    Raises:
        NotConnectError: the bytes are not the beginning of a CONNECT.
    """
    if not data:
        return None
    if data[0] != 0x10:
        raise NotConnectError(f"first packet type {data[0] >> 4}")
    i = 1
    while True:  # remaining length (variable byte integer, at most 4 bytes)
        if i >= len(data):
            return None
        if i > 4:
            raise NotConnectError("malformed remaining length")
        if not data[i] & 0x80:
            break
        i += 1
    i += 1
    if len(data) < i + 2:
        return None
    (name_len,) = struct.unpack_from("!H", data, i)
    if name_len not in (4, 6):  # "MQTT" or "MQIsdp"
        raise NotConnectError("unknown protocol name")
    level_at = i + 2 + name_len
    if len(data) <= level_at:
        return None
    name = data[i + 2 : level_at]
    if name not in (b"MQTT", b"MQIsdp"):
        raise NotConnectError("unknown protocol name")
    if data[level_at] == 5:
        text = reason_text(sni).encode()[:1024]
        props = bytes([_REASON_STRING]) + struct.pack("!H", len(text)) + text
        body = bytes([0, _SERVER_UNAVAILABLE_V5]) + _vbi(len(props)) + props
        return b"\x20" + _vbi(len(body)) + body
    return bytes([0x20, 0x02, 0x00, _SERVER_UNAVAILABLE_V3])


def _vbi(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


class Refusal:
    """Feeds a tenant-less connection's input to `connack_for`, answers once, closes."""

    def __init__(self, transport: asyncio.Transport, sni: str | None, peer: str) -> None:
        self.transport = transport
        self.sni = sni
        self.peer = peer
        self._buffer = b""
        self._done = False
        self._timer = asyncio.get_running_loop().call_later(TIMEOUT, self._give_up)

    def feed(self, data: bytes) -> None:
        if self._done:
            return
        self._buffer += data
        try:
            answer = connack_for(self._buffer, self.sni)
        except NotConnectError as exc:
            log.info("refusing %s (sni %r): %s", self.peer, self.sni, exc)
            self._finish()
            return
        if answer is not None:
            log.info("refusing %s at CONNECT: %s", self.peer, reason_text(self.sni))
            self.transport.write(answer)
            self._finish()
        elif len(self._buffer) > MAX_PREFIX:
            self._finish()

    def _give_up(self) -> None:
        if not self._done:
            log.info("refusing %s (sni %r): no CONNECT within %.0f s", self.peer, self.sni, TIMEOUT)
            self._finish()

    def _finish(self) -> None:
        self._done = True
        self._timer.cancel()
        self._buffer = b""
        if not self.transport.is_closing():
            self.transport.close()  # flushes what was written (the CONNACK), then closes
