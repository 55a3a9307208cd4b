"""`${...}` templates of rule actions, rendered as EMQX renders them."""

import pytest

from mqttcloud.runtime.rules.templates import Template

OUTPUT: dict[str, object] = {
    "clientid": "c1",
    "payload": '{"temp": 31.5, "loc": {"room": "a"}, "ok": true}',
    "n": 3,
    "m": {"k": [1, 2]},
}


@pytest.mark.parametrize(
    ("source", "text"),
    [
        ("alerts/${clientid}", "alerts/c1"),
        ("${payload.temp}", "31.5"),  # a JSON string is decoded on the way down
        ("${payload.loc.room}/${n}", "a/3"),
        ("${payload.ok}", "true"),
        ("${m}", '{"k":[1,2]}'),
        ("${missing}", "undefined"),
        ("${payload.loc.nothing}", "undefined"),
        ("plain", "plain"),
        ("${ clientid }", "c1"),
    ],
)
def test_render(source: str, text: str) -> None:
    assert Template(source).render(OUTPUT) == text


def test_dot_is_the_whole_output_as_json() -> None:
    assert Template("${.}").render({"a": 1, "b": "x"}) == '{"a":1,"b":"x"}'


def test_value_keeps_a_map_a_map() -> None:
    assert Template("${m}").value(OUTPUT) == {"k": [1, 2]}
    assert Template("x${n}").value(OUTPUT) == "x3"
    assert Template("alerts").is_constant
    assert not Template("a/${n}").is_constant
