"""The Data Integration page lists every connector type the API creates (v5 http, pgsql, redis, mqtt and
the v4 resources), each with what it reaches and a status (with its reason when there is one)."""

from tests.unit.control.console.conftest import Console
from tests.unit.control.console.test_deployment_pages import create_deployment

from mqttcloud.control.deployment_api.integration.models import ConnectorRow

ROWS = (
    ("http:hook", "http", "hook", {"url": "http://127.0.0.1:9/in"}, "http://127.0.0.1:9/in"),
    ("pgsql:db", "pgsql", "db", {"server": "127.0.0.1:5432", "database": "mqtt"}, "127.0.0.1:5432"),
    ("redis:cache", "redis", "cache", {"server": "127.0.0.1:6379"}, "127.0.0.1:6379"),
    ("mqtt:up", "mqtt", "up", {"server": "broker.example:1883"}, "broker.example:1883"),
    ("resource:a1", "web_hook", "a1", {"url": "http://127.0.0.1:9/v4"}, "http://127.0.0.1:9/v4"),
    ("resource:b2", "backend_pgsql", "b2", {"server": "127.0.0.1:5433"}, "127.0.0.1:5433"),
    ("resource:c3", "backend_redis_single", "c3", {"server": "127.0.0.1:6380"}, "127.0.0.1:6380"),
    ("resource:d4", "bridge_mqtt", "d4", {"address": "127.0.0.1:1884"}, "127.0.0.1:1884"),
)


async def test_every_connector_type_is_listed_with_its_address_and_status(root_console: Console) -> None:
    deployment_id = await create_deployment(root_console)
    with root_console.database.session() as session:
        for connector_id, kind, name, config, _address in ROWS:
            session.add(
                ConnectorRow(
                    deployment_id=deployment_id,
                    connector_id=connector_id,
                    type=kind,
                    name=name,
                    config=config,
                )
            )
        session.commit()
    page = (await root_console.get(f"/console/deployments/{deployment_id}/integration")).text
    for connector_id, kind, _name, _config, address in ROWS:
        start = page.index(f'<tr data-connector="{connector_id}">')
        row = page[start : page.index("</tr>", start)]
        assert f"<td>{kind}</td>" in row, row
        assert f"<code>{address}</code>" in row, row
        assert "data-status-label" in row
        assert "data-status-reason" in row
