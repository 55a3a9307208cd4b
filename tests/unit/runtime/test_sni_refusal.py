"""Refusal at CONNECT of a connection whose SNI selects no tenant: the CONNACK bytes per version."""

import pytest

from mqttcloud.protocol.decode import decode
from mqttcloud.protocol.framer import Framer
from mqttcloud.protocol.packets import ConnAck
from mqttcloud.protocol.reason_codes import ReasonCode
from mqttcloud.runtime.sni_refusal import NotConnectError, connack_for

# CONNECT prefixes up to the protocol level (the rest of the packet does not matter here).
V5 = b"\x10\x20\x00\x04MQTT\x05\x02\x00\x3c\x00"
V311 = b"\x10\x10\x00\x04MQTT\x04\x02\x00\x3c"
V31 = b"\x10\x12\x00\x06MQIsdp\x03\x02\x00\x3c"


def test_every_prefix_before_the_protocol_level_needs_more() -> None:
    level_at = V5.index(b"MQTT") + 4
    for n in range(level_at + 1):
        assert connack_for(V5[:n], "x.example") is None


def test_v5_gets_server_unavailable_with_a_reason_string() -> None:
    answer = connack_for(V5, "abc.mqtt.example.com")
    assert answer is not None
    [(first, body)] = Framer().feed(answer)
    ack = decode(first, body, 5)
    assert isinstance(ack, ConnAck)
    assert ack.reason_code == ReasonCode.SERVER_UNAVAILABLE
    assert ack.properties.reason_string is not None
    assert "'abc.mqtt.example.com'" in ack.properties.reason_string


def test_missing_sni_reason_says_sni_is_required() -> None:
    answer = connack_for(V5, None)
    assert answer is not None
    assert b"SNI host name required" in answer


@pytest.mark.parametrize("prefix", [V311, V31])
def test_v3_gets_return_code_3(prefix: bytes) -> None:
    assert connack_for(prefix, None) == b"\x20\x02\x00\x03"


def test_long_remaining_length_is_read() -> None:
    prefix = b"\x10\xff\xff\x01\x00\x04MQTT\x05"
    answer = connack_for(prefix, "h")
    assert answer is not None
    assert answer[0] == 0x20


@pytest.mark.parametrize(
    "data",
    [
        b"\x30\x02\x00\x00",  # PUBLISH first
        b"\x10\x05\x00\x03MQT\x04",  # unknown protocol name length
        b"\x10\x06\x00\x04HTTP\x04",  # unknown protocol name
        b"\x10\x80\x80\x80\x80\x01",  # remaining length over four bytes
    ],
)
def test_anything_but_a_connect_is_closed_without_answer(data: bytes) -> None:
    with pytest.raises(NotConnectError):
        connack_for(data, "h")
