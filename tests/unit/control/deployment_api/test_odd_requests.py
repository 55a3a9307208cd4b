"""Requests the fuzzer (tests/integration/control/test_fuzz.py) found answered in the wrong error shape:
bodies that are not UTF-8, and paths holding a newline (a topic, client id or user name may)."""

import pytest
from tests.unit.control.conftest import Platform
from tests.unit.control.deployment_api.test_deployment_api_in_process import (
    V4,
    V5,
    deployment,
    v4_error,
    v5_error,
)

__all__ = ["deployment"]  # the fixture, used by name
NOT_UTF8 = b'{"topic": "\xc3\x28"}'  # JSON-looking, but \xc3\x28 is no UTF-8 sequence


@pytest.mark.parametrize("path", ["/auth_username", "/banned", "/mqtt/publish", "/acl"])
async def test_v4_body_that_is_not_utf8_is_400_code_109(
    platform: Platform, deployment: tuple[str, tuple[str, str]], path: str
) -> None:
    _, auth = deployment
    response = await platform.client.post(f"{V4}{path}", content=NOT_UTF8, auth=auth)
    v4_error(response, 400, 109)


async def test_v5_body_that_is_not_utf8_is_400(
    platform: Platform, deployment: tuple[str, tuple[str, str]]
) -> None:
    _, auth = deployment
    v5_error(await platform.client.post(f"{V5}/banned", content=NOT_UTF8, auth=auth), 400, "BAD_REQUEST")


async def test_a_topic_holding_a_newline_reaches_the_v4_acl_route(
    platform: Platform, deployment: tuple[str, tuple[str, str]]
) -> None:
    _, auth = deployment
    rule = {"topic": "a\nb/c", "action": "pub", "access": "allow"}
    assert (await platform.client.post(f"{V4}/acl", json=rule, auth=auth)).json()["code"] == 0
    assert (await platform.client.delete(f"{V4}/acl/$all/topic/a%0Ab%2Fc", auth=auth)).json() == {"code": 0}
    v4_error(await platform.client.delete(f"{V4}/acl/$all/topic/a%0Ab%2Fc", auth=auth), 404, 102)


@pytest.mark.parametrize("path", ["/nothing%0A", "/nothing%0Ahere"])
async def test_unknown_v5_paths_with_a_newline_are_404_in_the_v5_shape(platform: Platform, path: str) -> None:
    v5_error(await platform.client.get(f"{V5}{path}"), 404, "NOT_FOUND")


async def test_unknown_v4_paths_with_a_newline_are_404_in_the_v4_shape(platform: Platform) -> None:
    v4_error(await platform.client.get(f"{V4}/nothing%0Ahere"), 404, 102)


async def test_a_client_id_ending_in_a_newline_reaches_its_v5_route(
    platform: Platform, deployment: tuple[str, tuple[str, str]]
) -> None:
    """Not cut to `/v5/clients/` on the way in: the route answers (503: no broker runs in process)."""
    _, auth = deployment
    response = await platform.client.get(f"{V5}/clients/c%0A", auth=auth)
    v5_error(response, 503, "SERVICE_UNAVAILABLE")
