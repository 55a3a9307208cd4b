"""The console's client event history page: a client's timeline from stored events, filters, 400s."""

import time

from tests.unit.control.console.conftest import Console
from tests.unit.control.console.test_deployment_pages import create_deployment

from mqttcloud.contracts import ClientEvent, EventKind
from mqttcloud.control.events import service


async def test_a_clients_timeline_shows_its_events_with_reason_codes(root_console: Console) -> None:
    deployment_id = await create_deployment(root_console)
    now = time.time()
    events = [
        ClientEvent(at=now - 3, event=EventKind.CONNECTED, clientid="a/b", ip_address="10.0.0.1", port=5000),
        ClientEvent(
            at=now - 2,
            event=EventKind.DISCONNECTED,
            clientid="a/b",
            reason="kicked",
            reason_code=0x98,
            detail={"kicked_by": "account:root"},
        ),
        ClientEvent(at=now - 1, event=EventKind.CONNACK, clientid="other", reason_code=0x86),
    ]
    with root_console.database.session() as session:
        service.write_events(session, deployment_id=deployment_id, events=events)
    page = await root_console.get(f"/console/deployments/{deployment_id}/events?clientid=a%2Fb")
    assert page.status_code == 200
    assert page.text.index('data-event="client.disconnected"') < page.text.index(
        'data-event="client.connected"'
    )
    assert 'data-code="0x98"' in page.text
    assert "kicked_by=account:root" in page.text
    assert "10.0.0.1:5000" in page.text
    assert "other" not in page.text.split('id="events-table"')[1]
    only = await root_console.get(f"/console/deployments/{deployment_id}/events?event=client.connack")
    assert only.text.count("<tr data-event=") == 1


async def test_an_unknown_event_type_is_a_400_next_to_its_field(root_console: Console) -> None:
    deployment_id = await create_deployment(root_console)
    page = await root_console.get(f"/console/deployments/{deployment_id}/events?event=nope")
    assert page.status_code == 400
    assert 'aria-invalid="true"' in page.text
