"""`POST /api/v5/publish` fast path (`deployment_api/publish/fast_path.py`): answers exactly like the route,
and hands every case it is not sure of to the route with the body intact."""

import base64
from collections.abc import Callable
from typing import Any

import pytest
from tests.unit.control.deployment_api.conftest import Api
from tests.unit.control.deployment_api.test_deployment_api_in_process import (
    V5,
    new_deployment,
    new_key,
    v5_error,
)

from mqttcloud.contracts import PublishArgs, PublishResult
from mqttcloud.control.broker_client import BrokerError, BrokerUnavailable
from mqttcloud.control.deployment_api.publish import v5
from mqttcloud.control.deployment_api.quotas import ApiRateLimiter

MESSAGE_ID = "0123456789ABCDEF0123456789ABCDEF"


class FakeBroker:
    """The admin client `live.client_for` hands out: records publishes, answers `matched`."""

    def __init__(self) -> None:
        self.published: list[PublishArgs] = []
        self.matched = 1
        self.fail: Exception | None = None

    async def publish(self, args: PublishArgs) -> PublishResult:
        if self.fail is not None:
            raise self.fail
        self.published.append(args)
        return PublishResult(id=MESSAGE_ID, matched=self.matched)


class Setup:
    def __init__(self, api: Api, auth: tuple[str, str], broker: FakeBroker, routed: list[int]) -> None:
        self.api = api
        self.auth = auth
        self.broker = broker
        self.routed = routed  # one entry per request the FastAPI route handled

    async def post(self, body: Any = None, **kwargs: Any) -> Any:
        if body is not None:
            kwargs["json"] = body
        return await self.api.platform.client.post(f"{V5}/publish", auth=self.auth, **kwargs)

    def uncache(self) -> None:
        self.api.app.state.deployment_key_verifier.invalidate()


@pytest.fixture
async def setup(api: Api, monkeypatch: pytest.MonkeyPatch) -> Setup:
    deployment_id = await new_deployment(api.platform)
    broker = FakeBroker()
    monkeypatch.setattr(api.platform.supervisor, "client", lambda _broker_id: broker, raising=False)
    routed: list[int] = []
    original: Callable[..., Any] = v5._publish

    async def counting(*args: Any, **kwargs: Any) -> Any:
        routed.append(1)
        return await original(*args, **kwargs)

    monkeypatch.setattr(v5, "_publish", counting)
    return Setup(api, new_key(api.platform, deployment_id), broker, routed)


async def test_fast_path_answers_exactly_like_the_route(setup: Setup) -> None:
    body = {"topic": "a/b", "payload": "aGk=", "payload_encoding": "base64", "qos": 1, "retain": True}
    by_route = await setup.post(body)  # the key is not cached yet: the route answers (and caches it)
    assert setup.routed == [1]
    by_fast_path = await setup.post(body)
    assert setup.routed == [1]
    assert by_route.status_code == by_fast_path.status_code == 200
    assert by_route.json() == by_fast_path.json() == {"id": MESSAGE_ID}
    assert by_fast_path.headers["content-type"] == "application/json"
    first, second = setup.broker.published
    assert first == second
    assert (first.topic, first.payload_b64, first.qos, first.retain) == ("a/b", "aGk=", 1, True)

    setup.broker.matched = 0
    setup.uncache()
    by_route = await setup.post({"topic": "nobody"})
    by_fast_path = await setup.post({"topic": "nobody"})
    assert setup.routed == [1, 1]
    assert by_route.status_code == by_fast_path.status_code == 202
    assert by_route.json() == by_fast_path.json() == {"message": "no_matching_subscribers", "reason_code": 16}


async def test_properties_and_user_properties_pass_through(setup: Setup) -> None:
    await setup.post({"topic": "warm"})
    body = {
        "topic": "p",
        "payload": "x",
        "properties": {
            "payload_format_indicator": 1,
            "message_expiry_interval": 60,
            "response_topic": "r",
            "correlation_data": "c",
            "content_type": "text/plain",
            "user_properties": {"k": "v"},
        },
    }
    assert (await setup.post(body)).status_code == 200
    setup.uncache()
    assert (await setup.post(body)).status_code == 200
    assert setup.routed == [1, 1]
    assert setup.broker.published[1] == setup.broker.published[2]


async def test_cases_it_is_not_sure_of_go_to_the_route_with_their_body(setup: Setup) -> None:
    await setup.post({"topic": "warm"})  # the key is cached from here on
    v5_error(await setup.post({"topic": "t", "qos": 3}), 422, "INVALID_PARAMETERS")
    v5_error(
        await setup.post({"topic": "t", "payload": "%%%", "payload_encoding": "base64"}), 400, "BAD_REQUEST"
    )
    v5_error(
        await setup.post(content=b"{not json", headers={"content-type": "application/json"}),
        400,
        "BAD_REQUEST",
    )
    form = {"content-type": "application/x-www-form-urlencoded"}  # what `curl -d` sends
    not_json = await setup.post(content=b"topic=t&payload=x", headers=form)
    v5_error(not_json, 400, "BAD_REQUEST")
    big = {"topic": "t", "payload": "x" * (2 * 1024 * 1024 + 10)}
    v5_error(await setup.post(big), 400, "PACKET_TOO_LARGE")
    assert len(setup.routed) == 3  # warm-up, bad base64, big body (the others fail before the endpoint)
    assert len(setup.broker.published) == 1
    as_curl_sends = await setup.post(content=b'{"topic": "t"}', headers=form)
    assert as_curl_sends.status_code == 200  # a JSON body is read as JSON whatever its Content-Type
    assert len(setup.routed) == 3  # ... by the fast path itself
    assert len(setup.broker.published) == 2


async def test_bad_key_forbidden_key_and_rate_limit_are_the_routes_answers(setup: Setup, api: Api) -> None:
    await setup.post({"topic": "warm"})
    setup.auth = (setup.auth[0], "wrong-secret")
    v5_error(await setup.post({"topic": "t"}), 401, "BAD_API_KEY_OR_SECRET")
    with api.platform.database.session() as session:
        from mqttcloud.control.deployment_api.keys import service as keys

        deployment_id = keys.find_by_app_id(session, app_id=setup.auth[0])
        assert deployment_id is not None
        target = deployment_id.deployment_id
    setup.auth = new_key(api.platform, target, permissions=["GET:clients"])
    v5_error(await setup.post({"topic": "t"}), 403, "FORBIDDEN")
    v5_error(await setup.post({"topic": "t"}), 403, "FORBIDDEN")  # cached now: still the route's 403
    setup.auth = new_key(api.platform, target)
    api.app.state.deployment_api_limiter = ApiRateLimiter(qps=1, burst=2)
    assert (await setup.post({"topic": "t"})).status_code == 200
    assert (await setup.post({"topic": "t"})).status_code == 200
    limited = await setup.post({"topic": "t"})
    v5_error(limited, 429, "TOO_MANY_REQUESTS")
    assert limited.headers["retry-after"]
    assert len(setup.broker.published) == 3


@pytest.mark.parametrize(
    ("failure", "status", "code"),
    [
        (BrokerUnavailable("gone"), 503, "SERVICE_UNAVAILABLE"),
        (BrokerError("BAD_REQUEST", "bad topic"), 400, "BAD_REQUEST"),
        (BrokerError("NOT_FOUND", "tenant"), 503, "SERVICE_UNAVAILABLE"),
    ],
)
async def test_broker_failures_after_handing_over_are_answered_like_the_route(
    setup: Setup, failure: Exception, status: int, code: str
) -> None:
    await setup.post({"topic": "warm"})
    setup.broker.fail = failure
    for _ in range(3):  # a busy key-revision read hands the request to the route (it never waits): retry
        before = len(setup.routed)
        fast = await setup.post({"topic": "t"})
        if len(setup.routed) == before:
            break
    assert len(setup.routed) == before  # answered by the fast path
    setup.uncache()
    routed = await setup.post({"topic": "t"})
    assert len(setup.routed) == before + 1
    v5_error(fast, status, code)
    assert fast.json() == routed.json()
    assert fast.status_code == routed.status_code


async def test_payload_is_base64_of_the_plain_text(setup: Setup) -> None:
    await setup.post({"topic": "warm"})
    assert (await setup.post({"topic": "t", "payload": "héllo"})).status_code == 200
    assert base64.b64decode(setup.broker.published[-1].payload_b64) == "héllo".encode()
