"""Rate limits: token buckets with a fake clock, profiles, overrides, and 429 + Retry-After over HTTP."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.unit.control.conftest import Platform, make_settings, open_platform

from mqttcloud.contracts import TlsSpec
from mqttcloud.control.config import Settings
from mqttcloud.control.db import Database
from mqttcloud.control.errors import ConfigError, RateLimited
from mqttcloud.control.ratelimit import PROFILES, RULES, Limit, RateLimiter

API = "/public_api/v1"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_count_then_refuses_with_retry_after() -> None:
    clock = Clock()
    limiter = RateLimiter({"tls.create": Limit(6, 3600)}, clock)
    for _ in range(6):
        limiter.hit("tls.create", "key")
    with pytest.raises(RateLimited) as refused:
        limiter.hit("tls.create", "key")
    assert refused.value.retry_after == 600  # one token every 3600/6 s
    assert refused.value.headers == {"Retry-After": "600"}
    clock.now += 600
    limiter.hit("tls.create", "key")


def test_buckets_are_per_key_and_per_deployment() -> None:
    limiter = RateLimiter({"deployments.start": Limit(1, 3600)}, Clock())
    limiter.hit("deployments.start", "key-a", "d1")
    limiter.hit("deployments.start", "key-a", "d2")
    limiter.hit("deployments.start", "key-b", "d1")
    with pytest.raises(RateLimited):
        limiter.hit("deployments.start", "key-a", "d1")


def test_rule_without_limit_never_refuses() -> None:
    limiter = RateLimiter({"deployments.get": None}, Clock())
    for _ in range(10_000):
        limiter.hit("deployments.get", "key")


def test_emqx_profile_has_documented_numbers() -> None:
    emqx = PROFILES["emqx"]
    assert emqx["deployments.start"] == Limit(1, 3600)
    assert emqx["deployments.stop"] == Limit(1, 3600)
    assert emqx["tls.get"] == Limit(60, 3600)
    assert all(emqx[rule] == Limit(6, 3600) for rule in ("tls.create", "tls.update", "tls.delete"))
    assert emqx["deployments.get"] == Limit(60, 3600)


def test_default_profile_has_no_hourly_caps_on_start_stop() -> None:
    for rule in ("deployments.start", "deployments.stop"):
        limit = PROFILES["default"][rule]
        assert limit is not None
        assert limit.seconds <= 60
        assert limit.count >= 10
    assert set(PROFILES["default"]) == set(RULES)


def test_overrides_replace_profile_rules() -> None:
    limiter = RateLimiter.from_profile("emqx", {"deployments.start": "5/60", "tls.get": "off"})
    assert limiter.limits["deployments.start"] == Limit(5, 60)
    assert limiter.limits["tls.get"] is None
    assert limiter.limits["deployments.stop"] == Limit(1, 3600)


@pytest.mark.parametrize(
    ("profile", "overrides"),
    [
        ("bogus", {}),
        ("default", {"nope": "1/60"}),
        ("default", {"tls.get": "abc"}),
        ("default", {"tls.get": "0/60"}),
    ],
)
def test_bad_rate_limit_configuration_is_refused(profile: str, overrides: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        RateLimiter.from_profile(profile, overrides)


@pytest.fixture
async def emqx_platform(
    database: Database, data_dir: Path, serverless_tls: TlsSpec
) -> AsyncIterator[Platform]:
    settings: Settings = make_settings(
        data_dir, rate_limit_profile="emqx", rate_limit_overrides={"tls.get": "2/60"}
    )
    async for opened in open_platform(database, settings, serverless_tls):
        yield opened


async def test_second_stop_within_the_hour_is_429_with_retry_after(emqx_platform: Platform) -> None:
    key = emqx_platform.key()
    created = await emqx_platform.client.post(f"{API}/deployments", json={"projectID": "default"}, auth=key)
    deployment_id = created.json()["deploymentID"]
    assert (
        await emqx_platform.client.post(f"{API}/deployments/{deployment_id}/stop", auth=key)
    ).status_code == 201
    assert (
        await emqx_platform.client.post(f"{API}/deployments/{deployment_id}/start", auth=key)
    ).status_code == 201
    refused = await emqx_platform.client.post(f"{API}/deployments/{deployment_id}/stop", auth=key)
    assert refused.status_code == 429
    assert refused.json() == {"code": "TOO_MANY_REQUESTS", "message": "Request exceeds the limit"}
    assert 3500 <= int(refused.headers["Retry-After"]) <= 3600


async def test_overridden_rule_limits_tls_reads(emqx_platform: Platform) -> None:
    key = emqx_platform.key()
    created = await emqx_platform.client.post(f"{API}/deployments", json={"projectID": "default"}, auth=key)
    url = f"{API}/deployments/{created.json()['deploymentID']}/tls"
    assert [(await emqx_platform.client.get(url, auth=key)).status_code for _ in range(3)] == [404, 404, 429]
    other_key = emqx_platform.key()
    assert (await emqx_platform.client.get(url, auth=other_key)).status_code == 404


async def test_failed_authentication_is_not_rate_limited_as_the_key(emqx_platform: Platform) -> None:
    """401 comes before 429: a wrong secret neither consumes nor reveals the key's budget."""
    key, secret = emqx_platform.key()
    for _ in range(3):
        response = await emqx_platform.client.get(f"{API}/projects", auth=(key, "wrong"))
        assert response.status_code == 401
    assert (await emqx_platform.client.get(f"{API}/projects", auth=(key, secret))).status_code == 200
