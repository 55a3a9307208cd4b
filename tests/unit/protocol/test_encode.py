"""Encoding: exact bytes, MQTT 3.1.1 down-mapping, and the PUBLISH fan-out fast path."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.strategies import V3, V5, topic_names

from mqttcloud.protocol.decode import decode
from mqttcloud.protocol.encode import (
    PublishEncodings,
    encode,
    encode_publish_qos0,
    encode_publish_shared,
)
from mqttcloud.protocol.framer import Framer
from mqttcloud.protocol.packets import (
    Auth,
    ConnAck,
    Connect,
    Disconnect,
    PingReq,
    PingResp,
    ProtocolVersion,
    PubAck,
    PubComp,
    Publish,
    PubRec,
    PubRel,
    QoS,
    RetainHandling,
    SubAck,
    Subscribe,
    Subscription,
    UnsubAck,
    Unsubscribe,
    Will,
    make_publish,
)
from mqttcloud.protocol.properties import NO_PROPERTIES, Properties
from mqttcloud.protocol.reason_codes import ReasonCode

RC = ReasonCode


def test_publish_v5_exact_bytes() -> None:
    assert encode(Publish(topic="t", payload=b"hi"), V5) == b"\x30\x06\x00\x01t\x00hi"


def test_publish_v311_exact_bytes_with_flags_and_id() -> None:
    packet = Publish(topic="t", payload=b"hi", qos=QoS.EXACTLY_ONCE, retain=True, dup=True, packet_id=0x0102)
    assert encode(packet, V3) == b"\x3d\x07\x00\x01t\x01\x02hi"


def test_publish_v311_drops_properties() -> None:
    packet = Publish(topic="t", properties=Properties(message_expiry_interval=5))
    assert encode(packet, V3) == b"\x30\x03\x00\x01t"


def test_publish_qos0_with_packet_id_cannot_be_encoded() -> None:
    """[MQTT-2.2.1-2]"""
    with pytest.raises(ValueError, match="QoS 0"):
        encode(Publish(topic="t", packet_id=1), V5)


def test_publish_qos1_without_packet_id_cannot_be_encoded() -> None:
    with pytest.raises(ValueError, match="packet id"):
        encode(Publish(topic="t", qos=QoS.AT_LEAST_ONCE), V5)


def test_make_publish_equals_constructor_and_stays_frozen() -> None:
    fast = make_publish("t", b"p", QoS.AT_LEAST_ONCE, True, False, 3, NO_PROPERTIES)
    assert fast == Publish(topic="t", payload=b"p", qos=QoS.AT_LEAST_ONCE, retain=True, packet_id=3)
    with pytest.raises(AttributeError):
        fast.topic = "x"  # type: ignore[misc]  # proving the instance is frozen


def test_connect_exact_bytes_v311() -> None:
    packet = Connect(
        client_id="c", keep_alive=60, username="u", password=b"p", protocol_level=ProtocolVersion.MQTT_3_1_1
    )
    assert encode(packet, V3) == b"\x10\x13\x00\x04MQTT\x04\xc2\x00\x3c\x00\x01c\x00\x01u\x00\x01p"


def test_connect_v311_password_without_username_cannot_be_encoded() -> None:
    with pytest.raises(ValueError, match="password"):
        encode(Connect(client_id="c", password=b"p"), V3)


def test_connect_v311_drops_will_properties() -> None:
    will = Will(topic="w", payload=b"x", properties=Properties(will_delay_interval=9))
    data = encode(Connect(client_id="", will=will), V3)
    assert data == b"\x10\x12\x00\x04MQTT\x04\x06\x00\x3c\x00\x00\x00\x01w\x00\x01x"


def test_connack_v311_maps_reason_and_clears_session_present_on_failure() -> None:
    """3.1.1 [MQTT-3.2.2-4]"""
    assert encode(ConnAck(reason_code=RC.BANNED), V3) == b"\x20\x02\x00\x05"
    assert encode(ConnAck(session_present=True, reason_code=RC.SERVER_BUSY), V3) == b"\x20\x02\x00\x03"
    assert encode(ConnAck(session_present=True), V3) == b"\x20\x02\x01\x00"


def test_connect_and_connack_exact_bytes_v31() -> None:
    """MQTT 3.1: CONNECT names "MQIsdp"; the CONNACK flags byte is reserved, so 0 on resume too."""
    assert (
        encode(Connect(client_id="c", keep_alive=60), 3) == b"\x10\x0f\x00\x06MQIsdp\x03\x02\x00\x3c\x00\x01c"
    )
    assert encode(ConnAck(session_present=True), 3) == b"\x20\x02\x00\x00"
    assert encode(ConnAck(reason_code=RC.CLIENT_IDENTIFIER_NOT_VALID), 3) == b"\x20\x02\x00\x02"


def test_connack_v5_unsupported_version_exact_bytes() -> None:
    assert encode(ConnAck(reason_code=RC.UNSUPPORTED_PROTOCOL_VERSION), V5) == b"\x20\x03\x00\x84\x00"


@pytest.mark.parametrize(("cls", "first"), [(PubAck, 0x40), (PubRec, 0x50), (PubRel, 0x62), (PubComp, 0x70)])
def test_acks_short_form_and_reason_form(cls: type[PubAck], first: int) -> None:
    assert encode(cls(packet_id=7), V5) == bytes((first, 2, 0, 7))
    assert encode(cls(packet_id=7), V3) == bytes((first, 2, 0, 7))
    code = RC.PACKET_IDENTIFIER_NOT_FOUND if first in (0x62, 0x70) else RC.NOT_AUTHORIZED
    assert encode(cls(packet_id=7, reason_code=code), V5) == bytes((first, 3, 0, 7, code))
    assert encode(cls(packet_id=7, reason_code=code), V3) == bytes((first, 2, 0, 7))


def test_suback_v311_maps_failures_to_0x80() -> None:
    packet = SubAck(packet_id=1, reason_codes=(RC.GRANTED_QOS_1, RC.NOT_AUTHORIZED))
    assert encode(packet, V3) == b"\x90\x04\x00\x01\x01\x80"
    assert encode(packet, V5) == b"\x90\x05\x00\x01\x00\x01\x87"


def test_unsuback_v311_drops_reason_codes() -> None:
    assert encode(UnsubAck(packet_id=7, reason_codes=(RC.SUCCESS,)), V3) == b"\xb0\x02\x00\x07"


def test_subscribe_exact_bytes_v5_options() -> None:
    sub = Subscription(
        topic_filter="t", qos=QoS.AT_LEAST_ONCE, no_local=True, retain_handling=RetainHandling.DO_NOT_SEND
    )
    assert encode(Subscribe(packet_id=1, subscriptions=(sub,)), V5) == b"\x82\x07\x00\x01\x00\x00\x01t\x25"
    assert encode(Subscribe(packet_id=1, subscriptions=(sub,)), V3) == b"\x82\x06\x00\x01\x00\x01t\x01"


def test_unsubscribe_exact_bytes() -> None:
    assert encode(Unsubscribe(packet_id=1, topic_filters=("a",)), V3) == b"\xa2\x05\x00\x01\x00\x01a"


def test_ping_and_disconnect_exact_bytes() -> None:
    assert encode(PingReq(), V3) == b"\xc0\x00"
    assert encode(PingResp(), V5) == b"\xd0\x00"
    assert encode(Disconnect(), V5) == b"\xe0\x00"
    assert encode(Disconnect(reason_code=RC.SERVER_SHUTTING_DOWN), V5) == b"\xe0\x01\x8b"
    assert encode(Disconnect(reason_code=RC.SERVER_SHUTTING_DOWN), V3) == b"\xe0\x00"


def test_auth_has_no_v311_encoding() -> None:
    with pytest.raises(ValueError, match="AUTH"):
        encode(Auth(), V3)
    assert encode(Auth(), V5) == b"\xf0\x00"


# --- fan-out fast path --------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    topic_names(),
    st.binary(max_size=300),
    st.tuples(
        st.sampled_from(list(QoS)),
        st.booleans(),
        st.sampled_from([V3, V5]),
        st.integers(1, 0xFFFF),
        st.booleans(),
    ),
)
def test_shared_encoding_with_patched_id_equals_full_encoding(
    topic: str, payload: bytes, options: tuple[QoS, bool, int, int, bool]
) -> None:
    qos, retain, version, packet_id, dup = options
    props = Properties(message_expiry_interval=30) if version == V5 and dup else NO_PROPERTIES
    shared = encode_publish_shared(topic, payload, qos=qos, retain=retain, version=version, properties=props)
    if qos == QoS.AT_MOST_ONCE:
        expected = Publish(topic=topic, payload=payload, retain=retain, properties=props)
        assert shared.data == encode(expected, version)
        assert shared.id_offset == -1
        return
    expected = Publish(
        topic=topic, payload=payload, qos=qos, retain=retain, dup=dup, packet_id=packet_id, properties=props
    )
    data = shared.with_packet_id(packet_id, dup=dup)
    assert data == encode(expected, version)
    [(first, body)] = Framer().feed(data)
    assert decode(first, body, version) == expected


@settings(max_examples=60)
@given(topic_names(), st.binary(max_size=300), st.booleans(), st.sampled_from([V3, V5]))
def test_qos0_fast_encoding_equals_full_encoding(
    topic: str, payload: bytes, retain: bool, version: int
) -> None:
    expected = encode(Publish(topic=topic, payload=payload, retain=retain), version)
    assert encode_publish_qos0(topic, payload, retain=retain, version=version) == expected


def test_patching_does_not_change_the_shared_bytes() -> None:
    shared = encode_publish_shared("t", b"x", qos=1, retain=False, version=V5)
    first = shared.with_packet_id(1)
    second = shared.with_packet_id(2, dup=True)
    assert first == b"\x32\x07\x00\x01t\x00\x01\x00x"
    assert second == b"\x3a\x07\x00\x01t\x00\x02\x00x"
    assert shared.data == b"\x32\x07\x00\x01t\x00\x00\x00x"


def test_qos0_shared_encoding_has_no_packet_id_to_patch() -> None:
    shared = encode_publish_shared("t", b"x", qos=0, retain=True, version=V3)
    assert shared.data == b"\x31\x04\x00\x01tx"
    with pytest.raises(ValueError, match="QoS 0"):
        shared.with_packet_id(1)


def test_publish_encodings_reuses_one_object_per_variant() -> None:
    encodings = PublishEncodings("a/b", b"payload")
    first = encodings.get(V5, 0, False)
    assert encodings.get(V5, 0, False) is first
    assert encodings.get(V3, 0, False) is not first
    assert encodings.get(V5, 1, False).id_offset == 1 + 1 + 5
