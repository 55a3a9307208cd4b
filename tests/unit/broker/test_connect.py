"""CONNECT / CONNACK / DISCONNECT behaviour of the core, through the pair harness."""

from tests.unit.broker.pair import Harness

from mqttcloud import contracts
from mqttcloud.broker.channel_state import ChannelState
from mqttcloud.broker.hooks import ConnectDecision
from mqttcloud.protocol.packets import (
    Auth,
    ConnAck,
    Connect,
    Disconnect,
    PingReq,
    PingResp,
    ProtocolVersion,
    PubAck,
    Publish,
    QoS,
    SubAck,
    Subscribe,
    Subscription,
    Will,
)
from mqttcloud.protocol.properties import Properties
from mqttcloud.protocol.reason_codes import ReasonCode


def test_connect_v5_accepted_with_server_properties() -> None:
    h = Harness()
    _, ack = h.connect("c1")
    assert ack.reason_code == ReasonCode.SUCCESS
    assert ack.session_present is False
    assert ack.properties.receive_maximum == 32
    assert ack.properties.maximum_packet_size == 1024 * 1024
    assert ack.properties.topic_alias_maximum == 64


def test_empty_clientid_v5_gets_assigned_identifier() -> None:
    """[MQTT-3.1.3-6] (spec 3.2.2.3.7) the server assigns an id and returns it in CONNACK."""
    h = Harness()
    client, ack = h.connect("")
    assigned = ack.properties.assigned_client_identifier
    assert assigned
    assert client.channel.clientid == assigned
    assert h.broker.client_info(assigned) is not None


def test_empty_clientid_v311_clean_session_accepted_without_property() -> None:
    """[MQTT-3.1.3-6] v3.1.1 with CleanSession=1: accepted, id assigned silently."""
    h = Harness()
    client, ack = h.connect("", version=4, clean_start=True)
    assert ack.reason_code == ReasonCode.SUCCESS
    assert client.channel.clientid


def test_empty_clientid_v311_without_clean_session_rejected_0x02() -> None:
    """[MQTT-3.1.3-8] v3.1.1 empty id with CleanSession=0: CONNACK return code 0x02, close."""
    h = Harness()
    client = h.open(version=4)
    got = client.send(Connect(client_id="", protocol_level=ProtocolVersion.MQTT_3_1_1, clean_start=False))
    assert client.raw[-1] == b"\x20\x02\x00\x02"
    assert isinstance(got[0], ConnAck)
    assert client.is_closed()


def test_auth_method_property_refused_0x8c() -> None:
    """Enhanced authentication is not offered: CONNACK 0x8C and close."""
    h = Harness()
    client = h.open()
    got = client.send(Connect(client_id="c", properties=Properties(authentication_method="SCRAM-SHA-1")))
    assert isinstance(got[0], ConnAck)
    assert got[0].reason_code == ReasonCode.BAD_AUTHENTICATION_METHOD
    assert client.is_closed()


def test_auth_packet_after_connect_is_protocol_error() -> None:
    h = Harness()
    client, _ = h.connect("c")
    got = client.send(Auth(reason_code=ReasonCode.RE_AUTHENTICATE))
    assert isinstance(got[0], Disconnect)
    assert got[0].reason_code == ReasonCode.PROTOCOL_ERROR
    assert client.is_closed()


def test_authentication_refused_sends_connack_with_decision_code() -> None:
    h = Harness()
    h.decide = lambda _r: ConnectDecision(allowed=False, reason_code=ReasonCode.BAD_USER_NAME_OR_PASSWORD)
    client = h.open()
    got = client.send(Connect(client_id="c", username="u"))
    assert isinstance(got[0], ConnAck)
    assert got[0].reason_code == ReasonCode.BAD_USER_NAME_OR_PASSWORD
    assert client.is_closed()
    assert h.broker.counters["packets.connack.auth_error"] == 1


def test_authentication_refused_v311_maps_to_return_code_4() -> None:
    h = Harness()
    h.decide = lambda _r: ConnectDecision(allowed=False, reason_code=ReasonCode.BAD_USER_NAME_OR_PASSWORD)
    client = h.open(version=4)
    client.send(Connect(client_id="c", protocol_level=ProtocolVersion.MQTT_3_1_1))
    assert client.raw[-1] == b"\x20\x02\x00\x04"


def test_second_connect_is_protocol_error() -> None:
    """[MQTT-3.1.0-2] a second CONNECT is a protocol violation: DISCONNECT 0x82, close."""
    h = Harness()
    client, _ = h.connect("c")
    got = client.send(Connect(client_id="c"))
    assert isinstance(got[0], Disconnect)
    assert got[0].reason_code == ReasonCode.PROTOCOL_ERROR
    assert client.is_closed()


def test_first_packet_must_be_connect() -> None:
    """[MQTT-3.1.0-1] anything before CONNECT closes the connection."""
    h = Harness()
    client = h.open()
    client.send(PingReq())
    assert client.is_closed()


def test_packets_pipelined_before_connack_are_handled_after_it() -> None:
    """The server processes nothing after CONNECT until it has accepted the connection."""
    h = Harness()
    h.hold_auth = True
    client = h.open()
    client.send(Connect(client_id="c"))
    assert client.send(PingReq()) == []
    assert client.channel.state is ChannelState.AUTHENTICATING
    h.release_auth()
    got = client.take()
    assert isinstance(got[0], ConnAck)
    assert isinstance(got[1], PingResp)
    assert client.channel.counters.recv_pkt == 2  # held packets are counted once


def test_connect_timeout_closes_channel() -> None:
    h = Harness(contracts.Limits(connect_timeout=5.0))
    client = h.open()
    assert client.channel.next_deadline() == h.now + 5.0
    h.tick(h.now + 5.0)
    assert client.is_closed()
    assert h.broker.channel(client.channel_id) is None


def test_keep_alive_timeout_after_one_and_a_half_periods() -> None:
    """(spec 3.1.2.10) no packet within 1.5 x keep alive: DISCONNECT 0x8D (v5) and close."""
    h = Harness()
    client, _ = h.connect("c", keep_alive=10)
    start = h.now
    assert client.channel.next_deadline() == start + 15
    h.tick(start + 14.9)
    assert not client.is_closed()
    h.tick(start + 15)
    assert client.is_closed()
    assert isinstance(client.inbox[-1], Disconnect)
    assert client.inbox[-1].reason_code == ReasonCode.KEEP_ALIVE_TIMEOUT


def test_packet_resets_keep_alive_deadline() -> None:
    h = Harness()
    client, _ = h.connect("c", keep_alive=10)
    h.now += 10
    client.send(PingReq())
    assert client.channel.next_deadline() == h.now + 15


def test_server_keep_alive_caps_client_request() -> None:
    """[MQTT-3.2.2-21] the client must use the Server Keep Alive the CONNACK returns."""
    h = Harness(contracts.Limits(max_keepalive=30))
    client, ack = h.connect("c", keep_alive=100)
    assert ack.properties.server_keep_alive == 30
    assert client.channel.keep_alive == 30


def test_takeover_disconnects_old_connection_0x8e() -> None:
    """[MQTT-3.1.4-3] a second connection with the same id closes the first (v5: 0x8E)."""
    h = Harness()
    old, _ = h.connect("dup")
    new, ack = h.connect("dup")
    assert ack.reason_code == ReasonCode.SUCCESS
    assert old.is_closed()
    assert isinstance(old.inbox[-1], Disconnect)
    assert old.inbox[-1].reason_code == ReasonCode.SESSION_TAKEN_OVER
    assert not new.is_closed()
    assert h.broker.counters["session.takenover"] == 1
    assert h.broker.stats().values["live_connections.count"] == 1


def test_session_present_when_resuming_persistent_session() -> None:
    """[MQTT-3.2.2-3] CleanStart=0 with a stored session: Session Present 1, subscriptions kept."""
    h = Harness()
    props = Properties(session_expiry_interval=300)
    c, _ = h.connect("p", clean_start=False, properties=props)
    c.send(Subscribe(packet_id=1, subscriptions=(Subscription(topic_filter="a/b", qos=QoS(1)),)))
    c.send(Disconnect())
    _, ack = h.connect("p", clean_start=False, properties=props)
    assert ack.session_present is True
    assert "a/b" in h.broker.sessions["p"].subscriptions


def test_clean_start_discards_session() -> None:
    """[MQTT-3.1.2-4] CleanStart=1 discards any existing session: Session Present 0."""
    h = Harness()
    props = Properties(session_expiry_interval=300)
    c, _ = h.connect("p", clean_start=False, properties=props)
    c.send(Subscribe(packet_id=1, subscriptions=(Subscription(topic_filter="a/b"),)))
    c.send(Disconnect())
    _, ack = h.connect("p", clean_start=True, properties=props)
    assert ack.session_present is False
    assert h.broker.sessions["p"].subscriptions == {}


def test_session_expiry_zero_ends_session_at_disconnect() -> None:
    """[MQTT-3.1.2-23] expiry 0: the session ends when the connection closes."""
    h = Harness()
    c, _ = h.connect("e")
    c.send(Disconnect())
    assert "e" not in h.broker.sessions


def test_session_expires_after_interval() -> None:
    h = Harness()
    c, _ = h.connect("e", clean_start=False, properties=Properties(session_expiry_interval=60))
    c.send(Disconnect())
    assert "e" in h.broker.sessions
    assert h.broker.next_deadline() == h.now + 60
    h.tick(h.now + 59)
    assert "e" in h.broker.sessions
    h.tick(h.now + 1)
    assert "e" not in h.broker.sessions


def test_session_expiry_capped_by_limit_and_returned_in_connack() -> None:
    h = Harness(contracts.Limits(max_session_expiry=100))
    _, ack = h.connect("e", properties=Properties(session_expiry_interval=1000))
    assert ack.properties.session_expiry_interval == 100


def test_v311_persistent_session_lasts_max_session_expiry() -> None:
    h = Harness(contracts.Limits(max_session_expiry=50))
    c, _ = h.connect("old", version=4, clean_start=False)
    c.send(Disconnect())
    assert h.broker.sessions["old"].expiry_interval == 50


def test_disconnect_cannot_set_expiry_after_zero() -> None:
    """(spec 3.14.2.2.2) expiry 0 at CONNECT, non-zero at DISCONNECT: protocol error."""
    h = Harness()
    c, _ = h.connect("e")
    got = c.send(Disconnect(properties=Properties(session_expiry_interval=10)))
    assert isinstance(got[0], Disconnect)
    assert got[0].reason_code == ReasonCode.PROTOCOL_ERROR


def test_max_connections_refused_0x97() -> None:
    h = Harness(contracts.Limits(max_connections=1))
    h.connect("a")
    client = h.open()
    got = client.send(Connect(client_id="b"))
    assert isinstance(got[0], ConnAck)
    assert got[0].reason_code == ReasonCode.QUOTA_EXCEEDED


def test_max_connections_allows_takeover() -> None:
    h = Harness(contracts.Limits(max_connections=1))
    h.connect("a")
    _, ack = h.connect("a")
    assert ack.reason_code == ReasonCode.SUCCESS


def test_clientid_too_long_refused_0x85() -> None:
    h = Harness(contracts.Limits(max_clientid_len=4))
    client = h.open()
    got = client.send(Connect(client_id="toolong"))
    assert isinstance(got[0], ConnAck)
    assert got[0].reason_code == ReasonCode.CLIENT_IDENTIFIER_NOT_VALID


def test_shutdown_sends_0x8b_to_v5_and_closes_v311() -> None:
    h = Harness()
    c5, _ = h.connect("five")
    c4, _ = h.connect("four", version=4)
    h.perform(h.broker.shutdown(h.now))
    assert isinstance(c5.inbox[-1], Disconnect)
    assert c5.inbox[-1].reason_code == ReasonCode.SERVER_SHUTTING_DOWN
    assert c5.is_closed()
    assert c4.is_closed()
    assert c4.inbox == []


def test_pingreq_answered_with_pingresp() -> None:
    h = Harness()
    c, _ = h.connect("c")
    assert c.send(PingReq()) == [PingResp()]


def test_suback_works_for_v311() -> None:
    h = Harness()
    c, _ = h.connect("c", version=4)
    got = c.send(Subscribe(packet_id=3, subscriptions=(Subscription(topic_filter="x", qos=QoS(2)),)))
    assert got == [SubAck(packet_id=3, reason_codes=(ReasonCode.GRANTED_QOS_2,))]


def test_mqtt31_client_accepted_with_connack_in_31_form() -> None:
    """MQTT 3.1 ("MQIsdp", level 3) is accepted as EMQX and mosquitto accept it: CONNACK 0x00."""
    h = Harness()
    client = h.open(version=3)
    body = b"\x00\x06MQIsdp\x03\x02\x00\x3c\x00\x01c"
    client.send_bytes(bytes([0x10, len(body)]) + body)
    assert client.raw == [b"\x20\x02\x00\x00"]
    assert not client.is_closed()
    assert client.channel.version == 3
    info = h.broker.client_info("c")
    assert info is not None
    assert (info.proto_name, info.proto_ver) == ("MQIsdp", 3)


def test_clients_filter_by_proto_name_tells_31_from_311() -> None:
    """EMQX names MQTT 3.1 "MQIsdp" in client listings and filters; 3.1.1 and 5 are "MQTT"."""
    h = Harness()
    h.connect("v31", version=3)
    h.connect("v311", version=4)
    h.connect("v5")
    by_name = {
        name: [c.clientid for c in h.broker.client_infos(contracts.ClientFilter(proto_name=name), 1, 10).data]
        for name in ("MQIsdp", "MQTT")
    }
    assert by_name["MQIsdp"] == ["v31"]
    assert sorted(by_name["MQTT"]) == ["v311", "v5"]


def test_mqtt31_resumed_session_connack_flags_byte_is_0() -> None:
    """3.1 has no session present flag: the CONNACK flags byte stays 0 when a session resumes."""
    h = Harness()
    c, _ = h.connect("old31", version=3, clean_start=False)
    c.send(Disconnect())
    c2, ack = h.connect("old31", version=3, clean_start=False)
    assert ack.session_present is False
    assert c2.raw[0] == b"\x20\x02\x00\x00"
    assert h.broker.sessions["old31"].connected_channel is not None


def test_mqtt31_clientid_longer_than_23_accepted() -> None:
    """3.1 caps client ids at 23 characters; EMQX accepts longer ones, and so do we."""
    h = Harness()
    _, ack = h.connect("x" * 64, version=3)
    assert ack.reason_code == ReasonCode.SUCCESS


def test_mqtt31_empty_clientid_rejected_0x02() -> None:
    """3.1 requires a client id even with CleanSession=1 (as mosquitto answers): 0x02, close."""
    h = Harness()
    client = h.open(version=3)
    client.send(Connect(client_id="", protocol_level=ProtocolVersion.MQTT_3_1, clean_start=True))
    assert client.raw == [b"\x20\x02\x00\x02"]
    assert client.is_closed()


def test_mqtt31_qos1_publish_and_subscribe_use_311_bytes() -> None:
    """After CONNECT, 3.1 packets are 3.1.1 packets: SUBACK return codes, PUBACK, delivery."""
    h = Harness()
    c, _ = h.connect("s31", version=3)
    got = c.send(Subscribe(packet_id=1, subscriptions=(Subscription(topic_filter="t", qos=QoS(1)),)))
    assert got == [SubAck(packet_id=1, reason_codes=(ReasonCode.GRANTED_QOS_1,))]
    assert c.send(Publish(topic="t", payload=b"hi", qos=QoS(1), packet_id=7)) == [
        Publish(topic="t", payload=b"hi", qos=QoS(1), packet_id=1),
        PubAck(packet_id=7),
    ]


def test_mqtt_name_with_level_3_and_mqisdp_with_level_4_get_0x01() -> None:
    """[MQTT-3.1.2-2] a name and level that do not pair (as EMQX checks): CONNACK 0x01, close."""
    for name, level in ((b"\x00\x04MQTT", 3), (b"\x00\x06MQIsdp", 4)):
        h = Harness()
        client = h.open(version=4)
        body = name + bytes((level, 0x02)) + b"\x00\x3c\x00\x01c"
        client.send_bytes(bytes([0x10, len(body)]) + body)
        assert client.raw == [b"\x20\x02\x00\x01"]
        assert client.is_closed()


def test_live_connection_count_follows_takeover_and_close() -> None:
    h = Harness()
    h.connect("a")
    h.connect("a")
    b, _ = h.connect("b")
    assert h.broker.connected_count() == 2
    b.send(Disconnect())
    assert h.broker.connected_count() == 1


def test_bad_connect_v5_answered_with_connack_reason() -> None:
    """A CONNECT that fails decoding gets a CONNACK with the error's reason code (v5), then close."""
    h = Harness()
    client = h.open()
    got = client.send(Connect(client_id="c", will=Will(topic="bad/+", payload=b"")))
    assert isinstance(got[0], ConnAck)
    assert got[0].reason_code == ReasonCode.TOPIC_NAME_INVALID
    assert client.is_closed()


def test_bad_connect_v311_closes_without_connack() -> None:
    h = Harness()
    client = h.open(version=4)
    got = client.send(
        Connect(
            client_id="c", protocol_level=ProtocolVersion.MQTT_3_1_1, will=Will(topic="bad/+", payload=b"")
        )
    )
    assert got == []
    assert client.is_closed()


def test_garbage_before_connect_closes_without_connack() -> None:
    h = Harness()
    client = h.open()
    client.send_bytes(b"\x10\xff\xff\xff\xff\x01")  # a Remaining Length longer than 4 bytes
    assert client.raw == []
    assert client.is_closed()


def test_v5_connack_carries_each_tenants_own_limits() -> None:
    """The v5 CONNACK bytes are built once per set of limits, never shared across different limits."""
    small = Harness(contracts.Limits(max_inflight=7, max_packet_size=4096))
    _, ack = small.connect("a")
    assert (ack.properties.receive_maximum, ack.properties.maximum_packet_size) == (7, 4096)
    default = Harness()
    _, ack = default.connect("a")
    assert (ack.properties.receive_maximum, ack.properties.maximum_packet_size) == (32, 1024 * 1024)
    _, ack = default.connect("b", keep_alive=0)  # nothing changed by the server: the constant bytes
    assert ack.properties.server_keep_alive is None


def test_v311_connack_session_present_after_resume() -> None:
    """[MQTT-3.2.2-2] [MQTT-3.2.2-3] 3.1.1: 0x20 0x02 0x00 0x00 first, then Session Present 1."""
    h = Harness()
    client = h.open(version=4)
    body = b"\x00\x04MQTT\x04\x00\x00\x3c\x00\x01p"  # CleanSession=0
    client.send_bytes(bytes([0x10, len(body)]) + body)
    assert client.raw == [b"\x20\x02\x00\x00"]
    client.send_bytes(b"\xe0\x00")  # DISCONNECT
    again = h.open(version=4)
    again.send_bytes(bytes([0x10, len(body)]) + body)
    assert again.raw == [b"\x20\x02\x01\x00"]
