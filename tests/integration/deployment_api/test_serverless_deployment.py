"""The v5 API on a Serverless deployment: a tenant of the shared TLS broker, chosen by SNI host name."""

import socket
import ssl
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from httpx import ASGITransport, AsyncClient
from tests.certs import make_leaf, make_root_ca
from tests.integration.deployment_api.conftest import AUTHN, TIMEOUT, V5, MqttClient, _port_range, wait_for

from mqttcloud.contracts import TlsSpec
from mqttcloud.control.app import create_app
from mqttcloud.control.config import Settings
from mqttcloud.control.deployment_api.keys import service as keys
from mqttcloud.control.deployments import service as deployments
from mqttcloud.control.deployments.lifecycle import BrokerRuntime
from mqttcloud.control.deployments.schemas import DeploymentCreate
from mqttcloud.control.deployments.spec_builder import SharedSecrets

pytestmark = pytest.mark.asyncio(loop_scope="module")


class _SniContext(ssl.SSLContext):
    """Connects to 127.0.0.1 but presents `sni` as the TLS server name (the tenant's host name)."""

    sni = ""

    def wrap_socket(self, sock: socket.socket, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        kwargs["server_hostname"] = self.sni
        return super().wrap_socket(sock, *args, **kwargs)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def serverless(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[dict[str, Any]]:
    data_dir: Path = tmp_path_factory.mktemp("serverless")
    root = make_root_ca("serverless test CA")
    leaf = make_leaf(root, "*.serverless.localhost", hosts=("*.serverless.localhost",))
    tls = TlsSpec(cert_pem=leaf.cert_pem + root.cert_pem, key_pem=leaf.key_pem)
    low, high = _port_range()  # below the ephemeral range: no client socket can hold these
    settings = Settings(data_dir=data_dir, broker_port_low=low, broker_port_high=high, key_cache_seconds=0.5)
    app = create_app(settings, shared=SharedSecrets("serverless-admin-token", tls))
    async with app.router.lifespan_context(app):
        runtime: BrokerRuntime = app.state.runtime
        request = DeploymentCreate.model_validate({"projectID": "default", "deploymentType": "serverless"})
        with runtime.database.session() as session:
            deployment_id = deployments.create_deployment(session, settings=settings, request=request).id
            created = keys.create_key(session, deployment_id=deployment_id)
        await runtime.reconcile()

        def running() -> bool:
            with runtime.database.session() as session:
                return (
                    deployments.get_deployment(session, deployment_id=deployment_id).status.value == "running"
                )

        await wait_for(running, 30.0, "the Serverless tenant to run")
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://deployment.test") as client:
            yield {
                "client": client,
                "auth": (created.key.app_id, created.secret),
                "deployment_id": deployment_id,
                "port": deployments.serverless_ports(settings)[0],
                "sni": deployments.serverless_host(settings, deployment_id),
                "ca": root.cert_pem,
            }


def tls_client(env: dict[str, Any], clientid: str, username: str) -> MqttClient:
    client = MqttClient(env["port"], clientid, username, "pw")
    context = _SniContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cadata=env["ca"])
    context.sni = env["sni"]
    client.paho.tls_set_context(context)
    return client


async def test_serverless_tenant_lists_publishes_to_and_kicks_its_clients(serverless: dict[str, Any]) -> None:
    client, auth = serverless["client"], serverless["auth"]
    body = {"user_id": "sl-user", "password": "pw"}
    assert (await client.post(f"{AUTHN}/users", json=body, auth=auth)).status_code == 201
    mqtt_client = tls_client(serverless, "sl-client", "sl-user")
    assert mqtt_client.connect() == 0
    try:
        assert mqtt_client.subscribe("sl/#", 1) == [1]
        listed = (await client.get(f"{V5}/clients", auth=auth)).json()
        assert [c["clientid"] for c in listed["data"]] == ["sl-client"]
        assert listed["data"][0]["peersni"] == serverless["sni"]
        assert listed["data"][0]["tenant_id_from"] == "peersni"
        published = await client.post(
            f"{V5}/publish", json={"topic": "sl/a", "payload": "hi", "qos": 1}, auth=auth
        )
        assert published.status_code == 200
        assert mqtt_client.next_message().payload == b"hi"
        started = time.monotonic()
        assert (await client.delete(f"{V5}/clients/sl-client", auth=auth)).status_code == 204
        assert mqtt_client.disconnected.wait(TIMEOUT)
        assert time.monotonic() - started < 1.0
    finally:
        mqtt_client.close()
