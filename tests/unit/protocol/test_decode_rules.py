"""Normative rules enforced at decode time, one behaviour per test, with exact bytes."""

import pytest

from mqttcloud.protocol.decode import decode
from mqttcloud.protocol.errors import MalformedPacket, MQTTError, ProtocolError
from mqttcloud.protocol.packets import (
    Auth,
    ConnAck,
    Connect,
    Disconnect,
    PingReq,
    ProtocolVersion,
    PubAck,
    Publish,
    PubRel,
    QoS,
    RetainHandling,
    SubAck,
    Subscribe,
    Subscription,
    UnsubAck,
)
from mqttcloud.protocol.properties import Properties
from mqttcloud.protocol.reason_codes import ReasonCode

V3, V5 = 4, 5
RC = ReasonCode


def connect_body(
    level: int = 5, flags: int = 0x02, props: bytes = b"\x00", payload: bytes = b"\x00\x01c"
) -> bytes:
    header = b"\x00\x04MQTT" + bytes((level, flags)) + b"\x00\x3c"
    return header + (props if level == 5 else b"") + payload


def raises(exc: type[MQTTError], reason: ReasonCode, first: int, body: bytes, version: int) -> MQTTError:
    with pytest.raises(exc) as info:
        decode(first, body, version)
    assert info.value.reason_code == reason
    return info.value


# --- CONNECT ------------------------------------------------------------------------------------


def test_connect_v5_minimal_decodes_and_sets_version() -> None:
    packet = decode(0x10, connect_body(), V3)  # the version argument is ignored for CONNECT
    assert packet == Connect(client_id="c", protocol_level=ProtocolVersion.MQTT_5, keep_alive=60)


def test_connect_v311_minimal_decodes_and_sets_version() -> None:
    packet = decode(0x10, connect_body(level=4), V5)
    assert packet == Connect(client_id="c", protocol_level=ProtocolVersion.MQTT_3_1_1, keep_alive=60)


@pytest.mark.parametrize("level", [0, 3, 6, 255])
def test_connect_unsupported_level_is_0x84_with_level(level: int) -> None:
    """[MQTT-3.1.2-2] the runtime answers CONNACK 0x84 (v5) or 0x01 (3.1.1) and closes."""
    body = b"\x00\x04MQTT" + bytes((level, 0x02)) + b"\x00\x3c\x00\x01c"
    err = raises(ProtocolError, RC.UNSUPPORTED_PROTOCOL_VERSION, 0x10, body, V5)
    assert err.protocol_level == level


def test_connect_mqtt31_decodes_with_level_3() -> None:
    """MQTT 3.1 ("MQIsdp", level 3) is accepted, as EMQX and mosquitto accept it."""
    packet = decode(0x10, b"\x00\x06MQIsdp\x03\x02\x00\x3c\x00\x01c", V5)
    assert packet == Connect(client_id="c", protocol_level=ProtocolVersion.MQTT_3_1, keep_alive=60)


def test_connect_mqtt31_password_without_user_name_is_read() -> None:
    """3.1 has no [MQTT-3.1.2-22]: the password is read (as EMQX reads it)."""
    packet = decode(0x10, b"\x00\x06MQIsdp\x03\x42\x00\x3c\x00\x01c\x00\x02pw", V5)
    assert isinstance(packet, Connect)
    assert (packet.username, packet.password) == (None, b"pw")


@pytest.mark.parametrize("level", [0, 4, 5, 6])
def test_connect_mqisdp_with_another_level_is_unsupported_version(level: int) -> None:
    """[MQTT-3.1.2-2] the name and level must pair, as EMQX checks ("MQIsdp" names level 3 only)."""
    body = b"\x00\x06MQIsdp" + bytes((level, 0x02)) + b"\x00\x3c\x00\x01c"
    err = raises(ProtocolError, RC.UNSUPPORTED_PROTOCOL_VERSION, 0x10, body, V5)
    assert err.protocol_level == level


def test_connect_unknown_protocol_name_is_malformed() -> None:
    """[MQTT-3.1.2-1]"""
    raises(MalformedPacket, RC.MALFORMED_PACKET, 0x10, b"\x00\x04MQTX\x05\x02\x00\x3c\x00\x00\x01c", V5)


def test_connect_reserved_flag_is_malformed_and_carries_level() -> None:
    """[MQTT-3.1.2-3] the reserved connect flag must be 0."""
    err = raises(MalformedPacket, RC.MALFORMED_PACKET, 0x10, connect_body(flags=0x03), V5)
    assert err.protocol_level == 5


def test_connect_fixed_header_flags_are_malformed() -> None:
    """[MQTT-2.2.2-2]"""
    raises(MalformedPacket, RC.MALFORMED_PACKET, 0x11, connect_body(), V5)


def test_connect_will_qos_3_is_malformed() -> None:
    """[MQTT-3.1.2-12]"""
    payload = b"\x00\x01c\x00\x00\x01w\x00\x00"
    raises(MalformedPacket, RC.MALFORMED_PACKET, 0x10, connect_body(flags=0x1E, payload=payload), V5)


@pytest.mark.parametrize("flags", [0x22, 0x0A])
def test_connect_will_retain_or_qos_without_will_flag_is_malformed(flags: int) -> None:
    """[MQTT-3.1.2-11] [MQTT-3.1.2-13]"""
    raises(MalformedPacket, RC.MALFORMED_PACKET, 0x10, connect_body(flags=flags), V5)


def test_connect_v311_password_without_username_is_malformed() -> None:
    """3.1.1 [MQTT-3.1.2-22]"""
    payload = b"\x00\x01c\x00\x02pw"
    err = raises(MalformedPacket, RC.MALFORMED_PACKET, 0x10, connect_body(4, 0x42, payload=payload), V3)
    assert err.protocol_level == 4


def test_connect_v5_password_without_username_is_allowed() -> None:
    packet = decode(0x10, connect_body(flags=0x42, payload=b"\x00\x01c\x00\x02pw"), V5)
    assert isinstance(packet, Connect)
    assert packet.password == b"pw"
    assert packet.username is None


def test_connect_will_fields_decode() -> None:
    # will flag, will QoS 1, will retain, username, password; will properties: will delay 5
    payload = b"\x00\x01c" + b"\x05\x18\x00\x00\x00\x05" + b"\x00\x01w\x00\x02hi" + b"\x00\x01u\x00\x01p"
    packet = decode(0x10, connect_body(flags=0xEE, payload=payload), V5)
    assert isinstance(packet, Connect)
    assert packet.will is not None
    assert packet.will.topic == "w"
    assert packet.will.payload == b"hi"
    assert packet.will.qos == QoS.AT_LEAST_ONCE
    assert packet.will.retain
    assert packet.will.properties == Properties(will_delay_interval=5)
    assert (packet.username, packet.password) == ("u", b"p")


def test_connect_will_topic_with_wildcard_is_topic_name_invalid() -> None:
    """[MQTT-3.1.3-11] [MQTT-4.7.1-1]"""
    payload = b"\x00\x01c\x00\x00\x03a/#\x00\x00"
    raises(ProtocolError, RC.TOPIC_NAME_INVALID, 0x10, connect_body(flags=0x06, payload=payload), V5)


def test_connect_trailing_bytes_are_malformed() -> None:
    raises(MalformedPacket, RC.MALFORMED_PACKET, 0x10, connect_body(payload=b"\x00\x01cX"), V5)


def test_connect_truncated_is_malformed() -> None:
    raises(MalformedPacket, RC.MALFORMED_PACKET, 0x10, b"\x00\x04MQTT\x05\x02\x00", V5)


def test_connect_authentication_data_without_method_is_protocol_error() -> None:
    """3.1.2.11.10"""
    raises(ProtocolError, RC.PROTOCOL_ERROR, 0x10, connect_body(props=b"\x04\x16\x00\x01x"), V5)


def test_connect_receive_maximum_zero_is_protocol_error() -> None:
    raises(ProtocolError, RC.PROTOCOL_ERROR, 0x10, connect_body(props=b"\x03\x21\x00\x00"), V5)


def test_connect_maximum_packet_size_zero_is_protocol_error() -> None:
    raises(ProtocolError, RC.PROTOCOL_ERROR, 0x10, connect_body(props=b"\x05\x27\x00\x00\x00\x00"), V5)


def test_connect_will_property_not_allowed_in_will_is_protocol_error() -> None:
    """Topic Alias is a PUBLISH property, not a will property (spec 2.2.2.2)."""
    payload = b"\x00\x01c\x03\x23\x00\x01\x00\x01w\x00\x00"
    raises(ProtocolError, RC.PROTOCOL_ERROR, 0x10, connect_body(flags=0x06, payload=payload), V5)


# --- UTF-8 rules ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff",  # never valid in UTF-8
        b"\xc0\xaf",  # overlong encoding
        b"\xed\xa0\x80",  # encoded surrogate U+D800
    ],
)
def test_ill_formed_utf8_client_id_is_malformed(raw: bytes) -> None:
    """[MQTT-1.5.4-1]"""
    payload = len(raw).to_bytes(2, "big") + raw
    raises(MalformedPacket, RC.MALFORMED_PACKET, 0x10, connect_body(payload=payload), V5)


def test_null_character_in_string_is_malformed() -> None:
    """[MQTT-1.5.4-2]"""
    raises(MalformedPacket, RC.MALFORMED_PACKET, 0x10, connect_body(payload=b"\x00\x02c\x00"), V5)


def test_null_character_in_topic_is_malformed() -> None:
    """[MQTT-1.5.4-2]"""
    raises(MalformedPacket, RC.MALFORMED_PACKET, 0x30, b"\x00\x02a\x00\x00", V5)


def test_bom_is_kept_not_stripped() -> None:
    """[MQTT-1.5.4-3] U+FEFF is a character of the string."""
    raw = "\ufeffc".encode()
    packet = decode(0x10, connect_body(payload=len(raw).to_bytes(2, "big") + raw), V5)
    assert isinstance(packet, Connect)
    assert packet.client_id == "\ufeffc"


# --- PUBLISH ------------------------------------------------------------------------------------


def test_publish_v5_decodes() -> None:
    assert decode(0x3B, b"\x00\x03a/b\x00\x07\x00hi", V5) == Publish(
        topic="a/b", payload=b"hi", qos=QoS.AT_LEAST_ONCE, retain=True, dup=True, packet_id=7
    )


def test_publish_qos0_has_no_packet_id_and_keeps_bytes_as_payload() -> None:
    """[MQTT-2.2.1-2] a QoS 0 PUBLISH carries no packet identifier."""
    packet = decode(0x30, b"\x00\x01t\x00\x07", V3)
    assert packet == Publish(topic="t", payload=b"\x00\x07")


def test_publish_qos3_is_malformed() -> None:
    """[MQTT-3.3.1-4]"""
    raises(MalformedPacket, RC.MALFORMED_PACKET, 0x36, b"\x00\x01t\x00\x01\x00", V5)


def test_publish_qos0_with_dup_is_malformed() -> None:
    """[MQTT-3.3.1-2]"""
    raises(MalformedPacket, RC.MALFORMED_PACKET, 0x38, b"\x00\x01t\x00", V5)


def test_publish_packet_id_zero_is_malformed() -> None:
    """[MQTT-2.2.1-3]"""
    raises(MalformedPacket, RC.MALFORMED_PACKET, 0x32, b"\x00\x01t\x00\x00\x00", V5)


@pytest.mark.parametrize("topic", [b"a/+", b"#", b"a/#/b", b"+"])
def test_publish_wildcard_topic_is_topic_name_invalid(topic: bytes) -> None:
    """[MQTT-3.3.2-2]"""
    body = len(topic).to_bytes(2, "big") + topic + b"\x00"
    raises(ProtocolError, RC.TOPIC_NAME_INVALID, 0x30, body, V5)


def test_publish_empty_topic_v311_is_topic_name_invalid() -> None:
    """[MQTT-4.7.3-1]"""
    raises(ProtocolError, RC.TOPIC_NAME_INVALID, 0x30, b"\x00\x00hi", V3)


def test_publish_empty_topic_without_alias_is_protocol_error() -> None:
    """[MQTT-3.3.2-1] (5.0: a zero-length topic needs a Topic Alias)"""
    raises(ProtocolError, RC.PROTOCOL_ERROR, 0x30, b"\x00\x00\x00hi", V5)


def test_publish_empty_topic_with_alias_decodes() -> None:
    packet = decode(0x30, b"\x00\x00\x03\x23\x00\x02hi", V5)
    assert packet == Publish(topic="", payload=b"hi", properties=Properties(topic_alias=2))


def test_publish_topic_alias_zero_is_protocol_error() -> None:
    """[MQTT-3.3.2-8]"""
    raises(ProtocolError, RC.PROTOCOL_ERROR, 0x30, b"\x00\x01t\x03\x23\x00\x00", V5)


def test_publish_topic_length_past_end_is_malformed() -> None:
    raises(MalformedPacket, RC.MALFORMED_PACKET, 0x30, b"\x00\x09ab", V5)


def test_publish_v5_missing_property_length_is_malformed() -> None:
    raises(MalformedPacket, RC.MALFORMED_PACKET, 0x32, b"\x00\x01t\x00\x01", V5)


# --- properties ---------------------------------------------------------------------------------


def test_property_not_allowed_in_packet_is_protocol_error() -> None:
    """Session Expiry Interval is not a PUBLISH property (spec 2.2.2.2)."""
    raises(ProtocolError, RC.PROTOCOL_ERROR, 0x30, b"\x00\x01t\x05\x11\x00\x00\x00\x01", V5)


def test_duplicate_property_is_protocol_error() -> None:
    """Spec 2.2.2.2: a property other than User Property appears at most once."""
    raises(ProtocolError, RC.PROTOCOL_ERROR, 0x30, b"\x00\x01t\x08\x03\x00\x01a\x03\x00\x01b", V5)


def test_user_properties_repeat_and_keep_order() -> None:
    """[MQTT-3.3.2-18] user properties are kept in order, duplicates allowed."""
    props = b"\x26\x00\x01k\x00\x01b" + b"\x26\x00\x01k\x00\x01a"
    packet = decode(0x30, b"\x00\x01t" + bytes((len(props),)) + props, V5)
    assert isinstance(packet, Publish)
    assert packet.properties.user_properties == (("k", "b"), ("k", "a"))


def test_several_subscription_identifiers_in_publish_are_allowed() -> None:
    """[MQTT-3.3.4-3] a server PUBLISH carries one identifier per matching subscription."""
    packet = decode(0x30, b"\x00\x01t\x04\x0b\x01\x0b\x02", V5)
    assert isinstance(packet, Publish)
    assert packet.properties.subscription_identifiers == (1, 2)


def test_two_subscription_identifiers_in_subscribe_are_protocol_error() -> None:
    raises(ProtocolError, RC.PROTOCOL_ERROR, 0x82, b"\x00\x01\x04\x0b\x01\x0b\x02\x00\x01t\x00", V5)


def test_subscription_identifier_zero_is_protocol_error() -> None:
    raises(ProtocolError, RC.PROTOCOL_ERROR, 0x82, b"\x00\x01\x02\x0b\x00\x00\x01t\x00", V5)


def test_unknown_property_id_is_malformed() -> None:
    raises(MalformedPacket, RC.MALFORMED_PACKET, 0x30, b"\x00\x01t\x02\x7f\x00", V5)


def test_property_length_past_packet_end_is_malformed() -> None:
    raises(MalformedPacket, RC.MALFORMED_PACKET, 0x30, b"\x00\x01t\x09\x01\x01", V5)


def test_property_value_past_property_length_is_malformed() -> None:
    # property length 2, but Message Expiry Interval needs 5 bytes
    raises(MalformedPacket, RC.MALFORMED_PACKET, 0x30, b"\x00\x01t\x02\x02\x00\x00\x00\x01", V5)


def test_payload_format_indicator_above_one_is_protocol_error() -> None:
    raises(ProtocolError, RC.PROTOCOL_ERROR, 0x30, b"\x00\x01t\x02\x01\x02", V5)


# --- fixed header flags -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "body"),
    [
        (0x41, b"\x00\x01"),  # PUBACK flags must be 0000
        (0x60, b"\x00\x01"),  # PUBREL flags must be 0010 [MQTT-3.6.1-1]
        (0x80, b"\x00\x01\x00\x01t\x00"),  # SUBSCRIBE flags must be 0010 [MQTT-3.8.1-1]
        (0xA0, b"\x00\x01\x00\x01t"),  # UNSUBSCRIBE flags must be 0010 [MQTT-3.10.1-1]
        (0xC1, b""),  # PINGREQ
        (0xE2, b""),  # DISCONNECT
    ],
)
def test_reserved_fixed_header_flags_are_malformed(first: int, body: bytes) -> None:
    """[MQTT-2.2.2-1] [MQTT-2.2.2-2]"""
    raises(MalformedPacket, RC.MALFORMED_PACKET, first, body, V3)


def test_pubrel_with_correct_flags_decodes() -> None:
    assert decode(0x62, b"\x00\x05", V3) == PubRel(packet_id=5)


def test_auth_is_reserved_in_v311() -> None:
    raises(MalformedPacket, RC.MALFORMED_PACKET, 0xF0, b"", V3)


# --- SUBSCRIBE / UNSUBSCRIBE --------------------------------------------------------------------


@pytest.mark.parametrize(("version", "body"), [(V3, b"\x00\x01"), (V5, b"\x00\x01\x00")])
def test_subscribe_without_filters_is_protocol_error(version: int, body: bytes) -> None:
    """[MQTT-3.8.3-3] (3.1.1) / [MQTT-3.8.3-2] (5.0): at least one topic filter."""
    raises(ProtocolError, RC.PROTOCOL_ERROR, 0x82, body, version)


def test_subscribe_options_decode() -> None:
    packet = decode(0x82, b"\x00\x09\x00\x00\x01t\x2d", V5)
    assert packet == Subscribe(
        packet_id=9,
        subscriptions=(
            Subscription(
                topic_filter="t",
                qos=QoS.AT_LEAST_ONCE,
                no_local=True,
                retain_as_published=True,
                retain_handling=RetainHandling.DO_NOT_SEND,
            ),
        ),
    )


@pytest.mark.parametrize("version", [V3, V5])
def test_subscribe_qos3_is_malformed(version: int) -> None:
    body = b"\x00\x01" + (b"\x00" if version == V5 else b"") + b"\x00\x01t\x03"
    raises(MalformedPacket, RC.MALFORMED_PACKET, 0x82, body, version)


def test_subscribe_v311_reserved_option_bits_are_malformed() -> None:
    """3.1.1 [MQTT-3-8.3-4]: the upper 6 bits of the requested QoS byte are 0."""
    raises(MalformedPacket, RC.MALFORMED_PACKET, 0x82, b"\x00\x01\x00\x01t\x04", V3)


def test_subscribe_v5_reserved_option_bits_are_malformed() -> None:
    """[MQTT-3.8.3-5]"""
    raises(MalformedPacket, RC.MALFORMED_PACKET, 0x82, b"\x00\x01\x00\x00\x01t\x40", V5)


def test_subscribe_retain_handling_3_is_protocol_error() -> None:
    raises(ProtocolError, RC.PROTOCOL_ERROR, 0x82, b"\x00\x01\x00\x00\x01t\x30", V5)


def test_subscribe_no_local_on_shared_subscription_is_protocol_error() -> None:
    """[MQTT-3.8.3-4]"""
    topic = b"$share/g/t"
    body = b"\x00\x01\x00" + len(topic).to_bytes(2, "big") + topic + b"\x04"
    raises(ProtocolError, RC.PROTOCOL_ERROR, 0x82, body, V5)


def test_subscribe_truncated_options_are_malformed() -> None:
    raises(MalformedPacket, RC.MALFORMED_PACKET, 0x82, b"\x00\x01\x00\x01t", V3)


def test_subscribe_packet_id_zero_is_malformed() -> None:
    """[MQTT-2.2.1-3]"""
    raises(MalformedPacket, RC.MALFORMED_PACKET, 0x82, b"\x00\x00\x00\x01t\x00", V3)


@pytest.mark.parametrize(("version", "body"), [(V3, b"\x00\x01"), (V5, b"\x00\x01\x00")])
def test_unsubscribe_without_filters_is_protocol_error(version: int, body: bytes) -> None:
    """[MQTT-3.10.3-2]"""
    raises(ProtocolError, RC.PROTOCOL_ERROR, 0xA2, body, version)


# --- acknowledgements ---------------------------------------------------------------------------


def test_puback_v5_short_form_is_success() -> None:
    """3.4.2.1: the reason code may be omitted when it is 0x00 and there are no properties."""
    assert decode(0x40, b"\x00\x01", V5) == PubAck(packet_id=1)


def test_puback_v5_reason_without_properties() -> None:
    assert decode(0x40, b"\x00\x01\x10", V5) == PubAck(packet_id=1, reason_code=RC.NO_MATCHING_SUBSCRIBERS)


def test_puback_reason_not_allowed_is_malformed() -> None:
    raises(MalformedPacket, RC.MALFORMED_PACKET, 0x40, b"\x00\x01\x8e", V5)


def test_puback_v311_wrong_length_is_malformed() -> None:
    raises(MalformedPacket, RC.MALFORMED_PACKET, 0x40, b"\x00\x01\x00", V3)


def test_puback_packet_id_zero_is_malformed() -> None:
    raises(MalformedPacket, RC.MALFORMED_PACKET, 0x40, b"\x00\x00", V3)


def test_connack_v311_return_codes_map_to_reason_codes() -> None:
    assert decode(0x20, b"\x00\x05", V3) == ConnAck(reason_code=RC.NOT_AUTHORIZED)
    assert decode(0x20, b"\x01\x00", V3) == ConnAck(session_present=True)


def test_connack_v311_unknown_return_code_is_malformed() -> None:
    raises(MalformedPacket, RC.MALFORMED_PACKET, 0x20, b"\x00\x06", V3)


def test_connack_reserved_flags_are_malformed() -> None:
    """[MQTT-3.2.2-1]"""
    raises(MalformedPacket, RC.MALFORMED_PACKET, 0x20, b"\x02\x00\x00", V5)


def test_connack_session_present_with_error_is_protocol_error() -> None:
    """[MQTT-3.2.2-6]"""
    raises(ProtocolError, RC.PROTOCOL_ERROR, 0x20, b"\x01\x87\x00", V5)


def test_suback_v311_failure_maps_to_unspecified_error() -> None:
    packet = decode(0x90, b"\x00\x02\x00\x01\x02\x80", V3)
    assert packet == SubAck(
        packet_id=2, reason_codes=(RC.GRANTED_QOS_0, RC.GRANTED_QOS_1, RC.GRANTED_QOS_2, RC.UNSPECIFIED_ERROR)
    )


def test_suback_v311_invalid_return_code_is_malformed() -> None:
    """3.1.1 [MQTT-3.9.3-2]"""
    raises(MalformedPacket, RC.MALFORMED_PACKET, 0x90, b"\x00\x02\x03", V3)


def test_unsuback_v311_has_no_reason_codes() -> None:
    assert decode(0xB0, b"\x00\x03", V3) == UnsubAck(packet_id=3)


def test_unsuback_v5_reason_codes() -> None:
    packet = decode(0xB0, b"\x00\x03\x00\x00\x11", V5)
    assert packet == UnsubAck(packet_id=3, reason_codes=(RC.SUCCESS, RC.NO_SUBSCRIPTION_EXISTED))


# --- PINGREQ / DISCONNECT / AUTH ----------------------------------------------------------------


def test_pingreq_with_body_is_malformed() -> None:
    raises(MalformedPacket, RC.MALFORMED_PACKET, 0xC0, b"\x00", V5)


def test_pingreq_decodes() -> None:
    assert decode(0xC0, b"", V3) == PingReq()


def test_disconnect_v311_with_body_is_malformed() -> None:
    raises(MalformedPacket, RC.MALFORMED_PACKET, 0xE0, b"\x00", V3)


def test_disconnect_v5_forms() -> None:
    assert decode(0xE0, b"", V5) == Disconnect()
    assert decode(0xE0, b"\x04", V5) == Disconnect(reason_code=RC.DISCONNECT_WITH_WILL_MESSAGE)
    with_props = decode(0xE0, b"\x8b\x05\x1f\x00\x02ok", V5)
    assert with_props == Disconnect(
        reason_code=RC.SERVER_SHUTTING_DOWN, properties=Properties(reason_string="ok")
    )


def test_disconnect_session_expiry_property_is_allowed() -> None:
    packet = decode(0xE0, b"\x00\x05\x11\x00\x00\x00\x0a", V5)
    assert packet == Disconnect(properties=Properties(session_expiry_interval=10))


def test_auth_without_method_is_protocol_error() -> None:
    raises(ProtocolError, RC.PROTOCOL_ERROR, 0xF0, b"\x18\x00", V5)


def test_auth_with_method_decodes() -> None:
    packet = decode(0xF0, b"\x18\x06\x15\x00\x03SCR", V5)
    assert packet == Auth(
        reason_code=RC.CONTINUE_AUTHENTICATION, properties=Properties(authentication_method="SCR")
    )
