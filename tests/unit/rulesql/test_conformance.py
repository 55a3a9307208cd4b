"""Rule SQL conformance: statements with their inputs and expected outputs, each taken from
the behaviour EMQX documents (rule-sql-syntax, rule-sql-builtin-functions,
rule-sql-events-and-fields) or from EMQX's runtime where the docs are silent.

`EXPRESSIONS` run as `SELECT <expr> AS r FROM "t/#"` on `inputs.message()`; `STATEMENTS` are
whole rules; `SYNTAX_ERRORS` and `EVAL_ERRORS` say where and why a rule is refused or fails.
"""

import math
from typing import Final

import pytest
from tests.unit.rulesql.inputs import NOW, PAYLOAD, message

from mqttcloud.rulesql import EvalError, SqlError, parse

UNDEFINED: Final = object()  # the field is absent from the output

EXPRESSIONS: Final[list[tuple[str, object]]] = [
    # -- literals and columns
    ("1", 1),
    ("-1", -1),
    ("1.5", 1.5),
    ("'single'", "single"),
    ('"double"', "double"),
    ("true", True),
    ("false", False),
    ("[1, 2, 'a']", [1, 2, "a"]),
    ("[1..4]", [1, 2, 3, 4]),
    ("clientid", "c_emqx"),
    ("username", "u_emqx"),
    ("topic", "t/a"),
    ("qos", 1),
    ("flags.retain", False),
    ("pub_props.'User-Property'.foo", "bar"),
    ("no_such_column", UNDEFINED),
    # -- payload paths
    ("payload.msg", "hello"),
    ("payload.x.y", 1),
    ("payload.x.z.deep", "down"),
    ("payload.x.missing", UNDEFINED),
    ("payload.list[1]", 1),
    ("payload.list[4]", 4),
    ("payload.list[-1]", 4),
    ("payload.list[5]", UNDEFINED),
    ("payload.list[0]", UNDEFINED),
    ("payload.list[payload.idx]", 2),
    ("payload.list[2..3]", [2, 3]),
    ("payload.list[-2..-1]", [3, 4]),
    ("payload.sensors[2].name", "t1"),
    ("payload.nothing", UNDEFINED),
    ("payload.msg.inner", UNDEFINED),
    # -- arithmetic
    ("1 + 2", 3),
    ("payload.n + 2", 9),
    ("(payload.n + 2) * 2", 18),
    ("payload.n + 2 * 2", 11),
    ("7 - 10", -3),
    ("1.5 * 2", 3.0),
    ("7 / 2", 3.5),
    ("4 / 2", 2.0),
    ("7 div 2", 3),
    ("-7 div 2", -3),
    ("7 mod 3", 1),
    ("-7 mod 3", -1),
    ("-payload.n", -7),
    ("'a' + '/bc'", "a/bc"),
    ("upper(clientid) + '_UPPERCASE_LETTERS'", "C_EMQX_UPPERCASE_LETTERS"),
    # -- comparison (EMQX compare/3)
    ("1 = 1", True),
    ("1 = 1.0", True),
    ("1 != 2", True),
    ("1 <> 1", False),
    ("payload.temp > 30", True),
    ("payload.temp >= 31.5", True),
    ("payload.temp < 31.5", False),
    ("payload.temp <= 31", False),
    ("payload.s = 12", True),
    ("payload.s > 11", True),
    ("12 = '12'", True),
    ("'abc' < 'abd'", True),
    ("payload.enabled = 'true'", True),
    ("payload.missing = 1", False),
    ("payload.missing != 1", False),
    ("payload.missing = payload.other_missing", True),
    ("username = 'u_emqx'", True),
    ('payload.name = "sensor_1"', True),
    ("[1, 2] = [1, 2]", True),
    # -- topic match
    ("topic =~ 't/#'", True),
    ("topic =~ 't/+'", True),
    ("topic =~ 't/b'", False),
    ("'t/a/b' =~ 't/+'", False),
    ("'$SYS/x' =~ '#'", False),
    ("'a' =~ '#'", True),
    # -- logic
    ("true and false", False),
    ("true or false", True),
    ("not false", True),
    ("not payload.missing", False),
    ("payload.temp > 30 and qos = 1", True),
    ("payload.temp > 40 or qos = 1", True),
    ("not (qos = 2)", True),
    ("qos in (0, 1)", True),
    ("qos in (2)", False),
    ("clientid in ('a', 'c_emqx')", True),
    # -- CASE
    ("CASE WHEN payload.n < 0 THEN 0 WHEN payload.n > 5 THEN 5 ELSE payload.n END", 5),
    ("CASE WHEN payload.n < 0 THEN 0 ELSE payload.n END", 7),
    ("CASE WHEN payload.n < 0 THEN 0 END", UNDEFINED),
    ("CASE qos WHEN 0 THEN 'zero' WHEN 1 THEN 'one' ELSE 'many' END", "one"),
    ("CASE qos WHEN 2 THEN 'two' ELSE 'other' END", "other"),
    # -- math (docs examples)
    ("abs(-12)", 12),
    ("abs(-1.2)", 1.2),
    ("cos(1.5)", 0.0707372016677029),
    ("cosh(1.5)", 2.352409615243247),
    ("acos(0.0707372016677029)", 1.5),
    ("acosh(2.352409615243247)", 1.5),
    ("sin(0.5)", 0.479425538604203),
    ("sinh(0.5)", 0.5210953054937474),
    ("asin(0.479425538604203)", 0.5),
    ("asinh(0.5210953054937474)", 0.5),
    ("tan(1.4)", 5.797883715482887),
    ("tanh(1.4)", 0.8853516482022625),
    ("atan(5.797883715482887)", 1.4),
    ("atanh(0.8853516482022625)", 1.4000000000000001),
    ("ceil(1.34)", 2),
    ("floor(1.34)", 1),
    ("round(1.34)", 1),
    ("round(1.54)", 2),
    ("round(2.5)", 3),
    ("round(-2.5)", -3),
    ("exp(10)", 22026.465794806718),
    ("power(2, 10)", 1024),
    ("sqrt(2)", 1.4142135623730951),
    ("fmod(-32, 5)", -2),
    ("log(1)", 0.0),
    ("log10(1000)", 3),
    ("log2(1024)", 10),
    ("bitand(12, 10)", 8),
    ("bitor(12, 10)", 14),
    ("bitxor(12, 10)", 6),
    ("bitnot(0)", -1),
    ("bitsl(1, 4)", 16),
    ("bitsr(16, 4)", 1),
    ("subbits('abc', 8)", 97),
    ("subbits('abc', 9, 8)", 98),
    ("subbits('abc', 17, 8)", 99),
    ("subbits('abc', 9, 16, 'integer', 'signed', 'big')", 25187),
    ("subbits('abc', 9, 16, 'integer', 'signed', 'little')", 25442),
    # -- type checks (docs examples)
    ("is_null(payload.missing)", True),
    ("is_null(clientid)", False),
    ("is_not_null(1)", True),
    ("is_str(1)", False),
    ("is_str('val')", True),
    ("is_bool(true)", True),
    ("is_int(1)", True),
    ("is_float(1)", False),
    ("is_float(1.234)", True),
    ("is_num(2.3)", True),
    ("is_num('val')", False),
    ("is_map(payload.x)", True),
    ("is_array(payload.list)", True),
    ("is_array(payload.x)", False),
    # -- conversion (docs examples)
    ("str(1234)", "1234"),
    ("str_utf8(1234)", "1234"),
    ("str(3.14)", "3.14"),
    ("str(true)", "true"),
    ("str(payload.x)", '{"y":1,"z":{"deep":"down"}}'),
    ("bool('true')", True),
    ("bool(0)", False),
    ("int('1234')", 1234),
    ("int(3.6)", 4),
    ("int(true)", 1),
    ("float('3.14')", 3.14),
    ("float(3)", 3.0),
    ("float2str(20.2, 10)", "20.2"),
    # -- strings (docs examples)
    ("lower('AbC')", "abc"),
    ("upper('AbC')", "ABC"),
    ("trim(' hello  ')", "hello"),
    ("ltrim(' hello  ')", "hello  "),
    ("rtrim(' hello  ')", " hello"),
    ("reverse('hello')", "olleh"),
    ("strlen('hello')", 5),
    ("substr('abcdef', 2)", "cdef"),
    ("substr('abcdef', 2, 3)", "cde"),
    ("split('a/b/ c', '/')", ["a", "b", " c"]),
    ("split('a/b/ c', '/', 'leading')", ["a", "b/ c"]),
    ("split('a/b/ c', '/', 'trailing')", ["a/b", " c"]),
    ("split('/a//b/', '/')", ["a", "b"]),
    ("split('/a//b/', '/', 'notrim')", ["", "a", "", "b", ""]),
    ("concat('a', '/bc')", "a/bc"),
    ("concat('n=', payload.n)", "n=7"),
    ("tokens(' a/b/ c', '/')", [" a", "b", " c"]),
    ("tokens(' a/b/ c', '/ ')", ["a", "b", "c"]),
    ("tokens(unescape(' a/b/ c\\n'), '/ ')", ["a", "b", "c\n"]),
    ("tokens(unescape(' a/b/ c\\n'), '/ ', 'nocrlf')", ["a", "b", "c"]),
    ("tokens(unescape(' a/b/ c\\r\\n'), '/ ', 'nocrlf')", ["a", "b", "c"]),
    ("sprintf('hello, ~s!', 'steve')", "hello, steve!"),
    ("sprintf('count: ~p~n', 100)", "count: 100\n"),
    ("sprintf('~p', 'x')", '<<"x">>'),
    ("sprintf('~.2f', 3.14159)", "3.14"),
    ("pad('abc', 5)", "abc  "),
    ("pad('abc', 5, 'trailing')", "abc  "),
    ("pad('abc', 5, 'both')", " abc "),
    ("pad('abc', 5, 'leading')", "  abc"),
    ("pad('abc', 5, 'trailing', '*')", "abc**"),
    ("pad('abc', 5, 'trailing', '*#')", "abc*#*#"),
    ("pad('abc', 5, 'both', '*')", "*abc*"),
    ("pad('abc', 5, 'both', '*#')", "*#abc*#"),
    ("pad('abc', 5, 'leading', '*')", "**abc"),
    ("pad('abc', 5, 'leading', '*#')", "*#*#abc"),
    ("replace('ababef', 'ab', 'cd')", "cdcdef"),
    ("replace('ababef', 'ab', 'cd', 'all')", "cdcdef"),
    ("replace('ababef', 'ab', 'cd', 'trailing')", "abcdef"),
    ("replace('ababef', 'ab', 'cd', 'leading')", "cdabef"),
    ("regex_match('abc123', '[a-zA-Z1-9]*')", True),
    ("regex_match('abc', '^[0-9]+$')", False),
    ("regex_replace('ab1cd3ef', '[1-9]', '[&]')", "ab[1]cd[3]ef"),
    ("regex_replace('ccefacef', 'c+', ':')", ":efa:ef"),
    ("regex_replace('2024-05', '(\\d+)-(\\d+)', '\\2/\\1')", "05/2024"),
    ("ascii('a')", 97),
    ("find('eeabcabcee', 'abc')", "abcabcee"),
    ("find('eeabcabcee', 'abc', 'leading')", "abcabcee"),
    ("find('eeabcabcee', 'abc', 'trailing')", "abcee"),
    ("find('eeabcabcee', 'xyz')", ""),
    ("join_to_string(['a', 'b', 'c'])", "a, b, c"),
    ("join_to_string('-', ['a', 'b', 'c'])", "a-b-c"),
    ("unescape('a\\tb')", "a\tb"),
    # -- maps (docs examples)
    ("map_get('a', json_decode('{ \"a\" : 1 }'))", 1),
    ("map_get('b', json_decode('{ \"a\" : 1 }'), 2)", 2),
    ("map_get('a', map_put('a', 2, json_decode('{ \"a\" : 1 }')))", 2),
    ("map_get('x.z.deep', payload)", "down"),
    ("map_get('x.y', map_put('x.y', 5, payload))", 5),
    ("mget('msg', payload)", "hello"),
    ("mput('k', 'v', map_new())", {"k": "v"}),
    ("map_keys(payload.x)", ["y", "z"]),
    # -- arrays (docs examples)
    ("nth(2, [1,2,3,4])", 2),
    ("length([1,2,3,4])", 4),
    ("sublist(3, [1,2,3,4])", [1, 2, 3]),
    ("sublist(1, 2, [1,2,3,4])", [1, 2]),
    ("first([1,2,3,4])", 1),
    ("last([1,2,3,4])", 4),
    ("contains(2, [1,2,3,4])", True),
    ("contains(5, payload.list)", False),
    ("nth(2, tokens(clientid, '_'))", "emqx"),
    # -- hashes and codecs (docs examples)
    ("md5('some val')", "1b68352b3e9c2de52ffd322e30bffcc4"),
    ("sha('some val')", "f85ba28ff5ea84a0cbfa118319acb0c5e58ee2b9"),
    ("sha256('some val')", "67f97635d8a0e064f60ba6e8846a0ac0be664f18f0c1dc6445cd3542d2b71993"),
    ("base64_encode('some val')", "c29tZSB2YWw="),
    ("base64_decode('c29tZSB2YWw=')", "some val"),
    ("json_encode(json_decode('{ \"a\" : 1 }'))", '{"a":1}'),
    ("json_encode([1, 'a', true])", '[1,"a",true]'),
    ("json_decode('[1,2]')", [1, 2]),
    ("bin2hexstr('hello')", "68656C6C6F"),
    ("bin2hexstr(hexstr2bin('ABEF12'))", "ABEF12"),
    ("bin2hexstr(gzip('hello world'))", "1F8B0800000000000003CB48CDC9C95728CF2FCA49010085114A0D0B000000"),
    ("gunzip(hexstr2bin('1F8B0800000000000003CB48CDC9C95728CF2FCA49010085114A0D0B000000'))", "hello world"),
    ("bin2hexstr(zip('hello world'))", "CB48CDC9C95728CF2FCA490100"),
    ("unzip(hexstr2bin('CB48CDC9C95728CF2FCA490100'))", "hello world"),
    ("bin2hexstr(zip_compress('hello world'))", "789CCB48CDC9C95728CF2FCA4901001A0B045D"),
    ("zip_uncompress(hexstr2bin('789CCB48CDC9C95728CF2FCA4901001A0B045D'))", "hello world"),
    # -- time (docs examples; the broker's local zone is UTC, `now` is NOW)
    ("now_timestamp()", 1653561612),
    ("now_timestamp('millisecond')", 1653561612000),
    ("now_rfc3339()", "2022-05-26T10:40:12+00:00"),
    ("now_rfc3339('millisecond')", "2022-05-26T10:40:12.000+00:00"),
    ("unix_ts_to_rfc3339(1650874276)", "2022-04-25T08:11:16+00:00"),
    ("unix_ts_to_rfc3339(1650874318331, 'millisecond')", "2022-04-25T08:11:58.331+00:00"),
    ("rfc3339_to_unix_ts('2022-04-25T16:11:16+08:00')", 1650874276),
    ("rfc3339_to_unix_ts('2022-04-25T16:11:58.331+08:00', 'millisecond')", 1650874318331),
    ("format_date('second', '+0800', '%Y-%m-%d %H:%M:%S%:z', 1653561612)", "2022-05-26 18:40:12+08:00"),
    ("format_date('second', 0, '%Y-%m-%d %H:%M:%S%:z')", "2022-05-26 10:40:12+00:00"),
    ("format_date('second', 'local', '%Y-%m-%d %H:%M:%S%:z')", "2022-05-26 10:40:12+00:00"),
    ("format_date('millisecond', 'Z', '%H:%M:%S.%3N %z', 1653561612345)", "10:40:12.345 +0000"),
    ("date_to_unix_ts('second', '%Y-%m-%d %H:%M:%S%:z', '2022-05-26 18:40:12+08:00')", 1653561612),
    ("date_to_unix_ts('second', '+08:00', '%Y-%m-%d %H-%M-%S', '2022-05-26 18-40-12')", 1653561612),
    ("date_to_unix_ts('second', '%Y-%m-%d %H:%M:%S', '2022-05-26 10:40:12')", 1653561612),
    ("timezone_to_second('+08:00')", 28800),
    ("timezone_to_second('-0130')", -5400),
    # -- accessors
    ("clientid()", "c_emqx"),
    ("username()", "u_emqx"),
    ("topic()", "t/a"),
    ("topic(2)", "a"),
    ("qos()", 1),
    ("msgid()", "0005E27C1D24E44FF440000017520000"),
    ("flag('dup')", False),
    ("peerhost()", "127.0.0.1"),
    ("payload('x.y')", 1),
    ("contains_topic_match(['t/#', 'u/1'], topic)", True),
    ("contains_topic(['t/#'], topic)", False),
]


@pytest.mark.parametrize(("expr", "expected"), EXPRESSIONS, ids=[e for e, _ in EXPRESSIONS])
def test_expression(expr: str, expected: object) -> None:
    rule = parse(f'SELECT {expr} AS r FROM "t/#"')
    out = rule.evaluate(message(), NOW)
    assert isinstance(out, dict)
    if expected is UNDEFINED:
        assert "r" not in out
    elif isinstance(expected, float) or (isinstance(out.get("r"), float) and isinstance(expected, int)):
        got = out["r"]
        assert isinstance(got, float), f"{got!r} is not a float"
        assert math.isclose(got, expected, rel_tol=1e-12, abs_tol=1e-12)
    else:
        assert out["r"] == expected
        assert type(out["r"]) is type(expected)


def _sensors_payload() -> dict[str, object]:
    return message(
        payload='{"date": "2020-04-24", "sensors": [{"name": "a", "idx": 0},'
        ' {"name": "b", "idx": 1}, {"name": "c", "idx": 2}]}',
        clientid="c_steve",
    )


CONNECTED: Final = {
    "clientid": "c_emqx",
    "username": "u_emqx",
    "peername": "127.0.0.1:52918",
    "sockname": "0.0.0.0:1883",
    "proto_name": "MQTT",
    "proto_ver": 5,
    "keepalive": 60,
    "clean_start": True,
    "expiry_interval": 0,
    "is_bridge": False,
    "connected_at": 1645003578536,
    "timestamp": 1645003578536,
    "node": "emqx@127.0.0.1",
}

STATEMENTS: Final[list[tuple[str, dict[str, object], object]]] = [
    # the SELECT examples of rule-sql-syntax
    ('SELECT payload.x.y as my_field FROM "t/#"', message(), {"my_field": 1}),
    (
        'SELECT payload.msg as msg, clientid, username, topic, qos FROM "t/#"',
        message(payload='{"msg":"hello"}'),
        {"msg": "hello", "clientid": "c_emqx", "username": "u_emqx", "topic": "t/a", "qos": 1},
    ),
    (
        'SELECT clientid, payload.clientid as myclientid FROM "t/#", "my/other/topic"',
        message(payload='{"clientid": "inner"}'),
        {"clientid": "c_emqx", "myclientid": "inner"},
    ),
    ('SELECT * FROM "t/#"', message(), message()),
    ("SELECT * FROM \"t/#\" WHERE username = 'eric'", message(), None),
    ("SELECT * FROM \"t/#\" WHERE username = 'eric'", message(username="eric"), message(username="eric")),
    (
        'SELECT qos, username, clientid FROM "t/#"',
        message(),
        {"qos": 1, "username": "u_emqx", "clientid": "c_emqx"},
    ),
    ('SELECT payload.x as x FROM "t/#" WHERE x = 1', message(payload='{"x": 1}'), {"x": 1}),
    ('SELECT payload.x as x FROM "t/#" WHERE x = 1', message(payload='{"x": 2}'), None),
    (
        'SELECT * FROM "#" WHERE payload.x.y = 1',
        message(payload='{"x": {"y": 1}, "other": "f"}'),
        message(payload='{"x": {"y": 1}, "other": "f"}'),
    ),
    (
        'SELECT payload.name FROM "t/#" WHERE payload.name = "sensor_1" and payload.temp > 30',
        message(),
        {"payload": {"name": "sensor_1"}},
    ),
    ("SELECT pub_props.'User-Property'.foo as foo FROM \"t/#\"", message(), {"foo": "bar"}),
    (
        "SELECT (upper(clientid) + '_UPPERCASE_LETTERS') as cid FROM \"t/#\"",
        message(),
        {"cid": "C_EMQX_UPPERCASE_LETTERS"},
    ),
    (
        'SELECT (payload.integer_field + 2) * 2 as num FROM "t/#"',
        message(payload='{"integer_field": 3}'),
        {"num": 10},
    ),
    (
        'SELECT CASE WHEN payload.x < 0 THEN 0 WHEN payload.x > 7 THEN 7 ELSE payload.x END as x FROM "t/#"',
        message(payload='{"x": 8}'),
        {"x": 7},
    ),
    # output keys: a path without alias nests, AS a.b nests, later fields see aliases
    ('SELECT payload.msg FROM "t/#"', message(), {"payload": {"msg": "hello"}}),
    (
        'SELECT payload.msg AS out.text, qos AS out.qos FROM "t/#"',
        message(),
        {"out": {"text": "hello", "qos": 1}},
    ),
    ('SELECT payload.n AS n, n * 2 AS twice FROM "t/#"', message(), {"n": 7, "twice": 14}),
    ("SELECT 'const' FROM \"t/#\"", message(), {"const": "const"}),
    ('SELECT payload.missing AS m, qos FROM "t/#"', message(), {"qos": 1}),
    ('SELECT payload FROM "t/#"', message(payload="not json"), {"payload": "not json"}),
    ('SELECT clientid FROM "t/#" WHERE payload.enabled', message(), {"clientid": "c_emqx"}),
    ('SELECT clientid FROM "t/#" WHERE payload.missing', message(), None),
    (
        "SELECT clientid FROM \"t/#\" WHERE topic =~ 't/+' and qos in (1, 2)",
        message(),
        {"clientid": "c_emqx"},
    ),
    # events (rule-sql-events-and-fields)
    (
        'SELECT clientid, username, keepalive, is_bridge FROM "$events/client_connected"',
        CONNECTED,
        {"clientid": "c_emqx", "username": "u_emqx", "keepalive": 60, "is_bridge": False},
    ),
    (
        "SELECT peername as ip_port FROM \"$events/client_connected\" WHERE clientid = 'c1'",
        {**CONNECTED, "clientid": "c1"},
        {"ip_port": "127.0.0.1:52918"},
    ),
    ("SELECT peername as ip_port FROM \"$events/client_connected\" WHERE clientid = 'c1'", CONNECTED, None),
    (
        'SELECT clientid, username, reason, disconnected_at, node FROM "$events/client_disconnected"',
        {
            "clientid": "c_emqx",
            "username": "u_emqx",
            "reason": "normal",
            "disconnected_at": 1645003578536,
            "node": "emqx@127.0.0.1",
            "peername": "127.0.0.1:52918",
        },
        {
            "clientid": "c_emqx",
            "username": "u_emqx",
            "reason": "normal",
            "disconnected_at": 1645003578536,
            "node": "emqx@127.0.0.1",
        },
    ),
    (
        "SELECT clientid FROM \"$events/session_subscribed\" WHERE topic =~ 't/#' and qos = 1",
        {"clientid": "c_emqx", "topic": "t/a", "qos": 1},
        {"clientid": "c_emqx"},
    ),
    (
        "SELECT clientid FROM \"$events/session_subscribed\" WHERE topic = 'my/topic' and qos = 1",
        {"clientid": "c_emqx", "topic": "t/a", "qos": 1},
        None,
    ),
    (
        'SELECT reason, topic, qos FROM "$events/message_dropped"',
        {"reason": "no_subscribers", "topic": "t/a", "qos": 1, "payload": "x"},
        {"reason": "no_subscribers", "topic": "t/a", "qos": 1},
    ),
    (
        "SELECT from_clientid, from_username, topic "
        'FROM "$events/message_delivered", "$events/message_acked"',
        {"from_clientid": "c_emqx_1", "from_username": "u_emqx_1", "clientid": "c2", "topic": "t/a"},
        {"from_clientid": "c_emqx_1", "from_username": "u_emqx_1", "topic": "t/a"},
    ),
    # FOREACH (rule-sql-syntax examples 1-3)
    (
        'FOREACH payload.sensors FROM "t/#"',
        _sensors_payload(),
        [{**_sensors_payload(), "item": {"name": n, "idx": i}} for i, n in enumerate("abc")],
    ),
    (
        "FOREACH payload.sensors DO clientid, item.name as name, item.idx as idx "
        'INCASE item.idx >= 1 FROM "t/#"',
        _sensors_payload(),
        [{"clientid": "c_steve", "name": "b", "idx": 1}, {"clientid": "c_steve", "name": "c", "idx": 2}],
    ),
    (
        'FOREACH payload.sensors as s DO clientid, s.name as name, s.idx as idx INCASE s.idx >= 1 FROM "t/#"',
        _sensors_payload(),
        [{"clientid": "c_steve", "name": "b", "idx": 1}, {"clientid": "c_steve", "name": "c", "idx": 2}],
    ),
    (
        "FOREACH payload.sensors as s DO nth(2, tokens(clientid,'_')) as clientid, s.name as name "
        "INCASE s.idx >= 1 "
        'FROM "t/#"',
        _sensors_payload(),
        [{"clientid": "steve", "name": "b"}, {"clientid": "steve", "name": "c"}],
    ),
    (
        'FOREACH payload.data as d, d.sensors as s DO s.name AS name FROM "t/#"',
        message(payload='{"data": {"sensors": [{"name": "a"}, {"name": "b"}]}}'),
        [{"name": "a"}, {"name": "b"}],
    ),
    (
        "FOREACH payload.sensors as s DO s.name AS name FROM \"t/#\" WHERE clientid = 'nobody'",
        _sensors_payload(),
        None,
    ),
    ('FOREACH payload.sensors as s DO s.name AS name INCASE s.idx > 5 FROM "t/#"', _sensors_payload(), []),
    ('FOREACH payload.date DO item AS x FROM "t/#"', _sensors_payload(), []),
    ('FOREACH [1, 2, 3] as n DO n * 10 AS v INCASE n <> 2 FROM "t/#"', message(), [{"v": 10}, {"v": 30}]),
    (
        'FOREACH payload.list as n DO upper(clientid) AS c, n FROM "t/#" WHERE length(payload.list) = 4',
        message(),
        [{"c": "C_EMQX", "n": n} for n in (1, 2, 3, 4)],
    ),
    # case and layout of keywords and whitespace do not matter
    ('select   clientid\n  from "t/#"\n  where qos = 1', message(), {"clientid": "c_emqx"}),
]


@pytest.mark.parametrize(("sql", "columns", "expected"), STATEMENTS, ids=[s for s, _, _ in STATEMENTS])
def test_statement(sql: str, columns: dict[str, object], expected: object) -> None:
    assert parse(sql).evaluate(columns, NOW) == expected


SYNTAX_ERRORS: Final[list[tuple[str, int, int, str]]] = [
    ("", 1, 1, "a rule starts with SELECT or FOREACH"),
    ("UPDATE x", 1, 1, "a rule starts with SELECT or FOREACH"),
    ('SELECT FROM "t"', 1, 8, "expected a field"),
    ("SELECT a", 1, 9, "expected FROM"),
    ("SELECT a FROM", 1, 14, 'expected a "topic filter"'),
    ("SELECT a FROM t", 1, 15, 'expected a "topic filter"'),
    ("SELECT a FROM 't/#'", 1, 15, "double-quoted"),
    ('SELECT a FROM "t/#/x"', 1, 15, "'#' must be a whole level and the last one"),
    ('SELECT a FROM "t+"', 1, 15, "'+' must be a whole level"),
    ('SELECT a FROM ""', 1, 15, "empty topic filter"),
    ('SELECT a FROM "$events/nope"', 1, 15, "unknown event"),
    ('SELECT a FROM "t" WHERE', 1, 24, "expected an expression"),
    ('SELECT a FROM "t" WHERE a =', 1, 28, "expected an expression"),
    ('SELECT a FROM "t" extra', 1, 19, "unexpected 'extra' after the rule"),
    ('SELECT nope(1) FROM "t"', 1, 8, "unknown function 'nope'"),
    ('SELECT abs(1, 2) FROM "t"', 1, 8, "abs() takes 1 arguments, got 2"),
    ('SELECT substr() FROM "t"', 1, 8, "substr() takes 2 to 3 arguments, got 0"),
    ('SELECT (1 + 2 FROM "t"', 1, 15, "expected ')'"),
    ('SELECT \'abc FROM "t"', 1, 8, "unterminated string"),
    ('SELECT a # b FROM "t"', 1, 10, "unexpected character '#'"),
    ('SELECT a AS FROM "t"', 1, 13, "expected a name after AS"),
    ('SELECT CASE WHEN a THEN 1 FROM "t"', 1, 27, "expected END"),
    ('SELECT CASE ELSE 1 END FROM "t"', 1, 13, "expected an expression"),
    ('SELECT payload.* FROM "t"', 1, 16, "expected a field name after '.'"),
    ('SELECT payload.l[0..1] FROM "t"', 1, 22, "array positions start at 1"),
    ('FOREACH * FROM "t"', 1, 9, "'*' is not allowed in the FOREACH clause"),
    ('FOREACH payload.l AS a.b FROM "t"', 1, 26, "the FOREACH item name must be a plain name"),
    ('SELECT\n  a,\n  b c\nFROM "t"', 3, 5, "expected FROM"),
    ('SELECT a\nFROM "t"\nWHERE a = = 1', 3, 11, "expected an expression"),
    ('SELECT 1e999 FROM "t"', 1, 8, "out of range"),
    ("SELECT " + "9" * 400 + ' FROM "t"', 1, 8, "number literal too long"),
    ("SELECT " + "(" * 150 + "1" + ")" * 150 + ' FROM "t"', 1, 108, "nested deeper than"),
]


@pytest.mark.parametrize(
    ("sql", "line", "column", "message"), SYNTAX_ERRORS, ids=[s[:40] for s, *_ in SYNTAX_ERRORS]
)
def test_syntax_error_says_where_and_why(sql: str, line: int, column: int, message: str) -> None:
    with pytest.raises(SqlError) as caught:
        parse(sql)
    assert (caught.value.line, caught.value.column) == (line, column), caught.value
    assert message in caught.value.message


EVAL_ERRORS: Final[list[tuple[str, dict[str, object], str]]] = [
    ('SELECT payload.x FROM "t/#"', message(payload="not json"), "the payload is not valid JSON"),
    ("SELECT 1 + 'a' AS r FROM \"t/#\"", message(), "bad operands"),
    ('SELECT 1 / 0 AS r FROM "t/#"', message(), "division by zero"),
    ('SELECT 7 div 0 AS r FROM "t/#"', message(), "div by zero"),
    ('SELECT 1.5 mod 2 AS r FROM "t/#"', message(), "mod takes integers"),
    ('SELECT lower(1) AS r FROM "t/#"', message(), "must be a string"),
    ('SELECT sqrt(-1) AS r FROM "t/#"', message(), "out of the function's domain"),
    ('SELECT nth(9, [1]) AS r FROM "t/#"', message(), "outside the array"),
    ("SELECT int('abc') AS r FROM \"t/#\"", message(), "cannot convert"),
    ("SELECT clientid FROM \"t/#\" WHERE payload.s > 'abc' + 1", message(), "bad operands"),
    ("SELECT clientid FROM \"t/#\" WHERE payload.n > 'abc'", message(), "cannot compare the string"),
    ('SELECT clientid FROM "t/#" WHERE payload.n', message(), "WHERE must be a boolean"),
    ('SELECT clientid FROM "t/#" WHERE payload.n and true', message(), "AND needs booleans"),
    ("SELECT json_decode('{bad') AS r FROM \"t/#\"", message(), "invalid JSON"),
    ("SELECT base64_decode('***') AS r FROM \"t/#\"", message(), "not valid base64"),
    ("SELECT regex_match('a', '(') AS r FROM \"t/#\"", message(), "bad regular expression"),
]


@pytest.mark.parametrize(("sql", "columns", "message"), EVAL_ERRORS, ids=[s for s, *_ in EVAL_ERRORS])
def test_evaluation_error_names_the_failure(sql: str, columns: dict[str, object], message: str) -> None:
    with pytest.raises(EvalError) as caught:
        parse(sql).evaluate(columns, NOW)
    assert message in caught.value.message


def test_suite_has_at_least_150_statements() -> None:
    assert len(EXPRESSIONS) + len(STATEMENTS) + len(SYNTAX_ERRORS) + len(EVAL_ERRORS) >= 150
    assert PAYLOAD["list"] == [1, 2, 3, 4]
