"""Two Serverless deployments created through the Platform API, served by the one shared broker process.

Clients connect to the shared TLS listener's address (127.0.0.1) and present `<deployment id>.<domain>`
as SNI: the host names do not resolve, the SNI alone picks the tenant (spec §1.10, §4 item 18).
"""

from collections.abc import Iterator

import pytest
from tests.integration.broker import mqtt_wire as w
from tests.integration.serverless.conftest import PASSWORD, RunningPlatform, wait_for
from tests.integration.serverless.wire import (
    connect,
    disconnect_reason,
    next_publish,
    open_tls,
    ping,
    publish,
    subscribe,
)


@pytest.fixture
def clients() -> Iterator[list[w.Client]]:
    opened: list[w.Client] = []
    yield opened
    for client in opened:
        client.close()


def login(
    platform: RunningPlatform,
    clients: list[w.Client],
    deployment_id: str,
    client_id: str,
    *,
    username: str | None = "alice",
    password: str | None = PASSWORD,
) -> tuple[w.Client, int]:
    client = open_tls(platform.mqtts_port, platform.tls_context(), platform.host(deployment_id))
    clients.append(client)
    return client, connect(client, client_id, username=username, password=password)


def online(
    platform: RunningPlatform, clients: list[w.Client], deployment_id: str, client_id: str
) -> w.Client:
    client, reason = login(platform, clients, deployment_id, client_id)
    assert reason == 0x00
    return client


def test_endpoints_name_the_sni_host_and_the_shared_ports(
    platform: RunningPlatform, two_tenants: tuple[str, str]
) -> None:
    a, b = two_tenants
    for deployment_id in (a, b):
        endpoints = platform.api("GET", f"/deployments/{deployment_id}").json()["endpoints"]
        assert endpoints["mqtts"] == f"{platform.host(deployment_id)}:{platform.mqtts_port}"
        assert endpoints["wss"] == f"{platform.host(deployment_id)}:{platform.wss_port}"
        assert endpoints["mqtt"] is None
        assert endpoints["ws"] is None


def test_same_client_id_and_topic_see_only_their_own_traffic(
    platform: RunningPlatform, two_tenants: tuple[str, str], clients: list[w.Client]
) -> None:
    a, b = two_tenants
    sub_a = online(platform, clients, a, "dev-1")
    sub_b = online(platform, clients, b, "dev-1")  # same client id: no takeover across tenants
    assert subscribe(sub_a, 1, ["iso/temp"]) == [0]
    assert subscribe(sub_b, 1, ["iso/temp"]) == [0]
    pub_a = online(platform, clients, a, "dev-2")
    pub_b = online(platform, clients, b, "dev-2")
    publish(pub_b, "iso/temp", b"from-b")
    publish(pub_a, "iso/temp", b"from-a")
    assert next_publish(sub_a) == ("iso/temp", b"from-a", False)
    assert next_publish(sub_b) == ("iso/temp", b"from-b", False)
    # Nothing else arrived: a ping answer is the next packet on both.
    ping(sub_a)
    ping(sub_b)


def test_retained_messages_belong_to_their_tenant(
    platform: RunningPlatform, two_tenants: tuple[str, str], clients: list[w.Client]
) -> None:
    a, b = two_tenants
    pub_a = online(platform, clients, a, "retainer")
    pub_b = online(platform, clients, b, "retainer")
    publish(pub_a, "ret/state", b"state-a", retain=True)
    publish(pub_b, "ret/state", b"state-b", retain=True)
    ping(pub_a)  # both publishes were handled before the subscribers arrive
    ping(pub_b)
    sub_a = online(platform, clients, a, "ret-reader")
    sub_b = online(platform, clients, b, "ret-reader")
    assert subscribe(sub_a, 1, ["ret/#"]) == [0]
    assert subscribe(sub_b, 1, ["ret/#"]) == [0]
    assert next_publish(sub_a) == ("ret/state", b"state-a", True)
    assert next_publish(sub_b) == ("ret/state", b"state-b", True)
    ping(sub_a)
    ping(sub_b)


def test_hash_subscriber_sees_only_its_tenant(
    platform: RunningPlatform, two_tenants: tuple[str, str], clients: list[w.Client]
) -> None:
    a, b = two_tenants
    everything_a = online(platform, clients, a, "watch-all")
    assert subscribe(everything_a, 1, ["#"]) == [0]
    pub_b = online(platform, clients, b, "noisy-b")
    for i in range(5):
        publish(pub_b, f"b/topic/{i}", b"secret-of-b")
    ping(pub_b)  # B's messages are routed (inside B) before A publishes its marker
    pub_a = online(platform, clients, a, "marker-a")
    publish(pub_a, "a/marker", b"mine")
    topic, payload, _retain = next_publish(everything_a)
    while topic.startswith("ret/"):  # retained messages of A from other tests are A's own
        topic, payload, _retain = next_publish(everything_a)
    assert (topic, payload) == ("a/marker", b"mine")


def test_shared_subscriptions_with_the_same_group_stay_in_their_tenant(
    platform: RunningPlatform, two_tenants: tuple[str, str], clients: list[w.Client]
) -> None:
    a, b = two_tenants
    member_a = online(platform, clients, a, "share-member")
    member_b = online(platform, clients, b, "share-member")
    assert subscribe(member_a, 1, ["$share/workers/jobs/#"]) == [0]
    assert subscribe(member_b, 1, ["$share/workers/jobs/#"]) == [0]
    pub_a = online(platform, clients, a, "share-pub")
    for i in range(3):
        publish(pub_a, f"jobs/{i}", b"job-of-a")
    for i in range(3):  # the only member in A gets every job; B's member of the same group none
        assert next_publish(member_a) == (f"jobs/{i}", b"job-of-a", False)
    ping(member_b)


def refusal(client: w.Client) -> tuple[int, str]:
    """(CONNACK reason code, Reason String) of an MQTT 5 CONNECT refused for its SNI; then closed."""
    client.send(w.connect("who-am-i", version=5, username="alice", password=PASSWORD))
    ack = client.recv_packet()
    assert ack[0] == 0x20, ack.hex()
    props = ack[5:]  # 0x20, remaining length, flags, reason, property length (< 128)
    assert props[0] == 0x1F  # Reason String
    text = props[3 : 3 + int.from_bytes(props[1:3], "big")].decode()
    assert client.is_closed()
    return ack[3], text


def test_connection_without_sni_is_refused_at_connect_with_a_reason(
    platform: RunningPlatform, two_tenants: tuple[str, str], clients: list[w.Client]
) -> None:
    ctx = platform.tls_context()
    ctx.check_hostname = False  # no host name at all: the client sends no SNI extension
    client = open_tls(platform.mqtts_port, ctx, None)
    clients.append(client)
    reason, text = refusal(client)
    assert reason == 0x88  # Server unavailable
    assert "SNI host name required" in text


def test_unknown_sni_is_refused_at_connect_with_a_reason(
    platform: RunningPlatform, clients: list[w.Client]
) -> None:
    unknown = platform.host("zz000000")
    client = open_tls(platform.mqtts_port, platform.tls_context(), unknown)
    clients.append(client)
    reason, text = refusal(client)
    assert reason == 0x88
    assert unknown in text


def test_unknown_sni_gets_server_unavailable_on_mqtt_311(
    platform: RunningPlatform, clients: list[w.Client]
) -> None:
    client = open_tls(platform.mqtts_port, platform.tls_context(), platform.host("zz000001"))
    clients.append(client)
    client.send(w.connect("who-am-i", version=4, username="alice", password=PASSWORD))
    client.expect(b"\x20\x02\x00\x03")  # return code 3: server unavailable
    assert client.is_closed()


def test_anonymous_and_wrong_passwords_are_refused(
    platform: RunningPlatform, two_tenants: tuple[str, str], clients: list[w.Client]
) -> None:
    a, _b = two_tenants
    _client, anonymous = login(platform, clients, a, "anon", username=None, password=None)
    assert anonymous in {0x86, 0x87}  # bad user name or password / not authorized
    _client, wrong = login(platform, clients, a, "wrong", password="not-the-password")
    assert wrong == 0x86


def test_deployment_created_with_allow_anonymous_still_refuses_anonymous(
    platform: RunningPlatform, clients: list[w.Client]
) -> None:
    """Serverless never allows anonymous access, whatever the create request asked for (§1.10)."""
    response = platform.api(
        "POST",
        "/deployments",
        json={"projectID": "default", "deploymentType": "serverless", "allowAnonymous": True},
    )
    assert response.status_code == 201, response.text
    deployment_id = str(response.json()["deploymentID"])
    wait_for(lambda: platform.status(deployment_id) == "running", "running")
    _client, reason = login(platform, clients, deployment_id, "anon", username=None, password=None)
    assert reason in {0x86, 0x87}


def test_stopping_one_deployment_leaves_the_other_connected(
    platform: RunningPlatform, clients: list[w.Client]
) -> None:
    stopped, kept = platform.create_serverless(), platform.create_serverless()
    victim = online(platform, clients, stopped, "dev")
    survivor = online(platform, clients, kept, "dev")
    publish(victim, "keep/me", b"retained-before-stop", retain=True)
    ping(victim)

    response = platform.api("POST", f"/deployments/{stopped}/stop")
    assert response.status_code == 201, response.text
    assert response.json()["operation"] == "stopping"
    assert disconnect_reason(victim) in {0x8B, None}  # server shutting down (v5), then closed
    wait_for(lambda: platform.status(stopped) == "stopped", "stopped")
    _client, refused = login(platform, clients, stopped, "dev-again")
    assert refused != 0x00
    ping(survivor)  # the other tenant's client never noticed

    response = platform.api("POST", f"/deployments/{stopped}/start")
    assert response.status_code == 201, response.text
    wait_for(lambda: platform.status(stopped) == "running", "running again")
    back = online(platform, clients, stopped, "dev-back")
    assert subscribe(back, 1, ["keep/#"]) == [0]
    assert next_publish(back) == ("keep/me", b"retained-before-stop", True)  # data was kept
    ping(survivor)
