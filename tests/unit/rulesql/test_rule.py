"""The `Rule` API: sources, topic matching, purity of evaluate, lazy payload decoding, and
properties over random input (parse raises only SqlError; evaluate only EvalError)."""

import contextlib
import json

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.rulesql.inputs import NOW, message

from mqttcloud.rulesql import EVENT_FIELDS, MESSAGE_FIELDS, EvalError, SqlError, parse, source_fields


def test_sources_and_events_are_listed_in_order() -> None:
    rule = parse('SELECT * FROM "t/#", "$events/client_connected", "a/+/b"')
    assert rule.sources == ("t/#", "$events/client_connected", "a/+/b")
    assert rule.events == ("client_connected",)
    assert not rule.is_foreach
    assert parse('FOREACH payload.l FROM "t"').is_foreach


def test_matches_topic_filters_and_event_topics() -> None:
    rule = parse('SELECT * FROM "sensors/+/temp", "alerts/#", "$events/client_disconnected"')
    assert rule.matches("sensors/1/temp")
    assert rule.matches("alerts")
    assert rule.matches("alerts/fire/room1")
    assert not rule.matches("sensors/1/humidity")
    assert rule.matches("$events/client_disconnected")
    assert not rule.matches("$events/client_connected")


def test_hash_filter_does_not_match_dollar_topics_or_events() -> None:
    rule = parse('SELECT * FROM "#"')
    assert rule.matches("any/topic")
    assert not rule.matches("$SYS/brokers")
    assert not rule.matches("$events/client_connected")


def test_evaluate_never_changes_the_input_columns() -> None:
    columns = message()
    before = json.dumps(columns, sort_keys=True)
    rule = parse('SELECT payload.n AS clientid, payload.x.y AS payload.x.y, 5 AS flags.retain FROM "t/#"')
    out = rule.evaluate(columns, NOW)
    assert out == {"clientid": 7, "payload": {"x": {"y": 1}}, "flags": {"retain": 5}}
    assert json.dumps(columns, sort_keys=True) == before


def test_payload_is_decoded_only_when_a_field_of_it_is_read() -> None:
    rule = parse('SELECT clientid, payload FROM "t/#"')
    assert rule.evaluate(message(payload="\xff not json"), NOW) == {
        "clientid": "c_emqx",
        "payload": "\xff not json",
    }


def test_payload_may_be_bytes_or_already_decoded() -> None:
    rule = parse('SELECT payload.a AS a FROM "t/#"')
    assert rule.evaluate(message(payload=b'{"a": 1}'), NOW) == {"a": 1}
    assert rule.evaluate(message(payload={"a": 2}), NOW) == {"a": 2}


def test_time_comes_from_the_now_argument() -> None:
    rule = parse("SELECT now_timestamp('millisecond') AS t FROM \"t/#\"")
    assert rule.evaluate(message(), 1.5) == {"t": 1500}
    assert rule.evaluate(message(), 2.25) == {"t": 2250}


def test_the_same_rule_evaluates_many_inputs_independently() -> None:
    rule = parse('SELECT payload.v AS v, v + 1 AS w FROM "t/#" WHERE w > 2')
    assert rule.evaluate(message(payload='{"v": 5}'), NOW) == {"v": 5, "w": 6}
    assert rule.evaluate(message(payload='{"v": 1}'), NOW) is None
    assert rule.evaluate(message(payload='{"v": 2}'), NOW) == {"v": 2, "w": 3}


def test_every_event_has_its_documented_columns() -> None:
    assert set(EVENT_FIELDS) == {
        "client_connected",
        "client_disconnected",
        "session_subscribed",
        "session_unsubscribed",
        "message_delivered",
        "message_acked",
        "message_dropped",
    }
    assert {
        "clientid",
        "peername",
        "sockname",
        "proto_ver",
        "keepalive",
        "clean_start",
        "connected_at",
    } <= set(EVENT_FIELDS["client_connected"])
    assert {"reason", "disconnected_at"} <= set(EVENT_FIELDS["client_disconnected"])
    assert {"from_clientid", "from_username", "clientid"} <= set(EVENT_FIELDS["message_delivered"])
    assert "puback_props" in EVENT_FIELDS["message_acked"]
    assert "reason" in EVENT_FIELDS["message_dropped"]
    assert source_fields("t/#") == MESSAGE_FIELDS
    assert "publish_received_at" in MESSAGE_FIELDS


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_parse_raises_only_sql_error_on_random_text(text: str) -> None:
    position = (1, 1)
    try:
        parse(text)
    except SqlError as exc:
        position = (exc.line, exc.column)
    assert min(position) >= 1


_PIECES = st.sampled_from(
    [
        "SELECT",
        "FOREACH",
        "DO",
        "INCASE",
        "FROM",
        "WHERE",
        "AS",
        "CASE",
        "WHEN",
        "THEN",
        "ELSE",
        "END",
        "and",
        "or",
        "not",
        "in",
        "div",
        "mod",
        "payload",
        "payload.a",
        "payload.l[1]",
        "clientid",
        "x",
        "'s'",
        '"t/#"',
        '"$events/client_connected"',
        "1",
        "-2.5",
        "true",
        "(",
        ")",
        "[",
        "]",
        ",",
        ".",
        "..",
        "=",
        "!=",
        "<",
        ">=",
        "=~",
        "+",
        "-",
        "*",
        "/",
        "abs(",
        "upper(",
        "nth(",
        "concat(",
        "*",
    ]
)


@settings(max_examples=500, deadline=None)
@given(st.lists(_PIECES, max_size=25))
def test_parse_raises_only_sql_error_on_token_soup(pieces: list[str]) -> None:
    with contextlib.suppress(SqlError):
        parse(" ".join(pieces))


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from("abl"), inner, max_size=3),
    max_leaves=8,
)
_RULES = [
    'SELECT payload.a + payload.b AS s, payload.l[1] AS f, upper(payload.a) AS u FROM "t/#" '
    "WHERE payload.a > 1",
    "SELECT * FROM \"t/#\" WHERE payload.a = payload.b or payload.l[2] =~ 't/#'",
    'FOREACH payload.l AS i DO i.a AS a, i * 2 AS d INCASE i.b != 0 FROM "t/#"',
    'SELECT CASE payload.a WHEN 1 THEN str(payload.b) ELSE json_encode(payload) END AS c FROM "t/#"',
    "SELECT nth(payload.a, payload.l) AS n, sublist(2, payload.l) AS s, map_get('a', payload) AS m "
    'FROM "t/#"',
]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(_RULES), st.dictionaries(st.sampled_from("abl"), _JSON, max_size=3))
def test_evaluate_raises_only_eval_error_on_random_payloads(sql: str, payload: dict[str, object]) -> None:
    with contextlib.suppress(EvalError):
        parse(sql).evaluate(message(payload=json.dumps(payload)), NOW)
