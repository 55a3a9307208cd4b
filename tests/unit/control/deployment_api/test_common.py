"""Pure helpers: paging, time parsing and formats, v4 codes, key permissions, rate limiter."""

import pytest
from starlette.datastructures import QueryParams

from mqttcloud.control.deployment_api import common
from mqttcloud.control.deployment_api.errors import v4_code
from mqttcloud.control.deployment_api.keys.service import allows, check_permissions
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


def test_unknown_zone_matches_nothing_and_bad_conn_state_is_400() -> None:
    assert common.client_filter(QueryParams("zone=other")) is None
    with pytest.raises(BadRequest):
        common.client_filter(QueryParams("conn_state=sleeping"))


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


def test_publish_payload_over_1_mb_is_refused() -> None:
    common.publish_args("d", topic="t", payload="x" * 1024 * 1024, encoding="plain", qos=0, retain=False)
    with pytest.raises(BadRequest, match="larger"):
        common.publish_args(
            "d", topic="t", payload="x" * (1024 * 1024 + 1), encoding="plain", qos=0, retain=False
        )
