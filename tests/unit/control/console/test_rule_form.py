"""The rule editor's form: to EMQX 5 `actions` and back, errors placed on their block, v4 items kept."""

from starlette.datastructures import FormData

from mqttcloud.control.console import rule_form
from mqttcloud.control.deployment_api.integration import actions as items
from mqttcloud.control.deployment_api.integration.models import RuleRow


def _form(**repeated: list[str]) -> FormData:
    return FormData([(name, value) for name, values in repeated.items() for value in values])


def test_blank_republish_block_is_left_out_and_order_is_kept() -> None:
    chosen = rule_form.from_form(
        _form(
            sql=['SELECT * FROM "t/#"'],
            republish_topic=["out/a", "", "out/b"],
            republish_qos=["1", "0", "${qos}"],
            republish_retain=["true", "false", "false"],
            republish_payload=["${payload}", "${payload}", "x"],
            console=["on"],
            http_actions=["http:hook"],
        )
    )
    raw, places = rule_form.raw_actions(chosen)
    assert raw == [
        {
            "function": "republish",
            "args": {"topic": "out/a", "qos": "1", "retain": "true", "payload": "${payload}"},
        },
        {
            "function": "republish",
            "args": {"topic": "out/b", "qos": "${qos}", "retain": "false", "payload": "x"},
        },
        {"function": "console"},
        "http:hook",
    ]
    assert places == {0: "republish-0", 1: "republish-1", 2: "console", 3: "http_actions"}
    assert rule_form.error_field("actions[1].args.qos", places) == "republish-1"
    assert rule_form.error_field("actions[9]", places) == "actions"
    assert rule_form.error_field("id", places) == "rule_id"
    assert rule_form.error_field(None, places) == "form"


def test_a_stored_rule_shows_as_it_was_saved() -> None:
    stored = items.from_v5(
        [{"function": "republish", "args": {"topic": "o/${clientid}", "qos": 2, "retain": True}}, "http:x"],
        {"http:x": True},
    )
    row = RuleRow(rule_id="r1", sql='SELECT * FROM "a"', actions=stored, enabled=False, description="d")
    chosen = rule_form.from_rule(row)
    assert (chosen.rule_id, chosen.enabled, chosen.keeps_actions) == ("r1", False, False)
    assert [(b.topic, b.qos, b.retain) for b in chosen.republish] == [("o/${clientid}", "2", "true")]
    assert chosen.http == ["http:x"]
    assert len(chosen.blocks()) == 2  # the rule's block and a blank one


def test_a_rule_with_v4_web_hooks_keeps_its_actions() -> None:
    stored = items.from_v4([("data_to_webserver", {"$resource": "resource:1"})], {"resource:1": "web_hook"})
    row = RuleRow(rule_id="rule:1", sql='SELECT * FROM "a"', actions=stored, enabled=True, description="")
    assert rule_form.from_rule(row).keeps_actions


def test_test_context_of_an_event_has_no_message_fields() -> None:
    sample = rule_form.Sample(event="client_connected", clientid="c1")
    assert rule_form.test_context(sample) == {
        "clientid": "c1",
        "username": "u_emqx",
        "event_type": "client_connected",
    }
    message = rule_form.test_context(rule_form.Sample(qos="7"))
    assert message["qos"] == 0
    assert message["topic"] == "t/a"
