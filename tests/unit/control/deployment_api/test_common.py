"""Pure helpers: paging, time parsing and formats, v4 codes, key permissions, rate limiter."""

import datetime as dt
from typing import Any

import pytest
from starlette.datastructures import QueryParams

from mqttcloud.broker.metrics import Metrics
from mqttcloud.contracts import ClientInfo, TenantId
from mqttcloud.control.deployment_api import common
from mqttcloud.control.deployment_api.clients import views as client_views
from mqttcloud.control.deployment_api.errors import v4_code
from mqttcloud.control.deployment_api.keys.service import allows, check_permissions
from mqttcloud.control.deployment_api.metrics import service as metrics_service
from mqttcloud.control.deployment_api.publish import service as publishing
from mqttcloud.control.deployment_api.quotas import ApiRateLimiter, Quotas
from mqttcloud.control.errors import BadRequest, RateLimited


@pytest.mark.parametrize(
    ("query", "expected"),
    [("", (1, 100)), ("page=2&limit=5", (2, 5)), ("_page=3&_limit=7", (3, 7)), ("limit=10000", (1, 10000))],
)
def test_paging_accepts_both_spellings(query: str, expected: tuple[int, int]) -> None:
    assert common.paging(QueryParams(query), 100) == expected


@pytest.mark.parametrize("query", ["page=0", "limit=0", "limit=10001", "_limit=x"])
def test_paging_out_of_range_is_400(query: str) -> None:
    with pytest.raises(BadRequest):
        common.paging(QueryParams(query), 100)


@pytest.mark.parametrize(
    ("value", "epoch"),
    [("1700000000", 1700000000.0), ("1700000000123", 1700000000.123), ("2023-11-14T22:13:20Z", 1700000000.0)],
)
def test_times_accept_seconds_milliseconds_and_rfc3339(value: str, epoch: float) -> None:
    assert common.parse_time(value, "t") == pytest.approx(epoch)


def test_time_formats_per_shape() -> None:
    assert common.iso(1694770580.871) == "2023-09-15T09:36:20.871+00:00"
    assert common.v4_time(1616033757) == "2021-03-18 02:15:57"


@pytest.mark.parametrize("epoch", [0.0, 0.999, 1616033757.5, 1616033759.999999, 1764213069.0, 4102444800.25])
def test_v4_time_is_the_utc_second_as_datetime_formats_it(epoch: float) -> None:
    expected = dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    assert common.v4_time(epoch) == expected
    assert common.v4_time(epoch) == expected  # cached the second time
    assert common.v4_time(None) is None


def _client(**changes: Any) -> ClientInfo:
    fields: dict[str, Any] = {
        "clientid": "c1",
        "username": "u",
        "node": "emqx@d1",
        "listener": "tcp:default",
        "ip_address": "127.0.0.1",
        "port": 50000,
        "proto_ver": 5,
        "connected": True,
        "connected_at": 1700000000.5,
        "created_at": 1700000000.25,
        "keepalive": 60,
        "clean_start": True,
        "expiry_interval": 0,
        "is_persistent": False,
    }
    counters = [
        "subscriptions_cnt",
        "subscriptions_max",
        "inflight_cnt",
        "inflight_max",
        "mqueue_len",
        "mqueue_max",
        "mqueue_dropped",
        "awaiting_rel_cnt",
        "awaiting_rel_max",
        "recv_oct",
        "recv_cnt",
        "recv_pkt",
        "recv_msg",
        "send_oct",
        "send_cnt",
        "send_pkt",
        "send_msg",
        "recv_msg.qos0",
        "recv_msg.qos1",
        "recv_msg.qos2",
        "recv_msg.dropped",
        "send_msg.qos0",
        "send_msg.qos1",
        "send_msg.qos2",
        "send_msg.dropped",
        "send_msg.dropped.expired",
        "send_msg.dropped.queue_full",
        "send_msg.dropped.too_large",
    ]
    fields.update({name: i for i, name in enumerate(counters)})
    fields.update(changes)
    return ClientInfo.model_validate(fields)


@pytest.mark.parametrize(
    "info",
    [_client(), _client(connected=False, disconnected_at=1700000100.0, peersni="t.example", username=None)],
)
def test_rows_from_the_admin_json_equal_rows_from_the_model(info: ClientInfo) -> None:
    raw = info.model_dump(mode="json", by_alias=True)
    assert client_views.v5_raw(raw) == client_views.v5(info)
    assert client_views.v4_raw(raw) == client_views.v4(info)
    v5 = client_views.v5_raw(raw)
    assert v5["connected_at"] == "2023-11-14T22:13:20.500+00:00"
    assert ("disconnected_at" in v5) is (not info.connected)
    assert v5["tenant_id_from"] == ("peersni" if info.peersni else None)


def test_unknown_zone_matches_nothing_and_bad_conn_state_is_400() -> None:
    assert client_views.filters(QueryParams("zone=other")) is None
    with pytest.raises(BadRequest):
        client_views.filters(QueryParams("conn_state=sleeping"))


def test_v4_codes() -> None:
    assert v4_code(404, "CLIENTID_NOT_FOUND") == 112
    assert v4_code(503, "SERVICE_UNAVAILABLE") == 101
    assert v4_code(422, "INVALID_PARAMETERS") == 108
    assert v4_code(401, "BAD_API_KEY_OR_SECRET") == 103


def test_permissions_by_method_and_group() -> None:
    permissions = check_permissions(["get:clients", "*:publish"])
    assert permissions == ["GET:clients", "*:publish"]
    assert allows(permissions, "GET", "clients")
    assert not allows(permissions, "DELETE", "clients")
    assert allows(permissions, "POST", "publish")
    assert allows(None, "DELETE", "banned")


def test_rate_limiter_refills() -> None:
    now = [0.0]
    limiter = ApiRateLimiter(qps=2, burst=2, clock=lambda: now[0])
    limiter.hit("d")
    limiter.hit("d")
    with pytest.raises(RateLimited):
        limiter.hit("d")
    limiter.hit("other")
    now[0] = 0.5
    limiter.hit("d")


def test_quotas_follow_the_plan() -> None:
    quotas = Quotas()
    assert quotas.auth_entries(serverless=True, connections=5000) == 2000
    assert quotas.acl_entries(serverless=False, connections=1000) == 2000
    assert quotas.api_qps == 100


@pytest.mark.parametrize(
    "value", ["1e20", "nan", "inf", "-inf", "-1", "9999999999999999999999", "10000-01-01T00:00:00"]
)
def test_times_out_of_range_are_400_naming_the_field(value: str) -> None:
    """Finding 4 of the hardening issue: these reached `datetime.fromtimestamp` and answered 500."""
    with pytest.raises(BadRequest) as caught:
        common.to_datetime(value, "until")
    assert caught.value.field == "until"


def test_bad_properties_are_400_naming_properties() -> None:
    with pytest.raises(BadRequest) as caught:
        publishing.message_args(
            TenantId("d"),
            topic="t",
            payload="",
            encoding="plain",
            qos=0,
            retain=False,
            properties={"message_expiry_interval": 10**20},
        )
    assert caught.value.field == "properties"


def test_publish_payload_over_1_mb_is_refused() -> None:
    publishing.message_args(
        TenantId("d"), topic="t", payload="x" * 1024 * 1024, encoding="plain", qos=0, retain=False
    )
    with pytest.raises(BadRequest, match="larger"):
        publishing.message_args(
            TenantId("d"), topic="t", payload="x" * (1024 * 1024 + 1), encoding="plain", qos=0, retain=False
        )


# Every metric name spec §2.3.8 documents for `GET /api/metrics` (names and the example's extras).
DOCUMENTED_V4_METRICS = [
    "actions.failure",
    "actions.success",
    "bytes.received",
    "bytes.sent",
    "client.authenticate",
    "client.auth.anonymous",
    "client.connect",
    "client.connack",
    "client.connected",
    "client.disconnected",
    "client.check_acl",
    "client.subscribe",
    "client.unsubscribe",
    "delivery.dropped.too_large",
    "delivery.dropped.queue_full",
    "delivery.dropped.qos0_msg",
    "delivery.dropped.expired",
    "delivery.dropped.no_local",
    "delivery.dropped",
    "messages.delayed",
    "messages.delivered",
    "messages.dropped",
    "messages.dropped.expired",
    "messages.dropped.no_subscribers",
    "messages.forward",
    "messages.publish",
    "messages.qos0.received",
    "messages.qos1.received",
    "messages.qos2.received",
    "messages.qos0.sent",
    "messages.qos1.sent",
    "messages.qos2.sent",
    "messages.received",
    "messages.sent",
    "messages.retained",
    "messages.acked",
    "packets.received",
    "packets.sent",
    "packets.connect.received",
    "packets.connack.auth_error",
    "packets.connack.error",
    "packets.connack.sent",
    "packets.publish.received",
    "packets.publish.sent",
    "packets.publish.inuse",
    "packets.publish.auth_error",
    "packets.publish.error",
    "packets.publish.dropped",
    "packets.puback.received",
    "packets.puback.sent",
    "packets.puback.inuse",
    "packets.puback.missed",
    "packets.pubrec.received",
    "packets.pubrec.sent",
    "packets.pubrec.inuse",
    "packets.pubrec.missed",
    "packets.pubrel.received",
    "packets.pubrel.sent",
    "packets.pubrel.missed",
    "packets.pubcomp.received",
    "packets.pubcomp.sent",
    "packets.pubcomp.inuse",
    "packets.pubcomp.missed",
    "packets.subscribe.received",
    "packets.subscribe.error",
    "packets.subscribe.auth_error",
    "packets.suback.sent",
    "packets.unsubscribe.received",
    "packets.unsubscribe.error",
    "packets.unsuback.sent",
    "packets.pingreq.received",
    "packets.pingresp.sent",
    "packets.disconnect.received",
    "packets.disconnect.sent",
    "packets.auth.received",
    "packets.auth.sent",
    "rules.matched",
    "session.created",
    "session.discarded",
    "session.resumed",
    "session.takeovered",
    "session.terminated",
    "actions.error",
    "actions.retry",
    "actions.exception",
    "actions.taken",
    "client.acl.allow",
    "client.acl.deny",
    "client.acl.ignore",
    "client.auth.success",
    "client.auth.failure",
    "client.auth.ignore",
]


def test_v4_metrics_carry_every_documented_name_from_the_broker_counters() -> None:
    broker_counters = Metrics().snapshot()
    answer = metrics_service.v4_metrics(broker_counters)
    assert sorted(set(DOCUMENTED_V4_METRICS) - answer.keys()) == []
    # the documented names the broker does not count itself are the features this platform lacks
    assumed = set(DOCUMENTED_V4_METRICS) - broker_counters.keys() - metrics_service.V4_ALIASES.keys()
    assert assumed == set(metrics_service.ALWAYS_ZERO)
