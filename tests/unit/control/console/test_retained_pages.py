"""The retained-messages pages without a running broker: the list says why it is empty, deleting needs a
role that may edit, and the payload is shown as text only when it is UTF-8."""

import base64

from tests.unit.control.console.conftest import Console
from tests.unit.control.console.test_deployment_pages import create_deployment

from mqttcloud.contracts import RetainedMessage, RetainedSummary
from mqttcloud.control.accounts.models import Role
from mqttcloud.control.console.retained_pages import payload_views

SUMMARY = RetainedSummary(
    msgid="0" * 32, topic="t", qos=0, publish_at=1.0, from_clientid=None, payload_size=2
)


async def test_list_without_a_running_broker_says_why(root_console: Console) -> None:
    deployment_id = await create_deployment(root_console)
    page = await root_console.get(f"/console/deployments/{deployment_id}/retained")
    assert page.status_code == 200
    assert 'id="retained-count">0<' in page.text
    assert "not running" in page.text
    assert 'id="retained-empty"' not in page.text  # not "no message": the broker could not be asked


async def test_an_auditor_cannot_reach_the_delete_confirmation(root_console: Console) -> None:
    deployment_id = await create_deployment(root_console)
    root_console.add_account("audra", Role.AUDITOR)
    root_console.client.cookies.clear()
    assert (await root_console.login("audra", "password-audra")).status_code == 303
    path = f"/console/deployments/{deployment_id}/retained"
    assert (await root_console.get(f"{path}/delete?topic=t")).status_code == 403
    assert (await root_console.get(f"{path}/clear")).status_code == 403
    assert (await root_console.get(path)).status_code == 200


def test_payload_views() -> None:
    def views(payload: bytes | None) -> tuple[str | None, str | None]:
        encoded = None if payload is None else base64.b64encode(payload).decode()
        return payload_views(RetainedMessage(message=SUMMARY, payload_b64=encoded))

    assert views(b"h\xc3\xa9") == ("hé", "68 c3 a9")
    assert views(b"\xff\x00") == (None, "ff 00")
    assert views(b"") == ("", "")
    assert views(None) == (None, None)
