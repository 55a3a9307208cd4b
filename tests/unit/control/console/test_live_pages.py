"""Live pages against a stand-in admin client: the clients table, filters and paging, kick, publish
(the real broker is exercised by tests/browser; charts: test_monitoring_pages.py)."""

from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from tests.unit.control.console.conftest import Console
from tests.unit.control.console.test_deployment_pages import create_deployment

from mqttcloud.contracts import (
    ClientFilter,
    ClientInfo,
    ClientList,
    PublishArgs,
    PublishResult,
    TenantId,
    TenantMetrics,
    TenantStats,
)
from mqttcloud.control.accounts.models import Role
from mqttcloud.control.broker_client import BrokerClient


def client_info(clientid: str, username: str) -> ClientInfo:
    # Only the fields the console shows; model_construct skips validation of the other counters.
    shown: dict[str, Any] = {
        "clientid": clientid,
        "username": username,
        "ip_address": "127.0.0.1",
        "port": 50000,
        "proto_name": "MQTT",
        "proto_ver": 5,
        "listener": "tcp:default",
        "connected_at": 1_700_000_000.0,
        "keepalive": 30,
        "subscriptions_cnt": 2,
    }
    return ClientInfo.model_construct(**shown)


@dataclass
class FakeBroker:
    """Answers like `BrokerClient` and records what the console asked."""

    clients: list[ClientInfo] = field(default_factory=list)
    kicked: list[str] = field(default_factory=list)
    published: list[PublishArgs] = field(default_factory=list)
    filters: list[tuple[ClientFilter, int, int]] = field(default_factory=list)
    connections: int = 3
    received: int = 100

    async def list_clients(
        self, tenant: TenantId, filter: ClientFilter | None = None, page: int = 1, limit: int = 100
    ) -> ClientList:
        chosen = filter or ClientFilter()
        self.filters.append((chosen, page, limit))
        rows = [c for c in self.clients if not chosen.like_clientid or chosen.like_clientid in c.clientid]
        start = (page - 1) * limit
        return ClientList(
            data=rows[start : start + limit],
            count=len(rows),
            page=page,
            limit=limit,
            hasnext=start + limit < len(rows),
        )

    async def kick(self, tenant: TenantId, clientid: str) -> None:
        self.kicked.append(clientid)
        self.clients = [c for c in self.clients if c.clientid != clientid]

    async def publish(self, args: PublishArgs) -> PublishResult:
        self.published.append(args)
        return PublishResult(id="0" * 32, matched=1 if args.topic.startswith("seen/") else 0)

    async def stats(self, tenant: TenantId) -> TenantStats:
        return TenantStats(values={"connections.count": self.connections, "topics.count": 4})

    async def metrics(self, tenant: TenantId) -> TenantMetrics:
        return TenantMetrics(values={"messages.received": self.received, "messages.sent": 7})


@pytest.fixture
def broker(root_console: Console) -> FakeBroker:
    fake = FakeBroker(clients=[client_info(f"dev-{i:02}", f"user-{i}") for i in range(25)])
    # FakeBroker answers the calls the console makes, as a BrokerClient would (duck-typed stand-in).
    root_console.supervisor.broker = cast(BrokerClient, fake)
    return fake


async def test_clients_table_filters_and_pages(root_console: Console, broker: FakeBroker) -> None:
    deployment_id = await create_deployment(root_console)
    base = f"/console/deployments/{deployment_id}/clients"
    page = await root_console.get(base)
    assert page.text.count("data-clientid=") == 20
    assert 'rel="next"' in page.text
    second = await root_console.get(f"{base}.json?page=2")
    assert [row["clientid"] for row in second.json()["rows"]] == [f"dev-{i}" for i in range(20, 25)]
    assert second.json()["hasnext"] is False
    filtered = (await root_console.get(f"{base}.json?like_clientid=dev-1")).json()
    assert filtered["count"] == 10
    assert broker.filters[-1][0].like_clientid == "dev-1"
    assert filtered["rows"][0]["protocol"] == "MQTT 5.0"


async def test_kick_asks_the_broker_and_says_so(root_console: Console, broker: FakeBroker) -> None:
    deployment_id = await create_deployment(root_console)
    base = f"/console/deployments/{deployment_id}/clients"
    response = await root_console.submit(base, f"{base}/kick", {"clientid": "dev-03"})
    assert response.status_code == 303
    assert broker.kicked == ["dev-03"]
    page = await root_console.get(response.headers["location"])
    assert "Kicked dev-03." in page.text
    assert 'data-clientid="dev-03"' not in page.text
    assert "Kicked dev-03." not in (await root_console.get(base)).text  # said once


async def test_a_kicked_query_claims_no_kick(root_console: Console, broker: FakeBroker) -> None:
    deployment_id = await create_deployment(root_console)
    page = await root_console.get(f"/console/deployments/{deployment_id}/clients?kicked=foo")
    assert "Kicked" not in page.text
    assert broker.kicked == []


async def test_clients_table_dates_look_like_every_other_date(
    root_console: Console, broker: FakeBroker
) -> None:
    deployment_id = await create_deployment(root_console)
    base = f"/console/deployments/{deployment_id}/clients"
    assert "<td>2023-11-14 22:13:20 UTC</td>" in (await root_console.get(base)).text
    assert (await root_console.get(f"{base}.json")).json()["rows"][0][
        "connected_at"
    ] == "2023-11-14 22:13:20 UTC"


async def test_header_shows_the_role_name_translated(console: Console) -> None:
    console.add_account("padmin", Role.PROJECT_ADMINISTRATOR, ("default",))
    assert (await console.login("padmin", "password-padmin")).status_code == 303
    page = await console.get("/console/account")
    assert "padmin <small>(Project Administrator)</small>" in page.text
    assert "project_administrator" not in page.text
    await console.get("/console/lang?to=zh-CN")
    assert "padmin <small>(项目管理员)</small>" in (await console.get("/console/account")).text


async def test_publish_reports_matched_and_unmatched(root_console: Console, broker: FakeBroker) -> None:
    deployment_id = await create_deployment(root_console)
    path = f"/console/deployments/{deployment_id}/publish"
    seen = await root_console.submit(
        path, path, {"topic": "seen/a", "payload": "hi", "qos": "2", "retain": "on"}
    )
    assert "delivered to 1 subscriptions" in seen.text
    assert (broker.published[0].qos, broker.published[0].retain, broker.published[0].payload_b64) == (
        2,
        True,
        "aGk=",
    )
    unseen = await root_console.submit(path, path, {"topic": "nobody/a", "payload": "", "qos": "0"})
    assert "no subscriber matched" in unseen.text
