# The ROWS data table keeps one documented example per line, as the spec prints it: long lines on purpose.
# ruff: noqa: E501
"""Replays every documented example request of spec §2.2 (v5 shape) and §2.3 rows 1-47 (v4 shape), as
the documented `curl -u id:secret -X METHOD -d '{...}' URL` sends it: the body bytes as written, with
curl's `Content-Type: application/x-www-form-urlencoded` (the docs never set a JSON content type), and no
Content-Type at all on a request without a body.

Each row is (shape, method, path exactly as documented, query, body, expected status, documented example
response). Rows run in order against one live deployment: earlier rows create what later rows read
(documented clients `client_1` and `emqx_c_1` are connected first with paho). The response must have the
documented status and contain every key of the documented example, recursively (lists: each element
against the example's first element); 204 answers must be empty.
"""

import json
from typing import Any

import pytest
from tests.integration.deployment_api.conftest import V4, V5, Live, MqttClient

pytestmark = pytest.mark.asyncio(loop_scope="module")

V5_CLIENT = {
    "peersni": "qe92461d.dev-ala.cn-hangzhou.mqttce.com",
    "reductions": 10276,
    "expiry_interval": 0,
    "clean_start": True,
    "send_msg.dropped.expired": 0,
    "recv_msg.qos0": 3,
    "mqueue_dropped": 0,
    "recv_cnt": 9,
    "send_cnt": 3,
    "keepalive": 60,
    "recv_oct": 257,
    "heap_size": 987,
    "recv_pkt": 6,
    "recv_msg.dropped.await_pubrel_timeout": 0,
    "proto_ver": 5,
    "inflight_max": 32,
    "send_msg.dropped": 0,
    "created_at": "2023-09-15T09:36:20.871+00:00",
    "awaiting_rel_max": 100,
    "inflight_cnt": 0,
    "ip_address": "115.236.21.86",
    "mqueue_len": 0,
    "send_msg.qos2": 0,
    "send_pkt": 3,
    "subscriptions_cnt": 0,
    "send_msg.dropped.too_large": 0,
    "recv_msg": 3,
    "send_msg.dropped.queue_full": 0,
    "send_msg": 0,
    "node": "emqxsl-dev@10.66.128.31",
    "awaiting_rel_cnt": 0,
    "listener": "tcp:default",
    "connected": True,
    "username": "aip_user2",
    "recv_msg.qos1": 0,
    "proto_name": "MQTT",
    "port": 13312,
    "send_msg.qos1": 0,
    "is_persistent": False,
    "enable_authn": True,
    "mailbox_len": 0,
    "subscriptions_max": 10,
    "recv_msg.qos2": 0,
    "connected_at": "2023-09-15T09:36:20.871+00:00",
    "tenant_id_from": "peersni",
    "is_bridge": False,
    "clientid": "mqttx_07cb8109",
    "send_oct": 25,
    "send_msg.qos0": 0,
    "mqueue_max": 1000,
    "cn": None,
    "recv_msg.dropped": 0,
    "dn": None,
}
V4_CLIENT = {
    "recv_cnt": 45, "send_pkt": 44, "clean_start": True, "expiry_interval": 0, "proto_ver": 4,
    "recv_msg": 0, "connected_at": "2021-03-18 02:15:57", "recv_oct": 164, "is_bridge": False,
    "connected": True, "max_awaiting_rel": 100, "heap_size": 610, "mqueue_dropped": 0, "recv_pkt": 2,
    "ip_address": "127.0.0.1", "max_subscriptions": 0, "created_at": "2021-03-18 02:15:57",
    "awaiting_rel": 0, "mountpoint": "undefined", "node": "emqx@10.12.50.91", "proto_name": "MQTT",
    "mailbox_len": 0, "send_msg": 2, "clientid": "emqx_c_1", "mqueue_len": 0, "inflight": 0,
    "max_mqueue": 1000, "subscriptions_cnt": 4, "keepalive": 60, "reductions": 35471, "zone": "external",
    "send_cnt": 44, "username": "test", "send_oct": 159, "port": 3107, "max_inflight": 32,
}  # fmt: skip
SUB = {
    "topic": "t/a",
    "clientid": "client_1",
    "nl": 0,
    "node": "emqxsl-dev@10.66.128.31",
    "qos": 1,
    "rap": 0,
    "rh": 0,
}
RULE_LIST = [
    {"action": "publish", "permission": "allow", "topic": "test/topic/1"},
    {"action": "subscribe", "permission": "allow", "topic": "test/topic/2"},
    {"action": "all", "permission": "deny", "topic": "eq test/#"},
]
NO_SUBSCRIBERS = {"message": "no_matching_subscribers", "reason_code": 16}
SHADOW = {"description": "123", "updatedAt": "2022-06-10 03:20", "shadowID": "test_shadow",
          "createdAt": "2022-06-10 03:20", "shadowName": "test"}  # fmt: skip
SHADOW_JSON = {"data": {"color": "blue", "power": 0, "specs": 2, "state": 1}, "createAt": 1660618831979,
               "lastTime": 1660631880990, "version": 10}  # fmt: skip
AUTHN = "/authentication/password_based%3Abuilt_in_database"
RULES = "/authorization/sources/built_in_database/rules"
V4_METRIC_NAMES = [
    "actions.failure", "actions.success", "bytes.received", "bytes.sent", "client.authenticate",
    "client.auth.anonymous", "client.connect", "client.connack", "client.connected", "client.disconnected",
    "client.check_acl", "client.subscribe", "client.unsubscribe", "delivery.dropped.too_large",
    "delivery.dropped.queue_full", "delivery.dropped.qos0_msg", "delivery.dropped.expired",
    "delivery.dropped.no_local", "delivery.dropped", "messages.delayed", "messages.delivered",
    "messages.dropped", "messages.dropped.expired", "messages.dropped.no_subscribers", "messages.forward",
    "messages.publish", "messages.qos0.received", "messages.qos1.received", "messages.qos2.received",
    "messages.qos0.sent", "messages.qos1.sent", "messages.qos2.sent", "messages.received", "messages.sent",
    "messages.retained", "messages.acked", "packets.received", "packets.sent", "packets.connect.received",
    "packets.connack.auth_error", "packets.connack.error", "packets.connack.sent", "packets.publish.received",
    "packets.publish.sent", "packets.publish.inuse", "packets.publish.auth_error", "packets.publish.error",
    "packets.publish.dropped", "packets.puback.received", "packets.puback.sent", "packets.puback.inuse",
    "packets.puback.missed", "packets.pubrec.received", "packets.pubrec.sent", "packets.pubrec.inuse",
    "packets.pubrec.missed", "packets.pubrel.received", "packets.pubrel.sent", "packets.pubrel.missed",
    "packets.pubcomp.received", "packets.pubcomp.sent", "packets.pubcomp.inuse", "packets.pubcomp.missed",
    "packets.subscribe.received", "packets.subscribe.error", "packets.subscribe.auth_error",
    "packets.suback.sent", "packets.unsubscribe.received", "packets.unsubscribe.error",
    "packets.unsuback.sent", "packets.pingreq.received", "packets.pingresp.sent",
    "packets.disconnect.received", "packets.disconnect.sent", "packets.auth.received", "packets.auth.sent",
    "rules.matched", "actions.error", "actions.retry", "actions.exception", "actions.taken",
    "client.acl.ignore", "client.auth.ignore",
    "session.created", "session.discarded", "session.resumed", "session.takeovered", "session.terminated",
    "client.acl.allow", "client.acl.deny", "client.auth.success", "client.auth.failure",
]  # fmt: skip

Row = tuple[str, str, str, dict[str, str], Any, int, Any]

ROWS: list[Row] = [
    # ---- §2.2.1 clients (v5) -----------------------------------------------------------------------
    ("v5", "GET", "/clients", {"_page": "1", "_limit": "50"}, None, 200,
     {"meta": {"page": 1, "limit": 50, "hasnext": False, "count": 1}, "data": [V5_CLIENT]}),
    ("v5", "GET", "/clients/client_1", {}, None, 200, V5_CLIENT),
    ("v5", "POST", "/clients/client_1/subscribe", {}, {"topic": "t/a", "qos": 1}, 200, SUB),
    ("v5", "POST", "/clients/client_1/unsubscribe", {}, {"topic": "t/a"}, 204, None),
    ("v5", "POST", "/clients/client_1/subscribe/bulk", {}, [{"topic": "t/a", "qos": 1}, {"topic": "t/b", "qos": 0}],
     200, {"data": [SUB, {**SUB, "topic": "t/b", "qos": 0}]}),
    # ---- §2.2.2 subscriptions --------------------------------------------------------------------------
    ("v5", "GET", "/subscriptions", {}, None, 200,
     {"meta": {"page": 1, "limit": 100, "hasnext": False, "count": 2}, "data": [SUB]}),
    ("v5", "GET", "/clients/client_1/subscriptions", {}, None, 200, {"data": [SUB]}),
    # ---- §2.2.3 publish ----------------------------------------------------------------------------------
    ("v5", "POST", "/publish", {}, {"topic": "t/a", "qos": 1, "payload": "Hello EMQX"}, 200,
     {"id": "000600D09A099053F445000014C30000"}),
    ("v5", "POST", "/publish", {}, {"topic": "nobody/listens", "qos": 1, "payload": "Hello EMQX"}, 202, NO_SUBSCRIBERS),
    ("v5", "POST", "/publish/bulk", {},
     [{"topic": "t/a", "qos": 0, "payload": "Hello EMQX"}, {"topic": "t/b", "qos": 1, "payload": "Hi EMQX"}], 200,
     [{"id": "00060563A10558877ACA0C006CFA0000"}, {"id": "00060563A10558BF7ACA0C006CFA0001"}]),
    ("v5", "POST", "/clients/client_1/unsubscribe/bulk", {}, [{"topic": "t/a"}, {"topic": "t/b"}], 204, None),
    # ---- §2.2.4 authentication users ------------------------------------------------------------------
    ("v5", "POST", f"{AUTHN}/users", {}, {"user_id": "user1", "password": "password"}, 201,
     {"user_id": "user1", "is_superuser": False}),
    ("v5", "POST", f"{AUTHN}/import_users", {"type": "plain"},
     [{"user_id": "user2", "password": "p2"}, {"user_id": "user3", "password": "p3"}], 204, None),
    ("v5", "GET", f"{AUTHN}/users", {}, None, 200,
     {"meta": {"count": 1, "hasnext": False, "limit": 10, "page": 1},
      "data": [{"is_superuser": False, "user_id": "user1"}]}),
    ("v5", "GET", f"{AUTHN}/users/user1", {}, None, 200, {"data": {"is_superuser": False, "user_id": "user1"}}),
    ("v5", "PUT", f"{AUTHN}/users/user1", {}, {"password": "new_password"}, 204, None),
    ("v5", "DELETE", f"{AUTHN}/users/user3", {}, None, 204, None),
    ("v5", "GET", f"{AUTHN}/users/user3", {}, None, 404, {"code": "NOT_FOUND", "message": "User not found"}),
    # ---- §2.2.5 authorization rules ----------------------------------------------------------------------
    ("v5", "POST", f"{RULES}/clients", {}, {"clientid": "client1", "rules": RULE_LIST}, 204, None),
    ("v5", "POST", f"{RULES}/users", {}, {"username": "user1", "rules": RULE_LIST}, 204, None),
    ("v5", "POST", f"{RULES}/all", {}, {"rules": RULE_LIST}, 204, None),
    ("v5", "GET", f"{RULES}/clients", {}, None, 200,
     {"data": [{"clientid": "client1", "rules": RULE_LIST}], "meta": {"hasnext": False, "limit": 50, "page": 1}}),
    ("v5", "GET", f"{RULES}/users", {}, None, 200,
     {"data": [{"username": "user1", "rules": RULE_LIST}], "meta": {"hasnext": False, "limit": 50, "page": 1}}),
    ("v5", "GET", f"{RULES}/all", {}, None, 200, {"rules": RULE_LIST}),
    ("v5", "GET", f"{RULES}/clients/client1", {}, None, 200, {"clientid": "client1", "rules": RULE_LIST}),
    ("v5", "GET", f"{RULES}/users/user1", {}, None, 200, {"rules": RULE_LIST, "username": "user1"}),
    ("v5", "PUT", f"{RULES}/clients/client1", {}, {"clientid": "client1", "rules": RULE_LIST}, 204, None),
    ("v5", "PUT", f"{RULES}/users/user1", {}, {"username": "user1", "rules": RULE_LIST}, 204, None),
    ("v5", "DELETE", f"{RULES}/clients/client1", {}, None, 204, None),
    ("v5", "DELETE", f"{RULES}/users/user1", {}, None, 204, None),
    ("v5", "DELETE", f"{RULES}/all", {}, None, 204, None),
    ("v5", "DELETE", f"{AUTHN}/users/user1", {}, None, 204, None),
    # ---- §2.3 rows 1-12: auth_username / auth_clientid --------------------------------------------------
    ("v4", "POST", "/auth_username", {}, {"username": "user_test", "password": "password"}, 200, {"code": 0}),
    ("v4", "POST", "/auth_username", {}, [{"username": "api_user1", "password": "p"}, {"username": "api_user2", "password": "p"}],
     200, {"data": {"api_user1": "ok", "api_user2": "ok"}, "code": 0}),
    ("v4", "GET", "/auth_username", {}, None, 200,
     {"meta": {"page": 1, "limit": 10, "count": 3}, "data": [{"username": "api_user2"}], "code": 0}),
    ("v4", "GET", "/auth_username/api_user1", {}, None, 200, {"data": {"username": "api_user1"}, "code": 0}),
    ("v4", "PUT", "/auth_username/api_user1", {}, {"password": "new_password"}, 200, {"code": 0}),
    ("v4", "DELETE", "/auth_username/api_user1", {}, None, 200, {"code": 0}),
    ("v4", "POST", "/auth_clientid", {}, {"clientid": "test", "password": "password"}, 200, {"code": 0}),
    ("v4", "POST", "/auth_clientid", {}, [{"clientid": "test1", "password": "p"}, {"clientid": "test2", "password": "p"}],
     200, {"data": {"test1": "ok", "test2": "ok"}, "code": 0}),
    ("v4", "GET", "/auth_clientid", {}, None, 200,
     {"meta": {"page": 1, "limit": 10, "count": 3}, "data": [{"clientid": "api_user2"}], "code": 0}),
    ("v4", "GET", "/auth_clientid/test", {}, None, 200, {"data": {"clientid": "clientid_1"}, "code": 0}),
    ("v4", "PUT", "/auth_clientid/test1", {}, {"password": "new_password"}, 200, {"code": 0}),
    ("v4", "DELETE", "/auth_clientid/test1", {}, None, 200, {"code": 0}),
    # ---- rows 13-24: ACL -------------------------------------------------------------------------------------
    ("v4", "POST", "/acl", {}, {"clientid": "client1", "topic": "a/b", "action": "sub", "access": "allow"}, 200,
     {"data": {"topic": "a/b", "result": "ok", "clientid": "client1", "action": "sub", "access": "allow"}, "code": 0}),
    ("v4", "POST", "/acl", {}, {"username": "user1", "topic": "a/b", "action": "sub", "access": "allow"}, 200,
     {"data": {"username": "user1", "topic": "a/b", "result": "ok", "action": "sub", "access": "allow"}, "code": 0}),
    ("v4", "POST", "/acl", {}, {"topic": "a/b", "action": "pub", "access": "allow"}, 200,
     {"data": {"topic": "a/b", "result": "ok", "all": "$all", "action": "pub", "access": "allow"}, "code": 0}),
    ("v4", "POST", "/acl", {},
     [{"clientid": "emqx_c_1", "topic": "topic/A", "action": "pub", "access": "allow"},
      {"username": "emqx_u_1", "topic": "topic/A", "action": "sub", "access": "allow"},
      {"topic": "topic/+", "action": "pubsub", "access": "deny"}], 200,
     {"data": [{"topic": "topic/+", "result": "ok", "action": "pubsub", "access": "deny"}], "code": 0}),
    ("v4", "GET", "/acl/clientid", {}, None, 200,
     {"meta": {"page": 1, "limit": 10, "count": 1},
      "data": [{"topic": "topic/A", "clientid": "emqx_c_1", "action": "pub", "access": "allow"}], "code": 0}),
    ("v4", "GET", "/acl/username", {}, None, 200,
     {"meta": {"page": 1, "limit": 10, "count": 1},
      "data": [{"username": "emqx_u_1", "topic": "topic/A", "action": "sub", "access": "allow"}], "code": 0}),
    ("v4", "GET", "/acl/$all", {}, None, 200,
     {"meta": {"page": 1, "limit": 10, "count": 1},
      "data": [{"topic": "topic/A", "all": "$all", "action": "sub", "access": "allow"}], "code": 0}),
    ("v4", "GET", "/acl/clientid/emqx_c_1", {}, None, 200,
     {"data": [{"topic": "topic/A", "clientid": "emqx_c_1", "action": "pub", "access": "allow"}], "code": 0}),
    ("v4", "GET", "/acl/username/emqx_u_1", {}, None, 200,
     {"data": [{"username": "emqx_u_1", "topic": "topic/A", "action": "sub", "access": "allow"}], "code": 0}),
    ("v4", "DELETE", "/acl/clientid/emqx_c_1/topic/topic%2fA", {}, None, 200, {"code": 0}),
    ("v4", "DELETE", "/acl/username/emqx_u_1/topic/topic%2fA", {}, None, 200, {"code": 0}),
    ("v4", "DELETE", "/acl/$all/topic/topic%2f+", {}, None, 200, {"code": 0}),
    ("v4", "DELETE", "/acl/$all/topic/a%2Fb", {}, None, 200, {"code": 0}),
    ("v4", "DELETE", "/acl/clientid/client1/topic/a%2Fb", {}, None, 200, {"code": 0}),
    ("v4", "DELETE", "/acl/username/user1/topic/a%2Fb", {}, None, 200, {"code": 0}),
    # ---- rows 25-26: clients ------------------------------------------------------------------------------
    ("v4", "GET", "/clients", {"_page": "1", "_limit": "10"}, None, 200,
     {"meta": {"page": 1, "limit": 10000, "hasnext": False, "count": 1}, "data": [V4_CLIENT], "code": 0}),
    ("v4", "GET", "/clients/emqx_c_1", {}, None, 200, {"data": [V4_CLIENT], "code": 0}),
    # ---- rows 28-30: banned --------------------------------------------------------------------------------
    ("v4", "POST", "/banned", {}, {"who": "example", "as": "clientid", "reason": "example"}, 200,
     {"code": 0, "data": {"who": "example", "until": 1668504415, "reason": "example", "by": "user", "at": 1668504115, "as": "clientid"}}),
    ("v4", "GET", "/banned", {}, None, 200,
     {"meta": {"page": 1, "limit": 10, "count": 1},
      "data": [{"who": "example", "as": "clientid", "reason": "example", "by": "user", "at": 1, "until": 2}], "code": 0}),
    ("v4", "DELETE", "/banned/clientid/example", {}, None, 200, {"code": 0}),
    # ---- rows 33-36: topic subscription ----------------------------------------------------------------------
    ("v4", "POST", "/mqtt/subscribe", {}, {"topic": "d", "qos": 1, "clientid": "emqx_c_1"}, 200, {"code": 0}),
    ("v4", "POST", "/mqtt/subscribe_batch", {},
     [{"topic": "a", "qos": 1, "clientid": "testtopic/#"}, {"topic": "topic/a", "qos": 1, "clientid": "emqx_c_1"}], 200,
     {"data": [{"topic": "a", "code": 112, "clientid": "testtopic/#"}, {"topic": "topic/a", "code": 0, "clientid": "emqx_c_1"}], "code": 0}),
    ("v4", "POST", "/mqtt/unsubscribe", {}, {"topic": "a", "clientid": "emqx_c_1"}, 200, {"code": 0}),
    ("v4", "POST", "/mqtt/unsubscribe_batch", {}, [{"topic": "a", "clientid": "emqx_c_1"}], 200,
     {"data": [{"topic": "a", "code": 0, "clientid": "emqx_c_1"}], "code": 0}),
    # ---- rows 31-32: subscriptions ----------------------------------------------------------------------------
    ("v4", "GET", "/subscriptions", {}, None, 200,
     {"meta": {"page": 1, "limit": 10000, "hasnext": False, "count": 1},
      "data": [{"topic": "topic/a", "qos": 0, "node": "emqx@10.12.50.91", "clientid": "emqx_c_1"}], "code": 0}),
    ("v4", "GET", "/subscriptions/emqx_c_1", {}, None, 200,
     {"data": [{"topic": "testtopic/#", "qos": 0, "node": "emqx@10.12.50.36", "clientid": "emqx_c_1"}], "code": 0}),
    # ---- rows 37-38: publish ----------------------------------------------------------------------------------
    ("v4", "POST", "/mqtt/publish", {}, {"topic": "topic/a", "clientid": "emqx_c_1", "payload": "Hello EMQX"}, 200, {"code": 0}),
    ("v4", "POST", "/mqtt/publish_batch", {},
     [{"topic": "a/b", "clientid": "emqx_c_1", "payload": "Hello EMQX"},
      {"topic": "a/b", "clientid": "emqx_c_1", "qos": 2, "payload": "Hi EMQX"}], 200,
     {"data": [{"topic": "a/b", "code": 0}, {"topic": "a/b", "code": 0}], "code": 0}),
    # ---- row 39: metrics ---------------------------------------------------------------------------------------
    ("v4", "GET", "/metrics", {}, None, 200,
     {"data": [{"node": "emqx@10.12.50.91", "metrics": dict.fromkeys(V4_METRIC_NAMES, 0)}], "code": 0}),
    # ---- rows 40-47: shadow service (bare objects) -------------------------------------------------------
    ("v4", "POST", "/shadows", {}, {"description": "123", "shadowID": "test_shadow", "shadowName": "test"}, 200, SHADOW),
    ("v4", "GET", "/shadows/", {"_page": "1", "_limit": "10"}, None, 200,
     {"items": [SHADOW], "meta": {"limit": 10, "page": 1, "count": 1}}),
    ("v4", "GET", "/shadows/test_shadow", {}, None, 200, SHADOW),
    ("v4", "PUT", "/shadows/test_shadow", {}, {"description": "456", "shadowName": "test2"}, 200, SHADOW),
    ("v4", "PUT", "/shadows/test_shadow/json", {}, {"color": "blue", "state": 1, "power": 0}, 200,
     {**SHADOW_JSON, "data": {"color": "blue", "state": 1, "power": 0}}),
    ("v4", "PATCH", "/shadows/test_shadow/json", {}, {"specs": 2}, 200, SHADOW_JSON),
    ("v4", "GET", "/shadows/test_shadow/json", {}, None, 200, SHADOW_JSON),
    ("v4", "DELETE", "/shadows/test_shadow", {}, None, 204, None),
    # ---- kicks last: they end the documented clients' sessions (row 27, §2.2.1 DELETE) ------------------
    ("v4", "DELETE", "/clients/emqx_c_1", {}, None, 200, {"code": 0}),
    ("v5", "DELETE", "/clients/client_1", {}, None, 204, None),
]  # fmt: skip


def assert_shape(actual: Any, example: Any, where: str = "$") -> None:
    """`actual` has every key of `example`, recursively; lists are checked element-wise."""
    if isinstance(example, dict):
        assert isinstance(actual, dict), f"{where}: expected an object, got {actual!r}"
        missing = set(example) - set(actual)
        assert not missing, f"{where}: missing {sorted(missing)}"
        for key, value in example.items():
            assert_shape(actual[key], value, f"{where}.{key}")
    elif isinstance(example, list):
        assert isinstance(actual, list), f"{where}: expected an array, got {actual!r}"
        if example:
            assert actual, f"{where}: expected items"
            for index, item in enumerate(actual):
                assert_shape(item, example[0], f"{where}[{index}]")


async def test_every_documented_example_request(live: Live) -> None:
    clients: list[MqttClient] = []
    try:
        for clientid, version in (("client_1", 5), ("emqx_c_1", 4)):
            await live.user(f"user-{clientid}")
            client = live.mqtt(clientid, f"user-{clientid}", version=version)
            assert client.connect() == 0
            clients.append(client)
        assert clients[1].subscribe("testtopic/#", 0) == [0]
        assert clients[1].subscribe("topic/a", 0) == [0]
        await replay(live)
    finally:
        for client in clients:
            client.close()


CURL_HEADERS = {"user-agent": "curl/7.88.1", "accept": "*/*"}
CURL_FORM = {**CURL_HEADERS, "content-type": "application/x-www-form-urlencoded"}  # what `-d` adds


async def replay(live: Live) -> None:
    failures: list[str] = []
    for shape, method, path, query, body, status, example in ROWS:
        base = V5 if shape == "v5" else V4
        if body is None:
            response = await live.client.request(
                method, base + path, params=query, headers=CURL_HEADERS, auth=live.auth
            )
        else:
            data = json.dumps(body).encode()  # `-d '<the documented JSON>'`
            response = await live.client.request(
                method, base + path, params=query, content=data, headers=CURL_FORM, auth=live.auth
            )
        label = f"{shape} {method} {path}"
        if response.status_code != status:
            failures.append(f"{label}: status {response.status_code} != {status}: {response.text[:300]}")
            continue
        if status == 204:
            if response.content:
                failures.append(f"{label}: 204 with a body")
            continue
        try:
            assert_shape(response.json(), example)
        except AssertionError as exc:
            failures.append(f"{label}: {exc}")
    assert not failures, "\n".join(failures)
