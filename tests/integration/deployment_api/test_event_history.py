"""Client event history end to end: paho clients against a real broker, events read through
`GET /api/v5/event_history` after the platform collected and stored them."""

from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.integration.deployment_api.conftest import V5, Live, wait_for

pytestmark = pytest.mark.asyncio(loop_scope="module")

HISTORY = f"{V5}/event_history"


async def timeline(live: Live, clientid: str, *, count: int, **params: str) -> list[dict[str, Any]]:
    """The client's events, oldest first, once at least `count` of them were stored."""

    async def enough() -> list[dict[str, Any]] | None:
        response = await live.client.get(HISTORY, params={"clientid": clientid, **params}, auth=live.auth)
        assert response.status_code == 200, response.text
        data: list[dict[str, Any]] = response.json()["data"]
        return list(reversed(data)) if len(data) >= count else None

    found: list[dict[str, Any]] = await wait_for(enough, what=f"{count} events of {clientid}")
    return found


async def test_connect_and_kick_appear_with_0x98_and_who_kicked(live: Live) -> None:
    await live.user("hist-user")
    client = live.mqtt("hist-kicked", "hist-user", keepalive=45)
    assert client.connect() == 0
    response = await live.client.delete(f"{V5}/clients/hist-kicked", auth=live.auth)
    assert response.status_code == 204
    assert client.disconnected.wait(10)
    client.paho.loop_stop()
    connected, disconnected = await timeline(live, "hist-kicked", count=2)
    assert connected["event"] == "client.connected"
    assert connected["username"] == "hist-user"
    assert connected["ip_address"] == "127.0.0.1"
    assert connected["detail"]["keepalive"] == 45
    assert connected["detail"]["proto_ver"] == 5
    assert connected["detail"]["clean_start"] is True
    assert disconnected["event"] == "client.disconnected"
    assert (disconnected["reason"], disconnected["reason_code"]) == ("kicked", 0x98)
    assert disconnected["detail"]["kicked_by"] == f"deployment_key:{live.auth[0]}"


async def test_bad_password_appears_as_a_refused_connack_0x86(live: Live) -> None:
    await live.user("hist-user")
    client = live.mqtt("hist-badpw", "hist-user", password="wrong")
    assert client.connect() == 0x86
    [refused] = await timeline(live, "hist-badpw", count=1)
    assert refused["event"] == "client.connack"
    assert (refused["reason"], refused["reason_code"]) == ("bad_user_name_or_password", 0x86)


async def test_takeover_appears_as_takenover_0x8e(live: Live) -> None:
    await live.user("hist-user")
    first = live.mqtt("hist-taken", "hist-user")
    second = live.mqtt("hist-taken", "hist-user", clean_start=False)
    try:
        assert first.connect() == 0
        assert second.connect() == 0
        assert first.disconnected.wait(10)
        first.paho.loop_stop()
        events = await timeline(live, "hist-taken", count=4)
    finally:
        second.close()
    kinds = [e["event"] for e in events[:4]]
    assert kinds == ["client.connected", "session.takenover", "client.disconnected", "client.connected"]
    assert (events[2]["reason"], events[2]["reason_code"]) == ("takenover", 0x8E)
    only_takeovers = await timeline(live, "hist-taken", count=1, event="session.takenover")
    assert [e["event"] for e in only_takeovers] == ["session.takenover"]


async def test_an_unknown_event_type_is_a_400_naming_the_field(live: Live) -> None:
    response = await live.client.get(HISTORY, params={"event": "client.exploded"}, auth=live.auth)
    assert response.status_code == 400
    assert response.json()["code"] == "BAD_REQUEST"
    assert "event" in response.json()["message"]
    response = await live.client.get(HISTORY, params={"start_at": "yesterday"}, auth=live.auth)
    assert response.status_code == 400


async def test_prometheus_stats_count_disconnects_by_emqx_reason(live: Live) -> None:
    await live.user("hist-user")
    client = live.mqtt("hist-reason", "hist-user")
    assert client.connect() == 0
    assert (await live.client.delete(f"{V5}/clients/hist-reason", auth=live.auth)).status_code == 204
    assert client.disconnected.wait(10)
    client.paho.loop_stop()
    response = await live.client.get(f"{V5}/prometheus/stats", auth=live.auth)
    assert response.status_code == 200
    reasons = {
        sample.labels["reason"]: sample.value
        for family in text_string_to_metric_families(response.text)
        if family.name == "emqx_client_disconnected_reason"
        for sample in family.samples
    }
    assert reasons.get("kicked", 0) >= 1
