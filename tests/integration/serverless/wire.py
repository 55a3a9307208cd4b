"""MQTT 5 over TLS with SNI, as raw bytes: connect to the shared listener's address, present a host name.

Packets come from the black-box helpers (`tests/integration/broker/mqtt_wire.py`, built by hand, not with
`mqttcloud.protocol`); this module adds the TLS + SNI connection and the MQTT 5 answers we read back.
"""

import ssl
import struct

from tests.integration.broker import mqtt_wire as w

CONNACK = 0x20
PUBLISH = 0x30
SUBACK = 0x90
DISCONNECT = 0xE0


def remaining_offset(pkt: bytes) -> int:
    """Index of the first byte after the fixed header's remaining-length field."""
    i = 1
    while pkt[i] & 0x80:
        i += 1
    return i + 1


def open_tls(port: int, ctx: ssl.SSLContext, sni: str | None, *, timeout: float = 5.0) -> w.Client:
    """A TLS connection to 127.0.0.1:`port` presenting `sni` (None = no SNI extension)."""
    return w.Client(port, tls=ctx, sni=sni, timeout=timeout)


def connect(
    client: w.Client, client_id: str, *, username: str | None, password: str | None, clean: bool = True
) -> int:
    """Send an MQTT 5 CONNECT and return the CONNACK reason code."""
    client.send(w.connect(client_id, version=5, username=username, password=password, clean=clean))
    ack = client.recv_packet()
    assert ack[0] == CONNACK, ack.hex()
    return ack[remaining_offset(ack) + 1]


def subscribe(client: w.Client, mid: int, filters: list[str], qos: int = 0) -> list[int]:
    """SUBSCRIBE to several filters in one packet; returns the SUBACK reason codes."""
    body = struct.pack("!H", mid) + b"\x00"
    for topic in filters:
        body += w.utf8(topic) + bytes([qos])
    client.send(w.packet(0x82, body))
    ack = client.recv_packet()
    assert ack[0] == SUBACK, ack.hex()
    start = remaining_offset(ack)
    assert struct.unpack("!H", ack[start : start + 2])[0] == mid
    props_len = ack[start + 2]  # < 128 in our answers
    return list(ack[start + 3 + props_len :])


def publish(client: w.Client, topic: str, payload: bytes, *, retain: bool = False) -> None:
    client.send(w.publish(topic, payload, retain=retain, version=5))


def parse_publish(pkt: bytes) -> tuple[str, bytes, bool]:
    """(topic, payload, retain) of an MQTT 5 QoS 0 PUBLISH."""
    assert pkt[0] & 0xF0 == PUBLISH, pkt.hex()
    i = remaining_offset(pkt)
    (tlen,) = struct.unpack("!H", pkt[i : i + 2])
    topic = pkt[i + 2 : i + 2 + tlen].decode()
    j = i + 2 + tlen
    assert pkt[0] & 0x06 == 0, "QoS 0 expected"
    props_len = pkt[j]  # < 128 for what we publish
    return topic, pkt[j + 1 + props_len :], bool(pkt[0] & 0x01)


def next_publish(client: w.Client) -> tuple[str, bytes, bool]:
    return parse_publish(client.recv_packet())


def ping(client: w.Client) -> None:
    """PINGREQ → PINGRESP: proves the connection is alive (fails with ConnectionError otherwise)."""
    client.send(w.PINGREQ)
    client.expect(w.PINGRESP)


def disconnect_reason(client: w.Client) -> int | None:
    """Read until the broker's DISCONNECT; its reason code, or None when it closed without one."""
    try:
        while True:
            pkt = client.recv_packet()
            if pkt[0] == DISCONNECT:
                return pkt[remaining_offset(pkt)] if len(pkt) > 2 else 0
    except (ConnectionError, ssl.SSLError, OSError):
        return None
