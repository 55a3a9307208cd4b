"""Hypothesis strategies for MQTT packets, topic names and topic filters.

`packets(version)` generates only packets representable in that version, so
`decode(encode(p, v), v) == p` must hold for every example: for MQTT 3.1.1 that means no
properties, only the reason codes 3.1.1 can carry, no AUTH, and a password only with a user name.
"""

from typing import Final

from hypothesis import strategies as st

from mqttcloud.protocol.packets import (
    Auth,
    ConnAck,
    Connect,
    Disconnect,
    Packet,
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
)
from mqttcloud.protocol.properties import (
    AUTH,
    CONNACK,
    CONNECT,
    DISCONNECT,
    PROPERTY_TABLE,
    PUBACK,
    PUBCOMP,
    PUBLISH,
    PUBREC,
    PUBREL,
    SUBACK,
    SUBSCRIBE,
    UNSUBACK,
    UNSUBSCRIBE,
    WILL,
    Properties,
    PropertySpec,
    PropertyType,
)
from mqttcloud.protocol.reason_codes import (
    AUTH_CODES,
    CONNACK_CODES,
    DISCONNECT_CODES,
    PUBACK_CODES,
    PUBCOMP_CODES,
    PUBREC_CODES,
    PUBREL_CODES,
    SUBACK_CODES,
    UNSUBACK_CODES,
    ReasonCode,
)

V31: Final = 3  # MQTT 3.1: the 3.1.1 bytes but for CONNECT's name and CONNACK's flags
V3: Final = 4
V5: Final = 5
VERSIONS: Final = (V3, V5)

#: Any UTF-8 string MQTT allows: no surrogates [MQTT-1.5.4-1], no U+0000 [MQTT-1.5.4-2].
text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)
binary = st.binary(max_size=16)
qos = st.sampled_from(list(QoS))
packet_ids = st.integers(1, 0xFFFF)

_level_chars = st.characters(codec="utf-8", exclude_characters="\x00/+#")
topic_levels = st.text(_level_chars, max_size=6)


@st.composite
def topic_names(draw: st.DrawFn, max_levels: int = 6) -> str:
    """Valid topic names (non-empty, no wildcards), sometimes starting with `$`."""
    levels = draw(st.lists(topic_levels, min_size=1, max_size=max_levels))
    name = "/".join(levels)
    if draw(st.booleans()) and levels[0]:
        name = "$" + name
    return name or "t"


@st.composite
def topic_filters(draw: st.DrawFn, max_levels: int = 6, shared: bool = True) -> str:
    """Valid topic filters, with `+` levels, a trailing `#`, and some `$share/group/` prefixes."""
    levels = draw(st.lists(st.one_of(topic_levels, st.just("+")), min_size=1, max_size=max_levels))
    if draw(st.booleans()):
        levels[-1] = "#"
    real = "/".join(levels) or "t"
    if shared and draw(st.integers(0, 4)) == 0:
        group = draw(st.text(_level_chars, min_size=1, max_size=5))
        return f"$share/{group}/{real}"
    return real


def _value(spec: PropertySpec) -> st.SearchStrategy[object]:
    low = 1 if spec.nonzero else 0
    ptype = spec.type
    if ptype is PropertyType.BOOL:
        return st.booleans()
    if ptype is PropertyType.BYTE:
        return st.integers(0, 1)
    if ptype is PropertyType.TWO_BYTE_INT:
        return st.integers(low, 0xFFFF)
    if ptype is PropertyType.FOUR_BYTE_INT:
        return st.integers(low, 0xFFFF_FFFF)
    if ptype is PropertyType.VARINT:
        return st.integers(low, 268_435_455)
    if ptype is PropertyType.UTF8:
        return text
    if ptype is PropertyType.BINARY:
        return binary
    return st.tuples(text, text)


@st.composite
def properties(draw: st.DrawFn, context: int, version: int = V5) -> Properties:
    """Properties valid in `context` (a packet type number or WILL); empty for MQTT 3.1.1."""
    if version != V5:
        return Properties()
    values: dict[str, object] = {}
    for spec in PROPERTY_TABLE:
        if context not in spec.allowed or not draw(st.booleans()):
            continue
        if spec.name == "user_properties":
            values[spec.name] = tuple(draw(st.lists(st.tuples(text, text), max_size=3)))
        elif spec.name == "subscription_identifiers":
            most = 3 if context == PUBLISH else 1
            values[spec.name] = tuple(draw(st.lists(_value(spec), min_size=1, max_size=most)))
        else:
            values[spec.name] = draw(_value(spec))
    if "authentication_data" in values and "authentication_method" not in values:
        # 3.1.2.11.10: Authentication Data without Authentication Method is a Protocol Error
        values["authentication_method"] = draw(text)
    return Properties(**values)  # type: ignore[arg-type]  # keys come from PROPERTY_TABLE


def _codes(allowed: frozenset[ReasonCode]) -> st.SearchStrategy[ReasonCode]:
    return st.sampled_from(sorted(allowed))


@st.composite
def connects(draw: st.DrawFn, version: int) -> Connect:
    will = None
    if draw(st.booleans()):
        will = Will(
            topic=draw(topic_names()),
            payload=draw(binary),
            qos=draw(qos),
            retain=draw(st.booleans()),
            properties=draw(properties(WILL, version)),
        )
    username = draw(st.none() | text)
    password = draw(st.none() | binary)
    if version == V3 and username is None:
        password = None  # 3.1.1 [MQTT-3.1.2-22]
    return Connect(
        protocol_level=ProtocolVersion(version),
        clean_start=draw(st.booleans()),
        keep_alive=draw(st.integers(0, 0xFFFF)),
        client_id=draw(text),
        username=username,
        password=password,
        will=will,
        properties=draw(properties(CONNECT, version)),
    )


_V3_CONNACK_CODES: Final = frozenset(
    {
        ReasonCode.SUCCESS,
        ReasonCode.UNSUPPORTED_PROTOCOL_VERSION,
        ReasonCode.CLIENT_IDENTIFIER_NOT_VALID,
        ReasonCode.SERVER_UNAVAILABLE,
        ReasonCode.BAD_USER_NAME_OR_PASSWORD,
        ReasonCode.NOT_AUTHORIZED,
    }
)


_V3_SUBACK_CODES: Final = frozenset(
    {
        ReasonCode.GRANTED_QOS_0,
        ReasonCode.GRANTED_QOS_1,
        ReasonCode.GRANTED_QOS_2,
        ReasonCode.UNSPECIFIED_ERROR,
    }
)


@st.composite
def connacks(draw: st.DrawFn, version: int) -> ConnAck:
    code = draw(_codes(CONNACK_CODES if version == V5 else _V3_CONNACK_CODES))
    return ConnAck(
        # [MQTT-3.2.2-6]; MQTT 3.1 has no session present flag
        session_present=draw(st.booleans()) and not code.is_error and version != V31,
        reason_code=code,
        properties=draw(properties(CONNACK, version)),
    )


@st.composite
def publishes(draw: st.DrawFn, version: int) -> Publish:
    level = draw(qos)
    props = draw(properties(PUBLISH, version))
    topic = draw(topic_names())
    if version == V5 and props.topic_alias is not None and draw(st.booleans()):
        topic = ""  # [MQTT-3.3.2-1] allowed with a Topic Alias
    return Publish(
        topic=topic,
        payload=draw(st.binary(max_size=64)),
        qos=level,
        retain=draw(st.booleans()),
        dup=draw(st.booleans()) and level > 0,
        packet_id=draw(packet_ids) if level else None,
        properties=props,
    )


def _acks(
    cls: type[PubAck] | type[PubRec] | type[PubRel] | type[PubComp],
    allowed: frozenset[ReasonCode],
    context: int,
    version: int,
) -> st.SearchStrategy[Packet]:
    code = _codes(allowed) if version == V5 else st.just(ReasonCode.SUCCESS)
    return st.builds(cls, packet_id=packet_ids, reason_code=code, properties=properties(context, version))


@st.composite
def subscriptions(draw: st.DrawFn, version: int) -> Subscription:
    topic_filter = draw(topic_filters())
    if version != V5:
        return Subscription(topic_filter=topic_filter, qos=draw(qos))
    return Subscription(
        topic_filter=topic_filter,
        qos=draw(qos),
        # [MQTT-3.8.3-4] no local on a shared subscription is a protocol error
        no_local=draw(st.booleans()) and not topic_filter.startswith("$share/"),
        retain_as_published=draw(st.booleans()),
        retain_handling=draw(st.sampled_from(list(RetainHandling))),
    )


def packets(version: int) -> st.SearchStrategy[Packet]:
    """Every packet type, restricted to what `version` (4 or 5) can represent."""
    v5 = version == V5
    suback_codes = SUBACK_CODES if v5 else _V3_SUBACK_CODES
    strategies: list[st.SearchStrategy[Packet]] = [
        connects(version),
        connacks(version),
        publishes(version),
        _acks(PubAck, PUBACK_CODES, PUBACK, version),
        _acks(PubRec, PUBREC_CODES, PUBREC, version),
        _acks(PubRel, PUBREL_CODES, PUBREL, version),
        _acks(PubComp, PUBCOMP_CODES, PUBCOMP, version),
        st.builds(
            Subscribe,
            packet_id=packet_ids,
            subscriptions=st.lists(subscriptions(version), min_size=1, max_size=4).map(tuple),
            properties=properties(SUBSCRIBE, version),
        ),
        st.builds(
            SubAck,
            packet_id=packet_ids,
            reason_codes=st.lists(_codes(suback_codes), min_size=1, max_size=4).map(tuple),
            properties=properties(SUBACK, version),
        ),
        st.builds(
            Unsubscribe,
            packet_id=packet_ids,
            topic_filters=st.lists(topic_filters(), min_size=1, max_size=4).map(tuple),
            properties=properties(UNSUBSCRIBE, version),
        ),
        st.builds(
            UnsubAck,
            packet_id=packet_ids,
            reason_codes=(
                st.lists(_codes(UNSUBACK_CODES), min_size=1, max_size=4).map(tuple) if v5 else st.just(())
            ),
            properties=properties(UNSUBACK, version),
        ),
        st.just(PingReq()),
        st.just(PingResp()),
        st.builds(
            Disconnect,
            reason_code=_codes(DISCONNECT_CODES) if v5 else st.just(ReasonCode.NORMAL_DISCONNECTION),
            properties=properties(DISCONNECT, version),
        ),
    ]
    if v5:
        strategies.append(auths())
    return st.one_of(strategies)


@st.composite
def auths(draw: st.DrawFn) -> Auth:
    code = draw(_codes(AUTH_CODES))
    props = draw(properties(AUTH))
    if code != ReasonCode.SUCCESS or not props.is_empty():
        # 3.15.2.2.2: an AUTH with a body carries the Authentication Method
        props = props.evolve(authentication_method=props.authentication_method or draw(text))
    return Auth(reason_code=code, properties=props)
