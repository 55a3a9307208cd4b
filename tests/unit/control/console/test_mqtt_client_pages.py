"""The online MQTT client page: its WebSocket addresses, the only connect-src it opens, a user pre-filled."""

import re

from tests.unit.control.console.conftest import Console
from tests.unit.control.console.test_deployment_pages import create_deployment


async def test_dedicated_page_offers_ws_and_allows_only_its_origin(root_console: Console) -> None:
    deployment_id = await create_deployment(root_console)
    page = await root_console.get(f"/console/deployments/{deployment_id}/mqtt-client")
    assert page.status_code == 200
    match = re.search(r'<option value="(ws://127\.0\.0\.1:\d+/mqtt)">', page.text)
    assert match is not None
    origin = match.group(1).removesuffix("/mqtt")
    assert page.headers["content-security-policy"].endswith(f"; connect-src 'self' {origin}")
    assert 'id="mc-username" value=""' in page.text  # no MQTT user yet
    assert "/static/vendor/mqtt.min.js" in page.text
    overview = await root_console.get(f"/console/deployments/{deployment_id}")
    assert "connect-src" not in overview.headers["content-security-policy"]  # the other pages: 'self' only


async def test_first_mqtt_user_is_pre_filled(root_console: Console) -> None:
    deployment_id = await create_deployment(root_console)
    users = f"/console/deployments/{deployment_id}/users"
    for user in ("first-user", "second-user"):
        added = await root_console.submit(
            users, users, {"kind": "username", "user_id": user, "password": "pw"}
        )
        assert added.status_code == 303, added.text
    page = await root_console.get(f"/console/deployments/{deployment_id}/mqtt-client")
    assert 'id="mc-username" value="first-user"' in page.text


async def test_serverless_page_connects_over_wss_by_host_name(root_console: Console) -> None:
    deployment_id = await create_deployment(root_console, "serverless", "sl")
    page = await root_console.get(f"/console/deployments/{deployment_id}/mqtt-client")
    url = f"wss://{deployment_id}.serverless.localhost:"
    assert f'<option value="{url}' in page.text
    assert "ws://" not in page.text
    assert "connect-src 'self' wss://" in page.headers["content-security-policy"]
    assert 'id="mc-serverless-hint"' in page.text


async def test_vendored_mqtt_js_is_served_with_its_licence(root_console: Console) -> None:
    script = await root_console.get("/console/static/vendor/mqtt.min.js")
    assert script.status_code == 200
    assert "MQTTJS_VERSION" in script.text
    licence = await root_console.get("/console/static/vendor/mqtt.LICENSE.md")
    assert "MIT License" in licence.text
