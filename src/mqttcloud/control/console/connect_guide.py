"""The overview's "Getting started": copy-paste client commands filled with one deployment's address.

`guide(...)` picks how a client reaches the deployment (Dedicated: MQTT over TCP on its own port;
Serverless: MQTT over TLS on the shared port, with the platform CA and SNI = the deployment's host name)
and writes the same connection for mosquitto_sub/mosquitto_pub, the MQTTX CLI, paho-mqtt and MQTT.js.
Rule: the credentials are never in a snippet; every snippet reads `$MQTT_USER` / `$MQTT_PASSWORD`
(set by the first one), so what is copied is exactly what a test runs.
"""

import shlex
from dataclasses import dataclass

from mqttcloud.control.deployments.schemas import Endpoints

TOPIC_FILTER = "test/#"
TOPIC = "test/hello"


@dataclass(frozen=True, slots=True)
class Snippet:
    key: str  # element id suffix: cmd-<key>
    title: str  # a message id (translated by the template)
    language: str  # shell, python, javascript
    text: str


@dataclass(frozen=True, slots=True)
class Guide:
    host: str  # the host name a client connects to (and sends as SNI with TLS)
    port: int
    tls: bool
    ca_file: str | None  # the CA file name the commands expect in the current folder (Serverless)
    resolve_to: str | None  # Serverless: the platform address to map `host` to when it does not resolve
    snippets: list[Snippet]


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def _mosquitto(program: str, host: str, port: int, ca_file: str | None, tail: str) -> str:
    tls = f" --cafile {shlex.quote(ca_file)}" if ca_file else ""
    return f'{program} -h {shlex.quote(host)} -p {port}{tls} -u "$MQTT_USER" -P "$MQTT_PASSWORD" {tail}'


def _mqttx(verb: str, host: str, port: int, ca_file: str | None, tail: str) -> str:
    tls = f" -l mqtts --ca {shlex.quote(ca_file)}" if ca_file else ""
    return f'mqttx {verb} -h {shlex.quote(host)} -p {port}{tls} -u "$MQTT_USER" -P "$MQTT_PASSWORD" {tail}'


def _python(host: str, port: int, ca_file: str | None) -> str:
    tls = f'client.tls_set(ca_certs="{ca_file}")  # TLS; the host name is sent as SNI\n' if ca_file else ""
    return (
        "import os\n\n"
        "import paho.mqtt.client as mqtt  # pip install paho-mqtt (2.x)\n\n"
        'client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="getting-started-python")\n'
        'client.username_pw_set(os.environ["MQTT_USER"], os.environ["MQTT_PASSWORD"])\n'
        f"{tls}"
        "client.on_connect = lambda c, userdata, flags, reason, props: (\n"
        f'    c.subscribe("{TOPIC_FILTER}"), c.publish("{TOPIC}", "Hello from Python")\n'
        ")\n"
        "client.on_message = lambda c, userdata, message: print(message.topic, message.payload.decode())\n"
        f'client.connect("{host}", {port})\n'
        "client.loop_forever()\n"
    )


def _javascript(host: str, port: int, ca_file: str | None, resolve_to: str | None) -> str:
    if ca_file:
        # TLS to the platform address, with the deployment's host name as SNI: no DNS entry needed.
        url = f"mqtts://{resolve_to or host}:{port}"
        options = f'  ca: fs.readFileSync("{ca_file}"),\n  servername: "{host}",\n'
    else:
        url = f"mqtt://{host}:{port}"
        options = ""
    return (
        ('const fs = require("fs");\n' if ca_file else "")
        + 'const mqtt = require("mqtt"); // npm install mqtt\n\n'
        f'const client = mqtt.connect("{url}", {{\n'
        "  username: process.env.MQTT_USER,\n"
        "  password: process.env.MQTT_PASSWORD,\n"
        f"{options}"
        "});\n"
        'client.on("connect", () => {\n'
        f'  client.subscribe("{TOPIC_FILTER}");\n'
        f'  client.publish("{TOPIC}", "Hello from MQTT.js");\n'
        "});\n"
        'client.on("message", (topic, payload) => console.log(topic, payload.toString()));\n'
    )


def guide(endpoints: Endpoints, *, ca_file: str, platform_host: str) -> Guide | None:
    """The getting-started commands of a deployment; None while it has no address clients can use.

    Args:
        endpoints: the deployment's listener addresses (`deployments.service.endpoints`).
        ca_file: the file name the platform CA downloads as (Serverless).
        platform_host: the platform's advertised address: where a Serverless host name must resolve to.
    """
    if endpoints.mqtt is not None:
        host, port = _split(endpoints.mqtt)
        ca, resolve_to = None, None
    elif endpoints.mqtts is not None:
        host, port = _split(endpoints.mqtts)
        ca, resolve_to = ca_file, platform_host
    else:
        return None
    sub_tail = f"-t {shlex.quote(TOPIC_FILTER)} -v"
    pub_tail = f"-t {TOPIC} -m {shlex.quote('Hello from mosquitto')}"
    snippets = [
        Snippet("env", "Your MQTT user (from the Authentication page)", "shell",
                "export MQTT_USER='<user name>' MQTT_PASSWORD='<password>'"),
        Snippet("mosquitto-sub", "Subscribe with mosquitto_sub", "shell",
                _mosquitto("mosquitto_sub", host, port, ca, sub_tail)),
        Snippet("mosquitto-pub", "Publish with mosquitto_pub (in another terminal)", "shell",
                _mosquitto("mosquitto_pub", host, port, ca, pub_tail)),
        Snippet("mqttx", "MQTTX CLI", "shell",
                _mqttx("sub", host, port, ca, sub_tail.removesuffix(" -v"))
                + "\n" + _mqttx("pub", host, port, ca, pub_tail.replace("mosquitto", "MQTTX"))),
        Snippet("python", "Python (paho-mqtt)", "python", _python(host, port, ca)),
        Snippet("mqttjs", "Node.js (MQTT.js)", "javascript", _javascript(host, port, ca, resolve_to)),
    ]  # fmt: skip
    return Guide(
        host=host, port=port, tls=ca is not None, ca_file=ca, resolve_to=resolve_to, snippets=snippets
    )
