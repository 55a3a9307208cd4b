"""Several rules on one input through one `Env` (`Rule.run`): the payload is decoded once, WHERE
outcomes are shared only where they cannot differ, and no rule sees another's aliases. Also that
running WHERE before the fields (when nothing reads them) keeps EMQX's outcome."""

import pytest
from tests.unit.rulesql.inputs import NOW, message

from mqttcloud.rulesql import Env, EvalError, parse
from mqttcloud.rulesql import env as env_module


def test_the_payload_is_decoded_once_for_every_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    decodes: list[str] = []
    decode = env_module._decode_json

    def counting(text: str) -> object:
        decodes.append(text)
        return decode(text)

    monkeypatch.setattr(env_module, "_decode_json", counting)
    rules = [parse(f'SELECT payload.n AS n, {i} AS r FROM "t/#" WHERE payload.temp > {i}') for i in range(5)]
    env = Env(message(), NOW)
    outputs = [rule.run(env) for rule in rules]
    assert outputs == [{"n": 7, "r": i} for i in range(5)]
    assert len(decodes) == 1


def test_a_rule_writing_aliases_leaves_the_shared_input_alone() -> None:
    writer = parse('SELECT 1 AS payload.temp, payload.temp AS seen, 9 AS clientid, clientid AS c FROM "t/#"')
    reader = parse('SELECT payload.temp AS t, clientid FROM "t/#"')
    env = Env(message(), NOW)
    assert writer.run(env) == {"payload": {"temp": 1}, "seen": 1, "clientid": 9, "c": 9}
    assert reader.run(env) == {"t": 31.5, "clientid": "c_emqx"}
    assert writer.run(env) == {"payload": {"temp": 1}, "seen": 1, "clientid": 9, "c": 9}


def test_the_same_where_text_is_shared_only_when_it_reads_the_input_alone() -> None:
    by_input = [parse(f'SELECT {i} AS r FROM "t/#" WHERE payload.n > 5') for i in range(3)]
    by_alias = [
        parse('SELECT payload.n AS k FROM "t/#" WHERE k > 5'),
        parse('SELECT 0 AS k FROM "t/#" WHERE k > 5'),
    ]
    env = Env(message(), NOW)
    assert [rule.run(env) for rule in by_input] == [{"r": 0}, {"r": 1}, {"r": 2}]
    assert [rule.run(env) for rule in by_alias] == [{"k": 7}, None]
    assert env.conditions == {"payload.n > 5": True}


def test_a_failing_where_fails_each_rule_and_is_not_remembered() -> None:
    rules = [parse(f'SELECT {i} AS r FROM "t/#" WHERE payload.n > 5') for i in range(2)]
    env = Env(message(payload="not json"), NOW)
    for rule in rules:
        with pytest.raises(EvalError, match="not valid JSON"):
            rule.run(env)
    assert env.conditions == {}


@pytest.mark.parametrize(
    ("sql", "outcome"),
    [
        # WHERE first: it reads the payload, so the payload fields cannot fail after it
        ('SELECT payload.x AS a FROM "t" WHERE payload.y > 1', "raises"),
        # fields first: WHERE reads no payload, and payload.x fails on a payload that is not JSON
        ("SELECT payload.x AS a FROM \"t\" WHERE clientid = 'other'", "raises"),
        ("SELECT clientid AS a, 1 AS b FROM \"t\" WHERE clientid = 'other'", None),
        # a field that may fail is evaluated before WHERE, as EMQX does
        ("SELECT 1 div 0 AS a FROM \"t\" WHERE clientid = 'other'", "raises"),
    ],
)
def test_where_before_the_fields_keeps_the_outcome(sql: str, outcome: str | None) -> None:
    rule = parse(sql)
    for shared in (False, True):
        columns = message(payload="not json")
        if outcome == "raises":
            with pytest.raises(EvalError):
                rule.run(Env(columns, NOW)) if shared else rule.evaluate(columns, NOW)
        else:
            assert (rule.run(Env(columns, NOW)) if shared else rule.evaluate(columns, NOW)) is None


def test_where_may_read_what_a_field_writes_back_unchanged() -> None:
    rule = parse("SELECT payload.n, clientid FROM \"t/#\" WHERE payload.n > 5 and clientid = 'c_emqx'")
    env = Env(message(), NOW)
    assert rule.run(env) == {"payload": {"n": 7}, "clientid": "c_emqx"}
    assert rule.evaluate(message(payload='{"n": 1}'), NOW) is None
