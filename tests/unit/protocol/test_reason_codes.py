"""ReasonCode and the MQTT 3.1.1 return code mappings."""

import pytest

from mqttcloud.protocol.reason_codes import (
    AUTH_CODES,
    CONNACK_CODES,
    DISCONNECT_CODES,
    PUBACK_CODES,
    PUBREL_CODES,
    SUBACK_CODES,
    UNSUBACK_CODES,
    ReasonCode,
    from_v3_connack,
    from_v3_suback,
    to_v3_connack,
    to_v3_suback,
)

RC = ReasonCode


def test_every_v5_reason_code_value_is_defined() -> None:
    """Spec 2.4, table 2-6: 43 distinct values."""
    expected = {0x00, 0x01, 0x02, 0x04, 0x10, 0x11, 0x18, 0x19, *range(0x80, 0xA3)}
    assert {int(rc) for rc in ReasonCode} == expected
    members = ReasonCode.__members__
    assert members["NORMAL_DISCONNECTION"] is members["GRANTED_QOS_0"] is RC.SUCCESS  # aliases


def test_is_error_starts_at_0x80() -> None:
    assert not RC.NO_MATCHING_SUBSCRIBERS.is_error
    assert RC.UNSPECIFIED_ERROR.is_error


def test_per_packet_code_sets_match_spec_examples() -> None:
    assert RC.BANNED in CONNACK_CODES
    assert RC.BANNED not in DISCONNECT_CODES
    assert RC.NO_MATCHING_SUBSCRIBERS in PUBACK_CODES
    assert {RC.SUCCESS, RC.PACKET_IDENTIFIER_NOT_FOUND} == PUBREL_CODES
    assert RC.GRANTED_QOS_2 in SUBACK_CODES
    assert RC.NO_SUBSCRIPTION_EXISTED in UNSUBACK_CODES
    assert {RC.SUCCESS, RC.CONTINUE_AUTHENTICATION, RC.RE_AUTHENTICATE} == AUTH_CODES
    assert RC.SESSION_TAKEN_OVER in DISCONNECT_CODES


@pytest.mark.parametrize(
    ("code", "v3"),
    [
        (RC.SUCCESS, 0),
        (RC.UNSUPPORTED_PROTOCOL_VERSION, 1),
        (RC.CLIENT_IDENTIFIER_NOT_VALID, 2),
        (RC.SERVER_UNAVAILABLE, 3),
        (RC.SERVER_BUSY, 3),
        (RC.SERVER_SHUTTING_DOWN, 3),
        (RC.UNSPECIFIED_ERROR, 3),
        (RC.BAD_USER_NAME_OR_PASSWORD, 4),
        (RC.BAD_AUTHENTICATION_METHOD, 4),
        (RC.NOT_AUTHORIZED, 5),
        (RC.BANNED, 5),
    ],
)
def test_connack_code_maps_to_v311_return_code(code: ReasonCode, v3: int) -> None:
    assert to_v3_connack(code) == v3


@pytest.mark.parametrize("v3", range(6))
def test_v311_connack_return_codes_roundtrip(v3: int) -> None:
    assert to_v3_connack(from_v3_connack(v3)) == v3


def test_unknown_v311_connack_return_code_raises() -> None:
    with pytest.raises(ValueError, match="CONNACK"):
        from_v3_connack(6)


def test_suback_codes_map_granted_qos_and_failure() -> None:
    assert [to_v3_suback(c) for c in (RC.GRANTED_QOS_0, RC.GRANTED_QOS_1, RC.GRANTED_QOS_2)] == [0, 1, 2]
    assert to_v3_suback(RC.NOT_AUTHORIZED) == 0x80
    assert to_v3_suback(RC.TOPIC_FILTER_INVALID) == 0x80
    assert from_v3_suback(0x80) == RC.UNSPECIFIED_ERROR
    assert from_v3_suback(2) == RC.GRANTED_QOS_2
    with pytest.raises(ValueError, match="SUBACK"):
        from_v3_suback(0x81)  # [MQTT-3.9.3-2] (3.1.1)
