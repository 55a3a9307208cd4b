"""The overview's getting-started steps: the no-user warning and commands filled with the address."""

import html
import re

from tests.unit.control.console.conftest import Console
from tests.unit.control.console.test_deployment_pages import create_deployment


def snippet(page_html: str, key: str) -> str:
    match = re.search(rf'<code id="cmd-{key}"[^>]*>(.*?)</code>', page_html, re.DOTALL)
    assert match is not None, key
    return html.unescape(match.group(1))


async def test_dedicated_overview_warns_until_a_user_exists(root_console: Console) -> None:
    deployment_id = await create_deployment(root_console)
    base = f"/console/deployments/{deployment_id}"
    page = (await root_console.get(base)).text
    assert 'id="no-user-warning"' in page
    assert "Create an MQTT user first" in page
    port = re.search(r'id="addr-mqtt">127\.0\.0\.1:(\d+)<', page)
    assert port is not None
    assert snippet(page, "mosquitto-sub") == (
        f'mosquitto_sub -h 127.0.0.1 -p {port.group(1)} -u "$MQTT_USER" -P "$MQTT_PASSWORD" -t \'test/#\' -v'
    )
    assert snippet(page, "mosquitto-pub").startswith(f"mosquitto_pub -h 127.0.0.1 -p {port.group(1)} -u")
    assert f'client.connect("127.0.0.1", {port.group(1)})' in snippet(page, "python")
    assert f'mqtt.connect("mqtt://127.0.0.1:{port.group(1)}"' in snippet(page, "mqttjs")
    assert "--cafile" not in page
    compile(snippet(page, "python"), "python-snippet", "exec")  # at least valid Python
    assert 'require("fs")' not in snippet(page, "mqttjs")

    users = f"{base}/users"
    created = await root_console.submit(
        users, users, {"kind": "username", "user_id": "u1", "password": "pw-123456"}
    )
    assert created.status_code == 303
    page = (await root_console.get(base)).text
    assert 'id="no-user-warning"' not in page
    assert "(1 so far)" in page


async def test_serverless_overview_gives_ca_sni_and_a_hosts_line(root_console: Console) -> None:
    deployment_id = await create_deployment(root_console, "serverless", "sl")
    page = (await root_console.get(f"/console/deployments/{deployment_id}")).text
    host = f"{deployment_id}.serverless.localhost"
    assert snippet(page, "mosquitto-sub").startswith(
        f"mosquitto_sub -h {host} -p 42000 --cafile emqxsl-ca.crt -u"
    )
    assert "-l mqtts --ca emqxsl-ca.crt" in snippet(page, "mqttx")
    assert 'client.tls_set(ca_certs="emqxsl-ca.crt")' in snippet(page, "python")
    mqttjs = snippet(page, "mqttjs")
    assert 'mqtt.connect("mqtts://127.0.0.1:42000"' in mqttjs
    assert f'servername: "{host}"' in mqttjs
    assert 'fs.readFileSync("emqxsl-ca.crt")' in mqttjs
    compile(snippet(page, "python"), "python-snippet", "exec")
    assert f"echo &#39;127.0.0.1 {host}&#39; | sudo tee -a /etc/hosts" in page
    assert 'id="no-user-warning"' in page


async def test_getting_started_is_translated(root_console: Console) -> None:
    deployment_id = await create_deployment(root_console)
    await root_console.get("/console/lang?to=zh-CN")
    page = (await root_console.get(f"/console/deployments/{deployment_id}")).text
    assert "快速开始" in page
    assert "请先创建 MQTT 用户" in page
