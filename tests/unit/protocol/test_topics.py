"""Topic names and filters (spec 4.7, 4.8.2)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.strategies import topic_filters, topic_names

from mqttcloud.protocol.errors import ProtocolError
from mqttcloud.protocol.reason_codes import ReasonCode
from mqttcloud.protocol.topics import (
    is_valid_topic_filter,
    is_valid_topic_name,
    match,
    parse_shared,
    split,
    validate_topic_filter,
    validate_topic_name,
)


def test_split_keeps_empty_levels() -> None:
    assert split("/a//b/") == ["", "a", "", "b", ""]


@pytest.mark.parametrize("name", ["a", "/", "a/b/c", "$SYS/x", "sport/tennis/player1", " ", "é/€"])
def test_valid_topic_names(name: str) -> None:
    validate_topic_name(name)
    assert is_valid_topic_name(name)


@pytest.mark.parametrize("name", ["", "a/+", "#", "a/#", "a+b", "a\x00b"])
def test_invalid_topic_names_are_0x90(name: str) -> None:
    """[MQTT-4.7.1-1] [MQTT-4.7.3-1] [MQTT-4.7.3-2]"""
    with pytest.raises(ProtocolError) as info:
        validate_topic_name(name)
    assert info.value.reason_code == ReasonCode.TOPIC_NAME_INVALID


@pytest.mark.parametrize("topic_filter", ["#", "+", "a/#", "+/+", "a/+/b", "/+", "$SYS/#", "$share/g/a/#"])
def test_valid_topic_filters(topic_filter: str) -> None:
    assert is_valid_topic_filter(topic_filter)


@pytest.mark.parametrize(
    "topic_filter",
    [
        "",  # [MQTT-4.7.3-1]
        "a/#/b",  # [MQTT-4.7.1-2]
        "a#",  # [MQTT-4.7.1-2]
        "a/b#",  # [MQTT-4.7.1-2]
        "a+",  # [MQTT-4.7.1-3]
        "a/+b/c",  # [MQTT-4.7.1-3]
        "x\x00",  # [MQTT-4.7.3-2]
        "$share/g",  # [MQTT-4.8.2-2] no filter after the group
        "$share//a",  # [MQTT-4.8.2-1] empty group
        "$share/g+/a",  # [MQTT-4.8.2-1] wildcard in the group
        "$share/g/",  # [MQTT-4.8.2-2] empty filter
        "$share/g/a/#/b",
    ],
)
def test_invalid_topic_filters_are_0x8f(topic_filter: str) -> None:
    with pytest.raises(ProtocolError) as info:
        validate_topic_filter(topic_filter)
    assert info.value.reason_code == ReasonCode.TOPIC_FILTER_INVALID


def test_max_levels_bounds_names_and_filters() -> None:
    assert is_valid_topic_name("a/b/c", max_levels=3)
    assert not is_valid_topic_name("a/b/c/d", max_levels=3)
    assert not is_valid_topic_filter("a/b/+/#", max_levels=3)
    assert is_valid_topic_filter("$share/group/a/b/c", max_levels=3)  # the group is not a level
    assert is_valid_topic_name("/".join("x" * 500))  # 0 = unlimited


def test_names_over_65535_bytes_are_invalid() -> None:
    assert not is_valid_topic_name("€" * 21846)  # 65538 bytes
    assert is_valid_topic_name("€" * 21845)


@pytest.mark.parametrize(
    ("topic_filter", "name", "expected"),
    [
        ("sport/tennis/player1/#", "sport/tennis/player1", True),  # spec 4.7.1.2: parent level
        ("sport/tennis/player1/#", "sport/tennis/player1/ranking", True),
        ("sport/#", "sport", True),
        ("#", "a/b", True),
        ("sport/tennis/+", "sport/tennis/player1", True),
        ("sport/tennis/+", "sport/tennis/player1/ranking", False),
        ("sport/+", "sport", False),
        ("sport/+", "sport/", True),
        ("+/+", "/finance", True),
        ("/+", "/finance", True),
        ("+", "/finance", False),
        ("a/b", "a/b", True),
        ("a/b", "a/c", False),
        ("a/+/c", "a/b", False),
    ],
)
def test_match_examples_from_spec(topic_filter: str, name: str, expected: bool) -> None:
    assert match(topic_filter, name) is expected


@pytest.mark.parametrize(
    ("topic_filter", "expected"),
    [("#", False), ("+/monitor/Clients", False), ("$SYS/#", True), ("$SYS/monitor/+", True)],
)
def test_leading_wildcard_does_not_match_dollar_topics(topic_filter: str, expected: bool) -> None:
    """[MQTT-4.7.2-1]"""
    assert match(topic_filter, "$SYS/monitor/Clients") is expected


def test_parse_shared() -> None:
    assert parse_shared("$share/group/a/+/b") == ("group", "a/+/b")
    assert parse_shared("$share/g/#") == ("g", "#")
    assert parse_shared("a/b") is None
    assert parse_shared("$share/g") is None
    assert parse_shared("$sharex/g/a") is None


@settings(max_examples=200, deadline=None)
@given(topic_names())
def test_generated_names_are_valid_and_match_themselves_and_hash(name: str) -> None:
    assert is_valid_topic_name(name)
    assert match(name, name)
    assert match("#", name) is not name.startswith("$")


@settings(max_examples=100, deadline=None)
@given(topic_filters(), topic_names())
def test_generated_filters_are_valid_and_match_agrees_with_levelwise_definition(
    topic_filter: str, name: str
) -> None:
    assert is_valid_topic_filter(topic_filter)
    shared = parse_shared(topic_filter)
    real = shared[1] if shared else topic_filter
    fl, nl = real.split("/"), name.split("/")
    if fl[-1] == "#":
        expected = len(nl) >= len(fl) - 1 and all(f in ("+", n) for f, n in zip(fl[:-1], nl, strict=False))
    else:
        expected = len(fl) == len(nl) and all(f in ("+", n) for f, n in zip(fl, nl, strict=True))
    if name.startswith("$") and real[0] in "+#":
        expected = False
    assert match(real, name) is expected


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=10))
def test_validators_never_raise_other_errors(text: str) -> None:
    is_valid_topic_name(text)
    is_valid_topic_filter(text)
