"""The Deployment API against a real deployment: paho clients, users made through the API, both shapes."""

import base64
import time

import pytest
from httpx import Response
from prometheus_client.parser import text_string_to_metric_families
from tests.integration.deployment_api.conftest import (
    AUTHN,
    RULES,
    V4,
    V5,
    Live,
    MqttClient,
    start_deployment,
    wait_for,
)

from mqttcloud.control.deployment_api.keys import service as keys
from mqttcloud.control.deployment_api.quotas import ApiRateLimiter
from mqttcloud.control.deployments import service as deployments

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def connect(
    live: Live, opened: list[MqttClient], clientid: str, username: str, **kw: object
) -> MqttClient:
    await live.user(username)
    client = live.mqtt(clientid, username, **kw)  # type: ignore[arg-type]  # keyword options of MqttClient
    assert client.connect() == 0
    opened.append(client)
    return client


async def test_user_made_through_the_api_connects_and_a_wrong_password_is_refused(
    live: Live, opened: list[MqttClient]
) -> None:
    await connect(live, opened, "auth-ok", "auth-user")
    refused = live.mqtt("auth-bad", "auth-user", password="wrong")
    assert refused.connect() == 0x86  # Bad user name or password


async def test_clients_listing_filters_and_paging(live: Live, opened: list[MqttClient]) -> None:
    before = time.time() - 1
    await connect(live, opened, "list-a", "lister-1", version=5, keepalive=30)
    await connect(live, opened, "list-b", "lister-2", version=4, clean_start=False)
    await connect(live, opened, "list-c", "lister-2", version=5)
    after = time.time() + 1
    get = live.client.get

    async def ids(shape: str, **params: str | int) -> list[str]:
        response = await get(f"{shape}/clients", params={"like_clientid": "list-", **params}, auth=live.auth)
        assert response.status_code == 200, response.text
        return sorted(c["clientid"] for c in response.json()["data"])

    all_three = ["list-a", "list-b", "list-c"]
    assert await ids(V5) == all_three
    assert await ids(V5, clientid="list-a") == ["list-a"]
    assert await ids(V5, username="lister-2") == ["list-b", "list-c"]
    assert await ids(V5, ip_address="127.0.0.1") == all_three
    assert await ids(V5, ip_address="10.9.9.9") == []
    assert await ids(V5, conn_state="connected") == all_three
    assert await ids(V5, conn_state="disconnected") == []
    assert await ids(V5, clean_start="false") == ["list-b"]
    assert await ids(V5, proto_name="MQTT") == all_three
    assert await ids(V5, proto_ver=4) == ["list-b"]
    assert await ids(V5, like_username="ister-1") == ["list-a"]
    assert await ids(V5, zone="default") == all_three
    assert await ids(V5, zone="other") == []
    assert await ids(V5, gte_created_at=int(before)) == all_three
    assert await ids(V5, _gte_created_at=int(after)) == []
    assert await ids(V5, lte_created_at=int(before * 1000)) == []  # milliseconds are accepted too
    assert await ids(V5, _lte_connected_at=int(after)) == all_three
    assert await ids(V5, gte_connected_at=int(after)) == []
    assert await ids(V4, _like_username="lister-2", proto_ver=5) == ["list-c"]
    page = (
        await get(f"{V5}/clients", params={"like_clientid": "list-", "_page": 2, "_limit": 1}, auth=live.auth)
    ).json()
    assert page["meta"] == {"page": 2, "limit": 1, "hasnext": True, "count": 3}
    assert len(page["data"]) == 1
    page = (
        await get(f"{V5}/clients", params={"like_clientid": "list-", "page": 3, "limit": 1}, auth=live.auth)
    ).json()
    assert page["meta"]["hasnext"] is False
    one = (await get(f"{V5}/clients/list-a", auth=live.auth)).json()
    assert one["clientid"] == "list-a"
    assert one["username"] == "lister-1"
    assert one["keepalive"] == 30
    assert one["proto_ver"] == 5
    assert one["connected"] is True
    assert one["connected_at"].endswith("+00:00")
    assert "T" in one["connected_at"]
    v4 = (await get(f"{V4}/clients/list-b", auth=live.auth)).json()
    assert v4["code"] == 0
    assert v4["data"][0]["clean_start"] is False
    assert "T" not in v4["data"][0]["connected_at"]
    assert v4["data"][0]["max_inflight"] >= 1


async def test_kick_disconnects_within_a_second(live: Live, opened: list[MqttClient]) -> None:
    client = await connect(live, opened, "kick-me", "kicker")
    start = time.monotonic()
    assert (await live.client.delete(f"{V5}/clients/kick-me", auth=live.auth)).status_code == 204
    assert client.disconnected.wait(1.0)
    assert time.monotonic() - start < 1.0
    missing = await live.client.get(f"{V5}/clients/kick-me", auth=live.auth)
    assert missing.status_code == 404
    assert missing.json()["code"] == "CLIENTID_NOT_FOUND"
    v4 = await live.client.delete(f"{V4}/clients/kick-me", auth=live.auth)
    assert v4.status_code == 404
    assert v4.json()["code"] == 112


async def test_http_publish_reaches_the_subscriber(live: Live, opened: list[MqttClient]) -> None:
    sub = await connect(live, opened, "pub-sub", "pubber")
    assert sub.subscribe("pub/#", 1) == [1]
    body = {
        "topic": "pub/a",
        "payload": "Hello EMQX",
        "qos": 1,
        "properties": {"user_properties": {"k": "v"}},
    }
    response = await live.client.post(f"{V5}/publish", json=body, auth=live.auth)
    assert response.status_code == 200
    assert len(response.json()["id"]) == 32
    got = sub.next_message()
    assert (got.topic, got.payload, got.qos) == ("pub/a", b"Hello EMQX", 1)
    assert ("k", "v") in got.user_properties
    raw = base64.b64encode(b"\x00\xffbin").decode()
    body = {"topic": "pub/b", "payload": raw, "payload_encoding": "base64", "qos": 0}
    assert (await live.client.post(f"{V5}/publish", json=body, auth=live.auth)).status_code == 200
    assert sub.next_message().payload == b"\x00\xffbin"
    nobody = await live.client.post(
        f"{V5}/publish", json={"topic": "nobody/here", "payload": "x"}, auth=live.auth
    )
    assert nobody.status_code == 202
    assert nobody.json() == {"message": "no_matching_subscribers", "reason_code": 16}
    bulk = [{"topic": "pub/c", "qos": 0, "payload": "one"}, {"topic": "pub/d", "qos": 1, "payload": "two"}]
    answer = await live.client.post(f"{V5}/publish/bulk", json=bulk, auth=live.auth)
    assert answer.status_code == 200
    assert [set(a) for a in answer.json()] == [{"id"}, {"id"}]
    assert {sub.next_message().payload, sub.next_message().payload} == {b"one", b"two"}
    v4 = {"topic": "pub/e", "clientid": "emqx_c_1", "payload": "Hi", "qos": 1, "retain": True}
    assert (await live.client.post(f"{V4}/mqtt/publish", json=v4, auth=live.auth)).json() == {"code": 0}
    got = sub.next_message()
    assert (got.topic, got.payload) == ("pub/e", b"Hi")
    late = await connect(live, opened, "pub-late", "pubber")
    late.subscribe("pub/e", 0)
    retained = late.next_message()
    assert (retained.payload, retained.retain) == (b"Hi", True)
    batch = [{"topic": "pub/f", "payload": "a"}, {"topic": "pub/g", "qos": 2, "payload": "b"}]
    assert (await live.client.post(f"{V4}/mqtt/publish_batch", json=batch, auth=live.auth)).json() == {
        "data": [{"topic": "pub/f", "code": 0}, {"topic": "pub/g", "code": 0}],
        "code": 0,
    }
    bad = await live.client.post(f"{V5}/publish", json={"topic": "bad/#", "payload": "x"}, auth=live.auth)
    assert bad.status_code == 400


async def test_subscribe_on_behalf_then_the_client_receives(live: Live, opened: list[MqttClient]) -> None:
    client = await connect(live, opened, "behalf", "behalf-user")
    answer = await live.client.post(
        f"{V5}/clients/behalf/subscribe", json={"topic": "t/a", "qos": 1}, auth=live.auth
    )
    assert answer.status_code == 200
    assert answer.json() == {
        "clientid": "behalf",
        "topic": "t/a",
        "qos": 1,
        "node": answer.json()["node"],
        "nl": 0,
        "rap": 0,
        "rh": 0,
    }
    await live.client.post(
        f"{V5}/publish", json={"topic": "t/a", "payload": "to-behalf", "qos": 1}, auth=live.auth
    )
    assert client.next_message().payload == b"to-behalf"
    bulk = [{"topic": "t/b", "qos": 0}, {"topic": "t/c", "qos": 2}]
    subscribed = await live.client.post(f"{V5}/clients/behalf/subscribe/bulk", json=bulk, auth=live.auth)
    assert [s["topic"] for s in subscribed.json()["data"]] == ["t/b", "t/c"]
    subs = (await live.client.get(f"{V5}/clients/behalf/subscriptions", auth=live.auth)).json()["data"]
    assert sorted(s["topic"] for s in subs) == ["t/a", "t/b", "t/c"]
    filtered = await live.client.get(
        f"{V5}/subscriptions", params={"clientid": "behalf", "qos": 2}, auth=live.auth
    )
    assert [s["topic"] for s in filtered.json()["data"]] == ["t/c"]
    matching = await live.client.get(
        f"{V5}/subscriptions", params={"_match_topic": "t/b", "clientid": "behalf"}, auth=live.auth
    )
    assert [s["topic"] for s in matching.json()["data"]] == ["t/b"]
    shared = {"topic": "$share/g1/s/t", "qos": 1}
    assert (
        await live.client.post(f"{V5}/clients/behalf/subscribe", json=shared, auth=live.auth)
    ).status_code == 200
    by_group = await live.client.get(f"{V5}/subscriptions", params={"share": "g1"}, auth=live.auth)
    assert [s["topic"] for s in by_group.json()["data"]] == ["$share/g1/s/t"]
    unshare = {"topic": "$share/g1/s/t"}
    assert (
        await live.client.post(f"{V5}/clients/behalf/unsubscribe", json=unshare, auth=live.auth)
    ).status_code == 204
    assert (
        await live.client.post(f"{V5}/clients/behalf/unsubscribe", json={"topic": "t/a"}, auth=live.auth)
    ).status_code == 204
    unsub = [{"topic": "t/b"}, {"topic": "t/c"}]
    assert (
        await live.client.post(f"{V5}/clients/behalf/unsubscribe/bulk", json=unsub, auth=live.auth)
    ).status_code == 204
    assert (await live.client.get(f"{V4}/subscriptions/behalf", auth=live.auth)).json() == {
        "data": [],
        "code": 0,
    }
    v4 = {"topics": "v4/a,v4/b", "qos": 1, "clientid": "behalf"}
    assert (await live.client.post(f"{V4}/mqtt/subscribe", json=v4, auth=live.auth)).json() == {"code": 0}
    assert len((await live.client.get(f"{V4}/subscriptions/behalf", auth=live.auth)).json()["data"]) == 2
    batch = [
        {"topic": "a", "qos": 1, "clientid": "testtopic/#"},
        {"topic": "v4/c", "qos": 1, "clientid": "behalf"},
    ]
    result = (await live.client.post(f"{V4}/mqtt/subscribe_batch", json=batch, auth=live.auth)).json()
    assert result == {
        "data": [
            {"clientid": "testtopic/#", "topic": "a", "code": 112},
            {"clientid": "behalf", "topic": "v4/c", "code": 0},
        ],
        "code": 0,
    }
    offline = await live.client.post(
        f"{V4}/mqtt/subscribe", json={"topic": "x", "clientid": "ghost"}, auth=live.auth
    )
    assert offline.status_code == 404
    assert offline.json()["code"] == 112
    missing = await live.client.post(f"{V5}/clients/ghost/subscribe", json={"topic": "x"}, auth=live.auth)
    assert missing.status_code == 404


async def test_acl_deny_and_allow_as_seen_by_the_client(live: Live, opened: list[MqttClient]) -> None:
    rules = [
        {"topic": "acl/open", "action": "subscribe", "permission": "allow"},
        {"topic": "acl/#", "action": "all", "permission": "deny"},
    ]
    assert (
        await live.client.post(
            f"{RULES}/users", json={"username": "acl-user", "rules": rules}, auth=live.auth
        )
    ).status_code == 204
    client = await connect(live, opened, "acl-client", "acl-user")
    assert client.subscribe("acl/open", 1) == [1]
    assert client.subscribe("acl/closed", 1) == [0x87]
    watcher = await connect(live, opened, "acl-watch", "acl-watcher")
    assert watcher.subscribe("acl/#", 0) == [0]
    client.publish("acl/closed", b"nope", qos=0)
    assert watcher.no_message(0.5)
    # Rules change what the broker allows immediately (the spec is pushed to the running broker).
    allow = [{"topic": "acl/#", "action": "all", "permission": "allow"}]
    assert (
        await live.client.put(
            f"{RULES}/users/acl-user", json={"username": "acl-user", "rules": allow}, auth=live.auth
        )
    ).status_code == 204

    def resubscribed() -> bool:
        return client.subscribe("acl/closed", 1) == [1]

    await wait_for(resubscribed, what="the new ACL to apply")
    client.publish("acl/closed", b"now-ok", qos=1)
    assert watcher.next_message().payload == b"now-ok"


async def test_ban_kicks_and_refuses_connect_until_removed(live: Live, opened: list[MqttClient]) -> None:
    client = await connect(live, opened, "banned-one", "ban-user")
    ban = {"who": "banned-one", "as": "clientid", "reason": "test"}
    assert (await live.client.post(f"{V4}/banned", json=ban, auth=live.auth)).json()["code"] == 0
    assert client.disconnected.wait(5.0)
    again = live.mqtt("banned-one", "ban-user")
    assert again.connect() == 0x8A  # Banned
    assert (await live.client.delete(f"{V5}/banned/clientid/banned-one", auth=live.auth)).status_code == 204

    def reconnects() -> bool:
        attempt = live.mqtt("banned-one", "ban-user")
        code = attempt.connect()
        if code == 0:
            opened.append(attempt)
        return code == 0

    await wait_for(reconnects, what="the ban to be lifted")


async def test_metrics_stats_and_prometheus_move(live: Live, opened: list[MqttClient]) -> None:
    async def metric(name: str) -> int:
        response = await live.client.get(f"{V5}/metrics", auth=live.auth)
        assert response.status_code == 200
        return int(response.json()[0][name])

    before = await metric("messages.received")
    client = await connect(live, opened, "metrics-pub", "metrics-user")
    client.publish("m/x", b"1", qos=1)
    await wait_for(lambda: _grew(live, before), what="messages.received to grow")
    stats = (await live.client.get(f"{V5}/stats", auth=live.auth)).json()
    assert stats[0]["connections.count"] >= 1
    aggregated = (await live.client.get(f"{V5}/stats", params={"aggregate": "true"}, auth=live.auth)).json()
    assert "connections.count" in aggregated
    text = await live.client.get(f"{V5}/prometheus/stats", auth=live.auth)
    assert text.headers["content-type"].startswith("text/plain")
    assert "emqx_connections_count" in text.text
    assert "# TYPE emqx_messages_received counter" in text.text
    # The reference parser reads it, under EMQX's family names (counters get the parser's `_total`).
    families = {family.name: family for family in text_string_to_metric_families(text.text)}
    assert families["emqx_connections_count"].type == "gauge"
    assert families["emqx_connections_count"].samples[0].value >= 1
    assert families["emqx_messages_received"].type == "counter"
    assert families["emqx_messages_received"].samples[0].value > before
    v4 = (await live.client.get(f"{V4}/metrics", auth=live.auth)).json()
    assert v4["code"] == 0
    assert v4["data"][0]["metrics"]["messages.received"] > before


async def _grew(live: Live, before: int) -> bool:
    response = await live.client.get(f"{V5}/metrics", auth=live.auth)
    return int(response.json()[0]["messages.received"]) > before


async def test_stopped_deployment_keeps_stored_data_editable_and_live_endpoints_answer_503(
    live: Live,
) -> None:
    settings = live.app.state.settings
    other, port = await start_deployment(live.app, settings)
    with live.runtime.database.session() as session:
        created = keys.create_key(session, deployment_id=other)
        auth = (created.key.app_id, created.secret)
    await live.client.post(f"{AUTHN}/users", json={"user_id": "keeper", "password": "pw"}, auth=auth)

    def status() -> str:
        with live.runtime.database.session() as session:
            return deployments.get_deployment(session, deployment_id=other).status.value

    await wait_for(lambda: status() == "running", what="the deployment to be running")
    with live.runtime.database.session() as session:
        deployments.stop_deployment(session, deployment_id=other)
    await live.runtime.reconcile()
    await wait_for(lambda: status() == "stopped", what="the deployment to stop")

    async def unavailable() -> bool:  # the key cache (0.5 s here) sees the stop within its lifetime
        return (await live.client.get(f"{V5}/clients", auth=auth)).status_code == 503

    await wait_for(unavailable, what="live endpoints to answer 503")
    for shape, code in ((V5, "SERVICE_UNAVAILABLE"), (V4, 101)):
        response = await live.client.get(f"{shape}/clients", auth=auth)
        assert response.status_code == 503
        assert response.json()["code"] == code
    assert (await live.client.get(f"{AUTHN}/users/keeper", auth=auth)).status_code == 200
    assert (
        await live.client.post(f"{AUTHN}/users", json={"user_id": "added", "password": "pw"}, auth=auth)
    ).status_code == 201
    with live.runtime.database.session() as session:
        deployments.start_deployment(session, deployment_id=other)
    await live.runtime.reconcile()
    await wait_for(lambda: status() == "running", 30.0, "the broker to restart")
    restarted = MqttClient(port, "after-restart", "added", "pw")
    try:
        assert restarted.connect() == 0  # users survive the restart and were applied to the new broker
    finally:
        restarted.close()


async def test_every_error_path_in_both_shapes(live: Live) -> None:
    """401, 403, 404, 400, 422 and 429 with `{"code": "UPPER_SNAKE"|int, "message"}` bodies."""

    def check(response: Response, status: int, code: str | int) -> None:
        assert response.status_code == status, response.text
        body = response.json()
        assert set(body) == {"code", "message"}
        assert body["code"] == code
        assert isinstance(body["message"], str)
        assert body["message"]

    get, post = live.client.get, live.client.post
    check(await get(f"{V5}/clients", auth=("nobody", "nothing")), 401, "BAD_API_KEY_OR_SECRET")
    check(await get(f"{V4}/clients"), 401, 103)
    with live.runtime.database.session() as session:
        created = keys.create_key(session, deployment_id=live.deployment_id, permissions=["GET:metrics"])
        limited = (created.key.app_id, created.secret)
    check(await get(f"{V5}/clients", auth=limited), 403, "FORBIDDEN")
    check(await post(f"{V4}/mqtt/publish", json={"topic": "t"}, auth=limited), 403, 102)
    check(await get(f"{V5}/clients/ghost", auth=live.auth), 404, "CLIENTID_NOT_FOUND")
    check(await get(f"{V4}/clients/ghost", auth=live.auth), 404, 112)
    check(await get(f"{V4}/auth_username/ghost", auth=live.auth), 404, 105)
    check(
        await post(f"{V5}/publish", json={"topic": "bad/+", "payload": "x"}, auth=live.auth),
        400,
        "BAD_REQUEST",
    )
    check(await post(f"{V4}/mqtt/publish", json={"topic": "bad/+"}, auth=live.auth), 400, 115)
    check(await get(f"{V5}/clients", params={"limit": "x"}, auth=live.auth), 400, "BAD_REQUEST")
    check(await get(f"{V4}/clients", params={"_limit": 0}, auth=live.auth), 400, 108)
    check(
        await post(f"{V5}/publish", json={"payload": "no topic"}, auth=live.auth), 422, "INVALID_PARAMETERS"
    )
    check(await post(f"{V4}/mqtt/subscribe", json={"topic": "t"}, auth=live.auth), 422, 107)
    live.app.state.deployment_api_limiter = ApiRateLimiter(qps=0.5, burst=1)
    try:
        assert (await get(f"{V5}/stats", auth=live.auth)).status_code == 200
        limited_v5 = await get(f"{V5}/stats", auth=live.auth)
        check(limited_v5, 429, "TOO_MANY_REQUESTS")
        assert limited_v5.headers["retry-after"] == "2"
        check(await get(f"{V4}/metrics", auth=live.auth), 429, 102)
    finally:
        live.app.state.deployment_api_limiter = ApiRateLimiter(qps=100, burst=100)
