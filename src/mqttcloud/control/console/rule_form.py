"""The console's rule editor form: a rule as the form shows it (SQL, republish blocks, console output,
HTTP actions, a sample input for the test run) and back as the EMQX 5 `actions` the integration use
cases take.

Rule: the form edits only the actions it can show. A rule that also has others (v4 web hooks,
`do_nothing`, written through the v4 API) is saved with its actions untouched (`keeps_actions`), never
silently rewritten.
"""

import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from starlette.datastructures import FormData

from mqttcloud.control.console.pages import field_list, field_text
from mqttcloud.control.deployment_api.integration.models import RuleRow

NEW_RULE_SQL = 'SELECT\n  *\nFROM\n  "t/#"'
QOS_CHOICES = ("0", "1", "2", "${qos}")
RETAIN_CHOICES = ("false", "true", "${flags.retain}")
_SHOWN_KINDS = {"republish", "console", "action"}


@dataclass
class Republish:
    """One republish action as the form shows it (QoS and retain may be templates)."""

    topic: str = ""
    qos: str = "0"
    retain: str = "false"
    payload: str = "${payload}"


@dataclass
class Sample:
    """The test run's input: `event` "" takes the rule's first FROM source."""

    event: str = ""
    topic: str = "t/a"
    clientid: str = "c_emqx"
    username: str = "u_emqx"
    qos: str = "1"
    payload: str = '{"msg": "hello"}'


@dataclass
class RuleForm:
    rule_id: str = ""
    description: str = ""
    sql: str = NEW_RULE_SQL
    enabled: bool = True
    republish: list[Republish] = field(default_factory=list)
    console: bool = False
    http: list[str] = field(default_factory=list)
    keeps_actions: bool = False
    sample: Sample = field(default_factory=Sample)

    def blocks(self) -> list[Republish]:
        """The republish blocks to show: the rule's, then one blank to add another."""
        return [*self.republish, Republish()]


def from_rule(row: RuleRow) -> RuleForm:
    """The form of a stored rule."""
    chosen = RuleForm(
        rule_id=row.rule_id,
        description=row.description,
        sql=row.sql,
        enabled=row.enabled,
        keeps_actions=any(item.get("kind") not in _SHOWN_KINDS for item in row.actions),
    )
    for item in row.actions:
        kind = item.get("kind")
        if kind == "republish":
            chosen.republish.append(
                Republish(
                    topic=str(item.get("topic", "")),
                    qos=_text(item.get("qos", 0)),
                    retain=_text(item.get("retain", False)),
                    payload=str(item.get("payload", "")),
                )
            )
        elif kind == "console":
            chosen.console = True
        elif kind == "action":
            chosen.http.append(str(item.get("action", "")))
    return chosen


def _text(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def from_form(form: FormData, *, keeps_actions: bool = False) -> RuleForm:
    """The form as submitted; republish blocks with no topic are left out (the blank one)."""
    topics, qos, retain, payloads = (
        field_list(form, f"republish_{name}") for name in ("topic", "qos", "retain", "payload")
    )
    blocks = [
        Republish(topic=t.strip(), qos=q or "0", retain=r or "false", payload=p)
        for t, q, r, p in itertools.zip_longest(topics, qos, retain, payloads, fillvalue="")
        if t.strip()
    ]
    return RuleForm(
        rule_id=field_text(form, "rule_id"),
        description=field_text(form, "description"),
        sql=field_text(form, "sql", strip=False).strip(),
        enabled=form.get("enabled") == "on",
        republish=blocks,
        console=form.get("console") == "on",
        http=field_list(form, "http_actions"),
        keeps_actions=keeps_actions,
        sample=Sample(
            event=field_text(form, "test_event"),
            topic=field_text(form, "test_topic"),
            clientid=field_text(form, "test_clientid"),
            username=field_text(form, "test_username"),
            qos=field_text(form, "test_qos") or "0",
            payload=field_text(form, "test_payload", strip=False),
        ),
    )


def raw_actions(chosen: RuleForm) -> tuple[list[str | dict[str, object]], dict[int, str]]:
    """The EMQX 5 rule `actions` of the form, and which form field each index came from (for errors)."""
    actions: list[str | dict[str, object]] = []
    places: dict[int, str] = {}
    for number, block in enumerate(chosen.republish):
        places[len(actions)] = f"republish-{number}"
        args = {"topic": block.topic, "qos": block.qos, "retain": block.retain, "payload": block.payload}
        actions.append({"function": "republish", "args": args})
    if chosen.console:
        places[len(actions)] = "console"
        actions.append({"function": "console"})
    for name in chosen.http:
        places[len(actions)] = "http_actions"
        actions.append(name)
    return actions, places


def error_field(field_name: str | None, places: Mapping[int, str]) -> str:
    """The form field a service error concerns: `actions[2].args.topic` -> the block it came from."""
    if not field_name:
        return "form"
    if field_name.startswith("actions["):
        index = field_name[len("actions[") :].split("]", 1)[0]
        return places.get(int(index), "actions") if index.isdigit() else "actions"
    if field_name.startswith("context."):
        return "test_event"
    return {"id": "rule_id"}.get(field_name, field_name)


def test_context(sample: Sample) -> dict[str, object]:
    """The `rule_test` context of the sample (a message, or the chosen event's client fields)."""
    context: dict[str, object] = {"clientid": sample.clientid, "username": sample.username}
    if sample.event:
        context["event_type"] = sample.event
    if sample.event in {"", "message_publish"}:
        context["topic"] = sample.topic
        context["qos"] = int(sample.qos) if sample.qos in {"0", "1", "2"} else 0
        context["payload"] = sample.payload
    return context


def show_output(output: object) -> str:
    """A test run's output as the page shows it (indented JSON, non-ASCII kept)."""
    return json.dumps(output, indent=2, ensure_ascii=False, sort_keys=True, default=str)
